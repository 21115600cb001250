package agreement

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Rating is one annotator's value for one unit: a row of an export.
type Rating struct {
	Unit      string `json:"unit"`
	Annotator string `json:"annotator"`
	Value     Value  `json:"value"`
}

// ReadRatingsCSV reads an export with a header row naming the columns unit, annotator and
// value (any order, any case; other columns are ignored) and parses each value at level with
// ParseValue. Rows with an empty value are missing ratings and are skipped. A second rating
// by the same annotator for the same unit is an error: the export should hold each
// annotator's current answer once, and silently keeping either would change the figures.
func ReadRatingsCSV(r io.Reader, level Level) ([]Rating, error) {
	var out []Rating
	err := ReadRatingCells(r, func(c RatingCell) error {
		v, err := ParseValue(level, c.Value)
		if err != nil {
			return fmt.Errorf("read ratings csv line %d: %w", c.Line, err)
		}
		out = append(out, Rating{Unit: c.Unit, Annotator: c.Annotator, Value: v})
		return nil
	})
	return out, err
}

// RatingCell is one rating of a ratings CSV before its value is parsed: where it is (Line;
// ValueLine, where the value starts, differs for a quoted value spanning lines) and its text.
type RatingCell struct {
	Unit, Annotator string
	// Value is the value's text, trimmed; never empty (a blank cell is a missing rating).
	Value           string
	Line, ValueLine int
}

// ReadRatingCells reads a ratings CSV as ReadRatingsCSV does (a header naming unit, annotator
// and value in any order and case, other columns ignored, a row with a blank value skipped as a
// missing rating, an annotator rating a unit twice refused) and hands every rating to parse,
// whose error it returns as is (parse names the line and what is wrong with the value). It is
// the one reader of the export format, for values of any kind (the CLI's JSON regions and
// preferences as well as ParseValue's levels).
func ReadRatingCells(r io.Reader, parse func(RatingCell) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("read ratings csv header: %w", err)
	}
	col := map[string]int{"unit": -1, "annotator": -1, "value": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := col[h]; ok {
			if j >= 0 {
				return fmt.Errorf("read ratings csv header: column %q appears twice", h)
			}
			col[h] = i
		}
	}
	for _, name := range []string{"unit", "annotator", "value"} {
		if col[name] < 0 {
			return fmt.Errorf("read ratings csv header: no %q column (want unit,annotator,value)", name)
		}
	}
	type key struct{ unit, annotator string }
	seen := map[key]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ratings csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		unit := strings.TrimSpace(rec[col["unit"]])
		annotator := strings.TrimSpace(rec[col["annotator"]])
		if unit == "" || annotator == "" {
			return fmt.Errorf("read ratings csv line %d: empty unit or annotator", line)
		}
		raw := strings.TrimSpace(rec[col["value"]])
		if raw == "" {
			continue
		}
		valueLine, _ := cr.FieldPos(col["value"])
		if err := parse(RatingCell{Unit: unit, Annotator: annotator, Value: raw, Line: line, ValueLine: valueLine}); err != nil {
			return err
		}
		k := key{unit, annotator}
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("read ratings csv line %d: annotator %q already rated unit %q on line %d", line, annotator, unit, prev)
		}
		seen[k] = line
	}
}

// groupUnits groups ratings by unit (units and their ratings sorted by annotator, for
// deterministic output) and rejects an annotator rating a unit twice.
func groupUnits(ratings []Rating) (map[string][]Rating, error) {
	units := map[string][]Rating{}
	for _, r := range ratings {
		units[r.Unit] = append(units[r.Unit], r)
	}
	for u, rs := range units {
		slices.SortFunc(rs, func(x, y Rating) int { return cmp.Compare(x.Annotator, y.Annotator) })
		for i := 1; i < len(rs); i++ {
			if rs[i].Annotator == rs[i-1].Annotator {
				return nil, fmt.Errorf("annotator %q rated unit %q more than once", rs[i].Annotator, u)
			}
		}
	}
	return units, nil
}

