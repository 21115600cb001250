package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// valueRow is one rating of a CSV whose values are JSON (spans, boxes, preference), parsed.
type valueRow[T any] struct {
	unit, annotator string
	line            int
	value           T
}

// readValueCSV reads a ratings CSV as agreement.ReadRatingsCSV does (a header naming unit,
// annotator and value in any order and case, other columns ignored, a row with an empty value
// skipped as a missing rating, an annotator rating a unit twice refused) and parses every value
// with parse. An error names the CSV line and the column; parse's own error (the libraries'
// FieldErrors) names the region or field inside the value. Every row is held in memory.
func readValueCSV[T any](r io.Reader, parse func([]byte) (T, error)) ([]valueRow[T], error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read ratings csv header: %w", err)
	}
	col := map[string]int{"unit": -1, "annotator": -1, "value": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := col[h]; ok {
			if j >= 0 {
				return nil, fmt.Errorf("read ratings csv header: column %q appears twice", h)
			}
			col[h] = i
		}
	}
	for _, name := range []string{"unit", "annotator", "value"} {
		if col[name] < 0 {
			return nil, fmt.Errorf("read ratings csv header: no %q column (want unit,annotator,value)", name)
		}
	}
	type key struct{ unit, annotator string }
	seen := map[key]int{}
	var out []valueRow[T]
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read ratings csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		unit := strings.TrimSpace(rec[col["unit"]])
		annotator := strings.TrimSpace(rec[col["annotator"]])
		if unit == "" || annotator == "" {
			return nil, fmt.Errorf("read ratings csv line %d: empty unit or annotator", line)
		}
		raw := strings.TrimSpace(rec[col["value"]])
		if raw == "" {
			continue
		}
		// A quoted value may span lines (pretty-printed JSON): name the line it starts on.
		valueLine, _ := cr.FieldPos(col["value"])
		v, err := parse([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("read ratings csv line %d, column value (unit %q, annotator %q): %w", valueLine, unit, annotator, err)
		}
		k := key{unit, annotator}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("read ratings csv line %d: annotator %q already rated unit %q on line %d", line, annotator, unit, prev)
		}
		seen[k] = line
		out = append(out, valueRow[T]{unit: unit, annotator: annotator, line: line, value: v})
	}
	return out, nil
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
