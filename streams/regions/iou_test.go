package regions

import (
	"math"
	"testing"
)

func TestSpanIoU(t *testing.T) {
	const big = int64(1) << 62
	for _, tc := range []struct {
		name string
		a, b Span
		want float64
	}{
		{"equal", Span{"x", 0, 10}, Span{"x", 0, 10}, 1},
		{"half overlap", Span{"x", 0, 10}, Span{"x", 5, 15}, 5.0 / 15},
		{"nested", Span{"x", 0, 10}, Span{"x", 2, 4}, 0.2},
		{"touching ends do not overlap", Span{"x", 0, 10}, Span{"x", 10, 20}, 0},
		{"disjoint", Span{"x", 0, 5}, Span{"x", 7, 9}, 0},
		{"labels play no part", Span{"x", 0, 10}, Span{"y", 0, 5}, 0.5},
		{"one unit", Span{"x", 3, 4}, Span{"x", 3, 4}, 1},
		{"empty with itself", Span{"x", 5, 5}, Span{"x", 5, 5}, 0},
		{"empty inside another", Span{"x", 5, 5}, Span{"x", 0, 10}, 0},
		{"reversed is empty", Span{"x", 10, 0}, Span{"x", 0, 10}, 0},
		{"offsets near 2^62 do not overflow", Span{"x", big, big + 10}, Span{"x", big + 5, big + 15}, 5.0 / 15},
		{"longest offsets", Span{"x", 0, math.MaxInt64}, Span{"x", 0, math.MaxInt64}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SpanIoU(tc.a, tc.b); got != tc.want {
				t.Errorf("SpanIoU(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := SpanIoU(tc.b, tc.a); got != tc.want {
				t.Errorf("SpanIoU(%v, %v) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestBoxIoU(t *testing.T) {
	box := func(x, y, w, h float64) Box { return Box{Label: "x", X: x, Y: y, W: w, H: h} }
	for _, tc := range []struct {
		name string
		a, b Box
		want float64
	}{
		{"equal", box(0, 0, 10, 10), box(0, 0, 10, 10), 1},
		// pycocotools.mask.iou([[0,0,10,10]], [[5,5,10,10]], [0]) prints 0.14285714.
		{"quarter overlap", box(0, 0, 10, 10), box(5, 5, 10, 10), 25.0 / 175},
		{"nested", box(0, 0, 10, 10), box(2, 2, 5, 5), 0.25},
		{"shared edge", box(0, 0, 10, 10), box(10, 0, 10, 10), 0},
		{"shared corner", box(0, 0, 10, 10), box(10, 10, 5, 5), 0},
		{"overlap in x only", box(0, 0, 10, 10), box(5, 20, 10, 10), 0},
		{"normalized units", box(0.1, 0.1, 0.5, 0.5), box(0.1, 0.1, 0.5, 0.25), 0.5},
		{"zero width", box(0, 0, 0, 10), box(0, 0, 10, 10), 0},
		{"negative height", box(0, 0, 10, -10), box(0, -10, 10, 10), 0},
		{"NaN", box(math.NaN(), 0, 10, 10), box(0, 0, 10, 10), 0},
		{"infinite width", box(0, 0, math.Inf(1), 10), box(0, 0, 10, 10), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BoxIoU(tc.a, tc.b); math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("BoxIoU(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := BoxIoU(tc.b, tc.a); math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("BoxIoU(%v, %v) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestMicro(t *testing.T) {
	for _, tc := range []struct {
		iou  float64
		want int64
	}{{0, 0}, {1, 1_000_000}, {0.5, 500_000}, {1.0 / 3, 333_333}, {2.0 / 3, 666_667}, {0.0000005, 1}, {0.00000049, 0}} {
		if got := Micro(tc.iou); got != tc.want {
			t.Errorf("Micro(%v) = %d, want %d", tc.iou, got, tc.want)
		}
	}
}
