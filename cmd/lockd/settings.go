package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"github.com/lockd/lockd/internal/cli"
)

// maxConfigFile bounds the config file lockd reads.
const maxConfigFile = 1 << 20

// Where a setting's value came from, as config print says it.
const (
	fromDefault = "default"
	fromFile    = "file"
	fromEnv     = "env"
	fromFlag    = "flag"
)

// settings are the merged values of every setting, by flag name, and
// where each came from: the flags win over the environment, which wins
// over the config file, which wins over the defaults.
type settings struct {
	k    *koanf.Koanf
	from map[string]string
	file string // the config file's path, or ""
}

// loadSettings merges the layers with the config file that --config (or
// LOCKD_CONFIG) names. It returns a *usageError for a file that cannot be
// read, is not YAML, or holds a key that is no setting.
func loadSettings(l cli.Layers) (*settings, error) {
	s := &settings{k: koanf.New("."), from: map[string]string{}}
	s.file = l.Env["config"]
	if f, ok := l.Flags["config"]; ok {
		s.file = f
	}
	layers := []struct {
		from string
		vals map[string]string
	}{{fromDefault, l.Defaults}, {fromFile, nil}, {fromEnv, l.Env}, {fromFlag, l.Flags}}
	if s.file != "" {
		vals, err := readConfigFile(s.file)
		if err != nil {
			return nil, err
		}
		layers[1].vals = vals
	}
	for _, layer := range layers {
		m := make(map[string]any, len(layer.vals))
		for k, v := range layer.vals {
			m[k] = v
			s.from[k] = layer.from
		}
		// A map of strings cannot fail to load.
		_ = s.k.Load(confmap.Provider(m, ""), nil)
	}
	return s, nil
}

// readConfigFile reads the YAML file at path into setting values. A
// list is joined with commas (the form of --redis); a YAML null leaves
// the setting unset.
func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("--config (LOCKD_CONFIG): %v", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, usageErrorf("--config (LOCKD_CONFIG): reading %s: %v", path, err)
	}
	if len(raw) > maxConfigFile {
		return nil, usageErrorf("--config (LOCKD_CONFIG): %s is larger than %d bytes", path, maxConfigFile)
	}
	k := koanf.New("\x00") // no nesting: keys are flag names
	if err := k.Load(rawbytes.Provider(raw), yaml.Parser()); err != nil {
		return nil, usageErrorf("--config (LOCKD_CONFIG): %s is not valid YAML: %v", path, err)
	}
	known := map[string]bool{}
	for _, st := range command.Settings {
		known[st.Flag] = true
	}
	out := map[string]string{}
	for key, v := range k.Raw() {
		if !known[key] || key == "config" {
			return nil, usageErrorf("%s: unknown setting %q (the keys are the flag names of lockd --help)", path, key)
		}
		str, err := settingValue(v)
		if err != nil {
			return nil, usageErrorf("%s in %s: %v", key, path, err)
		}
		if v != nil {
			out[key] = str
		}
	}
	return out, nil
}

// settingValue is a YAML value as a setting's text.
func settingValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int, int64, uint64, float64:
		return fmt.Sprint(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			p, err := settingValue(e)
			if _, nested := e.([]any); err != nil || nested {
				return "", fmt.Errorf("a list may hold only plain values")
			}
			parts[i] = p
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a plain value or a list, got %T", v)
}

// get returns the setting's merged value.
func (s *settings) get(name string) string { return s.k.String(name) }

// label names the setting in an error: the flag and its variable, or the
// file's key when the value came from the file.
func (s *settings) label(name string) string {
	if s.from[name] == fromFile {
		return fmt.Sprintf("%s in %s", name, s.file)
	}
	for _, st := range command.Settings {
		if st.Flag == name {
			return fmt.Sprintf("--%s (%s)", name, st.Env)
		}
	}
	return "--" + name
}

// print writes the effective settings as YAML that --config reads back,
// each with where it came from, secrets masked.
func (s *settings) print(w io.Writer) {
	names := make([]string, 0, len(command.Settings))
	for _, st := range command.Settings {
		if st.Flag != "config" {
			names = append(names, st.Flag)
		}
	}
	sort.Strings(names)
	if s.file != "" {
		fmt.Fprintf(w, "# lockd's effective settings; config file %s\n", s.file)
	} else {
		fmt.Fprintf(w, "# lockd's effective settings; no config file\n")
	}
	for _, name := range names {
		fmt.Fprintf(w, "%s: %s # %s\n", name, strconv.Quote(masked(name, s.get(name))), s.from[name])
	}
}

// masked hides the secrets in a setting's value: a password in a URI.
func masked(name, v string) string {
	if name != "mongo" || v == "" {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		return "(unparsable URI, hidden)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
