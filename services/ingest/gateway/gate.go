package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/gate"
)

// Decisions of assay_ingest_training_runs_gated_total.
const (
	gateCertified    = "certified"     // every version certified
	gateOverridden   = "overridden"    // every version certified or overridden, at least one overridden
	gateNotCertified = "not_certified" // refused: a version neither certified nor overridden (409)
)

// gateError carries the gate's error (its decisions are not known yet) out of the event loop,
// to answer 503.
type gateError struct{ err error }

func (e *gateError) Error() string { return "the gate's decisions are not known yet: " + e.err.Error() }
func (e *gateError) Unwrap() error { return e.err }

// gated checks a TrainingRunRegistered against the gate (Config.Gate): nil when every dataset
// version it names is certified, or overridden by an owner; else the event's error, naming
// the first version that is neither by its field (dataset_versions[i]) and saying why (the
// latest verdict's reason, or that the gate has not judged it) and how to proceed (an owner's
// GateOverrideGranted). Other event types, and every event when no gate is configured, pass.
// err (a *gateError) means the gate could not be asked.
func (g *Gateway) gated(d Decoded) (*wire.EventError, error) {
	run, ok := d.Event.(*schemas.TrainingRunRegistered)
	if !ok || g.cfg.Gate == nil {
		return nil, nil
	}
	var (
		refused    *wire.EventError
		others     []string
		overridden bool
	)
	for i, r := range run.DatasetVersions {
		ref := gate.VersionRef{DatasetID: r.DatasetID, Version: r.Version}
		c, err := g.cfg.Gate.Clearance(ref)
		if err != nil {
			return nil, &gateError{err}
		}
		field := fmt.Sprintf("dataset_versions[%d]", i)
		switch {
		case c.Certified:
		case c.Overridden:
			overridden = true
		case refused == nil:
			refused = &wire.EventError{Index: d.Index, Line: d.Line, EventID: run.EventID, EventType: string(run.Type()),
				Field: field, Code: wire.CodeNotCertified, Reason: notCertified(ref, c)}
		default:
			others = append(others, fmt.Sprintf("%s (%s)", field, ref))
		}
	}
	switch {
	case refused != nil:
		if len(others) > 0 {
			refused.Reason += "; not certified either: " + strings.Join(others, ", ")
		}
		g.m.trainingRuns.WithLabelValues(gateNotCertified).Inc()
	case overridden:
		g.m.trainingRuns.WithLabelValues(gateOverridden).Inc()
	default:
		g.m.trainingRuns.WithLabelValues(gateCertified).Inc()
	}
	return refused, nil
}

// notCertified says why a version is not certified and how to proceed.
func notCertified(ref gate.VersionRef, c gate.Clearance) string {
	why := "no verdict yet: the gate has not judged this version"
	if c.Known {
		why = fmt.Sprintf("the gate rejected it (verdict %d): %s", c.Sequence, c.Reason)
	}
	return fmt.Sprintf("dataset version %s is not certified: %s; to train on it anyway, an owner of its project posts a GateOverrideGranted "+
		"for it (dataset_id %q, version %q, project_id, and the reason, which the ledger and the audit record), then sends this run again",
		ref, why, ref.DatasetID, ref.Version)
}

// gateUnavailable answers 503 to a request with a training run while the gate's decisions are
// not known yet: a retry soon finds them.
func (g *Gateway) gateUnavailable(w http.ResponseWriter, err error) int {
	g.log.Debug("training run answered 503: the gate's view is not ready", "err", err)
	return g.unavailable(w, wire.CodeGateUnavailable, "training runs are checked against the gate's verdicts, and "+err.Error()+"; retry later")
}
