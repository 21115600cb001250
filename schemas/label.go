package schemas

import (
	"fmt"
	"math"
	"strings"
)

// MeasurementLevel is a question's level of measurement; it decides which
// LabelValue field carries the answer and which distance agreement uses.
type MeasurementLevel string

// The levels (Avro enum io.assay.common.MeasurementLevel).
const (
	LevelNominal    MeasurementLevel = "nominal"     // one unordered category
	LevelOrdinal    MeasurementLevel = "ordinal"     // one category with a rank
	LevelInterval   MeasurementLevel = "interval"    // a number, differences meaningful
	LevelRatio      MeasurementLevel = "ratio"       // a number >= 0 with a true zero
	LevelMultiLabel MeasurementLevel = "multi_label" // a set of categories
)

// Levels lists the measurement levels in Avro symbol order.
func Levels() []MeasurementLevel {
	return []MeasurementLevel{LevelNominal, LevelOrdinal, LevelInterval, LevelRatio, LevelMultiLabel}
}

// Valid reports whether l is one of the defined levels.
func (l MeasurementLevel) Valid() bool {
	switch l {
	case LevelNominal, LevelOrdinal, LevelInterval, LevelRatio, LevelMultiLabel:
		return true
	}
	return false
}

// LabelValue is an answer typed by its level of measurement (Avro record
// io.assay.common.LabelValue). Exactly the fields of its level are set:
//
//	nominal      {"level":"nominal","category":"cat"}
//	ordinal      {"level":"ordinal","category":"good","rank":2}
//	interval     {"level":"interval","number":-3.5}
//	ratio        {"level":"ratio","number":12}
//	multi_label  {"level":"multi_label","categories":["cat","dog"]}
//
// Build values with Nominal, Ordinal, Interval, Ratio and MultiLabel.
type LabelValue struct {
	// Level selects which of the other fields is meaningful.
	Level MeasurementLevel `json:"level"`
	// Category is the answer of nominal and ordinal questions.
	Category string `json:"category,omitempty"`
	// Rank is the ordinal position of Category on the scale (0 = lowest);
	// it is what ordinal agreement measures distance on.
	Rank *int32 `json:"rank,omitempty"`
	// Number is the answer of interval and ratio questions.
	Number *float64 `json:"number,omitempty"`
	// Categories is the answer of multi_label questions: a set (no
	// duplicates, order irrelevant); empty means "none apply".
	Categories []string `json:"categories,omitempty"`
}

// Nominal builds a nominal answer.
func Nominal(category string) LabelValue {
	return LabelValue{Level: LevelNominal, Category: category}
}

// Ordinal builds an ordinal answer: the category and its rank on the scale.
func Ordinal(category string, rank int32) LabelValue {
	return LabelValue{Level: LevelOrdinal, Category: category, Rank: &rank}
}

// Interval builds an interval-scale answer.
func Interval(x float64) LabelValue { return LabelValue{Level: LevelInterval, Number: &x} }

// Ratio builds a ratio-scale answer (must be >= 0).
func Ratio(x float64) LabelValue { return LabelValue{Level: LevelRatio, Number: &x} }

// MultiLabel builds a set answer; no categories means "none apply".
func MultiLabel(categories ...string) LabelValue {
	return LabelValue{Level: LevelMultiLabel, Categories: categories}
}

// Validate checks that the value is well formed for its level; field names
// in the returned *FieldError are relative ("rank"), callers prefix them.
func (v LabelValue) Validate() error {
	var c check
	if !v.Level.Valid() {
		c.fail("level", "must be one of nominal, ordinal, interval, ratio, multi_label; got %q", v.Level)
		return c.err
	}
	hasCat, hasRank, hasNum, hasCats := v.Category != "", v.Rank != nil, v.Number != nil, len(v.Categories) > 0
	// only fails on any field set outside the level's allowed ones.
	only := func(cat, rank, num, cats bool) {
		switch {
		case hasCat && !cat:
			c.fail("category", "must not be set for level %s", v.Level)
		case hasRank && !rank:
			c.fail("rank", "must not be set for level %s", v.Level)
		case hasNum && !num:
			c.fail("number", "must not be set for level %s", v.Level)
		case hasCats && !cats:
			c.fail("categories", "must not be set for level %s", v.Level)
		}
	}
	switch v.Level {
	case LevelNominal:
		c.required("category", v.Category)
		only(true, false, false, false)
	case LevelOrdinal:
		c.required("category", v.Category)
		if !hasRank {
			c.fail("rank", "required for level ordinal")
		} else if *v.Rank < 0 {
			c.fail("rank", "must be >= 0, got %d", *v.Rank)
		}
		only(true, true, false, false)
	case LevelInterval, LevelRatio:
		if !hasNum {
			c.fail("number", "required for level %s", v.Level)
		} else if math.IsNaN(*v.Number) || math.IsInf(*v.Number, 0) {
			c.fail("number", "must be finite")
		} else if v.Level == LevelRatio && *v.Number < 0 {
			c.fail("number", "must be >= 0 for level ratio, got %v", *v.Number)
		}
		only(false, false, true, false)
	case LevelMultiLabel:
		c.tags("categories", v.Categories)
		only(false, false, false, true)
	}
	return c.err
}

// String renders the value compactly for logs and test failures.
func (v LabelValue) String() string {
	switch v.Level {
	case LevelOrdinal:
		if v.Rank != nil {
			return fmt.Sprintf("ordinal:%s#%d", v.Category, *v.Rank)
		}
	case LevelInterval, LevelRatio:
		if v.Number != nil {
			return fmt.Sprintf("%s:%v", v.Level, *v.Number)
		}
	case LevelMultiLabel:
		return "multi_label:{" + strings.Join(v.Categories, ",") + "}"
	}
	return string(v.Level) + ":" + v.Category
}
