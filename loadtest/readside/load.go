package readside

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

// Partitions is the partition count of every topic of the synthetic log: the deployment's
// default (streams/infra/kafka.DefaultPartitions).
const Partitions = 6

// skipped tables are written by a processor but read by no read path, and left out of a
// load to save its time: the raw ledger (one row per record with its JSON payload).
var skipped = map[string]bool{"events": true}

// markerTable records, in a loaded database, each group of processors whose rows of a program
// it holds.
const markerTable = "readside_load"

// Stats describes a load.
type Stats struct {
	// Events counts the records applied (the program's and the router's decisions).
	Events int
	// Refused counts the records a processor refused (they would have gone to the DLQ).
	Refused map[string]int
	// Rows counts the rows written per table (after collapsing, see Load).
	Rows     map[string]int
	Duration time.Duration
	// Reused says the database already held the program's rows: nothing was loaded.
	Reused bool
}

// Ensure makes database cfg.Database hold the rows of program p. Each group of processors
// (passGroups) that finishes loading is recorded in the database's marker table: when every
// group of p is recorded the database is kept as it is, apart from the migrations added since,
// which are applied as a deployment would apply them (a migration's own INSERT fills what it
// adds from the tables it reads); when some are, the tables of the others are emptied and
// those groups loaded again; when none is, the database is dropped, migrated and loaded. The
// database is never dropped afterwards, so that the (slow) load of a large program is paid
// once.
func Ensure(ctx context.Context, cfg config.ClickHouse, p Program, log *slog.Logger) (driver.Conn, Stats, error) {
	if err := clickhouse.EnsureDatabase(ctx, cfg); err != nil {
		return nil, Stats{}, err
	}
	conn, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	done, err := loadedGroups(ctx, conn, p)
	if err != nil {
		conn.Close()
		return nil, Stats{}, err
	}
	if len(done) == 0 {
		log.Info("loading", "database", cfg.Database, "program", p.Fingerprint())
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+clickhouse.QuoteIdent(cfg.Database)); err != nil {
			conn.Close()
			return nil, Stats{}, fmt.Errorf("drop %s: %w", cfg.Database, err)
		}
		conn.Close()
		if err := clickhouse.EnsureDatabase(ctx, cfg); err != nil {
			return nil, Stats{}, err
		}
		if conn, err = clickhouse.Open(ctx, cfg); err != nil {
			return nil, Stats{}, err
		}
	}
	ms, err := migrations.All()
	if err != nil {
		conn.Close()
		return nil, Stats{}, err
	}
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		conn.Close()
		return nil, Stats{}, fmt.Errorf("migrate %s: %w", cfg.Database, err)
	}
	var missing [][]string
	for _, g := range passGroups {
		if !done[groupName(g)] {
			missing = append(missing, g)
		}
	}
	if len(missing) == 0 {
		return conn, Stats{Reused: true}, nil
	}
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+markerTable+" (fingerprint String, group String, events UInt64, seconds Float64) ENGINE = TinyLog"); err != nil {
		conn.Close()
		return nil, Stats{}, err
	}
	if len(done) > 0 {
		log.Info("loading the groups of processors not loaded yet", "database", cfg.Database, "groups", missing)
		for _, g := range missing {
			tables, err := groupTables(g)
			if err != nil {
				conn.Close()
				return nil, Stats{}, err
			}
			for _, t := range tables {
				if err := conn.Exec(ctx, "TRUNCATE TABLE IF EXISTS "+clickhouse.QuoteIdent(t)); err != nil {
					conn.Close()
					return nil, Stats{}, fmt.Errorf("empty %s: %w", t, err)
				}
			}
		}
	}
	st, err := load(ctx, conn, p, missing, log, func(g []string, st Stats) error {
		return conn.Exec(ctx, "INSERT INTO "+markerTable+" (fingerprint, group, events, seconds) SELECT ?, ?, ?, ?",
			p.Fingerprint(), groupName(g), uint64(st.Events), st.Duration.Seconds())
	})
	if err != nil {
		conn.Close()
		return nil, st, err
	}
	return conn, st, nil
}

