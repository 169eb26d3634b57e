package cli

import (
	"errors"
	"strconv"
	"strings"
)

// errHelp means the arguments asked for the help (-h, --help).
var errHelp = errors.New("help requested")

// scanFlags reads the flags at the start of args into vals, which maps
// every known flag to its value so far (its default) and is updated in
// place; isBool says which flags are booleans. Each flag given is also
// recorded in set. It returns the arguments after the flags.
//
// The syntax is the standard flag package's, so that every command line
// lockd accepted before keeps working: one dash or two, --name=value or
// --name value, a boolean as --name or --name=false (never --name false),
// and the flags end at "--" or at the first argument that does not start
// with a dash. scanFlags exists for its errors, which spell every flag
// --name (the flag package says -name): it returns errHelp for -h and
// --help, and a *UsageError for an unknown flag, bad flag syntax, a
// missing value or a boolean that is not one.
func scanFlags(args []string, vals map[string]string, isBool map[string]bool, set map[string]string) ([]string, error) {
	for len(args) > 0 {
		arg := args[0]
		if len(arg) < 2 || arg[0] != '-' {
			return args, nil
		}
		if arg == "--" {
			return args[1:], nil
		}
		name := strings.TrimPrefix(arg[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, Usagef("bad flag syntax %q: want --name or --name=value", arg)
		}
		args = args[1:]
		name, value, hasValue := strings.Cut(name, "=")
		if _, ok := vals[name]; !ok {
			if name == "help" || name == "h" {
				return nil, errHelp
			}
			return nil, Usagef("unknown flag --%s", name)
		}
		if isBool[name] {
			if !hasValue {
				value = "true"
			}
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, Usagef("--%s %q: want true or false", name, value)
			}
			vals[name] = strconv.FormatBool(b)
			set[name] = vals[name]
			continue
		}
		if !hasValue {
			if len(args) == 0 {
				return nil, Usagef("--%s needs a value", name)
			}
			value, args = args[0], args[1:]
		}
		vals[name] = value
		set[name] = value
	}
	return nil, nil
}
