package regions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseSpans reads a value of level spans as the CLI's CSV holds it: a JSON array of objects
// {"label": string, "start": integer, "end": integer}, offsets half-open. Keys are exact
// (case-sensitive) and no others are allowed. The spans are checked with ValidateSpans, and
// every error names the region's index and the field, e.g.
//
//	region 2: end is 4, not after start 7
//	region 0: start is a string, want an integer
func ParseSpans(data []byte) ([]Span, error) {
	objs, err := parseArray(data)
	if err != nil {
		return nil, err
	}
	spans := make([]Span, len(objs))
	for i, obj := range objs {
		s := &spans[i]
		err := parseObject(i, obj, "span", []field{
			{"label", true, func(raw json.RawMessage) string { return parseString(raw, &s.Label) }},
			{"start", true, func(raw json.RawMessage) string { return parseInt(raw, &s.Start) }},
			{"end", true, func(raw json.RawMessage) string { return parseInt(raw, &s.End) }},
		})
		if err != nil {
			return nil, err
		}
	}
	if err := ValidateSpans(spans); err != nil {
		return nil, err
	}
	return spans, nil
}

// ParseBoxes reads a value of level boxes: a JSON array of objects {"label": string, "x":
// number, "y": number, "w": number, "h": number} with an optional "score": number (a model's
// confidence). Keys are exact and no others are allowed; the boxes are checked with
// ValidateBoxes, and every error names the region's index and the field.
func ParseBoxes(data []byte) ([]Box, error) {
	objs, err := parseArray(data)
	if err != nil {
		return nil, err
	}
	boxes := make([]Box, len(objs))
	for i, obj := range objs {
		b := &boxes[i]
		err := parseObject(i, obj, "box", []field{
			{"label", true, func(raw json.RawMessage) string { return parseString(raw, &b.Label) }},
			{"x", true, func(raw json.RawMessage) string { return parseFloat(raw, &b.X) }},
			{"y", true, func(raw json.RawMessage) string { return parseFloat(raw, &b.Y) }},
			{"w", true, func(raw json.RawMessage) string { return parseFloat(raw, &b.W) }},
			{"h", true, func(raw json.RawMessage) string { return parseFloat(raw, &b.H) }},
			{"score", false, func(raw json.RawMessage) string {
				if string(raw) == "null" {
					return ""
				}
				b.Score = new(float64)
				return parseFloat(raw, b.Score)
			}},
		})
		if err != nil {
			return nil, err
		}
	}
	if err := ValidateBoxes(boxes); err != nil {
		return nil, err
	}
	return boxes, nil
}

// parseArray splits a JSON array into its elements, refusing anything else and more than
// MaxRegions elements (before any of them is parsed).
func parseArray(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return nil, fmt.Errorf("regions: want a JSON array of regions, got %s", describe(data))
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(data, &objs); err != nil {
		return nil, fmt.Errorf("regions: not a JSON array: %w", err)
	}
	if len(objs) > MaxRegions {
		return nil, fmt.Errorf("regions: %d regions, more than the %d a value may hold", len(objs), MaxRegions)
	}
	return objs, nil
}

// field is one key of a region object: its name, whether it must be present, and how to
// store its value (returning why it cannot, or "").
type field struct {
	name     string
	required bool
	set      func(json.RawMessage) string
}

func parseObject(i int, raw json.RawMessage, kind string, fields []field) error {
	if len(raw) == 0 || raw[0] != '{' {
		return &FieldError{Index: i, Reason: fmt.Sprintf("is %s, want an object", describe(raw))}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return &FieldError{Index: i, Reason: err.Error()}
	}
	names := make([]string, len(fields))
	for k, f := range fields {
		names[k] = f.name
	}
	// Unknown keys first, in sorted order, so the message is the same on every run.
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(names, key) {
			return &FieldError{Index: i, Field: key, Reason: fmt.Sprintf("is not a field of a %s (%s)", kind, strings.Join(names, ", "))}
		}
	}
	for _, f := range fields {
		v, ok := obj[f.name]
		if !ok {
			if f.required {
				return &FieldError{Index: i, Field: f.name, Reason: "is missing"}
			}
			continue
		}
		if why := f.set(v); why != "" {
			return &FieldError{Index: i, Field: f.name, Reason: why}
		}
	}
	return nil
}

func parseString(raw json.RawMessage, dst *string) string {
	if len(raw) == 0 || raw[0] != '"' {
		return fmt.Sprintf("is %s, want a string", describe(raw))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return err.Error()
	}
	return ""
}

func parseInt(raw json.RawMessage, dst *int64) string {
	if !isNumber(raw) {
		return fmt.Sprintf("is %s, want an integer", describe(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return fmt.Sprintf("is %s, want an integer", raw)
	}
	*dst = n
	return ""
}

func parseFloat(raw json.RawMessage, dst *float64) string {
	if !isNumber(raw) {
		return fmt.Sprintf("is %s, want a number", describe(raw))
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(x, 0) {
		return fmt.Sprintf("is %s, out of range", raw)
	}
	*dst = x
	return ""
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// describe names the kind of a JSON value for messages.
func describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case isNumber(raw):
		return "a number"
	}
	return "not JSON"
}
