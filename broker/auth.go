package broker

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// role is what an authenticated connection may do under AuthDevices. It is
// derived from the username, which OnConnectAuthenticate has verified.
type role int

const (
	roleDevice role = iota
	roleSim
)

type credential struct{ user, pass string }

// matches reports whether pass is this credential's password, in constant
// time (hashing first so that the length does not leak either).
func (c credential) matches(pass []byte) bool {
	if c.pass == "" {
		return false
	}
	want := sha256.Sum256([]byte(c.pass))
	got := sha256.Sum256(pass)
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// authHook authenticates connections and checks every publish and
// subscription. Mochi asks each hook; with no hook answering yes it refuses
// both the connection and the topic, so this hook alone decides.
type authHook struct {
	mqtt.HookBase
	mode    string
	prefix  string
	devices DeviceAuthenticator
	sources SourcePublishers // nil: no source topics
	sim     credential
	clients *mqtt.Clients // the broker's sessions, to stop client-id takeovers
	log     *slog.Logger
}

var _ mqtt.Hook = (*authHook)(nil)

func (h *authHook) ID() string { return "eldersafe-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate accepts a connection when its credentials are right
// (a password, or a device's certificate), its Will (if any) is a topic it
// may publish to, and its client id is not the session of another user. A
// refusal answers CONNACK "not authorized" on MQTT 3.1.1 (return code 5:
// mochi maps its bad-credentials reason 0x86 to it).
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.mode == AuthNone {
		return true
	}
	user := string(pk.Connect.Username)
	refuse := func(reason string) bool {
		h.log.Info("mqtt connection refused", "reason", reason, "username", user,
			"client_id", cl.ID, "remote", cl.Net.Remote)
		return false
	}

	if cn, ok := certifiedName(cl); ok {
		if reason := h.checkCertificate(user, cn); reason != "" {
			return refuse(reason)
		}
		// The topic rules go by the username: the certificate's device id.
		user = cn
		cl.Properties.Username = []byte(cn)
	} else if reason := h.checkPassword(user, pk.Connect.Password); reason != "" {
		return refuse(reason)
	}

	// Mochi does not check the Will topic against the ACL when it sends it,
	// so check it here, before the client can disconnect uncleanly.
	if pk.Connect.WillFlag && !h.mayPublish(h.roleOf(user), user, pk.Connect.WillTopic) {
		return refuse("will topic not allowed: " + pk.Connect.WillTopic)
	}

	// Mochi hands an existing session (and its subscriptions and queued
	// messages) to whoever connects with the same client id, kicking the
	// current holder off. Only the user that owns a session may take it over.
	if existing, ok := h.clients.Get(cl.ID); ok && !bytes.Equal(existing.Properties.Username, []byte(user)) {
		return refuse("client id in use by another user")
	}
	return true
}

// checkPassword says why user may not log in with pass; empty when it may.
func (h *authHook) checkPassword(user string, pass []byte) string {
	switch user {
	case "":
		return "no username"
	case h.sim.user:
		if h.sim.pass == "" {
			return "simulator credential disabled"
		}
		if !h.sim.matches(pass) {
			return "wrong password"
		}
	default:
		if !validDeviceID(user) {
			return "invalid device id"
		}
		if !h.devices.AuthenticateDevice(user, string(pass)) {
			return "unknown device or wrong secret"
		}
	}
	return ""
}

// checkCertificate says why a client whose certificate names cn, and that
// sent username user, may not log in; empty when it may. The certificate
// was signed by the client CA (the TLS handshake checked it) and names a
// device: no password is needed, and a username, if sent, must be the same.
func (h *authHook) checkCertificate(user, cn string) string {
	switch {
	case user != "" && user != cn:
		return "username " + user + " is not the certificate's device " + cn
	case !validDeviceID(cn) || cn == h.sim.user:
		return "the certificate names no device (CN " + cn + ")"
	case !h.devices.DeviceRegistered(cn):
		return "the certificate's device " + cn + " is not registered"
	}
	return ""
}

// certifiedName is the common name of the certificate the client showed on
// the TLS listener, verified against the client CA; false without one.
func certifiedName(cl *mqtt.Client) (string, bool) {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	chains := conn.ConnectionState().VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", false
	}
	return chains[0][0].Subject.CommonName, true
}

// OnACLCheck is called with write=true for every PUBLISH a client sends, and
// with write=false for every SUBSCRIBE filter and again for every message about
// to be delivered (with its topic name). Under AuthDevices nobody subscribes:
// the monitor takes device messages inside the process.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.mode == AuthNone {
		return true
	}
	user := string(cl.Properties.Username)
	r := h.roleOf(user)
	ok := write && h.mayPublish(r, user, topic) ||
		// A device reads its own commands (a wristband's check), nothing else.
		!write && r == roleDevice && topic == h.prefix+"/devices/"+user+"/command"
	if !ok {
		action := "subscribe"
		if write {
			action = "publish"
		}
		h.log.Info("mqtt "+action+" denied", "username", user, "client_id", cl.ID, "topic", topic)
	}
	return ok
}

func (h *authHook) roleOf(user string) role {
	if user == h.sim.user {
		return roleSim
	}
	return roleDevice
}

func (h *authHook) mayPublish(r role, user, topic string) bool {
	switch r {
	case roleDevice:
		own := h.prefix + "/devices/" + user + "/"
		if strings.HasPrefix(topic, own) && len(topic) > len(own) {
			return true
		}
		return h.sources != nil && h.sources.MayPublish(user, topic)
	default:
		return topic == h.prefix+"/sim/clock"
	}
}

// validDeviceID rejects ids that would reach into another topic level or act
// as a wildcard.
func validDeviceID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/+#\x00")
}
