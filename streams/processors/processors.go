package processors

import (
	"fmt"
	"slices"
	"strings"

	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// constructors maps a processor name to a function returning a fresh one.
var constructors = map[string]func() runtime.Processor{
	ledger.Name:       func() runtime.Processor { return ledger.New() },
	kpi.AgreementName: func() runtime.Processor { return kpi.NewAgreement() },
	kpi.AccuracyName:  func() runtime.Processor { return kpi.NewAccuracy() },
	kpi.FlowName:      func() runtime.Processor { return kpi.NewFlow() },
	lineage.Name:      func() runtime.Processor { return lineage.NewProcessor() },
	router.Name:       func() runtime.Processor { return router.MustFromEnv() },
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

// New returns a new processor by name.
func New(name string) (runtime.Processor, error) {
	c, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("unknown processor %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return c(), nil
}

// Parse resolves a comma-separated list of names, rejecting duplicates and
// an empty list.
func Parse(list string) ([]runtime.Processor, error) {
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
		p, err := New(n)
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
