// Package unitizingtest makes random unitizing studies for the tests of unitizing and of the
// DKPro Statistics check (ops/dkpro), so both draw from the same kinds of data.
package unitizingtest

import (
	"fmt"
	"math/rand/v2"

	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// RandomStudy draws a well-formed study with flat spans per rater and label: 2 to 5 raters,
// 1 to 6 items of length 0 to 60, labels from A, B and C. On each item a reference
// segmentation is drawn per label, and each rater copies it with its boundaries moved, some
// spans dropped or split and extra ones added, so alphas spread from negative to 1; spans of
// different labels overlap freely, spans of one label touch (adjacent, with no gap) often,
// and items where a rater marked nothing occur.
func RandomStudy(rng *rand.Rand) unitizing.Study {
	R := 2 + rng.IntN(4)
	s := unitizing.Study{}
	for r := range R {
		s.Raters = append(s.Raters, fmt.Sprintf("r%d", r))
	}
	labels := []string{"A", "B", "C"}[:1+rng.IntN(3)]
	noise := rng.Float64() // how much the raters depart from the reference
	for k := range 1 + rng.IntN(6) {
		n := int64(rng.IntN(61))
		if rng.IntN(8) == 0 {
			n = 0
		}
		it := unitizing.Item{ID: fmt.Sprintf("item-%02d", k), Length: n, Spans: make([][]unitizing.Span, R)}
		for _, label := range labels {
			ref := segment(rng, n, label)
			for r := range R {
				it.Spans[r] = append(it.Spans[r], perturb(rng, ref, label, n, noise)...)
			}
		}
		for r := range R {
			rng.Shuffle(len(it.Spans[r]), func(i, j int) { it.Spans[r][i], it.Spans[r][j] = it.Spans[r][j], it.Spans[r][i] })
		}
		s.Items = append(s.Items, it)
	}
	return s
}

// segment draws flat spans of one label on [0, n): gaps and spans of random lengths, gaps of
// length 0 (touching spans) included.
func segment(rng *rand.Rand, n int64, label string) []unitizing.Span {
	var out []unitizing.Span
	pos := int64(0)
	for pos < n {
		pos += int64(rng.IntN(12))
		if rng.IntN(4) == 0 && len(out) > 0 {
			pos = out[len(out)-1].End // touching the previous span
		}
		l := 1 + int64(rng.IntN(10))
		if pos+l > n {
			break
		}
		out = append(out, unitizing.Span{Label: label, Start: pos, End: pos + l})
		pos += l
	}
	return out
}

// perturb copies ref (spans of label) as one rater might: each span dropped, split, or its boundaries moved
// with probability noise, extra spans added in the gaps; the result stays flat and inside
// [0, n).
func perturb(rng *rand.Rand, ref []unitizing.Span, label string, n int64, noise float64) []unitizing.Span {
	var out []unitizing.Span
	prevEnd := int64(0)
	for i, sp := range ref {
		next := n
		if i+1 < len(ref) {
			next = ref[i+1].Start
		}
		if rng.Float64() < noise/3 {
			continue // dropped
		}
		b, e := sp.Start, sp.End
		if rng.Float64() < noise {
			b += int64(rng.IntN(5)) - 2
			e += int64(rng.IntN(5)) - 2
			b = max(b, prevEnd)
			e = min(e, next)
			if e <= b {
				continue
			}
		}
		if e-b >= 2 && rng.Float64() < noise/4 {
			m := b + 1 + int64(rng.IntN(int(e-b-1)))
			out = append(out, unitizing.Span{Label: sp.Label, Start: b, End: m})
			b = m
		}
		out = append(out, unitizing.Span{Label: sp.Label, Start: b, End: e})
		prevEnd = e
		// An extra span in the gap up to the next reference span.
		if next-e >= 2 && rng.Float64() < noise/4 {
			xb := e + int64(rng.IntN(int(next-e-1)))
			xe := xb + 1 + int64(rng.IntN(int(next-xb-1)+1))
			xe = min(xe, next)
			if xe > xb {
				out = append(out, unitizing.Span{Label: sp.Label, Start: xb, End: xe})
				prevEnd = xe
			}
		}
	}
	if len(ref) == 0 && n >= 2 && rng.Float64() < noise/2 {
		b := int64(rng.IntN(int(n - 1)))
		out = append(out, unitizing.Span{Label: label, Start: b, End: b + 1 + int64(rng.IntN(int(n-b)))})
	}
	return out
}