// loadedGroups reads which groups of processors the database holds p's rows of.
func loadedGroups(ctx context.Context, conn driver.Conn, p Program) (map[string]bool, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", markerTable).Scan(&n); err != nil {
		return nil, err
	}
	done := map[string]bool{}
	if n == 0 {
		return done, nil
	}
	rows, err := conn.Query(ctx, "SELECT group FROM "+markerTable+" WHERE fingerprint = ?", p.Fingerprint())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", markerTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		done[g] = true
	}
	return done, rows.Err()
}

func groupName(g []string) string { return strings.Join(g, ",") }

// groupTables lists the tables a group of processors writes.
func groupTables(g []string) ([]string, error) {
	var out []string
	for _, name := range g {
		pr, err := newProcessor(name)
		if err != nil {
			return nil, err
		}
		for _, t := range pr.Tables() {
			if !skipped[t.Name] {
				out = append(out, t.Name)
			}
		}
	}
	return out, nil
}

// kpiStateKeys is the state-key limit of the KPI processors in a load: 10M labels on six
// partitions hold more than the default's 4M keys in a kpi_agreement partition (labels, units,
// applied events, cells), so a deployment of that size raises -kpi-max-state-keys, as this
// does. A load refused by a limit fails; so the rows never depend on it.
const kpiStateKeys = 32_000_000

func newProcessor(name string) (runtime.Processor, error) {
	return processors.New(name, processors.Config{KPI: kpi.Config{MaxStateKeys: kpiStateKeys}})
}

// Load plays program p through the processors (Processors) in process, as their runners
// would over a log of Partitions partitions a topic, and writes the rows they make into
// conn's database, which must be migrated and empty.
//
// Every row is a row a processor made from the program's events (the KPI partials are
// consistent by construction). Two things differ from a live run, both to make the load
// fast: the raw events table is not written (skipped), and the KPI processors' rows are
// collapsed in memory before they are written: of the rows one flush holds for one sorting
// key, only the last (the highest version: the partition's latest total) is written, which
// is what the ReplacingMergeTree keeps once it has merged them. The ledger's and lineage's
// rows (one per event) are written as they come, in batches of the runner's order of size.
func Load(ctx context.Context, conn driver.Conn, p Program, log *slog.Logger) (Stats, error) {
	return load(ctx, conn, p, passGroups, log, nil)
}

// load loads the groups of processors given, calling done after each group.
func load(ctx context.Context, conn driver.Conn, p Program, groups [][]string, log *slog.Logger, done func([]string, Stats) error) (Stats, error) {
	start := time.Now()
	keys, err := sortingKeys(ctx, conn)
	if err != nil {
		return Stats{}, err
	}
	total := Stats{Refused: map[string]int{}, Rows: map[string]int{}}
	var firstRefusal error
	// A processor's state is one (topic, partition)'s: so each pass plays the whole program
	// but applies only the records of one partition number (of every topic), and only one
	// group of processors, which bounds the memory of the states to a fraction of the
	// whole without changing a row (offsets and states are the partitions' own).
	for gi, group := range groups {
		groupStart, groupEvents := time.Now(), 0
		for part := range int32(Partitions) {
			l, err := newLoader(conn, keys, group)
			if err != nil {
				return total, err
			}
			writeErr := make(chan error, 1)
			go func() { writeErr <- l.writer(ctx) }()
			var applyErr error
			next := time.Now().Add(time.Minute)
			Generate(p, func(ev schemas.Event) {
				if applyErr != nil || partition(ev.Key()) != part {
					return
				}
				applyErr = l.record(ctx, ev)
				if time.Now().After(next) {
					next = time.Now().Add(time.Minute)
					log.Info("loading", "processors", group, "partition", part, "events", l.stats.Events, "elapsed", time.Since(start).Round(time.Second))
				}
			})
			if applyErr == nil {
				applyErr = l.flushAll(ctx)
			}
			close(l.writes)
			if err := <-writeErr; err != nil && applyErr == nil {
				applyErr = err
			}
			if applyErr != nil {
				return total, applyErr
			}
			if gi == 0 {
				total.Events += l.stats.Events
			}
			groupEvents += l.stats.Events
			for k, v := range l.stats.Refused {
				total.Refused[k] += v
			}
			for k, v := range l.stats.Rows {
				total.Rows[k] += v
			}
			if firstRefusal == nil {
				firstRefusal = l.firstRefusal
			}
		}
		// Refusals are expected only where the program plays them (none today): a refusal
		// means the load does not hold what the program says.
		if len(total.Refused) > 0 {
			return total, fmt.Errorf("processors refused records: %v (first: %v)", total.Refused, firstRefusal)
		}
		if done != nil {
			if err := done(group, Stats{Events: groupEvents, Duration: time.Since(groupStart)}); err != nil {
				return total, fmt.Errorf("record the load of %v: %w", group, err)
			}
		}
	}
	total.Duration = time.Since(start)
	return total, nil
}

