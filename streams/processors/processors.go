package processors

import (
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// Config is the configuration of the processors the registry builds, one
// field per processor that takes any. The zero value gives every
// processor its defaults.
type Config struct {
	// Logger is given to the processors that log outside Apply (the
	// router's rules reloads) unless their own field sets one. Nil:
	// slog.Default().
	Logger *slog.Logger
	// Router configures the router: its rules file and the limits of the
	// pre-labels waiting for their item.
	Router router.Config
	// KPI configures the limits of the state of the KPI processors
	// (kpi_agreement, kpi_accuracy, kpi_regions, kpi_preference, kpi_flow).
	KPI kpi.Config
	// PrincipalsFile is the principals file (schemas/access) the runners
	// judge every event by (streams/runtime WithAuthorizer); LoadPrincipals
	// reads it. Empty: no registry, and only the rules that need none apply
	// (a label retracted by its producer only, the router's own
	// decisions).
	PrincipalsFile string
}

// LoadPrincipals reads the principals file, or returns nil when none is
// configured. Hand its Store to the runners (runtime.WithAuthorizer(
// runtime.Principals(l.Store()))); the loader starts no goroutine, so the
// binary that runs the processors polls and reloads it.
func (c Config) LoadPrincipals() (*access.Loader, error) {
	if c.PrincipalsFile == "" {
		return nil, nil
	}
	return access.NewLoader(c.PrincipalsFile)
}

// RegisterFlags declares on fs the flags of the fields of a Config and
// returns the Config they fill once fs is parsed:
//
//	-router-rules, -router-rules-poll, -router-pending-ttl, -router-max-pending
//	-kpi-max-state-keys, -kpi-max-unit-labels, -kpi-max-region-annotators
//	-principals-file
//
// Their environment variables are derived by config.ParseFlags (for
// services/processor: ASSAY_PROCESSOR_ROUTER_RULES, then ASSAY_ROUTER_RULES).
// Every binary that builds processors by name declares the same flags, so
// assay replay can rebuild the router's state with the limits the live
// router used, and judge the log by the principals file the live
// processors use (-principals-file also reads ASSAY_PRINCIPALS_FILE, the
// variable the gateway and the API share).
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Router.RulesFile, "router-rules", "",
		"router: path of the JSON rules file, reloaded when it changes and on SIGHUP (empty: the built-in rules)")
	fs.DurationVar(&c.Router.RulesPoll, "router-rules-poll", router.DefaultRulesPoll,
		"router: how often the rules file's modification time and size are checked")
	fs.DurationVar(&c.Router.PendingTTL, "router-pending-ttl", router.DefaultPendingTTL,
		"router: how long a pre-label waits for its item, in event time (record timestamps), before it is dropped undecided")
	fs.IntVar(&c.Router.MaxPending, "router-max-pending", router.DefaultMaxPending,
		"router: pre-labels waiting for their item per items partition at most; when full the oldest is dropped undecided")
	fs.IntVar(&c.KPI.MaxStateKeys, "kpi-max-state-keys", kpi.DefaultMaxStateKeys,
		"kpi_*: keys of one partition's state at most; when full, records that would add keys go to the DLQ")
	fs.IntVar(&c.KPI.MaxUnitLabels, "kpi-max-unit-labels", kpi.DefaultMaxUnitLabels,
		"kpi_agreement, kpi_accuracy, kpi_regions, kpi_preference: labels counted in one unit (an item's answers to one question) at most; further ones go to the DLQ")
	fs.IntVar(&c.KPI.MaxRegionAnnotators, "kpi-max-region-annotators", kpi.DefaultMaxRegionAnnotators,
		"kpi_regions: annotators whose spans or boxes are compared in one unit at most (bounds the matchings one label causes); a further annotator's label goes to the DLQ")
	fs.StringVar(&c.PrincipalsFile, "principals-file", "",
		"path of the principals file (the gateway's): every event its producer may not write goes to the DLQ (empty: no principals; a label is still retracted only by its producer, and the router trusts only its own decisions)")
	return c
}

// constructors maps a processor name to a function returning a fresh one.
var constructors = map[string]func(Config) (runtime.Processor, error){
	ledger.Name: func(Config) (runtime.Processor, error) { return ledger.New(), nil },
	kpi.AgreementName: func(c Config) (runtime.Processor, error) {
		opts, err := c.KPI.Options()
		if err != nil {
			return nil, err
		}
		return kpi.NewAgreement(opts...), nil
	},
	kpi.AccuracyName: func(c Config) (runtime.Processor, error) {
		opts, err := c.KPI.Options()
		if err != nil {
			return nil, err
		}
		return kpi.NewAccuracy(opts...), nil
	},
	kpi.RegionsName: func(c Config) (runtime.Processor, error) {
		opts, err := c.KPI.Options()
		if err != nil {
			return nil, err
		}
		return kpi.NewRegions(opts...), nil
	},
	kpi.PreferenceName: func(c Config) (runtime.Processor, error) {
		opts, err := c.KPI.Options()
		if err != nil {
			return nil, err
		}
		return kpi.NewPreference(opts...), nil
	},
	kpi.FlowName: func(c Config) (runtime.Processor, error) {
		opts, err := c.KPI.Options()
		if err != nil {
			return nil, err
		}
		return kpi.NewFlow(opts...), nil
	},
	lineage.Name: func(Config) (runtime.Processor, error) { return lineage.NewProcessor(), nil },
	router.Name: func(c Config) (runtime.Processor, error) {
		if c.Router.Logger == nil {
			c.Router.Logger = c.Logger
		}
		return router.New(c.Router)
	},
}

// Names lists the known processor names, sorted.
func Names() []string {
	out := make([]string, 0, len(constructors))
	for n := range constructors {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// New returns a new processor by name, configured by cfg. An unknown name
// or a configuration the processor refuses (a rules file that does not
// validate, say) is an error.
func New(name string, cfg Config) (runtime.Processor, error) {
	c, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("unknown processor %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	p, err := c(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// Parse resolves a comma-separated list of names, rejecting duplicates and
// an empty list, and builds each processor with cfg.
func Parse(list string, cfg Config) ([]runtime.Processor, error) {
	var out []runtime.Processor
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if seen[n] {
			return nil, fmt.Errorf("processor %q listed twice", n)
		}
		seen[n] = true
		p, err := New(n, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no processor named (known: %s)", strings.Join(Names(), ", "))
	}
	return out, nil
}
