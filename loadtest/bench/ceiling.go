package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// nativeCeiling is what ClickHouse itself takes: clickhouse-client inserting the ledger's rows
// in its own Native format, one INSERT per table per chunk of batch events' worth of rows, one
// after the other, as the runner writes them (the same chunks as rawInsert; see
// prepareNative and nativeChunks.insert).
type nativeCeiling struct {
	// Inserts is the number of INSERT queries, Rows the rows they carry.
	Inserts, Rows int
	// Query is the sum of the inserts' times as clickhouse-client reports them (--time: from
	// sending the query to the server's end of stream, the Native data included), and Wall
	// the sum of the client processes' lifetimes, their start-up included.
	Query, Wall time.Duration
	// Bytes is the size of the Native data.
	Bytes int64
	// ByTable is Query by table.
	ByTable map[string]time.Duration
}

// EventsPerSecond is the ceiling in the bench's unit: events over the inserts' query time.
func (c nativeCeiling) EventsPerSecond(events int) float64 {
	if c.Query <= 0 {
		return 0
	}
	return float64(events) / c.Query.Seconds()
}

// chClient runs clickhouse-client (the binary of the installed server, found as
// ops/clickhouse/clickhouse.sh finds it: on PATH) against one database.
type chClient struct {
	bin, host, port, user string
	// configFile holds the password, when there is one, so that it is not on a command
	// line (see config.EnvClickHousePassword).
	configFile string
}

func newChClient(bin string, c config.ClickHouse, dir string) (*chClient, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("clickhouse-client: %w", err)
	}
	if len(c.Addr) == 0 {
		return nil, fmt.Errorf("clickhouse-client: no ClickHouse address")
	}
	host, port, err := net.SplitHostPort(c.Addr[0])
	if err != nil {
		return nil, fmt.Errorf("clickhouse-client: address %q: %w", c.Addr[0], err)
	}
	cl := &chClient{bin: path, host: host, port: port, user: c.User}
	if c.Password != "" {
		cl.configFile = filepath.Join(dir, "client.xml")
		xml := "<config><password>" + xmlEscape(c.Password) + "</password></config>\n"
		if err := os.WriteFile(cl.configFile, []byte(xml), 0o600); err != nil {
			return nil, fmt.Errorf("clickhouse-client config: %w", err)
		}
	}
	return cl, nil
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// run runs the client on database with args, stdin from stdin (never the bench's own: a client reading a
// terminal or an inherited pipe waits for it), and returns what it wrote to stderr.
func (c *chClient) run(ctx context.Context, database string, stdin *os.File, args ...string) (string, error) {
	// Uncompressed, as streams/infra/clickhouse's connections send blocks (they set no
	// Compression), where clickhouse-client would compress with LZ4.
	all := []string{"--host", c.host, "--port", c.port, "--database", database, "--compression", "0"}
	if c.configFile != "" {
		all = append([]string{"--config-file", c.configFile}, all...)
	}
	if c.user != "" {
		all = append(all, "--user", c.user)
	}
	cmd := exec.CommandContext(ctx, c.bin, append(all, args...)...)
	if stdin == nil {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return "", err
		}
		defer devnull.Close()
		stdin = devnull
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("clickhouse-client %s: %w: %s", strings.Join(args, " "), err, tail(stderr.Bytes(), 1500))
	}
	return stderr.String(), nil
}

// nativeChunks are the ledger's rows as Native data, one file per table per chunk, in the
// order the runner writes them: chunk by chunk, each chunk's tables in name order.
type nativeChunks struct {
	cl     *chClient
	dir    string
	chunks []nativeChunk
}

type nativeChunk struct {
	table, insert, file string
	rows                int
	bytes               int64
}

// Close removes the files.
func (n *nativeChunks) Close() error { return os.RemoveAll(n.dir) }