// passGroups are the processors each pass of a load applies together: every processor
// that writes a table a read path reads.
var passGroups = [][]string{{"ledger", "lineage", "router"}, {"kpi_agreement", "kpi_accuracy", "kpi_flow", "kpi_regions", "kpi_preference"}}

type proc struct {
	p        runtime.Processor
	families map[schemas.Family]bool
	states   map[string]any // by topic/partition
	collapse bool
}

type tableBuf struct {
	table runtime.Table
	rows  [][]any
	// key are the sorting key's column indexes, index the row of each key in rows, when the
	// table's rows collapse in memory.
	key   []int
	index map[string]int
	limit int
}

type write struct {
	table runtime.Table
	rows  [][]any
}

type loader struct {
	procs        []*proc
	tables       map[string]*tableBuf
	offsets      map[string]int64
	writes       chan write
	sink         runtime.Sink
	stats        Stats
	firstRefusal error
	keyBuf       []byte
}

func newLoader(conn driver.Conn, keys map[string][]string, names []string) (*loader, error) {
	l := &loader{tables: map[string]*tableBuf{}, offsets: map[string]int64{}, writes: make(chan write, 4), sink: runtime.ClickHouseSink(conn),
		stats: Stats{Refused: map[string]int{}, Rows: map[string]int{}}}
	for _, name := range names {
		p, err := newProcessor(name)
		if err != nil {
			return nil, err
		}
		pr := &proc{p: p, families: map[schemas.Family]bool{}, states: map[string]any{}, collapse: strings.HasPrefix(name, "kpi_")}
		for _, f := range p.Families() {
			pr.families[f] = true
		}
		for _, t := range p.Tables() {
			if skipped[t.Name] {
				continue
			}
			b := &tableBuf{table: t, limit: 200_000}
			if pr.collapse {
				cols, ok := keys[t.Name]
				if !ok {
					return nil, fmt.Errorf("table %s has no sorting key in the database", t.Name)
				}
				for _, c := range cols {
					i := slices.Index(t.Columns, c)
					if i < 0 {
						return nil, fmt.Errorf("table %s: sorting key column %s is not written by %s", t.Name, c, name)
					}
					b.key = append(b.key, i)
				}
				b.index = map[string]int{}
				b.limit = 250_000
			}
			l.tables[t.Name] = b
		}
		l.procs = append(l.procs, pr)
	}
	return l, nil
}

// sortingKeys reads the sorting key columns of every table of the database.
func sortingKeys(ctx context.Context, conn driver.Conn) (map[string][]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		return nil, fmt.Errorf("read sorting keys: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return nil, err
		}
		if key == "" {
			continue
		}
		for c := range strings.SplitSeq(key, ",") {
			out[name] = append(out[name], strings.TrimSpace(c))
		}
	}
	return out, rows.Err()
}

// partition is the record's partition: any fixed function of the key does (one key, one
// partition), as the producer's partitioner.
func partition(key string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int32(h.Sum32() % Partitions)
}

