package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// frozen is a snapshot store that can stop taking snapshots, as a process killed before its
// next snapshot would: what it stored stays readable.
type frozen struct {
	runtime.SnapshotStore
	on atomic.Bool
}

func (f *frozen) Save(ctx context.Context, s runtime.Snapshot) error {
	if f.on.Load() {
		return errors.New("snapshots frozen by the test")
	}
	return f.SnapshotStore.Save(ctx, s)
}

func groupOffsets(t *testing.T, ctx context.Context, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestSnapshotsOnTheRealStack runs kpi_agreement on the real Kafka and ClickHouse with its
// snapshots in ClickHouse (processor_snapshots): a first runner snapshots its states, then
// (snapshots frozen, as if it died before the next one) processes more labels and is stopped;
// a second runner restores the snapshots, replays only the labels after them (counted), and
// processes new labels on top. Every agreement figure then equals the one a replay of the
// whole log into a fresh database gives.
func TestSnapshotsOnTheRealStack(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	group := runtime.DefaultGroup(k, kpi.AgreementName)

	cfg := annotation.DefaultConfig("snapstack", 17)
	cfg.Items = 1200
	var labels []schemas.Event
	for _, ev := range annotation.Generate(cfg).Events {
		if ev.Family() == schemas.FamilyLabels {
			labels = append(labels, ev)
		}
	}
	first, second, third := labels[:len(labels)/2], labels[len(labels)/2:len(labels)*3/4], labels[len(labels)*3/4:]
	store := &frozen{SnapshotStore: runtime.ClickHouseSnapshots(conn)}
	run := func(reg prometheus.Registerer) *running {
		return start(t, kpi.NewAgreement(), k, runtime.ClickHouseSink(conn), runtime.WithSnapshots(store),
			runtime.WithSnapshotEvery(300, time.Hour), runtime.WithBatchSize(200), runtime.WithRegisterer(reg))
	}
	waitCommitted := func(n int) {
		t.Helper()
		eventually(t, fmt.Sprintf("%d records committed", n), func() bool { return sum(groupOffsets(t, ctx, adm, group)) == int64(n) })
	}

	if err := workload.Produce(ctx, cl, k, first); err != nil {
		t.Fatal(err)
	}
	r1 := run(prometheus.NewRegistry())
	waitCommitted(len(first))
	// Every partition has more than 300 records: each gets a snapshot while running.
	snapOffsets := map[int32]int64{}
	eventually(t, "a snapshot of every partition", func() bool {
		for p := range groupOffsets(t, ctx, adm, group) {
			s, err := store.Load(ctx, kpi.AgreementName, k.Topic(schemas.FamilyLabels.Topic()), p)
			if err != nil {
				return false
			}
			snapOffsets[p] = s.Offset
		}
		return true
	})
	store.on.Store(true)
	if err := workload.Produce(ctx, cl, k, second); err != nil {
		t.Fatal(err)
	}
	waitCommitted(len(first) + len(second))
	r1.stop(t)
	committedAtRestart := groupOffsets(t, ctx, adm, group)
	tail := sum(committedAtRestart) - sum(snapOffsets)
	if tail < int64(len(second)) {
		t.Fatalf("tail of %d records after the snapshots, want at least the %d produced after them", tail, len(second))
	}

	store.on.Store(false)
	reg := prometheus.NewRegistry()
	run(reg)
	if err := workload.Produce(ctx, cl, k, third); err != nil {
		t.Fatal(err)
	}
	waitCommitted(len(labels))
	if got := sumMetric(t, reg, "assay_processor_rebuild_records_total"); got != float64(tail) {
		t.Errorf("the restore replayed %v records, want the %d after the snapshots (of %d committed)", got, tail, sum(committedAtRestart))
	}
	if got := sumMetric(t, reg, "assay_processor_snapshot_restores_total"); got != float64(len(committedAtRestart)) {
		t.Errorf("%v states restored from snapshots, want %d", got, len(committedAtRestart))
	}
	if got := sumMetric(t, reg, "assay_processor_snapshot_rejected_total") + sumMetric(t, reg, "assay_processor_snapshot_misses_total"); got != 0 {
		t.Errorf("%v snapshots rejected or missing", got)
	}
	t.Logf("%d labels: snapshots at %v, %d records replayed after them on restart (of %d committed), %d processed after",
		len(labels), snapOffsets, tail, sum(committedAtRestart), len(third))

	// The figures equal a replay's of the whole log into a fresh database.
	_, fresh := testenv.MigratedClickHouse(t)
	if _, err := runtime.Replay(ctx, kpi.NewAgreement(), k, runtime.ClickHouseSink(fresh), time.Time{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the same figures as the replay's", func() bool {
		live, err1 := figures(ctx, conn)
		replayed, err2 := figures(ctx, fresh)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return live == replayed && strings.Contains(live, cfg.Project)
	})
}

// figures renders every agreement figure (with cohorts) and the per-annotator pairs, for
// comparing two databases.
func figures(ctx context.Context, conn driver.Conn) (string, error) {
	figs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Cohorts: true})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range figs {
		fmt.Fprintf(&b, "%s/%s/%s/%s units %d values %d alpha %v %v ci %v %v percent %v\n", f.ProjectID, f.QuestionID, f.Level, f.Scope,
			f.PairableUnits, f.PairableValues, f.Alpha, f.Err, f.AlphaCI, f.AlphaCIErr, f.Percent)
	}
	rows, err := conn.Query(ctx, `SELECT project_id, question_id, annotator_id, sum(pairs), sum(agreements)
		FROM annotator_pairs FINAL GROUP BY project_id, question_id, annotator_id ORDER BY project_id, question_id, annotator_id`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var p, q, a string
		var pairs, agree int64
		if err := rows.Scan(&p, &q, &a, &pairs, &agree); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s/%s/%s %d %d\n", p, q, a, pairs, agree)
	}
	return b.String(), rows.Err()
}

