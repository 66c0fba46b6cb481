package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/eldersafe/eldersafe/app"
)

// defaultConfigFile is read when present; without it the embedded defaults apply.
const defaultConfigFile = "configs/eldersafe.yaml"

// configFlags bind command-line flags to config keys.
var configFlags = []struct{ name, key, usage string }{
	{"http-addr", "http.addr", "HTTP API address"},
	{"mqtt-url", "mqtt.url", "external MQTT broker, e.g. tcp://host:1883; turns the embedded broker off"},
	{"broker-addr", "mqtt.broker.addr", "embedded broker listen address"},
	{"data-dir", "data_dir", "where the database lives"},
	{"clock", "clock", "wall, or event to follow the newest event time"},
}

func addConfigFlags(fs *pflag.FlagSet) {
	fs.String("config", defaultConfigFile, "config file (YAML); a missing default file means embedded defaults")
	for _, f := range configFlags {
		fs.String(f.name, "", f.usage+" ("+f.key+")")
	}
}

// newViper sets every default, so that each key can be set from the environment.
func newViper() *viper.Viper {
	v := viper.New()
	var defaults map[string]any
	if err := mapstructure.Decode(app.DefaultConfig(), &defaults); err != nil {
		panic(fmt.Sprintf("encode default config: %v", err)) // a programming error, caught by any test
	}
	for k, val := range flatten("", defaults) {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("ELDERSAFE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	return v
}

func flatten(prefix string, m map[string]any) map[string]any {
	out := map[string]any{}
	for k, val := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := val.(map[string]any); ok {
			for sk, sv := range flatten(key, sub) {
				out[sk] = sv
			}
			continue
		}
		out[key] = val
	}
	return out
}

// loadConfig reads defaults, then the file, then ELDERSAFE_* variables, then flags.
func loadConfig(cmd *cobra.Command) (app.Config, error) {
	v, err := configViper(cmd)
	if err != nil {
		return app.Config{}, err
	}
	cfg, err := decode(v)
	if err != nil {
		return app.Config{}, err
	}
	// A flag of serve's only, never a setting (app.Config.Simulation); the
	// other commands have no such flag and read false.
	cfg.Simulation, _ = cmd.Flags().GetBool(simulationFlag)
	return cfg, nil
}

// configViper holds the defaults, then the file, then ELDERSAFE_* variables,
// then the flags of configFlags the command has.
func configViper(cmd *cobra.Command) (*viper.Viper, error) {
	v := newViper()
	file, _ := cmd.Flags().GetString("config")
	explicit := cmd.Flags().Changed("config")
	if err := readFile(v, file, explicit); err != nil {
		return nil, err
	}
	for _, cf := range configFlags {
		if f := cmd.Flags().Lookup(cf.name); f != nil && f.Changed {
			v.Set(cf.key, f.Value.String())
		}
	}
	return v, nil
}

// simulationFlag lets serve run on the event clock.
const simulationFlag = "simulation"

func readFile(v *viper.Viper, file string, mustExist bool) error {
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) && !mustExist {
		return nil
	}
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("read config %s: %w", file, err)
	}
	return nil
}

// configFile is the config file loadConfig reads, if there is one.
func configFile(cmd *cobra.Command) (string, bool) {
	file, _ := cmd.Flags().GetString("config")
	if _, err := os.Stat(file); err != nil && !cmd.Flags().Changed("config") {
		return "", false
	}
	return file, true
}

// reloadDelay lets the writes of one save settle before the file is read:
// an editor may truncate the file and write it in several steps.
const reloadDelay = 200 * time.Millisecond

// watchConfig calls load when file changes and hands a valid configuration
// to apply; an invalid one is logged and dropped, so the last good one stays
// in force. Watching ends with ctx, or when the file is removed (an editor
// that deletes the file before writing it anew ends it too).
func watchConfig(ctx context.Context, file string, load func() (app.Config, error), apply func(app.Config) error, logger *slog.Logger) {
	logger = logger.With("component", "config", "file", file)
	var (
		mu      sync.Mutex
		timer   *time.Timer
		stopped bool
	)
	reload := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		cfg, err := load()
		if err != nil {
			logger.Error("config file changed but is not valid; keeping the last good config", "err", err)
			return
		}
		if err := apply(cfg); err != nil {
			logger.Error("config file changed but could not be applied; keeping the last good config", "err", err)
		}
	}
	// The watcher's own copy of the file is not used: load reads it afresh
	// with the environment and flags, exactly as at start. Its log says
	// "attempting to read" at every event: only its warnings are kept.
	v := viper.NewWithOptions(viper.WithLogger(slog.New(minLevel{logger.Handler(), slog.LevelWarn})))
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	v.OnConfigChange(func(fsnotify.Event) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if timer == nil {
			timer = time.AfterFunc(reloadDelay, reload)
		} else {
			timer.Reset(reloadDelay)
		}
	})
	v.WatchConfig()
	context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
	})
	logger.Info("watching the config file for changes")
}

// minLevel drops records below level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// decode refuses unknown keys: a misspelt threshold must not silently fall
// back to its default. It reports unknown keys and invalid values together,
// each once, and names the environment variable a wrong value came from.
func decode(v *viper.Viper) (app.Config, error) {
	var cfg app.Config
	exactErr := v.UnmarshalExact(&cfg)
	if exactErr != nil {
		// A mistyped value fails both decodings with the same words.
		if err := v.Unmarshal(&cfg); err != nil {
			return app.Config{}, settingErrors(exactErr, err)
		}
	}
	if err := settingErrors(exactErr, cfg.Validate()); err != nil {
		return app.Config{}, err
	}
	return cfg, nil
}

// settingErrors is one line per wrong setting, each once, without the
// decoder's headings; a setting an ELDERSAFE_* variable gave is blamed on
// it, not on the file.
func settingErrors(errs ...error) error {
	var lines []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		for line := range strings.Lines(err.Error()) {
			line = strings.TrimSpace(strings.TrimPrefix(line, "config: "))
			if line == "" || strings.HasPrefix(line, "decoding failed due to the following error(s)") || slices.Contains(lines, line) {
				continue
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	out := make([]error, len(lines))
	for i, line := range lines {
		if name, ok := envOf(line); ok {
			line += " (from environment variable " + name + ")"
		}
		out[i] = errors.New(line)
	}
	return &configError{errors.Join(out...)}
}

// settingKey is the key an error line starts with: 'notify.max_attempts'
// (the decoder's) or ingest.workers: (validation's).
var settingKey = regexp.MustCompile(`^'?([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)'?[: ]`)

// envOf names the ELDERSAFE_* variable set for the setting a line is about.
func envOf(line string) (string, bool) {
	m := settingKey.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	// The longest key first: "rules.no_motion.hours: ..." names its own.
	for key := m[1]; key != ""; {
		name := "ELDERSAFE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if _, set := os.LookupEnv(name); set {
			return name, true
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return "", false
}

// configError is a configuration's wrong settings; fromEnv says whether an
// environment variable gave any of them.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func (e *configError) fromEnv() bool {
	return strings.Contains(e.err.Error(), "(from environment variable ELDERSAFE_")
}

func newLogger(cfg app.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with configuration files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file and print what is wrong",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := newViper()
			if err := readFile(v, args[0], true); err != nil {
				return err
			}
			if _, err := decode(v); err != nil {
				if ce, ok := errors.AsType[*configError](err); ok && ce.fromEnv() {
					return fmt.Errorf("%s with the ELDERSAFE_* environment variables is not valid:\n%w", args[0], err)
				}
				return fmt.Errorf("%s is not valid:\n%w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	})
	return cmd
}
