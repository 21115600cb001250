package main

import (
	"fmt"
	"io"

	"github.com/assay-data/assay/streams/agreement"
)

// valueRow is one rating of a CSV whose values are JSON (spans, boxes, preference), parsed.
type valueRow[T any] struct {
	unit, annotator string
	line            int
	value           T
}

// readValueCSV reads a ratings CSV with agreement.ReadRatingCells (the one reader of the
// export format) and parses every value with parse. An error names the CSV line and the column; parse's own error (the libraries'
// FieldErrors) names the region or field inside the value. Every row is held in memory.
func readValueCSV[T any](r io.Reader, parse func([]byte) (T, error)) ([]valueRow[T], error) {
	var out []valueRow[T]
	err := agreement.ReadRatingCells(r, func(c agreement.RatingCell) error {
		v, err := parse([]byte(c.Value))
		if err != nil {
			// A quoted value may span lines (pretty-printed JSON): name the line it starts on.
			return fmt.Errorf("read ratings csv line %d, column value (unit %q, annotator %q): %w", c.ValueLine, c.Unit, c.Annotator, err)
		}
		out = append(out, valueRow[T]{unit: c.Unit, annotator: c.Annotator, line: c.Line, value: v})
		return nil
	})
	return out, err
}

// splitGold separates the rows of the gold annotator (none when gold is "") from the others,
// the gold keyed by unit.
func splitGold[T any](rows []valueRow[T], gold string) (others []valueRow[T], golden map[string]T) {
	golden = map[string]T{}
	for _, r := range rows {
		if gold != "" && r.annotator == gold {
			golden[r.unit] = r.value
			continue
		}
		others = append(others, r)
	}
	return others, golden
}
