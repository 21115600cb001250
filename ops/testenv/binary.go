package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binMu   sync.Mutex
	binDir  string
	binDone = map[string]binResult{}
)

type binResult struct {
	path string
	err  error
}

// Binary builds the main package pkg (an import path, or a directory such as ".") with
// go build, once per test process, and returns the executable's path. Tests that run a
// service as a real process (to kill -9 it) use it; call RemoveBinaries from TestMain.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	SkipShort(t)
	binMu.Lock()
	defer binMu.Unlock()
	r, ok := binDone[pkg]
	if !ok {
		if binDir == "" {
			d, err := os.MkdirTemp("", "assay-testenv-bin")
			if err != nil {
				t.Fatal(err)
			}
			binDir = d
		}
		name := path.Base(pkg)
		if name == "." || name == "/" {
			wd, _ := os.Getwd()
			name = filepath.Base(wd)
		}
		r.path = filepath.Join(binDir, fmt.Sprintf("%s-%d", name, len(binDone)))
		if out, err := exec.Command("go", "build", "-o", r.path, pkg).CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		binDone[pkg] = r
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// RemoveBinaries deletes what Binary built; call it from TestMain after m.Run.
func RemoveBinaries() {
	binMu.Lock()
	defer binMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
		binDir = ""
		binDone = map[string]binResult{}
	}
}