// record applies one event to every processor of its family, and the events they emit.
func (l *loader) record(ctx context.Context, ev schemas.Event) error {
	queue := []schemas.Event{ev}
	for len(queue) > 0 {
		ev, queue = queue[0], queue[1:]
		fam := ev.Family()
		topic := fam.Topic()
		part := partition(ev.Key())
		tp := topic + "/" + strconv.Itoa(int(part))
		off := l.offsets[tp]
		l.offsets[tp] = off + 1
		rec := runtime.Record{Topic: topic, Family: fam, Partition: part, Offset: off, Key: []byte(ev.Key()),
			Timestamp: time.UnixMilli(ev.Meta().RecordedAt), Event: ev}
		l.stats.Events++
		for _, pr := range l.procs {
			if !pr.families[fam] {
				continue
			}
			st, ok := pr.states[tp]
			if !ok {
				st = pr.p.NewState(topic, part)
				pr.states[tp] = st
			}
			out, err := pr.p.Apply(st, rec)
			if err != nil {
				l.stats.Refused[pr.p.Name()]++
				if l.firstRefusal == nil {
					l.firstRefusal = fmt.Errorf("%s refused %s %s: %w", pr.p.Name(), ev.Type(), ev.Meta().EventID, err)
				}
				continue
			}
			for _, r := range out.Rows {
				if err := l.add(ctx, r); err != nil {
					return err
				}
			}
			queue = append(queue, out.Emit...)
		}
	}
	return nil
}

func (l *loader) add(ctx context.Context, r runtime.Row) error {
	if skipped[r.Table] {
		return nil
	}
	b, ok := l.tables[r.Table]
	if !ok {
		return fmt.Errorf("row for undeclared table %s", r.Table)
	}
	if b.index != nil {
		k := l.rowKey(r.Values, b.key)
		if i, ok := b.index[k]; ok {
			b.rows[i] = r.Values
			return nil
		}
		b.index[k] = len(b.rows)
	}
	b.rows = append(b.rows, r.Values)
	if len(b.rows) >= b.limit {
		return l.flush(ctx, b)
	}
	return nil
}

// rowKey encodes the sorting key's values of a row.
func (l *loader) rowKey(vals []any, idx []int) string {
	k := l.keyBuf[:0]
	for _, i := range idx {
		switch v := vals[i].(type) {
		case string:
			k = append(k, v...)
		case uint32:
			k = strconv.AppendUint(k, uint64(v), 10)
		case uint64:
			k = strconv.AppendUint(k, v, 10)
		case int64:
			k = strconv.AppendInt(k, v, 10)
		case int32:
			k = strconv.AppendInt(k, int64(v), 10)
		case uint8:
			k = strconv.AppendUint(k, uint64(v), 10)
		case float64:
			k = strconv.AppendUint(k, math.Float64bits(v), 16)
		case time.Time:
			k = strconv.AppendInt(k, v.UnixNano(), 10)
		default:
			k = fmt.Append(k, v)
		}
		k = append(k, 0)
	}
	l.keyBuf = k
	return string(k)
}

func (l *loader) flush(ctx context.Context, b *tableBuf) error {
	if len(b.rows) == 0 {
		return nil
	}
	select {
	case l.writes <- write{table: b.table, rows: b.rows}:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.stats.Rows[b.table.Name] += len(b.rows)
	b.rows = nil
	if b.index != nil {
		b.index = map[string]int{}
	}
	return nil
}

func (l *loader) flushAll(ctx context.Context) error {
	names := make([]string, 0, len(l.tables))
	for n := range l.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := l.flush(ctx, l.tables[n]); err != nil {
			return err
		}
	}
	return nil
}

// writer writes the flushed batches, one at a time, beside the generation. It drains the
// channel after a failure so the loader never blocks, and reports the first failure.
func (l *loader) writer(ctx context.Context) error {
	var first error
	for w := range l.writes {
		if first != nil {
			continue
		}
		for len(w.rows) > 0 {
			n := min(len(w.rows), 500_000)
			if err := l.sink.Write(ctx, w.table, w.rows[:n]); err != nil {
				first = fmt.Errorf("write %d rows into %s: %w", n, w.table.Name, err)
				break
			}
			w.rows = w.rows[n:]
		}
	}
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
