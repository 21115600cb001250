package runtime_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// snapCounter is counter with snapshots: its state is encoded as sorted
// (item, count) pairs. name and version let a test make another
// processor's snapshot, or one of another state version.
type snapCounter struct {
	counter
	name    string
	version uint32
}

func (c snapCounter) Name() string {
	if c.name != "" {
		return c.name
	}
	return "counter"
}

func (c snapCounter) StateVersion() uint32 { return max(c.version, 1) }

func (snapCounter) EncodeState(state any, w io.Writer) error {
	c := state.(counts)
	e := statecodec.NewEncoder(w)
	e.Len(len(c))
	for _, k := range slices.Sorted(maps.Keys(c)) {
		e.String(k)
		e.Varint(c[k])
	}
	return e.Close()
}

func (snapCounter) DecodeState(_ string, _ int32, r io.Reader) (any, error) {
	d, err := statecodec.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	n := d.Len(2)
	c := make(counts, n)
	for range n {
		k := d.String()
		c[k] = d.Varint()
	}
	return c, d.Finish()
}

// memSnapshots is a SnapshotStore in memory; frozen refuses every Save.
type memSnapshots struct {
	mu     sync.Mutex
	snaps  map[string]runtime.Snapshot
	saves  int
	frozen bool
}

func newMemSnapshots() *memSnapshots { return &memSnapshots{snaps: map[string]runtime.Snapshot{}} }

func snapKey(processor, topic string, partition int32) string {
	return fmt.Sprintf("%s/%s/%d", processor, topic, partition)
}

func (m *memSnapshots) Save(_ context.Context, s runtime.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.frozen {
		return fmt.Errorf("store frozen")
	}
	s.Data = slices.Clone(s.Data)
	m.snaps[snapKey(s.Processor, s.Topic, s.Partition)] = s
	m.saves++
	return nil
}

func (m *memSnapshots) Load(_ context.Context, processor, topic string, partition int32) (runtime.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.snaps[snapKey(processor, topic, partition)]
	if !ok {
		return s, fmt.Errorf("%w: %s", runtime.ErrNoSnapshot, snapKey(processor, topic, partition))
	}
	s.Data = slices.Clone(s.Data)
	return s, nil
}

func (m *memSnapshots) all() []runtime.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.snaps))
}

func (m *memSnapshots) edit(f func(map[string]runtime.Snapshot)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.snaps)
}

// covers reports whether the store holds a snapshot of every partition of
// the group's committed offsets, at that offset.
func covers(t *testing.T, store *memSnapshots, processor string, offs kadm.OffsetResponses) bool {
	t.Helper()
	ok := true
	offs.Each(func(o kadm.OffsetResponse) {
		s, err := store.Load(context.Background(), processor, o.Topic, o.Partition)
		if err != nil || s.Offset != o.At {
			ok = false
		}
	})
	return ok
}

