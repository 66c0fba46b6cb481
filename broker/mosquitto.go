package broker

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/eldersafe/eldersafe/registry"
)

// MosquittoCredentials are the users an external Mosquitto needs to enforce
// the same rules as the embedded broker.
type MosquittoCredentials struct {
	Prefix string
	// Devices map a device id to its secret's hash, already in Mosquitto's
	// password_file form (registry.HashDeviceSecret, or HashSecret before it).
	Devices map[string]string
	// The monitor's own credential, in plain text; it is hashed here.
	MonitorUsername, MonitorPassword string
	// SimPassword lets the simulator send clock ticks as SimUsername; empty
	// leaves the simulator out.
	SimPassword string
	// SourceFilters are the topics the monitor reads besides its prefix's:
	// the enabled sources' (CONTRACT.md §14).
	SourceFilters []string
	// Publishers map a device id to the topic filters it may publish to
	// besides its own: the source topics of the devices it is the gateway
	// of, or its own source topics.
	Publishers map[string][]string
}

// Files WriteMosquittoFiles writes into its directory.
const (
	MosquittoPasswordFile = "password_file"
	MosquittoACLFile      = "acl_file"
	MosquittoConfFile     = "eldersafe.conf"
)

// WriteMosquittoFiles writes a password_file, an acl_file and a config
// snippet that includes them into dir: a device may publish only under its
// own id (and a gateway to its devices' source topics) and subscribe to
// nothing; the monitor reads devices, the clock and the sources.
func WriteMosquittoFiles(dir string, c MosquittoCredentials) error {
	if c.MonitorUsername == "" || c.MonitorPassword == "" {
		return errors.New("the monitor's own credential is required: set mqtt.username and mqtt.password")
	}
	for _, name := range []string{c.MonitorUsername, SimUsername} {
		if _, clash := c.Devices[name]; clash {
			return fmt.Errorf("device id %q is also a service user's name", name)
		}
	}
	monitorHash, err := registry.HashSecret(c.MonitorPassword)
	if err != nil {
		return fmt.Errorf("mqtt.password: %w", err)
	}
	var pw strings.Builder
	fmt.Fprintf(&pw, "%s:%s\n", c.MonitorUsername, monitorHash)
	if c.SimPassword != "" {
		simHash, err := registry.HashSecret(c.SimPassword)
		if err != nil {
			return fmt.Errorf("simulator password (the admin token): %w", err)
		}
		fmt.Fprintf(&pw, "%s:%s\n", SimUsername, simHash)
	}
	skipped := 0
	for _, id := range slices.Sorted(maps.Keys(c.Devices)) {
		if c.Devices[id] == "" {
			skipped++ // registered without a secret: it cannot log in anyway
			continue
		}
		fmt.Fprintf(&pw, "%s:%s\n", id, c.Devices[id])
	}

	var acl strings.Builder
	fmt.Fprintf(&acl, `# Written by "eldersafe devices export-mosquitto"; regenerate it after registering devices.
# Anything not granted here is denied.

# The monitor reads every device's messages and the simulator's clock ticks.
user %[1]s
topic read %[2]s/devices/#
topic read %[2]s/sim/clock
`, c.MonitorUsername, c.Prefix)
	for _, f := range c.SourceFilters {
		fmt.Fprintf(&acl, "topic read %s\n", f)
	}
	// It sends devices their commands (a wristband's check).
	fmt.Fprintf(&acl, "topic write %s/devices/+/command\n", c.Prefix)
	if c.SimPassword != "" {
		fmt.Fprintf(&acl, `
# The simulator sends clock ticks.
user %s
topic write %s/sim/clock
`, SimUsername, c.Prefix)
	}
	if len(c.Publishers) > 0 {
		acl.WriteString(`
# Devices that speak their own formats: a gateway (or a device that is its
# own MQTT client, as a Tasmota plug is) publishes to their source topics.
`)
	}
	for _, id := range slices.Sorted(maps.Keys(c.Publishers)) {
		fmt.Fprintf(&acl, "user %s\n", id)
		for _, f := range c.Publishers[id] {
			fmt.Fprintf(&acl, "topic write %s\n", f)
		}
	}
	fmt.Fprintf(&acl, `
# Every device (username = device id) publishes under its own id only and
# reads only its own commands.
pattern write %[1]s/devices/%%u/#
pattern read %[1]s/devices/%%u/command
`, c.Prefix)

	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("export to %s: %w", dir, err)
	}
	conf := fmt.Sprintf(`# Include this from mosquitto.conf, or use it as the whole config.
per_listener_settings false
allow_anonymous false
password_file %s
acl_file %s
# The monitor's session must survive Mosquitto's restarts too.
persistence true
# Send each packet at once. With Nagle's algorithm (Mosquitto's default) a
# fall written while the monitor has not yet acknowledged the segment before
# it, at the TCP level, waits for that acknowledgement: up to the monitor's
# PUBACK of the message before, or its delayed ACK (40 ms or more on Linux).
set_tcp_nodelay true
`, filepath.Join(abs, MosquittoPasswordFile), filepath.Join(abs, MosquittoACLFile))

	// Mosquitto reads the files as its own user (it drops root before it
	// reloads them on SIGHUP): it must be able to enter the directory.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export to %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("export to %s: %w", dir, err)
	}
	for _, f := range []struct {
		name, text string
		mode       os.FileMode
	}{
		// The hashes are for Mosquitto's eyes only: its group reads them
		// (mosquitto_group), nobody else.
		{MosquittoPasswordFile, pw.String(), 0o640},
		{MosquittoACLFile, acl.String(), 0o644},
		{MosquittoConfFile, conf, 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.text, f.mode); err != nil {
			return err
		}
	}
	if skipped > 0 {
		return fmt.Errorf("%d devices have no secret and were left out", skipped)
	}
	return nil
}

// mosquittoGroup is the group Debian's and the upstream packages run
// Mosquitto as: a new password_file is given to it when root exports.
const mosquittoGroup = "mosquitto"

// writeFileAtomic replaces a file whole, so a broker reloading it never
// reads half of it. A file replaced keeps its owner and group (an operator
// may have given it to Mosquitto's user); a new one written by root goes to
// Mosquitto's group when the system has one.
func writeFileAtomic(path, text string, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if uid, gid, ok := ownerFor(path); ok {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: keep its owner: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
