package agreement

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Level is a question's level of measurement; it selects the distance alpha uses.
type Level int

// The levels of measurement of the KPI contract. MASI and Jaccard are the two set distances
// for multi-label answers.
const (
	// Nominal: unordered categories; any two different values are equally far apart.
	Nominal Level = iota
	// Ordinal: ranked categories; distance depends on how many values lie between (Krippendorff 2011).
	Ordinal
	// IntervalLevel: numbers; squared difference. (The name Interval is the confidence
	// interval's, the type AlphaInterval returns.)
	IntervalLevel
	// Ratio: non-negative numbers with a true zero; squared difference relative to the sum.
	Ratio
	// MASI: sets of labels compared with Passonneau's (2006) MASI distance.
	MASI
	// Jaccard: sets of labels compared with the Jaccard distance.
	Jaccard
)

var levelNames = [...]string{"nominal", "ordinal", "interval", "ratio", "masi", "jaccard"}

// String returns the level's lower-case name, the one ParseLevel accepts and reports print.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// IsSet reports whether values at this level are sets of labels.
func (l Level) IsSet() bool { return l == MASI || l == Jaccard }

// ParseLevel turns a name such as "interval" (case-insensitive) into a Level, for flags and CSV headers.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level of measurement %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// Value is one answer in canonical text form. It is a string so that one accumulator type
// serves every level, and so that partial aggregates serialize as plain text keys (JSON,
// ClickHouse String columns). Build values with Category, Number, Rank, Set or ParseValue:
// they canonicalize, so that "1" and "1.0", or {b,a} and {a,b}, are the same coincidence key.
type Value string

// Category returns a nominal value (or an ordinal category ordered with AlphaOrdinal).
func Category(s string) Value { return Value(s) }

// Number returns an interval or ratio value in the shortest form that round-trips exactly.
func Number(x float64) Value { return Value(strconv.FormatFloat(x, 'g', -1, 64)) }

// Rank returns an ordinal value given as an integer rank.
func Rank(r int) Value { return Number(float64(r)) }

// Set returns a set-valued answer: the labels sorted and de-duplicated, encoded as a JSON
// array of strings. JSON is used because it is unambiguous for any label text and readable
// in exports; the empty set is "[]".
func Set(labels ...string) Value {
	s := slices.Clone(labels)
	slices.Sort(s)
	s = slices.Compact(s)
	if s == nil {
		s = []string{}
	}
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for []string
		panic(err)
	}
	return Value(b)
}

// Float parses a Number or Rank value.
func (v Value) Float() (float64, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a number: %w", string(v), err)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("value %q is not a finite number", string(v))
	}
	return x, nil
}

// Labels parses a Set value back into its sorted labels.
func (v Value) Labels() ([]string, error) {
	var s []string
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("value %q is not a set (JSON array of strings): %w", string(v), err)
	}
	return s, nil
}

// SetSeparator separates labels of a multi-label answer written as plain text (for example in
// a CSV cell "cat|dog"). A cell that starts with '[' is read as a JSON array instead, which is
// how Set writes values and how a label containing '|' can be expressed.
const SetSeparator = "|"

// ErrMissing is returned by ParseValue for an empty cell: a missing answer, not a value.
var ErrMissing = errors.New("missing value")

// ParseValue reads raw text as a value of the given level and canonicalizes it: numbers for
// ordinal, interval and ratio (ordinal ranks must be numbers here; named ordinal categories
// go through Category and AlphaOrdinal), a JSON array or SetSeparator-separated labels for
// MASI and Jaccard, and the trimmed text for nominal. An empty cell is ErrMissing, so that
// exports with blank cells mean "not rated"; the empty set must be written "[]".
func ParseValue(level Level, raw string) (Value, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", ErrMissing
	}
	switch level {
	case Nominal:
		return Category(raw), nil
	case Ordinal, IntervalLevel, Ratio:
		x, err := Value(raw).Float()
		if err != nil {
			return "", err
		}
		if level == Ratio && x < 0 {
			return "", fmt.Errorf("ratio value %q is negative", raw)
		}
		return Number(x), nil
	case MASI, Jaccard:
		var labels []string
		if strings.HasPrefix(raw, "[") {
			l, err := Value(raw).Labels()
			if err != nil {
				return "", err
			}
			labels = l
		} else {
			for _, p := range strings.Split(raw, SetSeparator) {
				if p = strings.TrimSpace(p); p != "" {
					labels = append(labels, p)
				}
			}
		}
		return Set(labels...), nil
	}
	return "", fmt.Errorf("unknown level %v", level)
}

// MASIDistance is Passonneau's (2006) "Measuring Agreement on Set-valued Items" distance:
// 1 − J·M, with J the Jaccard similarity and M = 1 for identical sets, 2/3 when one contains
// the other, 1/3 when they overlap otherwise and 0 when disjoint. It matches
// nltk.metrics.distance.masi_distance, except that two empty sets are at distance 0 (they are
// the same answer) where NLTK divides by zero. Duplicate labels count once.
func MASIDistance(a, b []string) float64 { return masi(normalizeLabels(a), normalizeLabels(b)) }

// JaccardDistance is 1 − |a∩b|/|a∪b|, with two empty sets at distance 0. Duplicate labels count once.
func JaccardDistance(a, b []string) float64 {
	return jaccard(normalizeLabels(a), normalizeLabels(b))
}

func normalizeLabels(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// masi is MASIDistance on sorted, de-duplicated labels (as Value.Labels returns them), so
// that the O(V²) loops in Alpha do not sort again.
func masi(a, b []string) float64 {
	inter, union := setOverlap(a, b)
	if union == 0 {
		return 0
	}
	var m float64
	switch {
	case len(a) == len(b) && inter == len(a):
		m = 1
	case inter == min(len(a), len(b)):
		m = 2.0 / 3
	case inter > 0:
		m = 1.0 / 3
	}
	return 1 - float64(inter)/float64(union)*m
}

// jaccard is JaccardDistance on sorted, de-duplicated labels.
func jaccard(a, b []string) float64 {
	inter, union := setOverlap(a, b)
	if union == 0 {
		return 0
	}
	return float64(union-inter) / float64(union)
}

// setOverlap counts the intersection and union of two sorted, de-duplicated label lists by merging.
func setOverlap(a, b []string) (inter, union int) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c == 0:
			inter++
			i++
			j++
		case c < 0:
			i++
		default:
			j++
		}
	}
	return inter, len(a) + len(b) - inter
}