func fetchOffsets(t *testing.T, cl kadm.Client, group string) kadm.OffsetResponses {
	t.Helper()
	offs, err := cl.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// TestRunnerRestoresFromSnapshotsAndReplaysTheTail: a runner snapshots its
// partition states at committed offsets; the next runner restores them and
// reads only the records after the snapshots, with the same figures as a
// rebuild from the log (TestRunnerRebuildsStateFromTheLog).
func TestRunnerRestoresFromSnapshotsAndReplaysTheTail(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	adm := kadm.NewClient(cl)
	store := newMemSnapshots()
	produce(t, cl, k, items(0, 40, 4)...) // 10 per key
	r := start(t, snapCounter{}, k, newMemSink(), runtime.WithSnapshots(store), runtime.WithSnapshotEvery(10, time.Hour))
	eventually(t, "first run committed", func() bool { return committed(t, k, group) == 40 })
	eventually(t, "snapshots at the committed offsets", func() bool { return covers(t, store, "counter", fetchOffsets(t, *adm, group)) })
	// Later snapshots fail: the next runner restores these and replays
	// what comes after them.
	store.mu.Lock()
	store.frozen = true
	store.mu.Unlock()
	produce(t, cl, k, items(40, 8, 4)...) // 2 more per key
	eventually(t, "tail committed", func() bool { return committed(t, k, group) == 48 })
	r.stop(t)

	produce(t, cl, k, items(48, 4, 4)...) // 1 more per key
	second := newMemSink()
	reg := prometheus.NewRegistry()
	start(t, snapCounter{}, k, second, runtime.WithSnapshots(store), runtime.WithRegisterer(reg))
	eventually(t, "second run", func() bool { return committed(t, k, group) == 52 })
	rows := second.snapshot("counts")
	if len(rows) != 4 {
		t.Fatalf("second run wrote %d rows, want only the 4 new records'", len(rows))
	}
	for _, row := range rows {
		if n := row[1].(int64); n != 13 {
			t.Fatalf("row %v: count %d, want 13 (10 from the snapshot, 2 from the tail, 1 new)", row, n)
		}
	}
	if got := sumMetric(t, reg, "assay_processor_rebuild_records_total"); got != 8 {
		t.Errorf("the restore replayed %v records, want the 8 after the snapshots", got)
	}
	parts := len(store.all()) // the partitions with records
	if got := sumMetric(t, reg, "assay_processor_snapshot_restores_total"); got != float64(parts) {
		t.Errorf("%v restores, want one per partition with records (%d)", got, parts)
	}
	if got := sumMetric(t, reg, "assay_processor_snapshot_rejected_total"); got != 0 {
		t.Errorf("%v snapshots rejected", got)
	}
}

// TestRunnerSnapshotsAtShutdown: a clean shutdown snapshots every state at
// its final commit, so the next runner replays nothing.
func TestRunnerSnapshotsAtShutdown(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	adm := kadm.NewClient(cl)
	store := newMemSnapshots()
	produce(t, cl, k, items(0, 30, 3)...)
	// No snapshot is due while running (a million records, an hour).
	r := start(t, snapCounter{}, k, newMemSink(), runtime.WithSnapshots(store), runtime.WithSnapshotEvery(1_000_000, time.Hour))
	eventually(t, "committed", func() bool { return committed(t, k, group) == 30 })
	if n := len(store.all()); n != 0 {
		t.Fatalf("%d snapshots before shutdown, none due", n)
	}
	r.stop(t)
	if !covers(t, store, "counter", fetchOffsets(t, *adm, group)) {
		t.Fatalf("snapshots after shutdown %+v do not cover the committed offsets", store.all())
	}
	reg := prometheus.NewRegistry()
	sink := newMemSink()
	start(t, snapCounter{}, k, sink, runtime.WithSnapshots(store), runtime.WithRegisterer(reg))
	produce(t, cl, k, items(30, 3, 3)...)
	eventually(t, "new records", func() bool { return sink.count("counts") == 3 })
	for _, row := range sink.snapshot("counts") {
		if n := row[1].(int64); n != 11 {
			t.Fatalf("row %v: count %d, want 11", row, n)
		}
	}
	if got := sumMetric(t, reg, "assay_processor_rebuild_records_total"); got != 0 {
		t.Errorf("replayed %v records after snapshots at the final commit", got)
	}
}

// TestRunnerIgnoresUnusableSnapshots: a snapshot that is corrupt, of
// another processor, partition or state version, or ahead of the group's
// commit is ignored (counted by reason) and the state rebuilt from the
// start of the log, with the right figures.
func TestRunnerIgnoresUnusableSnapshots(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(t *testing.T, snaps map[string]runtime.Snapshot)
		proc   snapCounter // the restarted processor
		reason string
	}{
		{"corrupt", func(t *testing.T, snaps map[string]runtime.Snapshot) {
			for k, s := range snaps {
				s.Data[len(s.Data)/2] ^= 1
				snaps[k] = s
			}
		}, snapCounter{}, "corrupt"},
		{"truncated", func(t *testing.T, snaps map[string]runtime.Snapshot) {
			for k, s := range snaps {
				s.Data = s.Data[:len(s.Data)-3]
				snaps[k] = s
			}
		}, snapCounter{}, "corrupt"},
		{"older state version", nil, snapCounter{version: 2}, "version"},
		{"another processor's", func(t *testing.T, snaps map[string]runtime.Snapshot) {
			for k, s := range snaps {
				delete(snaps, k)
				snaps[snapKey("counter", s.Topic, s.Partition)] = s // written by "other"
			}
		}, snapCounter{}, "processor"},
		{"another partition's", func(t *testing.T, snaps map[string]runtime.Snapshot) {
			// Each partition with records gets the next one's snapshot.
			all := slices.SortedFunc(maps.Values(snaps), func(a, b runtime.Snapshot) int { return int(a.Partition - b.Partition) })
			clear(snaps)
			for i, s := range all {
				to := all[(i+1)%len(all)]
				snaps[snapKey(to.Processor, to.Topic, to.Partition)] = s
			}
		}, snapCounter{}, "partition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := cluster(t, "p.")
			cl := client(t, k)
			store := newMemSnapshots()
			produce(t, cl, k, items(0, 30, 3)...)
			first := snapCounter{}
			if c.name == "another processor's" {
				first.name = "other"
			}
			r := start(t, first, k, newMemSink(), runtime.WithSnapshots(store), runtime.WithGroup(group))
			eventually(t, "committed", func() bool { return committed(t, k, group) == 30 })
			r.stop(t)
			// items-0..2 land on 2 or 3 partitions; each gets a snapshot.
			parts := len(store.all())
			if parts < 2 {
				t.Fatalf("%d snapshots, want one per partition with records", parts)
			}
			if c.edit != nil {
				store.edit(func(m map[string]runtime.Snapshot) { c.edit(t, m) })
			}
			reg := prometheus.NewRegistry()
			sink := newMemSink()
			start(t, c.proc, k, sink, runtime.WithSnapshots(store), runtime.WithRegisterer(reg))
			produce(t, cl, k, items(30, 3, 3)...)
			eventually(t, "new records", func() bool { return sink.count("counts") == 3 })
			for _, row := range sink.snapshot("counts") {
				if n := row[1].(int64); n != 11 {
					t.Fatalf("row %v: count %d, want 11 (rebuilt from the log)", row, n)
				}
			}
			if got := sumMetric(t, reg, "assay_processor_rebuild_records_total"); got != 30 {
				t.Errorf("rebuild replayed %v records, want the whole log's 30", got)
			}
			if got := counterWith(t, reg, "assay_processor_snapshot_rejected_total", "reason", c.reason); got != float64(parts) {
				t.Errorf("rejected{reason=%q} = %v, want %d", c.reason, got, parts)
			}
		})
	}

	t.Run("ahead of the commit", func(t *testing.T) {
		k := cluster(t, "p.")
		cl := client(t, k)
		adm := kadm.NewClient(cl)
		store := newMemSnapshots()
		produce(t, cl, k, items(0, 30, 3)...)
		r := start(t, snapCounter{}, k, newMemSink(), runtime.WithSnapshots(store))
		eventually(t, "committed", func() bool { return committed(t, k, group) == 30 })
		r.stop(t)
		// An operator rewinds the group by 2 records on every partition: the
		// snapshots cover records the group has not committed.
		offs := fetchOffsets(t, *adm, group)
		rewound := kadm.Offsets{}
		parts := 0
		offs.Each(func(o kadm.OffsetResponse) {
			rewound.AddOffset(o.Topic, o.Partition, o.At-2, -1)
			parts++
		})
		if _, err := adm.CommitOffsets(context.Background(), group, rewound); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		sink := newMemSink()
		start(t, snapCounter{}, k, sink, runtime.WithSnapshots(store), runtime.WithRegisterer(reg))
		// The 2 records after each rewound commit are read again, on top of
		// a state rebuilt from the log up to the commits: counts 9 and 10.
		eventually(t, "re-read records", func() bool { return sink.count("counts") == 2*parts })
		for _, row := range sink.snapshot("counts") {
			if n := row[1].(int64); n != 9 && n != 10 {
				t.Fatalf("row %v: count %d, want 9 or 10", row, n)
			}
		}
		if got := counterWith(t, reg, "assay_processor_snapshot_rejected_total", "reason", "ahead"); got != float64(parts) {
			t.Errorf("rejected{reason=ahead} = %v, want %d", got, parts)
		}
	})
}

// counterWith returns the value of the series of a counter family whose
// label has value.
func counterWith(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestSnapshotOptionsAreValidated: New refuses snapshot settings that
// cannot work, all at once.
func TestSnapshotOptionsAreValidated(t *testing.T) {
	k := cluster(t, "p.")
	for _, opts := range [][]runtime.Option{
		{runtime.WithSnapshots(nil)},
		{runtime.WithSnapshotEvery(0, time.Minute)},
		{runtime.WithSnapshotEvery(10, 0)},
		{runtime.WithSnapshotTimeout(-time.Second)},
	} {
		if _, err := runtime.New(snapCounter{}, k, newMemSink(), opts...); err == nil {
			t.Errorf("New accepted %d invalid options", len(opts))
		}
	}
	if _, err := runtime.New(snapCounter{}, k, newMemSink(), runtime.WithSnapshots(newMemSnapshots()),
		runtime.WithSnapshotEvery(1, time.Millisecond), runtime.WithSnapshotTimeout(time.Second)); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
