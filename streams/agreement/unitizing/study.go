package unitizing

import (
	"fmt"
	"maps"
	"slices"
)

// Label is what one rater marked on one item: the spans of one spans-level label, with the
// item's length as the label states it (schemas.Extent; the CLI, which has no extent, passes
// the largest span end on the item).
type Label struct {
	Item   string
	Rater  string
	Length int64
	// Spans may be empty: a label with no spans says the whole item is a gap.
	Spans []Span
}

// NewStudy builds the study unitizing alpha is computed over from per-item, per-rater labels,
// the one rule the processor, the CLI and the API share: only the items that every rater in
// scope labeled, in byte order of their ids (the order matters, see the package doc), each as
// long as its labels state.
//
// raters is the scope; nil or empty means every rater that labeled some item. Labels of raters
// outside the scope are ignored. Raters are kept in byte order. It is an error for a rater to
// label an item twice (the caller resolves which label counts) or for two labels of an item to
// state different lengths; spans are checked by Alpha.
func NewStudy(labels []Label, raters []string) (Study, error) {
	inScope := map[string]bool{}
	for _, r := range raters {
		inScope[r] = true
	}
	if len(inScope) == 0 {
		for _, l := range labels {
			inScope[l.Rater] = true
		}
	}
	names := slices.Sorted(maps.Keys(inScope))
	index := make(map[string]int, len(names))
	for i, r := range names {
		index[r] = i
	}

	type entry struct {
		length int64
		spans  [][]Span
		seen   []bool
		count  int
	}
	items := map[string]*entry{}
	for _, l := range labels {
		r, ok := index[l.Rater]
		if !ok {
			continue
		}
		e := items[l.Item]
		switch {
		case e == nil:
			e = &entry{length: l.Length, spans: make([][]Span, len(names)), seen: make([]bool, len(names))}
			items[l.Item] = e
		case e.length != l.Length:
			return Study{}, fmt.Errorf("unitizing: item %q: labels state lengths %d and %d", l.Item, e.length, l.Length)
		}
		if e.seen[r] {
			return Study{}, fmt.Errorf("unitizing: rater %q labeled item %q twice", l.Rater, l.Item)
		}
		e.seen[r] = true
		e.count++
		e.spans[r] = l.Spans
	}

	s := Study{Raters: names}
	for _, id := range slices.Sorted(maps.Keys(items)) {
		e := items[id]
		if e.count < len(names) {
			s.Skipped++
			continue
		}
		s.Items = append(s.Items, Item{ID: id, Length: e.length, Spans: e.spans})
	}
	return s, nil
}
