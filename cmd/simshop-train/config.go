package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// Every flag of every command can also be set by an environment variable and by a config
// file. The precedence is command line, then environment, then file, then the default.
//
// urfave/cli applies the command line and the environment while it parses the flags, and
// the file is applied in the command's Before hook, only to flags that neither set. That
// hook runs after urfave/cli checks Required flags, so a required flag set only in the
// file would be rejected: no flag here is marked Required, and each action checks its
// own required flags instead.

// envPrefix starts the environment variable of every flag: --eval-episodes is
// SIMSHOP_EVAL_EPISODES.
const envPrefix = "SIMSHOP_"

// envName returns the environment variable that sets the flag of the given name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// configExamples are the keys that --config's help shows, the first that a command has.
var configExamples = []struct{ flag, value string }{{"steps", "20000"}, {"sessions", "2000"}, {"episodes", "500"}, {"seed", "1"}}

// configFlag returns --config for a command with the given flags. Its help shows one of
// configExamples that the command accepts.
func configFlag(flags []cli.Flag) cli.Flag {
	example := ""
	for _, e := range configExamples {
		if hasFlag(flags, e.flag) {
			example = ", such as " + e.flag + ": " + e.value
			break
		}
	}
	return &cli.StringFlag{Name: "config", Usage: "YAML (.yaml, .yml) or TOML (.toml) `FILE` whose keys set flags" + example + "; " +
		"the command line and " + envPrefix + "* environment variables take precedence"}
}

// hasFlag reports whether flags contains the flag of the given name.
func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// withConfig adds --config and an environment variable per flag to cmd, or to each of its
// subcommands when it has some.
func withConfig(cmd *cli.Command) *cli.Command {
	if len(cmd.Subcommands) > 0 {
		for _, sub := range cmd.Subcommands {
			withConfig(sub)
		}
		return cmd
	}
	cmd.Flags = append(cmd.Flags, configFlag(cmd.Flags))
	for _, f := range cmd.Flags {
		setEnvVars(f)
	}
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		if err := applyConfig(c); err != nil {
			return err
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	return cmd
}

// setEnvVars sets the EnvVars field that every urfave/cli v2 flag type has.
func setEnvVars(f cli.Flag) {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer {
		return
	}
	field := v.Elem().FieldByName("EnvVars")
	if !field.IsValid() || field.Type() != reflect.TypeOf([]string(nil)) {
		panic(fmt.Sprintf("main: flag %s has no EnvVars field", f.Names()[0]))
	}
	field.Set(reflect.ValueOf([]string{envName(f.Names()[0])}))
}

// applyConfig sets, from the file of --config, every flag that neither the command line nor
// the environment set.
func applyConfig(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	values, err := readConfig(path)
	if err != nil {
		return err
	}
	known := map[string]cli.Flag{}
	var names []string
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if name == "config" || name == "help" {
			continue
		}
		known[name] = f
		names = append(names, name)
	}
	sort.Strings(names)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		f, ok := known[key]
		if !ok {
			return fmt.Errorf("config %s: unknown key %q for %s; valid keys are the command's flag names without dashes: %s",
				path, key, c.Command.Name, strings.Join(names, ", "))
		}
		texts, err := configValues(values[key], f)
		if err != nil {
			return fmt.Errorf("config %s: key %q: %w", path, key, err)
		}
		if c.IsSet(key) {
			continue // the command line or the environment set it
		}
		for _, text := range texts {
			if err := c.Set(key, text); err != nil {
				return fmt.Errorf("config %s: key %q: value %q is invalid for --%s: %v", path, key, text, key, err)
			}
		}
	}
	return nil
}

// readConfig reads a YAML or TOML file, by its extension, into a map from key to value.
func readConfig(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	values := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("config %s is not valid YAML: %w", path, err)
		}
	case ".toml":
		if _, err := toml.Decode(string(data), &values); err != nil {
			return nil, fmt.Errorf("config %s is not valid TOML: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("config %s: extension %q is not supported; name the file .yaml, .yml or .toml", path, ext)
	}
	return values, nil
}

// configValues returns the flag values of a config value: one for a scalar, one per element
// for a list given to a flag that may repeat.
func configValues(v any, f cli.Flag) ([]string, error) {
	if list, ok := v.([]any); ok {
		if _, repeats := f.(*cli.StringSliceFlag); !repeats {
			return nil, fmt.Errorf("a list is given, but --%s takes one value", f.Names()[0])
		}
		var out []string
		for _, e := range list {
			s, err := scalarText(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalarText(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalarText returns a config scalar as the command line would spell it.
func scalarText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("value of type %T is not supported; give a string, number, boolean or, for a flag that repeats, a list", v)
}