// TestClickHouseSnapshots: the store returns the newest whole snapshot of a partition state,
// byte for byte, over several chunks; a newer incomplete one (chunks lost) is passed over, and
// a state with only incomplete ones is corrupt, one with none missing. Merges keep the newest.
func TestClickHouseSnapshots(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	store := runtime.ClickHouseSnapshots(conn)
	if _, err := store.Load(ctx, "p", "t", 0); !errors.Is(err, runtime.ErrNoSnapshot) {
		t.Fatalf("empty store: %v", err)
	}
	data := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31) ^ seed
		}
		return b
	}
	at := time.Unix(1_800_000_000, 0).UTC()
	for i, size := range []int{100, 2_500_000, 3_000, 1 << 20} {
		s := runtime.Snapshot{Processor: "p", Topic: "t", Partition: 0, StateVersion: 3, Offset: int64(1000 * i), WrittenAt: at, Data: data(size, byte(i))}
		if err := store.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := store.Load(ctx, "p", "t", 0)
		if err != nil || !bytes.Equal(got.Data, s.Data) || got.Offset != s.Offset || got.StateVersion != 3 || !got.WrittenAt.Equal(at) {
			t.Fatalf("snapshot %d (%d bytes): got %d bytes, offset %d, version %d, %v, %v", i, size, len(got.Data), got.Offset, got.StateVersion, got.WrittenAt, err)
		}
		if _, err := store.Load(ctx, "p", "t", 1); !errors.Is(err, runtime.ErrNoSnapshot) {
			t.Fatalf("another partition: %v", err)
		}
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+runtime.SnapshotTable+" FINAL"); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(ctx, "p", "t", 0)
	if err != nil || !bytes.Equal(got.Data, data(1<<20, 3)) {
		t.Fatalf("after a merge: %d bytes, %v", len(got.Data), err)
	}
	// A newer snapshot of 2 chunks of which one was lost is passed over.
	lost := func(partition uint32, id uint64) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, `INSERT INTO processor_snapshots (processor, kafka_topic, kafka_partition, snapshot_id, chunk, chunks,
			chunk_at, bytes, state_version, kafka_offset, written_at, data)`)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("p", "t", partition, id, uint32(1), uint32(2), uint64(1<<20), uint64(1<<20+10), uint32(3), uint64(9000), at, "xxxxxxxxxx"); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	lost(0, 1<<63)
	if got, err := store.Load(ctx, "p", "t", 0); err != nil || got.Offset != 3000 {
		t.Fatalf("with a newer incomplete snapshot: offset %d, %v", got.Offset, err)
	}
	lost(7, 5)
	if _, err := store.Load(ctx, "p", "t", 7); !errors.Is(err, runtime.ErrCorruptSnapshot) {
		t.Fatalf("only an incomplete snapshot: %v", err)
	}
}