// prepareNative turns rows (by table, as ledgerRows returns them) into Native data with
// clickhouse-client itself, cut into the chunks of rawInsert (chunk i of a table's rows is
// rows[i*len/chunks : (i+1)*len/chunks], chunks = ⌈events/batch⌉), in the order the runner
// writes them: chunk by chunk, each chunk's tables in name order (see prepareInserts). c is
// the database the chunks are for: its tables give the copies their columns.
func prepareNative(ctx context.Context, bin string, c config.ClickHouse, stage string, rows map[string][][]any, events, batch int) (*nativeChunks, error) {
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var inserts []tableInsert
	nchunks := (events + batch - 1) / batch
	for i := range nchunks {
		for _, name := range names {
			rs := rows[name]
			if lo, hi := i*len(rs)/nchunks, (i+1)*len(rs)/nchunks; lo < hi {
				inserts = append(inserts, tableInsert{name, rs[lo:hi]})
			}
		}
	}
	return prepareInserts(ctx, bin, c, stage, inserts)
}

// recordingSink writes through sink and keeps the rows of every insert that succeeded, in the
// order they ended: the inserts a replay made, for the ceiling of exactly those
// (prepareInserts).
type recordingSink struct {
	sink    runtime.Sink
	mu      sync.Mutex
	inserts []tableInsert
}

func (r *recordingSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	if err := r.sink.Write(ctx, t, rows); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inserts = append(r.inserts, tableInsert{t.Name, rows})
	return nil
}

// tableInsert is the rows of one insert into one table.
type tableInsert struct {
	table string
	rows  [][]any
}

