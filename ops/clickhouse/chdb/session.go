package chdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/ops/testenv"
	chsql "github.com/assay-data/assay/streams/infra/clickhouse"
)

// Session is one current ClickHouse embedded in a long-lived Python process (session.py), with
// a persistent database "assay" holding every migration, for tests that run Go code which
// writes (the stream runner's insert path) against the newest end of the supported range.
// chdb cannot serve the native protocol, so a Session is not a server: its Insert takes the
// rows a runtime.Sink receives and sends them as JSONEachRow, and answers ClickHouse's own
// error (code and message) as a *clickhouse.Exception, as clickhouse-go does for a server.
//
// A Session is safe for concurrent use; requests are served one at a time.
type Session struct {
	// Version is the embedded ClickHouse's version().
	Version string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr testenv.LockedBuffer
	broken error
}

// Start runs a Session with every migration applied, stopped when t ends. Without
// ASSAY_CHDB_PYTHON it skips t, or fails it under ASSAY_INTEGRATION=1 (see AfterMigrations).
func Start(t testing.TB) *Session {
	t.Helper()
	python := testenv.Python(t, "ASSAY_CHDB_PYTHON", "ops/clickhouse/chdb/setup.sh")
	script := filepath.Join(testenv.RepoRoot(t), "ops", "clickhouse", "chdb", "session.py")
	s := &Session{cmd: exec.Command(python, script)}
	s.cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("chdb session: %v", err)
	}
	t.Cleanup(s.close)
	var hello struct {
		Version string `json:"version"`
	}
	line, err := s.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err != nil {
		t.Fatalf("chdb session did not start: %v (output %q, stderr %s)", err, line, s.stderr.String())
	}
	s.Version = hello.Version
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if err := s.Exec(ctx, stmt); err != nil {
				t.Fatalf("ClickHouse %s refused migration %s:\n%s\nerror: %v", s.Version, m.Name, stmt, err)
			}
		}
	}
	return s
}

func (s *Session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.stdin.Close() // session.py exits at the end of its input
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Exec runs one statement.
func (s *Session) Exec(ctx context.Context, sql string) error {
	_, err := s.do(ctx, request{SQL: sql})
	return err
}

// Query runs one statement and returns its output in TabSeparated format.
func (s *Session) Query(ctx context.Context, sql string) (string, error) {
	return s.do(ctx, request{SQL: sql, Format: "TabSeparated"})
}

// Insert writes rows into table's columns as one INSERT block (FORMAT JSONEachRow), like one
// batch of the native protocol. Values are encoded as JSON, except time.Time, which is sent
// as Unix seconds (for DateTime columns), and []byte, sent as a string. A server error is a
// *clickhouse.Exception with the server's code and message.
func (s *Session) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var data bytes.Buffer
	obj := make(map[string]any, len(columns))
	for i, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(columns))
		}
		for j, c := range columns {
			obj[c] = jsonValue(row[j])
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encode row %d for %s: %w", i, table, err)
		}
		data.Write(b)
		data.WriteByte('\n')
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = chsql.QuoteIdent(c)
	}
	sql := "INSERT INTO " + chsql.QuoteIdent(table) + " (" + strings.Join(cols, ", ") + ") FORMAT JSONEachRow"
	data.Truncate(max(0, data.Len()-1))
	if _, err := s.do(ctx, request{SQL: sql, Data: data.String()}); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.Unix()
	case *time.Time:
		if v == nil {
			return nil
		}
		return v.Unix()
	case []byte:
		return string(v)
	}
	return v
}

type request struct {
	SQL    string `json:"sql"`
	Data   string `json:"data,omitempty"`
	Format string `json:"format,omitempty"`
}

// do sends one request and reads its answer. When ctx ends first the process is killed (it
// cannot be interrupted in the middle of a query) and the session fails every later request.
func (s *Session) do(ctx context.Context, req request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return "", s.broken
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	line, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	type answer struct {
		OK     bool   `json:"ok"`
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	done := make(chan struct{})
	var (
		ans  answer
		rerr error
	)
	go func() {
		defer close(done)
		if _, rerr = s.stdin.Write(append(line, '\n')); rerr != nil {
			return
		}
		var out []byte
		if out, rerr = s.out.ReadBytes('\n'); rerr == nil {
			rerr = json.Unmarshal(out, &ans)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-done
		s.broken = fmt.Errorf("chdb session killed: %w", ctx.Err())
		return "", s.broken
	}
	if rerr != nil {
		s.broken = fmt.Errorf("chdb session: %w (stderr %s)", rerr, s.stderr.String())
		return "", s.broken
	}
	if !ans.OK {
		return "", parseError(ans.Error)
	}
	return ans.Result, nil
}

// errorText matches ClickHouse's error text: "Code: 252. DB::Exception: <message>. (NAME)",
// possibly followed by "(version ...)".
var errorText = regexp.MustCompile(`(?s)^Code: (\d+)\. (?:DB::Exception: )?(.*?)(?:\s*\(([A-Z0-9_]+)\))?(?:\s*\(version [^)]*\))?\s*$`)

// parseError turns ClickHouse's error text into the *clickhouse.Exception a server's answer
// becomes in clickhouse-go, or a plain error when the text is not a ClickHouse error.
func parseError(text string) error {
	m := errorText.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return errors.New(text)
	}
	code, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return errors.New(text)
	}
	return &clickhouse.Exception{Code: int32(code), Name: "DB::Exception", CodeName: m[3], Message: m[2]}
}
