package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

var testCommand = Command{
	Name:  "demo",
	About: "demo does nothing.\n",
	Settings: []Setting{
		{Flag: "addr", Env: "DEMO_ADDR", Default: ":1", Usage: "address"},
		{Flag: "quiet", Env: "DEMO_QUIET", Default: "false", Usage: "say less", Bool: true},
	},
	Version: "v1.2.3",
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		addr  string
		quiet string
	}{
		{"Defaults", nil, nil, ":1", "false"},
		{"EnvSetsDefault", nil, map[string]string{"DEMO_ADDR": ":2", "DEMO_QUIET": "true"}, ":2", "true"},
		{"FlagWins", []string{"--addr", ":3", "--quiet=false"}, map[string]string{"DEMO_ADDR": ":2", "DEMO_QUIET": "true"}, ":3", "false"},
		{"BareBool", []string{"--quiet"}, nil, ":1", "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testCommand.Parse(tt.args, env(tt.env), io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got["addr"] != tt.addr || got["quiet"] != tt.quiet {
				t.Errorf("got %v, want addr %q quiet %q", got, tt.addr, tt.quiet)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"UnknownFlag", []string{"--nope"}, nil},
		{"StrayArgument", []string{"extra"}, nil},
		{"BadBoolEnv", nil, map[string]string{"DEMO_QUIET": "maybe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testCommand.Parse(tt.args, env(tt.env), io.Discard, io.Discard)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("got %v, want a *UsageError", err)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	if _, err := testCommand.Parse([]string{"--help"}, env(nil), &out, io.Discard); !errors.Is(err, ErrExit) {
		t.Fatalf("got %v, want ErrExit", err)
	}
	for _, want := range []string{"Usage: demo [flags]", "demo does nothing.", "--addr", "DEMO_ADDR", "(default :1)", "--quiet", "DEMO_QUIET", "--version", "--help"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if _, err := testCommand.Parse([]string{"--version"}, env(nil), &out, io.Discard); !errors.Is(err, ErrExit) || out.String() != "demo v1.2.3\n" {
		t.Errorf("got %q, %v; want \"demo v1.2.3\" and ErrExit", out.String(), err)
	}
}
