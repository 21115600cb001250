//go:build chaos || abuse

package chaos

// Helpers shared by the fault suite (chaos_test.go) and the abuse suite (abuse_test.go): the
// processes, the log and table counts, and the summary files.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/runtime"
)

// quick selects the short variant of a suite: fewer seconds of each fault or attack. It is a
// flag of its own (go test -tags abuse ./loadtest/chaos -quick) because -short means unit
// tests only, under which every integration test skips (ops/testenv.SkipShort).
var quick = flag.Bool("quick", false, "run the short variant of the suite: fewer seconds of each fault or attack")

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}

// countLog reads every ledger topic of k from the start (read_committed) and counts the data
// records: what ClickHouse's events table must hold after FINAL.
func countLog(t *testing.T, k config.Kafka) int {
	t.Helper()
	return readLog(t, k, nil)
}

// readLog reads every ledger topic of k from the start (read_committed), calls each (when not
// nil) with every data record, and returns how many there were.
func readLog(t *testing.T, k config.Kafka, each func(*kgo.Record)) int {
	t.Helper()
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	cl, err := kafka.NewClient(k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, idle := 0, 0
	for idle < 3 { // three empty seconds in a row: the end of a log nobody writes any more
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if c := fs.NumRecords(); c > 0 {
			n += c
			idle = 0
			if each != nil {
				fs.EachRecord(each)
			}
		} else {
			idle++
		}
	}
	return n
}

func finalCounts(t *testing.T, conn driver.Conn, tables []runtime.Table) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range tables {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+tb.Name+" FINAL").Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tb.Name, err)
		}
		out[tb.Name] = int(n)
	}
	return out
}

// fingerprints returns "rows/hash" per table after FINAL, the hash summing cityHash64 of every
// column of every row: equal fingerprints mean equal contents (as multisets), which counts
// alone would not show for aggregates, where a double-applied event changes values, not rows.
func fingerprints(t *testing.T, conn driver.Conn, tables []runtime.Table) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range tables {
		types := columnTypes(t, conn, tb.Name)
		// cityHash64 refuses Nullable arguments (and is NULL on a NULL): hash whether each
		// value is NULL and the value with NULL read as the default, element-wise in arrays.
		args := make([]string, 0, 2*len(tb.Columns))
		for _, c := range tb.Columns {
			switch typ := types[c]; {
			case strings.HasPrefix(typ, "Nullable("):
				args = append(args, "isNull("+c+")", "assumeNotNull("+c+")")
			case strings.HasPrefix(typ, "Array(Nullable("):
				args = append(args, "arrayMap(x -> isNull(x), "+c+")", "arrayMap(x -> assumeNotNull(x), "+c+")")
			default:
				args = append(args, c)
			}
		}
		var n, h uint64
		q := fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s FINAL", strings.Join(args, ", "), tb.Name)
		if err := conn.QueryRow(context.Background(), q).Scan(&n, &h); err != nil {
			t.Fatalf("fingerprint %s: %v", tb.Name, err)
		}
		out[tb.Name] = fmt.Sprintf("%d/%016x", n, h)
	}
	return out
}

// columnTypes maps the columns of table (in the connection's database) to their types.
func columnTypes(t *testing.T, conn driver.Conn, table string) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			t.Fatal(err)
		}
		out[n] = typ
	}
	return out
}

func tablesIn(t *testing.T, conn driver.Conn, db string) map[string]bool {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.tables WHERE database = ?", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[n] = true
	}
	return out
}

func missingTables(tables []runtime.Table, existing map[string]bool) []string {
	var out []string
	for _, tb := range tables {
		if !existing[tb.Name] {
			out = append(out, tb.Name)
		}
	}
	return out
}

func countEvents(t *testing.T, conn driver.Conn) int {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// waitEventsGrow waits until the events table grew by n rows: the pipeline is flowing.
func waitEventsGrow(t *testing.T, conn driver.Conn, n int, timeout time.Duration) {
	t.Helper()
	base := countEvents(t, conn)
	waitFor(t, timeout, func() error {
		if got := countEvents(t, conn) - base; got < n {
			return fmt.Errorf("events grew by %d rows, want %d", got, n)
		}
		return nil
	})
}

func waitFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeSummary prints a suite's summary table and, with ASSAY_CHAOS_OUT set (to a directory,
// loadtest/results for make chaos and make abuse), writes it there as <suite>-<date>.txt and,
// with rows and the run's context, as <suite>-<date>.json.
func writeSummary(t *testing.T, suite, table string, rows any) {
	fmt.Print(table)
	dir := os.Getenv("ASSAY_CHAOS_OUT")
	if dir == "" {
		return
	}
	load, _ := os.ReadFile("/proc/loadavg")
	out := map[string]any{"finished": time.Now().UTC(), "passed": !t.Failed(), "quick": *quick, "loadavg": strings.TrimSpace(string(load)), "rows": rows}
	js, _ := json.MarshalIndent(out, "", "  ")
	path := filepath.Join(dir, suite+"-"+time.Now().UTC().Format("2006-01-02")+".json")
	if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
		t.Errorf("write summary: %v", err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".json")+".txt", []byte(table), 0o644); err != nil {
		t.Errorf("write summary: %v", err)
	}
}

// proc is one processor process.
type proc struct{ *testenv.Process }

// startProc starts the processor binary bin running processor name against k and the
// database db at chAddr, with extra flags after the suite's defaults (a later flag wins).
func startProc(t *testing.T, bin, name string, k config.Kafka, chAddr, db string, extra ...string) *proc {
	t.Helper()
	return startProcEnv(t, bin, name, k, chAddr, db, nil, extra...)
}

// startProcEnv is startProc with env (KEY=value entries) added to the process's environment.
func startProcEnv(t *testing.T, bin, name string, k config.Kafka, chAddr, db string, env []string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"-http", "127.0.0.1:0", "-flush-interval", "300ms", "-processors", name, "-session-timeout", "6s"}, extra...)
	return &proc{testenv.StartProcess(t, name, bin, append([]string{
		"ASSAY_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","), "ASSAY_TOPIC_PREFIX=" + k.TopicPrefix,
		"ASSAY_CLICKHOUSE_ADDR=" + chAddr, "ASSAY_CLICKHOUSE_DATABASE=" + db,
	}, env...), args...)}
}

var (
	rebuiltLine  = regexp.MustCompile(`msg="state rebuilt" .*records=(\d+)`)
	assignedLine = regexp.MustCompile(`msg="partitions assigned" (processor)`)
)

// waitLog waits until the process's log has a line matching re and returns its first group.
func (p *proc) waitLog(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.Log)
		if m := re.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s within %s", re, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// kill9 kills the process without letting it flush or commit anything.
func (p *proc) kill9() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done()
}

// term stops the process gracefully and requires a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Errorf("processor exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("processor did not stop within 60 s of SIGTERM")
	}
}
