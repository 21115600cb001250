package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// TypesPerRound is the number of events in a round: one of every event type of the contract.
// It is derived from the contract; treat it as a constant.
var TypesPerRound = len(schemas.EventTypes())

const (
	workloadProducer    = "loadtest"
	workloadBaseMillis  = 1_767_225_600_000 // 2026-01-01T00:00:00Z
	workloadStepsMillis = 1000
)

// Generator builds events; ids embed the run id, so runs never collide.
type Generator struct {
	run string
	rnd *rand.Rand
	n   int
}

// New returns a generator whose ids are prefixed with run and whose random
// choices follow seed.
func New(run string, seed uint64) *Generator {
	return &Generator{run: run, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// stamp gives ev the envelope of the generator's next event: a run-scoped
// event id and correlation id, an occurred_at one step after the previous
// event's, and what schemas.Stamp fills in.
func (g *Generator) stamp(ev schemas.Event) schemas.Event {
	g.n++
	m := ev.Meta()
	*m = schemas.Envelope{
		EventID:    fmt.Sprintf("%s-ev-%d", g.run, g.n),
		OccurredAt: workloadBaseMillis + int64(g.n)*workloadStepsMillis,
		Trace:      schemas.Trace{CorrelationID: fmt.Sprintf("%s-corr-%d", g.run, g.n/TypesPerRound)},
	}
	schemas.Stamp(ev, workloadProducer, time.UnixMilli(m.OccurredAt+250))
	return ev
}

// Round returns one event of every type (TypesPerRound events, in
// schemas.EventTypes order), numbered i: the examples the event types'
// descriptors make of subject i of the run (schemas.Example), so a round is
// about one item, label, dataset and finding whose events refer to each
// other, with the free choices drawn from the generator's seed.
func (g *Generator) Round(i int) []schemas.Event {
	s := schemas.Subject{Prefix: g.run + "-", N: i, Rand: g.rnd}
	evs := make([]schemas.Event, 0, TypesPerRound)
	for _, d := range schemas.Descriptors() {
		evs = append(evs, g.stamp(d.Example(s)))
	}
	return evs
}

// Rounds returns n rounds: n events of every type.
func (g *Generator) Rounds(n int) []schemas.Event {
	out := make([]schemas.Event, 0, n*TypesPerRound)
	for i := range n {
		out = append(out, g.Round(i)...)
	}
	return out
}

// Records encodes events as Kafka records for the namespace of k.
func Records(k config.Kafka, evs []schemas.Event) ([]*kgo.Record, error) {
	out := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", ev.Type(), ev.Meta().EventID, err)
		}
		out[i] = &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val}
	}
	return out, nil
}

// Produce encodes and produces events, waiting until all are acknowledged.
func Produce(ctx context.Context, cl *kgo.Client, k config.Kafka, evs []schemas.Event) error {
	recs, err := Records(k, evs)
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d events: %w", len(recs), err)
	}
	return nil
}

// ExpectedRows returns how many rows (after FINAL) each ledger table holds
// once rounds rounds of one generator were processed: rounds times the rows
// the ledger makes of one round. No two events of a generator share a row's
// key (every typed table's key ends in event_id, the events table's is the
// log position), so nothing collapses but replayed copies. It panics if the
// ledger refuses an event of a round, which TestExpectedRows rules out.
func ExpectedRows(rounds int) map[string]int {
	out := map[string]int{}
	for _, ev := range New("expected", 0).Round(0) {
		val, err := schemas.Encode(ev)
		if err == nil {
			var o runtime.Output
			o, err = ledger.New().Apply(nil, runtime.Record{Topic: ev.Family().Topic(), Family: ev.Family(), Key: []byte(ev.Key()), Value: val, Event: ev})
			for _, r := range o.Rows {
				out[r.Table] += rounds
			}
		}
		if err != nil {
			panic(fmt.Sprintf("workload: the ledger refuses the round's %s: %v", ev.Type(), err))
		}
	}
	return out
}