// AnnotatorAgreement is one annotator's agreement with the other raters on the units they share.
type AnnotatorAgreement struct {
	Annotator string `json:"annotator"`
	// Ratings is how many values the annotator gave.
	Ratings int `json:"ratings"`
	// SharedUnits is how many of those units someone else also rated.
	SharedUnits int `json:"shared_units"`
	// Pairs is the number of (this annotator's value, another rater's value) pairs over the
	// shared units; Agreements is how many of them are equal.
	Pairs      int64 `json:"pairs"`
	Agreements int64 `json:"agreements"`
	// PercentAgreement is Agreements/Pairs as a proportion in [0, 1]; nil when Pairs is 0.
	PercentAgreement *float64 `json:"percent_agreement"`
}

// AnnotatorAgreements measures each annotator against the others: over every unit the
// annotator shares with other raters, the share of pairs (theirs, another's) with equal values.
// Pairs are pooled, so a unit with more co-raters gives more evidence. Sorted by annotator.
func AnnotatorAgreements(ratings []Rating) ([]AnnotatorAgreement, error) {
	units, err := groupUnits(ratings)
	if err != nil {
		return nil, fmt.Errorf("annotator agreement: %w", err)
	}
	by := map[string]*AnnotatorAgreement{}
	for _, rs := range units {
		counts := map[Value]int64{}
		for _, r := range rs {
			counts[r.Value]++
		}
		m := int64(len(rs))
		for _, r := range rs {
			a := by[r.Annotator]
			if a == nil {
				a = &AnnotatorAgreement{Annotator: r.Annotator}
				by[r.Annotator] = a
			}
			a.Ratings++
			if m < 2 {
				continue
			}
			a.SharedUnits++
			a.Pairs += m - 1
			a.Agreements += counts[r.Value] - 1
		}
	}
	out := make([]AnnotatorAgreement, 0, len(by))
	for _, name := range slices.Sorted(maps.Keys(by)) {
		a := *by[name]
		if a.Pairs > 0 {
			p := float64(a.Agreements) / float64(a.Pairs)
			a.PercentAgreement = &p
		}
		out = append(out, a)
	}
	return out, nil
}

// PairAgreement compares two annotators on the units both rated.
type PairAgreement struct {
	A           string `json:"a"`
	B           string `json:"b"`
	SharedUnits int    `json:"shared_units"`
	// PercentAgreement is the share of shared units where A and B gave equal values, in [0, 1].
	PercentAgreement float64 `json:"percent_agreement"`
	// CohenKappa is nil when undefined (for example both always gave the same single value);
	// CohenKappaUndefined then says why.
	CohenKappa          *float64 `json:"cohen_kappa"`
	CohenKappaUndefined string   `json:"cohen_kappa_undefined,omitempty"`
}

// PairwiseAgreements returns, for every pair of annotators sharing at least one unit, their
// percent agreement and Cohen's kappa with weighting w, sorted by (A, B) with A < B. Work is
// Σ_u m_u² over units, so pairs that share nothing cost nothing.
func PairwiseAgreements(ratings []Rating, w Weighting) ([]PairAgreement, error) {
	units, err := groupUnits(ratings)
	if err != nil {
		return nil, fmt.Errorf("pairwise agreement: %w", err)
	}
	type pair struct{ a, b string }
	vals := map[pair]*[2][]Value{}
	for _, u := range slices.Sorted(maps.Keys(units)) {
		rs := units[u]
		for i, x := range rs {
			for _, y := range rs[i+1:] {
				p := pair{x.Annotator, y.Annotator}
				v := vals[p]
				if v == nil {
					v = &[2][]Value{}
					vals[p] = v
				}
				v[0] = append(v[0], x.Value)
				v[1] = append(v[1], y.Value)
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(vals), func(x, y pair) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })
	out := make([]PairAgreement, 0, len(keys))
	for _, p := range keys {
		v := vals[p]
		pa := PairAgreement{A: p.a, B: p.b, SharedUnits: len(v[0])}
		var eq int
		for i := range v[0] {
			if v[0][i] == v[1][i] {
				eq++
			}
		}
		pa.PercentAgreement = float64(eq) / float64(len(v[0]))
		k, err := CohenKappa(v[0], v[1], w)
		switch {
		case errors.Is(err, ErrUndefined):
			pa.CohenKappaUndefined = undefinedReason(err)
		case err != nil:
			return nil, fmt.Errorf("pairwise agreement %s/%s: %w", p.a, p.b, err)
		default:
			pa.CohenKappa = &k.Kappa
		}
		out = append(out, pa)
	}
	return out, nil
}
