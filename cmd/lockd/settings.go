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

	"github.com/lockd/lockd/httpapi"
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
	file string        // the config file's path, or ""
	keys []httpapi.Key // the API keys, from the file only
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
		vals, keys, err := readConfigFile(s.file)
		if err != nil {
			return nil, err
		}
		layers[1].vals, s.keys = vals, keys
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

// readConfigFile reads the YAML file at path into setting values, and
// its API keys. A list is joined with commas (the form of --redis); a
// YAML null leaves the setting unset.
func readConfigFile(path string) (map[string]string, []httpapi.Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, usageErrorf("--config (LOCKD_CONFIG): %v", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, nil, usageErrorf("--config (LOCKD_CONFIG): reading %s: %v", path, err)
	}
	if len(raw) > maxConfigFile {
		return nil, nil, usageErrorf("--config (LOCKD_CONFIG): %s is larger than %d bytes", path, maxConfigFile)
	}
	k := koanf.New("\x00") // no nesting: keys are flag names
	if err := k.Load(rawbytes.Provider(raw), yaml.Parser()); err != nil {
		return nil, nil, usageErrorf("--config (LOCKD_CONFIG): %s is not valid YAML: %v", path, err)
	}
	known := map[string]bool{}
	for _, st := range command.Settings {
		known[st.Flag] = true
	}
	out := map[string]string{}
	var keys []httpapi.Key
	for key, v := range k.Raw() {
		if key == "keys" {
			if keys, err = parseKeys(v); err != nil {
				return nil, nil, usageErrorf("keys in %s: %v", path, err)
			}
			continue
		}
		if !known[key] || key == "config" {
			return nil, nil, usageErrorf("%s: unknown setting %q (the keys are the flag names of lockd --help, and keys)", path, key)
		}
		str, err := settingValue(v)
		if err != nil {
			return nil, nil, usageErrorf("%s in %s: %v", key, path, err)
		}
		if v != nil {
			out[key] = str
		}
	}
	return out, keys, nil
}

// parseKeys reads the file's keys: a list of {name, sha256, role,
// prefixes}, every field but prefixes required, names unique.
func parseKeys(v any) ([]httpapi.Key, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of {name, sha256, role, prefixes}")
	}
	var keys []httpapi.Key
	names := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: want {name, sha256, role, prefixes}", i)
		}
		var k httpapi.Key
		for field, fv := range m {
			var err error
			switch field {
			case "name":
				k.Name, _ = fv.(string)
			case "sha256":
				str, _ := fv.(string)
				k.Hash, err = httpapi.ParseKeyHash(str)
			case "role":
				str, _ := fv.(string)
				k.Role, err = httpapi.ParseRole(str)
			case "prefixes":
				ps, ok := fv.([]any)
				if !ok {
					err = fmt.Errorf("prefixes: want a list of name prefixes")
				}
				for _, p := range ps {
					str, ok := p.(string)
					if !ok || str == "" {
						err = fmt.Errorf("prefixes: want non-empty strings")
					}
					k.Prefixes = append(k.Prefixes, str)
				}
			default:
				err = fmt.Errorf("unknown field %q", field)
			}
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
		}
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("[%d]: name is required", i)
		case names[k.Name]:
			return nil, fmt.Errorf("[%d]: name %q is used twice", i, k.Name)
		case k.Role == 0:
			return nil, fmt.Errorf("[%d] (%s): role is required", i, k.Name)
		case k.Hash == [32]byte{}:
			return nil, fmt.Errorf("[%d] (%s): sha256 is required", i, k.Name)
		}
		names[k.Name] = true
		keys = append(keys, k)
	}
	return keys, nil
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
	if len(s.keys) > 0 {
		fmt.Fprintf(w, "# keys: %d from the file (their hashes are not shown)\n", len(s.keys))
		for _, k := range s.keys {
			fmt.Fprintf(w, "#   %s: %s, prefixes %q\n", k.Name, k.Role, k.Prefixes)
		}
	}
}

// masked hides the secrets in a setting's value: a password in a URI (of
// MongoDB, or of a Redis node).
func masked(name, v string) string {
	switch {
	case v == "":
		return v
	case name == "mongo":
		return maskURI(v)
	case name == "redis":
		parts := strings.Split(v, ",")
		for i, p := range parts {
			if strings.Contains(p, "://") {
				parts[i] = maskURI(strings.TrimSpace(p))
			}
		}
		return strings.Join(parts, ",")
	}
	return v
}

func maskURI(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "(unparsable URI, hidden)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
