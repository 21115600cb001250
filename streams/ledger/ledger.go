package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// Name is the processor name (metrics label, consumer group suffix).
const Name = "ledger"

// Ledger is the ledger processor. The zero value is ready to use.
type Ledger struct{}

// New returns the ledger processor.
func New() *Ledger { return &Ledger{} }

var _ runtime.Processor = (*Ledger)(nil)

// Name implements runtime.Processor.
func (*Ledger) Name() string { return Name }

// Families implements runtime.Processor: every family, the DLQ included.
func (*Ledger) Families() []schemas.Family { return schemas.Families() }

// Tables implements runtime.Processor.
func (*Ledger) Tables() []runtime.Table { return Tables() }

// NewState implements runtime.Processor: a *Findings for a findings partition (the write rules
// need a finding's project), nil (no state, no rebuild) for every other partition.
func (*Ledger) NewState(topic string, _ int32) any {
	if strings.HasSuffix(topic, schemas.FamilyFindings.Topic()) {
		return &Findings{projects: map[[16]byte]unique.Handle[string]{}}
	}
	return nil
}

// Findings is the state of a findings partition: the project of every finding reported (the
// first report of a finding id wins), by a 128-bit digest of its id. A remediation names no
// project, so it is checked against its finding's (rule scope.project) when the runner has a
// principals registry.
type Findings struct {
	projects map[[16]byte]unique.Handle[string]
}

// StateKeys is the number of findings held (runtime.StateSizer).
func (f *Findings) StateKeys() int { return len(f.projects) }

func findingKey(id string) [16]byte {
	sum := sha256.Sum256([]byte(id))
	return [16]byte(sum[:16])
}

// report remembers the project of a reported finding; the first report of a finding id wins.
func (f *Findings) report(e *schemas.EvalFindingReported) {
	if f == nil {
		return
	}
	if k := findingKey(e.FindingID); f.projects[k] == (unique.Handle[string]{}) {
		f.projects[k] = unique.Make(e.ProjectID)
	}
}

// project returns the project of a finding, "" when it was not reported in the partition (or
// there is no state).
func (f *Findings) project(id string) string {
	if f == nil {
		return ""
	}
	if p, ok := f.projects[findingKey(id)]; ok {
		return p.Value()
	}
	return ""
}

// RouterProducer is the producer of the router's decisions (streams/router.Producer; a test
// keeps them equal). With a principals registry the ledger refuses a RoutingDecided of any other
// producer (rule router.own_decisions, as the router names it), so its routing table holds only
// decisions the router made: the registry alone lets any reserved producer id (assay-...) write
// the internal types. Without a registry the ledger copies every decision, as it always did
// (the load-test workload writes its own); the router itself refuses foreign decisions either
// way.
const RouterProducer = "assay-processor/router"

// RuleOwnDecisions is the rule name of a refused foreign RoutingDecided (router.RuleOwnDecisions).
const RuleOwnDecisions = "router.own_decisions"

// GateProducer is the producer of the gate's verdicts (DatasetVersionCertified,
// DatasetVersionRejected; streams/gate). With a principals registry the ledger refuses a
// verdict of any other producer (rule gate.own_verdicts), as it refuses a foreign routing
// decision, so dataset_verdicts, which the gate's views and the training-run KPI read, holds
// only verdicts the gate reached.
const GateProducer = "assay-processor/gate"

// RuleOwnVerdicts is the rule name of a refused foreign verdict.
const RuleOwnVerdicts = "gate.own_verdicts"

// authorize completes the write rules the ledger knows the facts of, before any row: with a
// registry, the router's own decisions and the gate's own verdicts only, and a remediation
// only in its finding's project.
func authorize(f *Findings, rec runtime.Record) error {
	switch e := rec.Event.(type) {
	case *schemas.RoutingDecided:
		if rec.Authorize != nil && e.Producer != RouterProducer {
			return &access.Violation{Rule: RuleOwnDecisions, Field: "producer", Reason: fmt.Sprintf(
				"routing decisions are the router's (producer %s), not %q's", RouterProducer, e.Producer)}
		}
	case *schemas.DatasetVersionCertified, *schemas.DatasetVersionRejected:
		if p := e.Meta().Producer; rec.Authorize != nil && p != GateProducer {
			return &access.Violation{Rule: RuleOwnVerdicts, Field: "producer", Reason: fmt.Sprintf(
				"gate verdicts are the gate's (producer %s), not %q's", GateProducer, p)}
		}
	case *schemas.RemediationStarted:
		return rec.Authorized(access.Facts{Project: f.project(e.FindingID)})
	case *schemas.RemediationShipped:
		return rec.Authorized(access.Facts{Project: f.project(e.FindingID)})
	}
	return nil
}

// maxDateTimeMillis is the last instant a ClickHouse DateTime (UInt32
// seconds) can hold; times outside [0, max] are rejected, not truncated.
const maxDateTimeMillis = int64(^uint32(0)) * 1000

// Apply implements runtime.Processor: one events row and the typed rows of
// the event. Events whose times do not fit a DateTime are poison, and so
// are events the write rules refuse (see the package documentation): the
// runner sends them to the DLQ, and neither events nor a typed table gets
// a row.
func (*Ledger) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	ev := rec.Event
	m := ev.Meta()
	for name, ms := range map[string]int64{"occurred_at": m.OccurredAt, "recorded_at": m.RecordedAt} {
		if ms < 0 || ms > maxDateTimeMillis {
			return runtime.Output{}, fmt.Errorf("%s %d ms is outside the range of a ClickHouse DateTime", name, ms)
		}
	}
	findings, _ := state.(*Findings)
	if err := authorize(findings, rec); err != nil {
		return runtime.Output{}, err
	}
	typed, ok := makers[ev.Type()]
	if !ok {
		// A type added to the contract but not to the ledger must not be
		// lost, nor stop the partition: the runner isolates the record.
		return runtime.Output{}, fmt.Errorf("ledger has no table for event type %s", ev.Type())
	}
	if e, ok := ev.(*schemas.EvalFindingReported); ok {
		findings.report(e)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return runtime.Output{}, fmt.Errorf("encode %s payload as JSON: %w", ev.Type(), err)
	}
	var fp uint64
	if f, _, err := schemas.Header(rec.Value); err == nil {
		fp = f
	}
	mt := meta{EventID: m.EventID, EventType: string(ev.Type()), OccurredAt: dateTime(m.OccurredAt), OccurredAtMS: m.OccurredAt,
		RecordedAt: dateTime(m.RecordedAt), RecordedAtMS: m.RecordedAt, Producer: m.Producer,
		CorrelationID: m.Trace.CorrelationID, CausationID: m.Trace.CausationID}
	rows := []runtime.Row{events.row(nil, &eventRow{Topic: rec.Topic, Partition: uint32(rec.Partition), Offset: uint64(rec.Offset),
		RecordKey: string(rec.Key), Meta: mt, SchemaFingerprint: fp, Payload: string(payload)})}
	env := (&envelope{Meta: mt, KafkaTopic: rec.Topic, KafkaPartition: uint32(rec.Partition), KafkaOffset: uint64(rec.Offset)}).values()
	for _, mk := range typed {
		rows = append(rows, mk(env, ev)...)
	}
	return runtime.Output{Rows: rows}, nil
}

func dateTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
