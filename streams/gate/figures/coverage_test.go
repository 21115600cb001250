package figures

import (
	"testing"

	"github.com/assay-data/assay/streams/gate"
)

func TestCoverageMeasure(t *testing.T) {
	share := func(x float64) *float64 { return &x }
	count := func(n int64) *int64 { return &n }
	tg := targets{eventID: "ev-cov",
		slices:    []string{"night", "urban", "rain", "snow", "dusk"},
		shares:    []*float64{share(0.5), nil, share(0.25), share(0.1), nil},
		minCounts: []*int64{nil, count(1), count(3), nil, count(0)},
		edgeTags:  []string{"occluded", "glare", "tiny"},
		edgeMins:  []int64{1, 2, 0},
	}
	// 4 items: night 2 (share 0.5 met), urban 1 (count met), rain 2 (share met, count 3 not),
	// snow 0 (share 0.1 not met), dusk 0 (count 0 met); occluded 1 of 1, glare 1 of 2, tiny 0 of 0.
	got, err := tg.measure(4, map[string]int64{"night": 2, "urban": 1, "rain": 2}, map[string]int64{"occluded": 1, "glare": 1})
	if err != nil {
		t.Fatal(err)
	}
	want := gate.CoverageFigure{TargetsEventID: "ev-cov", SliceTargets: 5, SlicesMet: 3, EdgeCaseTargets: 3, EdgeCasesMet: 2}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := (targets{slices: []string{"a"}}).measure(1, nil, nil); err == nil {
		t.Error("arrays of different lengths were measured")
	}
}
