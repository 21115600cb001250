package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one numbered SQL file. Its statements are separated by a semicolon at the end
// of a line, because the native protocol runs one statement per query.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
	// Checksum is the SHA-256 of the file; a migration that was applied and later edited is
	// refused, as in Flyway or golang-migrate, because the database would silently differ from
	// what the repository says.
	Checksum string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads NNNN_name.sql files from dir of fsys in version order. Versions must be
// unique; gaps are allowed so that branches can reserve numbers.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_lower_snake.sql", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[uint32(v)] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		stmts := SplitStatements(string(body))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", e.Name())
		}
		out = append(out, Migration{Version: uint32(v), Name: m[2], Statements: stmts, Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SplitStatements splits SQL text into statements at semicolons that end a line, dropping
// whole-line "--" comments and blank statements.
func SplitStatements(sql string) []string {
	var (
		out []string
		cur strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		if strings.HasSuffix(trimmed, ";") {
			cur.WriteString(strings.TrimSuffix(strings.TrimRight(line, " \t\r"), ";"))
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

// MigrateResult says what a Migrate call did.
type MigrateResult struct {
	Applied []Migration // applied by this call, in order
	Skipped int         // already recorded in schema_migrations
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version UInt32,
	name String,
	checksum String,
	applied_at DateTime
) ENGINE = ReplacingMergeTree() ORDER BY version`

// Migrate applies every migration of ms that schema_migrations does not record yet, in order,
// on conn (whose default database is the target). A migration is recorded only after all its
// statements ran; statements are written with IF NOT EXISTS so that a migration interrupted
// half-way can simply be run again.
func Migrate(ctx context.Context, conn driver.Conn, ms []Migration, log *slog.Logger) (MigrateResult, error) {
	var res MigrateResult
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return res, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[uint32]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM schema_migrations FINAL")
	if err != nil {
		return res, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return res, fmt.Errorf("scan schema_migrations: %w", err)
		}
		applied[v] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return res, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum %s, recorded %s): add a new migration instead", m.Version, m.Name, m.Checksum[:12], sum[:min(12, len(sum))])
			}
			res.Skipped++
			continue
		}
		start := time.Now()
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil {
				return res, fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return res, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		log.Info("migration applied", "version", m.Version, "name", m.Name, "duration", time.Since(start))
		res.Applied = append(res.Applied, m)
	}
	return res, nil
}

// record inserts m into schema_migrations with a native batch insert. An Exec of
// "INSERT ... VALUES (?, ...)" hangs on ClickHouse 18.16: the server takes the inline values
// and then waits for a data block the client never sends.
func record(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second)); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
