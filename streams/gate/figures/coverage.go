package figures

import (
	"fmt"

	"github.com/assay-data/assay/streams/gate"
)

// targets is a CoverageTargetSet as the ledger table coverage_targets holds it: slice targets
// and edge-case minimums as parallel arrays.
type targets struct {
	eventID   string
	slices    []string
	shares    []*float64
	minCounts []*int64
	edgeTags  []string
	edgeMins  []int64
}

// measure judges a version against t by migration 0004's rules: a slice target is met when
// the version's distinct member items with the slice tag reach its minimum count and their
// share of the version's distinct member items (items) reaches its target share, whichever
// are set (a share of a version without items is not reached); an edge-case minimum is met
// when the distinct member items with the tag whose member label was accepted (edges) reach
// it. sliceItems counts the distinct member items per slice tag.
func (t targets) measure(items int64, sliceItems, edges map[string]int64) (gate.CoverageFigure, error) {
	if len(t.shares) != len(t.slices) || len(t.minCounts) != len(t.slices) || len(t.edgeMins) != len(t.edgeTags) {
		return gate.CoverageFigure{}, fmt.Errorf("parallel arrays differ in length: %d slices, %d shares, %d minimums, %d tags, %d minimums",
			len(t.slices), len(t.shares), len(t.minCounts), len(t.edgeTags), len(t.edgeMins))
	}
	c := gate.CoverageFigure{TargetsEventID: t.eventID, SliceTargets: int64(len(t.slices)), EdgeCaseTargets: int64(len(t.edgeTags))}
	for i, s := range t.slices {
		n := sliceItems[s]
		met := t.minCounts[i] == nil || n >= *t.minCounts[i]
		if share := t.shares[i]; share != nil {
			met = met && items > 0 && float64(n)/float64(items) >= *share
		}
		if met {
			c.SlicesMet++
		}
	}
	for i, tag := range t.edgeTags {
		if edges[tag] >= t.edgeMins[i] {
			c.EdgeCasesMet++
		}
	}
	return c, nil
}