// TestSnapshotTableOnCurrentClickHouse runs the store's queries on ClickHouse 26.9 (chdb) over
// the table of migration 0050: the newest snapshot first with its chunk count, its chunks by id,
// and a merge keeping, per chunk, the newest snapshot's.
func TestSnapshotTableOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx := context.Background()
	cols := []string{"processor", "kafka_topic", "kafka_partition", "snapshot_id", "chunk", "chunks", "chunk_at", "bytes", "state_version", "kafka_offset", "written_at", "data"}
	at := time.Unix(1_800_000_000, 0)
	// One insert a snapshot, as ClickHouseSnapshots.Save does.
	for _, snap := range []struct{ id, chunks int }{{10, 3}, {20, 2}, {30, 2}} {
		var rows [][]any
		for c := range snap.chunks {
			if snap.id == 30 && c == 0 {
				continue // lost: snapshot 30 is incomplete
			}
			rows = append(rows, []any{"p", "t", 0, snap.id, c, snap.chunks, c * 4, snap.chunks * 4, 1, snap.id * 100, at, fmt.Sprintf("s%02dc%d", snap.id, c)})
		}
		if err := s.Insert(ctx, runtime.SnapshotTable, cols, rows); err != nil {
			t.Fatal(err)
		}
	}
	query := func(q string, args ...any) string {
		t.Helper()
		sql, err := chdb.Bind(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := query(runtime.LatestSnapshotQuery, "p", "t", 0); got != "30\t2\t1\n20\t2\t2\n10\t3\t3\n" {
		t.Fatalf("snapshots listed as %q", got)
	}
	chunks := strings.Fields(query(runtime.ReadSnapshotQuery, "p", "t", 0, 20))
	if want := []string{"0", "0", "8", "1", "2000", "s20c0", "1", "4", "8", "1", "2000", "s20c1"}; !slices.Equal(withoutTime(chunks), want) {
		t.Fatalf("snapshot 20 read as %q", chunks)
	}
	if err := s.Exec(ctx, "OPTIMIZE TABLE "+runtime.SnapshotTable+" FINAL"); err != nil {
		t.Fatal(err)
	}
	// Per chunk the newest: chunk 0 of 20, chunk 1 of 30, chunk 2 of 10 (beyond the newer ones).
	if got := query("SELECT chunk, snapshot_id FROM " + runtime.SnapshotTable + " ORDER BY chunk"); got != "0\t20\n1\t30\n2\t10\n" {
		t.Fatalf("after a merge: %q", got)
	}
	if got := query(runtime.LatestSnapshotQuery, "p", "t", 0); !reflect.DeepEqual(strings.Split(got, "\n")[1], "20\t2\t1") {
		t.Fatalf("after a merge: %q", got)
	}
}

// withoutTime drops the written_at fields (date and time) of a TabSeparated read of
// ReadSnapshotQuery split into fields.
func withoutTime(fields []string) []string {
	var out []string
	for _, f := range fields {
		if strings.Count(f, "-") == 2 || strings.Count(f, ":") == 2 {
			continue
		}
		out = append(out, f)
	}
	return out
}
