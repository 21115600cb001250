package processors

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/router"
)

func TestNewAndParse(t *testing.T) {
	for _, n := range Names() {
		p, err := New(n, Config{})
		if err != nil || p.Name() != n {
			t.Fatalf("New(%q, zero Config) = %v, %v", n, p, err)
		}
	}
	if _, err := New("nope", Config{}); err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("unknown name: %v", err)
	}
	ps, err := Parse(" ledger, router ,", Config{})
	if err != nil || len(ps) != 2 || ps[0].Name() != "ledger" || ps[1].Name() != "router" {
		t.Fatalf("Parse: %v, %v", ps, err)
	}
	if _, err := Parse("ledger,ledger", Config{}); err == nil {
		t.Fatal("a name listed twice must be refused")
	}
	if _, err := Parse(" , ", Config{}); err == nil {
		t.Fatal("an empty list must be refused")
	}
	// A configuration the processor refuses is an error naming it, not a
	// panic.
	bad := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(bad, []byte(`{"version":"v1","default_confidence_threshold":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Parse("ledger,router", Config{Router: router.Config{RulesFile: bad}})
	if err == nil || !strings.HasPrefix(err.Error(), "router: rules file "+bad) || !strings.Contains(err.Error(), "default_confidence_threshold") {
		t.Fatalf("invalid rules file: %v", err)
	}
	if _, err := New("router", Config{Router: router.Config{MaxPending: -1}}); err == nil || !strings.HasPrefix(err.Error(), "router: ") {
		t.Fatalf("negative max pending: %v", err)
	}
	for _, n := range []string{kpi.AgreementName, kpi.AccuracyName, kpi.RegionsName, kpi.PreferenceName, kpi.FlowName} {
		if _, err := New(n, Config{KPI: kpi.Config{MaxStateKeys: -1}}); err == nil || !strings.HasPrefix(err.Error(), n+": kpi config: max state keys") {
			t.Fatalf("%s, negative max state keys: %v", n, err)
		}
	}
}

// TestRegisterFlags: the router's flags, their defaults, and the environment
// variables config.ParseFlags derives for them in services/processor,
// ASSAY_ROUTER_RULES (the name the README has always documented) included.
func TestRegisterFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (*Config, error) {
		fs := flag.NewFlagSet("processor", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c := RegisterFlags(fs)
		err := config.ParseFlags(fs, "processor", args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
		return c, err
	}
	c, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := router.Config{RulesPoll: router.DefaultRulesPoll, PendingTTL: router.DefaultPendingTTL, MaxPending: router.DefaultMaxPending}
	if c.Router != want {
		t.Fatalf("defaults %+v, want %+v", c.Router, want)
	}
	if wantKPI := (kpi.Config{MaxStateKeys: kpi.DefaultMaxStateKeys, MaxUnitLabels: kpi.DefaultMaxUnitLabels,
		MaxRegionAnnotators: kpi.DefaultMaxRegionAnnotators}); c.KPI != wantKPI {
		t.Fatalf("KPI defaults %+v, want %+v", c.KPI, wantKPI)
	}
	c, err = parse(map[string]string{"ASSAY_KPI_MAX_STATE_KEYS": "1000", "ASSAY_PROCESSOR_KPI_MAX_UNIT_LABELS": "7", "ASSAY_KPI_MAX_REGION_ANNOTATORS": "3"})
	if err != nil || c.KPI != (kpi.Config{MaxStateKeys: 1000, MaxUnitLabels: 7, MaxRegionAnnotators: 3}) {
		t.Fatalf("from ASSAY_KPI_MAX_STATE_KEYS and ASSAY_PROCESSOR_KPI_MAX_UNIT_LABELS: %+v, %v", c.KPI, err)
	}
	c, err = parse(map[string]string{"ASSAY_ROUTER_RULES": "a.json", "ASSAY_ROUTER_RULES_POLL": "200ms",
		"ASSAY_ROUTER_PENDING_TTL": "2h", "ASSAY_ROUTER_MAX_PENDING": "500"})
	if err != nil {
		t.Fatal(err)
	}
	want = router.Config{RulesFile: "a.json", RulesPoll: 200 * time.Millisecond, PendingTTL: 2 * time.Hour, MaxPending: 500}
	if c.Router != want {
		t.Fatalf("from ASSAY_ROUTER_*: %+v, want %+v", c.Router, want)
	}
	c, err = parse(map[string]string{"ASSAY_ROUTER_RULES": "a.json", "ASSAY_PROCESSOR_ROUTER_RULES": "b.json"})
	if err != nil || c.Router.RulesFile != "b.json" {
		t.Fatalf("ASSAY_PROCESSOR_ROUTER_RULES must win over ASSAY_ROUTER_RULES: %q, %v", c.Router.RulesFile, err)
	}
	c, err = parse(map[string]string{"ASSAY_PROCESSOR_ROUTER_RULES": "b.json"}, "-router-rules", "c.json")
	if err != nil || c.Router.RulesFile != "c.json" {
		t.Fatalf("the flag must win over the environment: %q, %v", c.Router.RulesFile, err)
	}
	if _, err := parse(map[string]string{"ASSAY_ROUTER_MAX_PENDING": "lots"}); err == nil || !strings.Contains(err.Error(), "ASSAY_ROUTER_MAX_PENDING") {
		t.Fatalf("a value that does not parse must be an error naming the variable: %v", err)
	}
}

// TestPrincipalsFile: -principals-file reads ASSAY_PROCESSOR_PRINCIPALS_FILE, then
// ASSAY_PRINCIPALS_FILE (shared with the gateway and the API); LoadPrincipals is nil without a
// file and refuses a file without any token.
func TestPrincipalsFile(t *testing.T) {
	parse := func(env map[string]string, args ...string) *Config {
		t.Helper()
		fs := flag.NewFlagSet("processor", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c := RegisterFlags(fs)
		if err := config.ParseFlags(fs, "processor", args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := parse(nil); c.PrincipalsFile != "" {
		t.Fatalf("default %q", c.PrincipalsFile)
	}
	if c := parse(map[string]string{"ASSAY_PRINCIPALS_FILE": "shared"}); c.PrincipalsFile != "shared" {
		t.Fatalf("ASSAY_PRINCIPALS_FILE: %q", c.PrincipalsFile)
	}
	if c := parse(map[string]string{"ASSAY_PRINCIPALS_FILE": "shared", "ASSAY_PROCESSOR_PRINCIPALS_FILE": "own"}); c.PrincipalsFile != "own" {
		t.Fatalf("ASSAY_PROCESSOR_PRINCIPALS_FILE must win: %q", c.PrincipalsFile)
	}
	if l, err := (Config{}).LoadPrincipals(); l != nil || err != nil {
		t.Fatalf("no file: %v, %v", l, err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	good := filepath.Join(dir, "principals")
	if err := os.WriteFile(empty, []byte("# nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("qa "+strings.Repeat("ab", 32)+" role=qa projects=*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Config{PrincipalsFile: empty}).LoadPrincipals(); err == nil {
		t.Fatal("a file without tokens must be refused")
	}
	l, err := (Config{PrincipalsFile: good}).LoadPrincipals()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Store().Load().Principal("qa"); !ok {
		t.Fatal("principal qa not loaded")
	}
}
