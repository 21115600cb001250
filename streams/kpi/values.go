package kpi

import (
	"fmt"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
)

// canonical turns a label value into the agreement package's canonical text
// form: the category for nominal, the rank for ordinal (ordinal alpha measures
// distance on ranks), the shortest round-tripping number for interval and
// ratio, the sorted de-duplicated set for multi-label. Equal answers get equal
// text, which is what both the coincidence cells and exact-match accuracy
// compare.
func canonical(v schemas.LabelValue) (agreement.Value, error) {
	switch v.Level {
	case schemas.LevelNominal:
		return agreement.Category(v.Category), nil
	case schemas.LevelOrdinal:
		if v.Rank == nil {
			return "", fmt.Errorf("ordinal value %q has no rank", v.Category)
		}
		return agreement.Rank(int(*v.Rank)), nil
	case schemas.LevelInterval, schemas.LevelRatio:
		if v.Number == nil {
			return "", fmt.Errorf("%s value has no number", v.Level)
		}
		return agreement.Number(*v.Number), nil
	case schemas.LevelMultiLabel:
		return agreement.Set(v.Categories...), nil
	}
	return "", fmt.Errorf("unknown level of measurement %q", v.Level)
}

// measuredApart reports whether answers at level l are measured by a
// processor of their own (kpi_regions: spans and boxes; kpi_preference:
// preference) rather than compared as values: kpi_agreement and kpi_accuracy
// ignore such labels and gold answers, keeping no state for them, as their
// values have no canonical text form that equality or a distance would mean
// anything on.
func measuredApart(l schemas.MeasurementLevel) bool {
	return l.Regional() || l == schemas.LevelPreference
}

// alphaLevel is the distance alpha uses for a question's level; sets use
// MASI, the design's default for multi-label answers.
func alphaLevel(l string) (agreement.Level, error) {
	switch schemas.MeasurementLevel(l) {
	case schemas.LevelNominal:
		return agreement.Nominal, nil
	case schemas.LevelOrdinal:
		return agreement.Ordinal, nil
	case schemas.LevelInterval:
		return agreement.IntervalLevel, nil
	case schemas.LevelRatio:
		return agreement.Ratio, nil
	case schemas.LevelMultiLabel:
		return agreement.MASI, nil
	}
	return 0, fmt.Errorf("unknown level of measurement %q", l)
}

// Scope values: every label counts in ScopeAll; labels with a cohort or a
// vendor also count in the scope named after it, and accuracy adds one scope
// per annotator.
const (
	ScopeAll = "all"
)

// CohortScope names the scope of one cohort ("cohort:<c>").
func CohortScope(c string) string { return "cohort:" + c }

// VendorScope names the scope of one vendor ("vendor:<v>").
func VendorScope(v string) string { return "vendor:" + v }

// AnnotatorScope names the accuracy scope of one annotator ("annotator:<a>").
func AnnotatorScope(a string) string { return "annotator:" + a }

// scopesOf lists the agreement and accuracy scopes a label counts in.
func scopesOf(cohort, vendor string) []string {
	s := []string{ScopeAll}
	if cohort != "" {
		s = append(s, CohortScope(cohort))
	}
	if vendor != "" {
		s = append(s, VendorScope(vendor))
	}
	return s
}