// prepareInserts turns inserts into Native data with clickhouse-client itself, one file per
// insert, in their order. The rows are staged in TinyLog copies of the ledger's tables in the
// database stage, each table's inserts one after the other (TinyLog keeps the insertion order,
// so a LIMIT cuts each insert's rows back out), then one client exports every insert with
// SELECT ... INTO OUTFILE ... FORMAT Native; stage is dropped before returning. c is the
// database the inserts are for: its tables give the copies their columns.
func prepareInserts(ctx context.Context, bin string, c config.ClickHouse, stage string, inserts []tableInsert) (_ *nativeChunks, err error) {
	dir, err := os.MkdirTemp("", "assay-bench-native-*")
	if err != nil {
		return nil, fmt.Errorf("native chunks: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	cl, err := newChClient(bin, c, dir)
	if err != nil {
		return nil, err
	}
	tables := map[string]runtime.Table{}
	for _, t := range ledger.Tables() {
		tables[t.Name] = t
	}
	// Each table's rows in insert order, and where each insert starts in them.
	staged := map[string][][]any{}
	at := make([]int, len(inserts))
	var names []string
	for i, in := range inserts {
		if _, ok := tables[in.table]; !ok {
			return nil, fmt.Errorf("native chunks: %s is not a ledger table", in.table)
		}
		if _, ok := staged[in.table]; !ok {
			names = append(names, in.table)
		}
		at[i] = len(staged[in.table])
		staged[in.table] = append(staged[in.table], in.rows...)
	}

	q := clickhouse.QuoteIdent
	sc := c
	sc.Database = stage
	if err := clickhouse.EnsureDatabase(ctx, sc); err != nil {
		return nil, fmt.Errorf("native chunks: %w", err)
	}
	sconn, err := clickhouse.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("native chunks: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = sconn.Exec(cctx, "DROP DATABASE IF EXISTS "+q(stage))
		sconn.Close()
	}()
	lists := map[string]string{}
	for _, name := range names {
		t := tables[name]
		if err := sconn.Exec(ctx, stageStatement(q(name), q(c.Database)+"."+q(name))); err != nil {
			return nil, fmt.Errorf("native chunks: stage %s: %w", name, err)
		}
		if err := runtime.ClickHouseSink(sconn).Write(ctx, t, staged[name]); err != nil {
			return nil, fmt.Errorf("native chunks: stage %s: %w", name, err)
		}
		cols := make([]string, len(t.Columns))
		for i, col := range t.Columns {
			cols[i] = q(col)
		}
		lists[name] = strings.Join(cols, ", ")
	}
	out := &nativeChunks{cl: cl, dir: dir}
	var script strings.Builder
	for i, in := range inserts {
		if len(in.rows) == 0 {
			continue
		}
		file := filepath.Join(dir, fmt.Sprintf("%06d-%s.native", i, in.table))
		script.WriteString(exportStatement(lists[in.table], q(in.table), at[i], len(in.rows), file) + ";\n")
		out.chunks = append(out.chunks, nativeChunk{table: in.table, insert: insertStatement(q(in.table), lists[in.table]), file: file, rows: len(in.rows)})
	}
	scriptFile := filepath.Join(dir, "export.sql")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o600); err != nil {
		return nil, fmt.Errorf("native chunks: %w", err)
	}
	sf, err := os.Open(scriptFile)
	if err != nil {
		return nil, fmt.Errorf("native chunks: %w", err)
	}
	defer sf.Close()
	if _, err := cl.run(ctx, stage, sf, "--multiquery", "--max_threads", "1"); err != nil {
		return nil, fmt.Errorf("native chunks: export: %w", err)
	}
	for i := range out.chunks {
		fi, err := os.Stat(out.chunks[i].file)
		if err != nil {
			return nil, fmt.Errorf("native chunks: %w", err)
		}
		out.chunks[i].bytes = fi.Size()
	}
	return out, nil
}

// stageStatement creates table, a TinyLog copy of the columns of source (both quoted).
func stageStatement(table, source string) string {
	return "CREATE TABLE " + table + " AS " + source + " ENGINE = TinyLog"
}

// exportStatement writes n rows of table (quoted) from row lo on, its columns cols (a quoted
// list), to file as Native: clickhouse-client writes INTO OUTFILE on the client's side.
func exportStatement(cols, table string, lo, n int, file string) string {
	return fmt.Sprintf("SELECT %s FROM %s LIMIT %d, %d INTO OUTFILE %s FORMAT Native", cols, table, lo, n, sqlString(file))
}

// insertStatement inserts Native data, which clickhouse-client reads from its stdin.
func insertStatement(table, cols string) string {
	return "INSERT INTO " + table + " (" + cols + ") FORMAT Native"
}

// sqlString quotes s as a ClickHouse string literal.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// insert sends every chunk to database, one clickhouse-client and one INSERT ... FORMAT
// Native each, one after the other in the runner's order, and adds up the query times the
// client reports with --time (from sending the query to the server's end of stream, the
// data included): clickhouse-client's start-up (about 80 ms a process here) is outside them,
// and so outside the ceiling.
func (n *nativeChunks) insert(ctx context.Context, database string) (nativeCeiling, error) {
	res := nativeCeiling{ByTable: map[string]time.Duration{}}
	for _, ch := range n.chunks {
		f, err := os.Open(ch.file)
		if err != nil {
			return nativeCeiling{}, fmt.Errorf("native insert: %w", err)
		}
		start := time.Now()
		stderr, err := n.cl.run(ctx, database, f, "--time", "--query", ch.insert)
		res.Wall += time.Since(start)
		f.Close()
		if err != nil {
			return nativeCeiling{}, fmt.Errorf("native insert: %w", err)
		}
		d, err := reportedTime(stderr)
		if err != nil {
			return nativeCeiling{}, fmt.Errorf("native insert into %s: %w", ch.table, err)
		}
		res.Query += d
		res.ByTable[ch.table] += d
		res.Inserts++
		res.Rows += ch.rows
		res.Bytes += ch.bytes
	}
	return res, nil
}

// reportedTime reads the seconds clickhouse-client --time printed, the last line of stderr.
func reportedTime(stderr string) (time.Duration, error) {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	s, err := strconv.ParseFloat(last, 64)
	if err != nil {
		return 0, fmt.Errorf("clickhouse-client --time printed %q", tail([]byte(stderr), 300))
	}
	return time.Duration(s * float64(time.Second)), nil
}
