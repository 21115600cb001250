package config

import (
	"flag"
	"fmt"
	"strings"
)

// envMark starts the list of a flag's environment variables in its usage.
const envMark = "(env "

// LookupEnv is how ParseFlags reads the environment; main passes os.LookupEnv, tests a map.
// Libraries never read the environment themselves.
type LookupEnv func(key string) (string, bool)

// Aliases maps a flag name to further environment variables tried after the derived ones,
// for the few documented names that do not follow the rule (ASSAY_TOPIC_PARTITIONS for
// -partitions, say).
type Aliases map[string][]string

// EnvNames returns the environment variables that can set flag name of service, in the order
// ParseFlags tries them: ASSAY_<SERVICE>_<NAME>, then ASSAY_<NAME>, then the aliases. NAME is
// the flag's name upper-cased with dashes turned into underscores; an empty service skips the
// first form.
func EnvNames(service, name string, aliases Aliases) []string {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	var out []string
	if service != "" {
		out = append(out, "ASSAY_"+strings.ToUpper(service)+"_"+n)
	}
	out = append(out, "ASSAY_"+n)
	return append(out, aliases[name]...)
}

// ParseFlags parses args into fs, then gives every flag not set on the command line the value
// of the first of its environment variables (EnvNames) that is set and non-empty, through the
// flag's own Set: precedence is flag > environment > default, each flag is declared once and
// its variables are derived in one pass (as VictoriaMetrics' envflag does). A variable whose
// value the flag refuses is an error naming the variable, never a silent fallback to the
// default.
//
// Before parsing, every flag's usage gets its variables appended ("(env ASSAY_INGEST_ADDR,
// ASSAY_ADDR)"), so -h lists exactly the names ParseFlags reads.
func ParseFlags(fs *flag.FlagSet, service string, args []string, env LookupEnv, aliases Aliases) error {
	for name := range aliases {
		if fs.Lookup(name) == nil {
			return fmt.Errorf("environment alias for unknown flag -%s", name)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(f.Usage, envMark) {
			f.Usage += " " + envMark + strings.Join(EnvNames(service, f.Name, aliases), ", ") + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || env == nil {
			return
		}
		for _, key := range EnvNames(service, f.Name, aliases) {
			v, ok := env(key)
			if !ok || v == "" {
				continue
			}
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: invalid value for -%s: %w", key, v, f.Name, serr)
			}
			return
		}
	})
	return err
}
