package unitizing_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// BenchmarkAlpha: 5 raters over 2,000 documents of 2,000 characters with 8 labels, about eight
// spans per rater per document (78,000 spans), a busy NER project's window.
func BenchmarkAlpha(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := unitizing.Study{Raters: []string{"a", "b", "c", "d", "e"}}
	for k := range 2000 {
		it := unitizing.Item{ID: fmt.Sprint(k), Length: 2000, Spans: make([][]unitizing.Span, 5)}
		for pos := int64(0); ; {
			pos += 50 + rng.Int64N(300)
			l := 1 + rng.Int64N(40)
			if pos+l > it.Length {
				break
			}
			label := fmt.Sprint("L", rng.IntN(8))
			for r := range 5 {
				if rng.IntN(10) == 0 {
					continue
				}
				d := rng.Int64N(3) - 2
				it.Spans[r] = append(it.Spans[r], unitizing.Span{Label: label, Start: max(0, pos+d), End: pos + l})
			}
			pos += l
		}
		s.Items = append(s.Items, it)
	}
	res, err := unitizing.Alpha(s)
	if err != nil || res.Alpha == nil {
		b.Fatal(err, res.Undefined)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := unitizing.Alpha(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Spans), "spans")
}
