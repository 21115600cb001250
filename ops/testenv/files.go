package testenv

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// EnvOf is a LookupEnv over m, for a main's run function under test: the environment a
// test gives a service without touching the process's own.
func EnvOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// WriteFileAtomic writes text to path through a temporary file renamed over it, as an
// operator should edit a file a service polls (a principals file, a rules file), so no poll
// reads it half-written.
func WriteFileAtomic(t testing.TB, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// WaitReady polls base+"/readyz" until it answers 200, failing t after timeout with the
// service's log (what) so a service that never gets ready says why.
func WaitReady(t testing.TB, base string, timeout time.Duration, what fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v\n%s", base, err, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
