package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
)

// readonlyCode is ClickHouse's READONLY error: what a readonly=1 session gets for anything
// but a read.
const readonlyCode = 164

// writes are the statements the analyst user must be refused, each with what it would do.
var writes = []struct{ what, sql string }{
	// INSERT ... SELECT: clickhouse-go sends an INSERT ... VALUES as a batch, not a statement.
	{"insert", "INSERT INTO %s.t SELECT 2"},
	{"create a table", "CREATE TABLE %s.u (x UInt8) ENGINE = Memory"},
	{"drop the table", "DROP TABLE %s.t"},
	{"create a database", "CREATE DATABASE %s_more"},
	{"change a setting", "SET readonly = 0"},
}

// privateServer starts an 18.16 server of its own with ops/clickhouse/clickhouse.sh (so with
// the users it ships), in a temporary state directory on free ports, stopped when t ends: the
// shared stack's server keeps the users it was started with, and is not this test's to
// restart.
func privateServer(t *testing.T) string {
	t.Helper()
	testenv.SkipShort(t)
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil {
			if testenv.Required() {
				t.Fatal("clickhouse-server is required (ASSAY_INTEGRATION=1) but not installed: ops/clickhouse/clickhouse.sh start installs it")
			}
			t.Skip("clickhouse-server not installed (ops/clickhouse/clickhouse.sh start installs it)")
		}
	}
	port, httpPort := freePort(t), freePort(t)
	script := filepath.Join(testenv.RepoRoot(t), "ops", "clickhouse", "clickhouse.sh")
	env := append(os.Environ(), "ASSAY_CLICKHOUSE_DIR="+t.TempDir(), "ASSAY_CLICKHOUSE_PORT="+strconv.Itoa(port),
		"ASSAY_CLICKHOUSE_HTTP_PORT="+strconv.Itoa(httpPort), "ASSAY_CLICKHOUSE_START_TIMEOUT=120")
	run := func(cmd string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, "bash", script, cmd)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("clickhouse.sh %s: %w\n%s", cmd, err, out)
		}
		return nil
	}
	// Stop it even when start failed half-way: the script stops only the server of its pid file.
	t.Cleanup(func() {
		if err := run("stop"); err != nil {
			t.Error(err)
		}
	})
	if err := run("start"); err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func connectAs(t *testing.T, addr, user string) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := clickhouse.Open(ctx, config.ClickHouse{Addr: []string{addr}, Database: "default", User: user})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestAnalystUserIsReadOnly: the analyst user that ops/clickhouse/users.d ships, on the real
// 18.16 server as ops/clickhouse/clickhouse.sh configures it, reads any table and is refused
// every write (INSERT, CREATE, DROP, SET) with READONLY, which leaves the data as it was.
func TestAnalystUserIsReadOnly(t *testing.T) {
	t.Parallel()
	addr := privateServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := connectAs(t, addr, "default")
	const db = "assay_analyst"
	for _, q := range []string{"CREATE DATABASE " + db, "CREATE TABLE " + db + ".t (x UInt8) ENGINE = Memory", "INSERT INTO " + db + ".t SELECT 1"} {
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	analyst := connectAs(t, addr, "analyst")
	var n uint64
	if err := analyst.QueryRow(ctx, "SELECT count() FROM "+db+".t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the analyst's SELECT: %d rows, %v; want 1", n, err)
	}
	var readonly string
	if err := analyst.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&readonly); err != nil || readonly != "1" {
		t.Errorf("the analyst's readonly setting: %q, %v; want 1", readonly, err)
	}
	for _, w := range writes {
		q := w.sql
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, db)
		}
		err := analyst.Exec(ctx, q)
		var ex *ch.Exception
		if !errors.As(err, &ex) || ex.Code != readonlyCode {
			t.Errorf("the analyst may %s (%s): %v; want code %d (READONLY)", w.what, q, err, readonlyCode)
		}
	}
	if err := admin.QueryRow(ctx, "SELECT count() FROM "+db+".t").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the analyst's attempts the table has %d rows (%v), want 1", n, err)
	}
	var version string
	_ = admin.QueryRow(ctx, "SELECT version()").Scan(&version)
	t.Logf("ClickHouse %s: the analyst user reads and is refused %d kinds of write with READONLY", version, len(writes))
}

// TestReadonlyOnCurrentClickHouse: chdb has no users (an embedded server reads no users.xml,
// so the analyst user itself cannot be loaded into it), but the profile's one rule, readonly=1,
// is a setting: set in a session of current ClickHouse, it lets a SELECT through and refuses
// the same writes with the same code as on 18.16.
func TestReadonlyOnCurrentClickHouse(t *testing.T) {
	t.Parallel()
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const db = "assay_analyst"
	for _, q := range []string{"CREATE DATABASE " + db, "CREATE TABLE " + db + ".t (x UInt8) ENGINE = Memory", "INSERT INTO " + db + ".t SELECT 1", "SET readonly = 1"} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if out, err := s.Query(ctx, "SELECT count() FROM "+db+".t"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("SELECT under readonly=1: %q, %v; want 1", out, err)
	}
	for _, w := range writes {
		q := w.sql
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, db)
		}
		err := s.Exec(ctx, q)
		var ex *ch.Exception
		if !errors.As(err, &ex) || ex.Code != readonlyCode {
			t.Errorf("readonly=1 lets a session %s (%s): %v; want code %d (READONLY)", w.what, q, err, readonlyCode)
		}
	}
	if out, err := s.Query(ctx, "SELECT count() FROM "+db+".t"); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("after the attempts: %q, %v; want 1 row", out, err)
	}
	t.Logf("ClickHouse %s (chdb): readonly=1 reads and refuses %d kinds of write with READONLY", s.Version, len(writes))
}
