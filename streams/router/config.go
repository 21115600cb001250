package router

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/assay-data/assay/schemas"
)

// Defaults of a Config field left zero.
const (
	// DefaultRulesPoll is how often Loader.Run checks the rules file.
	DefaultRulesPoll = 5 * time.Second
	// DefaultPendingTTL is how long, in event time, a pre-label waits for
	// its item. An item normally reaches the log seconds after the model
	// saw it; a day covers an ingest pipeline that was down overnight,
	// and a pre-label whose item has not come by then is almost surely
	// for an item that never will (a typo, a test, a made-up id).
	DefaultPendingTTL = 24 * time.Hour
	// DefaultMaxPending caps the pending pre-labels of one items
	// partition. A pending pre-label costs about 0.4 KB of heap
	// (TestPendingFlood logs the figure), so the cap holds a partition's
	// pending set near 40 MiB whatever is produced, and it is still far
	// above what a healthy pipeline holds: pre-labels normally wait for
	// their item for seconds, not behind 100,000 others.
	DefaultMaxPending = 100_000
	// DefaultMaxHeldRegions caps the spans and boxes one labels partition
	// holds for the region rule (the first labels of item/questions not
	// judged yet). Holding a box costs about 80 bytes of heap beyond its
	// label's own entry (TestHeldRegionsMemory logs the figure; a span is
	// 24 bytes smaller), so the cap keeps them within about 80 MiB a
	// partition: the first labels of 100,000 images of 10 boxes each
	// waiting for their second annotator, whose entries as labels take
	// more than that (some 1.4 KB an item).
	DefaultMaxHeldRegions = 1_000_000
)

// MinMaxHeldRegions is the smallest Config.MaxHeldRegions: room for one
// item/question's first labels at their largest (MaxRegionLabels answers
// of schemas.MaxRegions regions), so a judgement never lacks one of them.
const MinMaxHeldRegions = MaxRegionLabels * schemas.MaxRegions

// Config configures a Router. The zero value is valid: the built-in rules
// (DefaultRules) and the default limits. A zero field takes its default; a
// negative one is an error.
type Config struct {
	// RulesFile is the path of the JSON rules file (README.md, "Routing").
	// New reads and validates it (an invalid file is an error: at start
	// there are no older rules to keep) and Router.Loader reloads it.
	// Empty: the rules of Rules.
	RulesFile string
	// RulesPoll is how often Loader.Run checks the file's modification
	// time and size. Zero: DefaultRulesPoll.
	RulesPoll time.Duration
	// Rules holds the rules in force when RulesFile is empty (a program
	// that builds its rules itself, or swaps them); they must be valid.
	// Nil: a set holding DefaultRules(). Setting both is an error.
	Rules *RuleSet
	// PendingTTL is how long a pre-label whose item has not been ingested
	// waits for it, measured in event time (see the package doc,
	// "Bounded state"). Zero: DefaultPendingTTL.
	PendingTTL time.Duration
	// MaxPending caps the pre-labels waiting for their item in one items
	// partition; when it is full the oldest (by event time) is evicted.
	// Zero: DefaultMaxPending.
	MaxPending int
	// MaxHeldRegions caps the spans and boxes one labels partition holds
	// for the region rule; when it is exceeded, the item/question that has
	// held its first labels longest loses them unjudged (see the package
	// doc, "Bounded state"). Zero: DefaultMaxHeldRegions; otherwise at
	// least MinMaxHeldRegions.
	MaxHeldRegions int
	// Logger receives the reload outcomes of the rules file. Nil:
	// slog.Default().
	Logger *slog.Logger
}

// withDefaults validates c and returns it with every zero field set to its
// default, reporting all problems at once.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.RulesPoll < 0 {
		errs = append(errs, fmt.Errorf("rules poll interval must not be negative, got %v", c.RulesPoll))
	}
	if c.PendingTTL < 0 {
		errs = append(errs, fmt.Errorf("pending pre-label TTL must not be negative, got %v", c.PendingTTL))
	} else if c.PendingTTL != 0 && c.PendingTTL < time.Millisecond {
		// Event time is counted in milliseconds (the log's timestamps).
		errs = append(errs, fmt.Errorf("pending pre-label TTL must be at least 1ms, got %v", c.PendingTTL))
	}
	if c.MaxPending < 0 {
		errs = append(errs, fmt.Errorf("max pending pre-labels must not be negative, got %d", c.MaxPending))
	}
	if c.MaxHeldRegions < 0 || c.MaxHeldRegions > 0 && c.MaxHeldRegions < MinMaxHeldRegions {
		errs = append(errs, fmt.Errorf("max held regions must be 0 (the default) or at least %d (one item/question's first labels at their largest), got %d",
			MinMaxHeldRegions, c.MaxHeldRegions))
	}
	if c.RulesFile != "" && c.Rules != nil {
		errs = append(errs, errors.New("both a rules file and a rule set given: use one"))
	}
	if c.Rules != nil {
		if r := c.Rules.Current(); r == nil {
			errs = append(errs, errors.New("rule set holds no rules"))
		} else if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("router config: %w", errors.Join(errs...))
	}
	if c.RulesPoll == 0 {
		c.RulesPoll = DefaultRulesPoll
	}
	if c.PendingTTL == 0 {
		c.PendingTTL = DefaultPendingTTL
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxHeldRegions == 0 {
		c.MaxHeldRegions = DefaultMaxHeldRegions
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// New returns a router configured by cfg: it validates cfg and, when
// cfg.RulesFile is set, reads and validates the rules file. It starts
// nothing: the owner of the process runs Loader().Run and calls
// Loader().Reload (on SIGHUP, say) for as long as it wants the file
// watched.
func New(cfg Config) (*Router, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, rules: cfg.Rules}
	switch {
	case cfg.RulesFile != "":
		l, err := NewLoader(cfg.RulesFile, cfg.RulesPoll, cfg.Logger)
		if err != nil {
			return nil, err
		}
		r.rules, r.loader = l.RuleSet(), l
	case r.rules == nil:
		r.rules = NewRuleSet(DefaultRules())
	}
	return r, nil
}
