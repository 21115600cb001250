package runtimetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// Records numbers evs as the records of one partition from offset 0, each
// timestamped with its envelope's recorded_at (as the gateway's records are).
func Records(topic string, partition int32, evs []schemas.Event) []runtime.Record {
	out := make([]runtime.Record, len(evs))
	for i, ev := range evs {
		out[i] = runtime.Record{Topic: topic, Family: ev.Family(), Partition: partition, Offset: int64(i),
			Timestamp: time.UnixMilli(ev.Meta().RecordedAt), Key: []byte(ev.Key()), Event: ev}
	}
	return out
}

// SnapshotCheck configures CheckSnapshots.
type SnapshotCheck struct {
	// Cuts are the offsets at which a snapshot is taken (default: the
	// start, the first record, every seventh of the log and its end).
	Cuts []int
	// Equal compares two states (default: reflect.DeepEqual, reporting
	// nothing more). A processor whose states hold what a snapshot need not
	// keep (memory awaiting compaction) compares what its behaviour depends
	// on.
	Equal func(a, b any) error
}

func deepEqual(a, b any) error {
	if !reflect.DeepEqual(a, b) {
		return errors.New("states differ (reflect.DeepEqual)")
	}
	return nil
}

// CheckSnapshots proves that p's snapshots restore the state the log
// builds, at every cut of c: the state of recs[:cut] is snapshotted
// (runtime.EncodeSnapshot) and restored (runtime.DecodeSnapshot, as the
// runner does on assignment); the restored state equals it and encodes to
// the same bytes; the records after the cut give both the same outputs and
// errors, record by record; and both end equal to the state of the whole
// log, which is the state a rebuild from the log makes. It then checks that
// a snapshot that is truncated, flipped, of another processor, state
// version or partition, or ahead of the committed offset is refused with
// the reason the runner counts (the runner then rebuilds from the log), and
// that p's decoder returns an error, without panicking, on every truncation
// of its encoding.
func CheckSnapshots(t *testing.T, p runtime.Snapshotter, recs []runtime.Record, c SnapshotCheck) {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("no records to check snapshots on")
	}
	topic, part := recs[0].Topic, recs[0].Partition
	equal := c.Equal
	if equal == nil {
		equal = deepEqual
	}
	cuts := c.Cuts
	if cuts == nil {
		cuts = []int{0, 1}
		for i := 1; i < 7; i++ {
			cuts = append(cuts, len(recs)*i/7)
		}
		cuts = append(cuts, len(recs))
	}
	at := time.UnixMilli(1_700_000_000_000)
	var final any
	for _, cut := range cuts {
		live := p.NewState(topic, part)
		for _, rec := range recs[:cut] {
			_, _ = p.Apply(live, rec) // a refused record changes nothing, here as in the runner
		}
		frame, err := runtime.EncodeSnapshot(p, live, topic, part, int64(cut), at)
		if err != nil {
			t.Fatalf("cut %d: encode: %v", cut, err)
		}
		restored, off, err := runtime.DecodeSnapshot(p, frame, topic, part, int64(cut))
		if err != nil || off != int64(cut) {
			t.Fatalf("cut %d: decode: offset %d, %v", cut, off, err)
		}
		if err := equal(live, restored); err != nil {
			t.Fatalf("cut %d: the restored state differs from the one encoded: %v", cut, err)
		}
		again, err := runtime.EncodeSnapshot(p, restored, topic, part, int64(cut), at)
		if err != nil || !bytes.Equal(frame, again) {
			t.Fatalf("cut %d: the restored state encodes differently (%d and %d bytes, %v)", cut, len(frame), len(again), err)
		}
		for _, rec := range recs[cut:] {
			want, werr := p.Apply(live, rec)
			got, gerr := p.Apply(restored, rec)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) || !reflect.DeepEqual(want, got) {
				t.Fatalf("cut %d: record at offset %d (%s): restored state gives %+v, %v; the log's %+v, %v",
					cut, rec.Offset, rec.Event.Type(), got, gerr, want, werr)
			}
		}
		if err := equal(live, restored); err != nil {
			t.Fatalf("cut %d: after the rest of the log, the restored state differs from the log's: %v", cut, err)
		}
		final = live
	}
	t.Logf("%s: snapshots restored at %d cuts of %d records", p.Name(), len(cuts), len(recs))

	// What the runner refuses: a rebuild from the log follows.
	n := int64(len(recs))
	frame, err := runtime.EncodeSnapshot(p, final, topic, part, n, at)
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(frame)
	flipped[len(flipped)/2] ^= 0x10
	other := func(q runtime.Snapshotter, topic string, part int32) []byte {
		f, err := runtime.EncodeSnapshot(q, final, topic, part, n, at)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, bad := range []struct {
		name      string
		frame     []byte
		committed int64
		reason    string
	}{
		{"truncated", frame[:len(frame)-1], n, "corrupt"},
		{"truncated by half", frame[:len(frame)/2], n, "corrupt"},
		{"a bit flipped", flipped, n, "corrupt"},
		{"another processor's", other(renamed{p}, topic, part), n, "processor"},
		{"an older state version", other(older{p}, topic, part), n, "version"},
		{"another partition's", other(p, topic, part+1), n, "partition"},
		{"another topic's", other(p, topic+".x", part), n, "partition"},
		{"ahead of the committed offset", frame, n - 1, "ahead"},
	} {
		_, _, err := runtime.DecodeSnapshot(p, bad.frame, topic, part, bad.committed)
		var se *runtime.SnapshotError
		if !errors.As(err, &se) || se.Reason != bad.reason {
			t.Errorf("%s snapshot: %v, want it refused as %s", bad.name, err, bad.reason)
		}
	}

	// The processor's own decoder on damaged input: an error, never a panic
	// (the runner would survive one, but the decoder must not rely on it).
	var payload bytes.Buffer
	if err := p.EncodeState(final, &payload); err != nil {
		t.Fatal(err)
	}
	b := payload.Bytes()
	step := max(1, len(b)/500)
	for i := 0; i < len(b); i += step {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("DecodeState panicked on the first %d of %d bytes: %v", i, len(b), v)
				}
			}()
			if _, err := p.DecodeState(topic, part, bytes.NewBuffer(slices.Clone(b[:i]))); err == nil {
				t.Fatalf("DecodeState accepted the first %d of %d bytes", i, len(b))
			}
		}()
	}
	if _, err := p.DecodeState(topic, part, bytes.NewBuffer(append(slices.Clone(b), 0))); err == nil {
		t.Errorf("DecodeState accepted a trailing byte")
	}
}

// renamed is p under another name.
type renamed struct{ runtime.Snapshotter }

func (r renamed) Name() string { return r.Snapshotter.Name() + "-other" }

// older is p at the state version before its own.
type older struct{ runtime.Snapshotter }

func (o older) StateVersion() uint32 { return o.Snapshotter.StateVersion() - 1 }
