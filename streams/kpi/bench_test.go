package kpi_test

import (
	"bytes"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// benchApply measures Apply over the label events of the default workload,
// one partition's state, rows included (what the runner batches).
func benchApply(b *testing.B, p runtime.Processor) {
	cfg := annotation.DefaultConfig("bench", 1)
	var evs []schemas.Event
	for _, ev := range annotation.Generate(cfg).Events {
		if ev.Family() == schemas.FamilyLabels {
			evs = append(evs, ev)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var state any
	for i := range b.N {
		if i%len(evs) == 0 {
			state = p.NewState("labels", 0)
		}
		ev := evs[i%len(evs)]
		if _, err := p.Apply(state, runtime.Record{Topic: "labels", Offset: int64(i), Event: ev}); err != nil {
			b.Fatal(fmt.Errorf("apply: %w", err))
		}
	}
}

func BenchmarkAgreementApply(b *testing.B) { benchApply(b, kpi.NewAgreement()) }

func BenchmarkAccuracyApply(b *testing.B) { benchApply(b, kpi.NewAccuracy()) }

// BenchmarkStateBytes reports the heap one partition's state keeps per key
// (bytes/key) and per event (bytes/event) after 100,000 events with
// UUID-sized ids: labels (three per item, a gold for one item in ten) for
// agreement and accuracy, reviews of distinct labels for flow. The
// DefaultMaxStateKeys documentation quotes these figures.
func BenchmarkStateBytes(b *testing.B) {
	for _, p := range []runtime.Processor{kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewFlow()} {
		b.Run(p.Name(), func(b *testing.B) {
			const n = 100_000
			for b.Loop() {
				var m0, m1 goruntime.MemStats
				goruntime.GC()
				goruntime.ReadMemStats(&m0)
				state := p.NewState("t", 0)
				off := int64(0)
				apply := func(ev schemas.Event) {
					if _, err := p.Apply(state, runtime.Record{Topic: "t", Offset: off, Event: ev}); err != nil {
						b.Fatal(err)
					}
					off++
				}
				// Events are made one at a time, so only what the state keeps
				// of them survives the GC below.
				for i := range n {
					item := fmt.Sprintf("item-%08d-0000-0000-0000-000000000000", i/3)
					lab := fmt.Sprintf("lab-%08d-0000-0000-0000-000000000000", i)
					if p.Name() == kpi.FlowName {
						apply(review(fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), lab, item, schemas.VerdictAccept, int64(i)))
						continue
					}
					l := label(lab, item, fmt.Sprint("annotator-", i%30), "cohort-x", schemas.Nominal(fmt.Sprint("c", i%4)))
					l.EventID = fmt.Sprintf("%08d-1111-1111-1111-111111111111", i)
					apply(l)
					if i%30 == 0 {
						apply(goldSet(item, schemas.Nominal("c1")))
					}
				}
				goruntime.GC()
				goruntime.ReadMemStats(&m1)
				keys := state.(interface{ StateKeys() int }).StateKeys()
				held := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				b.ReportMetric(held/float64(keys), "bytes/key")
				b.ReportMetric(held/n, "bytes/event")
				goruntime.KeepAlive(state)
			}
		})
	}
}

// BenchmarkSnapshot reports what a snapshot of one partition's state costs
// (runtime.Snapshotter) after 300,000 events shaped as BenchmarkStateBytes's:
// bytes per state key, and the time to encode it and to decode it per key.
// The package documentation ("State") quotes these figures.
func BenchmarkSnapshot(b *testing.B) {
	for _, p := range []runtime.Snapshotter{kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewFlow()} {
		b.Run(p.Name(), func(b *testing.B) {
			const n = 300_000
			state := p.NewState("t", 0)
			off := int64(0)
			apply := func(ev schemas.Event) {
				if _, err := p.Apply(state, runtime.Record{Topic: "t", Offset: off, Event: ev}); err != nil {
					b.Fatal(err)
				}
				off++
			}
			for i := range n {
				item := fmt.Sprintf("item-%08d-0000-0000-0000-000000000000", i/3)
				lab := fmt.Sprintf("lab-%08d-0000-0000-0000-000000000000", i)
				if p.Name() == kpi.FlowName {
					apply(review(fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), lab, item, schemas.VerdictAccept, int64(i)))
					continue
				}
				l := label(lab, item, fmt.Sprint("annotator-", i%30), "cohort-x", schemas.Nominal(fmt.Sprint("c", i%4)))
				l.EventID = fmt.Sprintf("%08d-1111-1111-1111-111111111111", i)
				apply(l)
				if i%30 == 0 {
					apply(goldSet(item, schemas.Nominal("c1")))
				}
			}
			keys := float64(state.(interface{ StateKeys() int }).StateKeys())
			var buf bytes.Buffer
			var enc, dec time.Duration
			for b.Loop() {
				buf.Reset()
				start := time.Now()
				if err := p.EncodeState(state, &buf); err != nil {
					b.Fatal(err)
				}
				enc += time.Since(start)
				start = time.Now()
				if _, err := p.DecodeState("t", 0, bytes.NewBuffer(buf.Bytes())); err != nil {
					b.Fatal(err)
				}
				dec += time.Since(start)
			}
			b.ReportMetric(float64(buf.Len())/keys, "bytes/key")
			b.ReportMetric(float64(enc.Nanoseconds())/float64(b.N)/keys, "encode-ns/key")
			b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N)/keys, "decode-ns/key")
			b.ReportMetric(keys/n, "keys/event")
		})
	}
}

// BenchmarkAnswersState reports, for kpi_regions and kpi_preference, the time Apply takes
// per event of an answers log (spans, boxes and preference labels of 3,000 items a question,
// golds, retractions, second labels), and the heap one partition's state keeps per state key
// and per label counted after the log, and its snapshot's size per key. A kpi_regions state key is a key of its maps or a
// region a label holds (RegionsState.StateKeys). The package documentation quotes these
// figures.
func BenchmarkAnswersState(b *testing.B) {
	evs := answersLog("bench", 1, 3000, false)
	for _, p := range []runtime.Processor{kpi.NewRegions(), kpi.NewPreference()} {
		b.Run(p.Name(), func(b *testing.B) {
			var perEvent time.Duration
			for b.Loop() {
				var m0, m1 goruntime.MemStats
				goruntime.GC()
				goruntime.ReadMemStats(&m0)
				state := p.NewState("t", 0)
				labels := 0
				start := time.Now()
				for i, ev := range evs {
					if _, err := p.Apply(state, runtime.Record{Topic: "t", Offset: int64(i), Event: ev}); err != nil {
						b.Fatal(err)
					}
					if l, ok := ev.(*schemas.LabelSubmitted); ok && (l.Value.Level == schemas.LevelPreference) == (p.Name() == kpi.PreferenceName) {
						labels++
					}
				}
				perEvent = time.Since(start) / time.Duration(len(evs))
				goruntime.GC()
				goruntime.ReadMemStats(&m1)
				keys := state.(interface{ StateKeys() int }).StateKeys()
				held := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				b.ReportMetric(held/float64(keys), "bytes/key")
				b.ReportMetric(held/float64(labels), "bytes/label")
				b.ReportMetric(float64(keys)/float64(labels), "keys/label")
				var snap bytes.Buffer
				if err := p.(runtime.Snapshotter).EncodeState(state, &snap); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(snap.Len())/float64(keys), "snapshot-bytes/key")
				goruntime.KeepAlive(state)
			}
			b.ReportMetric(float64(perEvent.Nanoseconds()), "ns/event")
		})
	}
}
