package anomaly

import (
	"math"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// FigureInterval is the confidence interval of a figure's alpha as kpi.ReadAgreement reads
// it (AlphaCI, from the unit profiles of the same units); false when the figure has none
// (alpha undefined, too little evidence for one, or the profiles behind the cells).
func FigureInterval(f kpi.AgreementFigure) (agreement.Interval, bool) {
	if f.AlphaCI == nil || f.AlphaCIErr != nil {
		return agreement.Interval{}, false
	}
	return *f.AlphaCI, true
}

// alphaMeasure is a window's figure of a cohort or vendor as a Measure: alpha, with the
// standard error of its Fisher's z that its interval was built from (agreement.AlphaInterval:
// z(α) ± q·SE_z mapped back, with K = pairable values per pairable unit), recovered as
// (z(High) − z(Low)) / 2q.
func alphaMeasure(f kpi.AgreementFigure, interval func(kpi.AgreementFigure) (agreement.Interval, bool)) Measure {
	m := Measure{Value: f.Alpha.Alpha, Evidence: f.PairableValues, Units: f.PairableUnits, Fisher: true}
	if f.Err != nil || f.PairableUnits == 0 {
		return m
	}
	iv, ok := interval(f)
	if !ok || !(iv.Level > 0 && iv.Level < 1) {
		return m
	}
	fz := FisherZ{K: float64(f.PairableValues) / float64(f.PairableUnits)}
	lo, okl := fz.Z(iv.Low)
	hi, okh := fz.Z(iv.High)
	if !okl || !okh || hi < lo {
		return m
	}
	m.SE = (hi - lo) / (2 * math.Sqrt2 * math.Erfinv(iv.Level))
	m.Defined = true
	return m
}
