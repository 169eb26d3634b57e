package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd/internal/syncbuf"
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
		{"OneDash", []string{"-addr", ":4", "-quiet"}, nil, ":4", "true"},
		{"OneDashEquals", []string{"-addr=:5", "-quiet=false"}, map[string]string{"DEMO_QUIET": "1"}, ":5", "false"},
		{"BoolEnvSpellings", nil, map[string]string{"DEMO_QUIET": "T"}, ":1", "true"},
		{"ValueStartingWithDash", []string{"--addr", "-x"}, nil, "-x", "false"},
		{"LastWins", []string{"--addr", ":6", "--addr=:7"}, nil, ":7", "false"},
		{"DoubleDashEndsFlags", []string{"--addr", ":8", "--"}, nil, ":8", "false"},
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
		want string // the whole message
	}{
		{"UnknownFlag", []string{"--nope"}, nil, "unknown flag --nope"},
		{"UnknownFlagOneDash", []string{"-x"}, nil, "unknown flag --x"},
		{"UnknownFlagWithValue", []string{"--nope=1"}, nil, "unknown flag --nope"},
		{"MissingValue", []string{"--addr"}, nil, "--addr needs a value"},
		{"BadBool", []string{"--quiet=maybe"}, nil, `--quiet "maybe": want true or false`},
		{"BadBoolOneDash", []string{"-quiet=maybe"}, nil, `--quiet "maybe": want true or false`},
		{"BadBoolEnv", nil, map[string]string{"DEMO_QUIET": "maybe"}, `DEMO_QUIET (--quiet) "maybe": want true or false`},
		{"BadSyntax", []string{"---addr"}, nil, `bad flag syntax "---addr": want --name or --name=value`},
		{"BadSyntaxEquals", []string{"--=x"}, nil, `bad flag syntax "--=x": want --name or --name=value`},
		{"StrayArgument", []string{"extra"}, nil, `unexpected arguments ["extra"]: demo takes flags only, or the single argument version; see demo --help`},
		{"BoolTakesNoSeparateValue", []string{"--quiet", "false"}, nil, `unexpected arguments ["false"]: demo takes flags only, or the single argument version; see demo --help`},
		{"AfterDoubleDash", []string{"--", "--addr"}, nil, `unexpected arguments ["--addr"]: demo takes flags only, or the single argument version; see demo --help`},
		{"VersionWithArguments", []string{"version", "--addr", ":1"}, nil, `demo version takes no arguments, got ["--addr" ":1"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testCommand.Parse(tt.args, env(tt.env), io.Discard, io.Discard)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a *UsageError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err.Error(), tt.want)
			}
		})
	}
}

func TestParseErrorPrintsHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if _, err := testCommand.Parse([]string{"-nope"}, env(nil), &stdout, &stderr); err == nil {
		t.Fatal("got no error, want one")
	}
	if stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "Usage: demo [flags]") {
		t.Errorf("got stdout %q, stderr %q; want the help on stderr only", stdout.String(), stderr.String())
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-help", "-h", "--h"} {
		t.Run(arg, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := testCommand.Parse([]string{arg}, env(nil), &out, io.Discard); !errors.Is(err, ErrExit) {
				t.Fatalf("got %v, want ErrExit", err)
			}
			for _, want := range []string{"Usage: demo [flags]\n       demo version\n", "demo does nothing.", "--addr", "DEMO_ADDR", "(default :1)", "--quiet", "DEMO_QUIET", "--version", "--help"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("help lacks %q:\n%s", want, out.String())
				}
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && !strings.HasPrefix(f[0], "--") {
					t.Errorf("help spells a flag with one dash: %q", line)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"Flag", []string{"--version"}, nil},
		{"FlagOneDash", []string{"-version"}, nil},
		{"FlagAmongOthers", []string{"--addr", ":2", "--version"}, nil},
		{"Subcommand", []string{"version"}, nil},
		{"SubcommandWithBadEnv", []string{"version"}, map[string]string{"DEMO_QUIET": "maybe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := testCommand.Parse(tt.args, env(tt.env), &out, io.Discard); !errors.Is(err, ErrExit) || out.String() != "demo v1.2.3\n" {
				t.Errorf("got %q, %v; want \"demo v1.2.3\" and ErrExit", out.String(), err)
			}
		})
	}
}

func TestNoVersion(t *testing.T) {
	cmd := testCommand
	cmd.Version = ""
	var out bytes.Buffer
	for _, args := range [][]string{{"--version"}, {"version"}} {
		_, err := cmd.Parse(args, env(nil), io.Discard, io.Discard)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a *UsageError", args, err)
		}
	}
	if _, err := cmd.Parse([]string{"--help"}, env(nil), &out, io.Discard); !errors.Is(err, ErrExit) {
		t.Fatalf("got %v, want ErrExit", err)
	}
	if strings.Contains(out.String(), "version") {
		t.Errorf("help without a version mentions one:\n%s", out.String())
	}
}

func TestBatchWriter(t *testing.T) {
	var out syncbuf.Buffer
	b := NewBatchWriter(&out, 50*time.Millisecond, 10)
	if _, err := b.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Errorf("written at once: %q; want it kept for the batch", out.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\n" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "one\n" {
		t.Fatalf("after the batch delay: %q, want the line", out.String())
	}
	// Past the limit, the batch is written by Write itself.
	_, _ = b.Write([]byte("two\n"))
	_, _ = b.Write([]byte("three-four\n"))
	if got := out.String(); got != "one\ntwo\nthree-four\n" {
		t.Errorf("after passing the limit: %q", got)
	}
	_, _ = b.Write([]byte("five\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = b.Write([]byte("six\n"))
	if got := out.String(); got != "one\ntwo\nthree-four\nfive\nsix\n" {
		t.Errorf("after Close: %q, want everything, in order", got)
	}
	// A failed batch's error comes back from the next Write.
	f := NewBatchWriter(failWriter{}, time.Hour, 1)
	if _, err := f.Write([]byte("xx")); err == nil {
		t.Error("Write past the limit to a failing writer: no error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
