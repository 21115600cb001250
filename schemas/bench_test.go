package schemas_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

func BenchmarkEncode(b *testing.B) {
	ev := schematest.Example(schemas.TypeLabelSubmitted)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = schemas.Append(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// decoders are the two ways to decode a message the decode benchmarks compare in one run:
// the typed decoder (Decode), and goavro's native form mapped onto the struct, which Decode
// was until the typed decoder (the baseline).
var decoders = []struct {
	name   string
	decode func([]byte) (schemas.Event, error)
}{
	{"typed", schemas.Decode},
	{"goavro", schemas.DecodeGoavro},
}

// benchMessages is the workload's events (rounds of one event of every type, with the
// examples' random choices: every label level, regions included), encoded, by family.
func benchMessages(b *testing.B, rounds int) map[schemas.Family][][]byte {
	b.Helper()
	out := map[schemas.Family][][]byte{}
	for _, ev := range workload.New("bench", 1).Rounds(rounds) {
		msg, err := schemas.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		out[ev.Family()] = append(out[ev.Family()], msg)
	}
	return out
}

// BenchmarkDecode decodes the workload's messages of each family, one message an op.
func BenchmarkDecode(b *testing.B) {
	msgs := benchMessages(b, 64)
	for _, fam := range schemas.Families() {
		for _, d := range decoders {
			b.Run("family="+string(fam)+"/decoder="+d.name, func(b *testing.B) {
				ms := msgs[fam]
				size := 0
				for _, m := range ms {
					size += len(m)
				}
				b.SetBytes(int64(size / len(ms)))
				b.ReportAllocs()
				defer cpuPerOp(b)()
				i := 0
				for b.Loop() {
					if _, err := d.decode(ms[i%len(ms)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkDecodeApply is the ledger's replay without I/O: decode a record (as the stream
// runtime does for every record it reads) and apply the ledger to it, one event an op, over
// the workload's mix of every event type.
func BenchmarkDecodeApply(b *testing.B) {
	msgs := benchMessages(b, 64)
	var recs []runtime.Record
	for _, fam := range schemas.Families() {
		for i, m := range msgs[fam] {
			recs = append(recs, runtime.Record{Topic: "p." + fam.Topic(), Family: fam, Partition: 2,
				Offset: int64(i), Timestamp: time.UnixMilli(1_767_225_600_000), Value: m})
		}
	}
	for _, d := range decoders {
		b.Run("decoder="+d.name, func(b *testing.B) {
			l := ledger.New()
			b.ReportAllocs()
			defer cpuPerOp(b)()
			i := 0
			for b.Loop() {
				rec := recs[i%len(recs)]
				ev, err := d.decode(rec.Value)
				if err != nil {
					b.Fatal(err)
				}
				rec.Event, rec.Key = ev, []byte(ev.Key())
				if _, err := l.Apply(nil, rec); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// cpuPerOp reports, when the function it returns is called after the benchmark's loop, the
// process's CPU time (user and system, the collector's included) per op as cpu-ns/op: on a
// machine shared with other work it is steadier than the wall clock, which counts the time
// the benchmark waited for a core.
func cpuPerOp(b *testing.B) func() {
	cpu0 := cpuTime(b)
	return func() { b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkTypeOf(b *testing.B) {
	msg, _ := schemas.Encode(schematest.Example(schemas.TypeLabelSubmitted))
	for b.Loop() {
		if _, _, err := schemas.TypeOf(msg); err != nil {
			b.Fatal(err)
		}
	}
}
