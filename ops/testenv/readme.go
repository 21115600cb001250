package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// repoRoot finds the repository root: the nearest directory at or above the working directory
// (go test runs in the package's directory) that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// RepoRoot returns the repository's root directory, so a test can name a file of another part
// of the tree (README.md, ops/...) without counting ../ from its own package's depth.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// ReadmeBlocks returns the bodies of the fenced ```lang blocks in the section of the
// repository's README.md under the level-2 heading "## heading" (up to the next level-2
// heading, its subsections included). Tests run or parse them, so the examples readers copy
// are known to work. It fails t when the README has no such section.
func ReadmeBlocks(t testing.TB, heading, lang string) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut("\n"+string(readme), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", "## "+heading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```"+regexp.QuoteMeta(lang)+"\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// RunReadmeQueries runs every query (a README SQL block; a trailing semicolon is dropped, as
// the driver takes one statement) on conn and reports each one that fails or returns no rows,
// without stopping at the first: the tables are filled before, and an example that shows
// nothing on them would show nothing to a reader either.
func RunReadmeQueries(ctx context.Context, t testing.TB, conn driver.Conn, queries []string) {
	t.Helper()
	for i, q := range queries {
		q = strings.TrimSuffix(strings.TrimSpace(q), ";")
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Errorf("README query %d failed: %v\n%s", i+1, err, q)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("README query %d: %v", i+1, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("README query %d returned no rows on the test data:\n%s", i+1, q)
		}
	}
}
