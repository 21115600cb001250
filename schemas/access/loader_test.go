package access_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/schemas/access"
)

// TestLoaderRevokesAndRefusesBrokenFiles: an edit is in force at the next poll (a removed
// token fails to authenticate), a broken or token-less file is refused once and the registry
// in force stays, and a file back to valid content is taken.
func TestLoaderRevokesAndRefusesBrokenFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "principals")
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	a, b := "token-a", "token-b"
	lineA := "a " + access.HashToken(a) + " role=collector projects=p\n"
	lineB := "b " + access.HashToken(b) + " role=collector projects=p\n"

	if _, err := access.NewLoader(path); err == nil {
		t.Fatal("a missing file loaded")
	}
	write("# nobody\n")
	if _, err := access.NewLoader(path); !errors.Is(err, access.ErrNoTokens) {
		t.Fatalf("a file without tokens: %v", err)
	}
	write(lineA + lineB)
	l, err := access.NewLoader(path)
	if err != nil {
		t.Fatal(err)
	}
	store := l.Store()
	authed := func(tok string) bool { _, err := store.Load().Authenticate(tok); return err == nil }
	if !authed(a) || !authed(b) {
		t.Fatal("tokens not in force")
	}
	if changed, err := l.Poll(); changed || err != nil {
		t.Fatalf("unchanged file: %v %v", changed, err)
	}

	write(lineA) // revoke b
	if changed, err := l.Poll(); !changed || err != nil {
		t.Fatalf("poll after the edit: %v %v", changed, err)
	}
	if !authed(a) || authed(b) {
		t.Fatal("b is not revoked")
	}

	write(lineA + "c not-a-hash role=collector projects=p\n")
	for i := range 3 {
		// Refused once; later polls of the same content report nothing new.
		if changed, err := l.Poll(); changed || (err == nil) != (i > 0) {
			t.Fatalf("poll %d of a broken file: %v %v", i, changed, err)
		}
	}
	if st := l.Status(); st.Failures != 1 || st.Reloads != 1 || st.Err == nil || st.Principals != 1 || st.Tokens != 1 {
		t.Fatalf("status after a refused file polled three times: %+v", st)
	}
	if !authed(a) {
		t.Fatal("the registry in force was dropped")
	}
	write("# everyone revoked by mistake\n")
	if _, err := l.Reload(); !errors.Is(err, access.ErrNoTokens) {
		t.Fatalf("token-less file: %v", err)
	}
	if !authed(a) {
		t.Fatal("a token-less file revoked everyone")
	}
	write(lineA) // back to the content in force
	if changed, err := l.Poll(); changed || err != nil {
		t.Fatalf("back to the registry in force: %v %v", changed, err)
	}
	if st := l.Status(); st.Err != nil || st.Failures != 2 {
		t.Fatalf("status %+v", st)
	}
	os.Remove(path)
	if _, err := l.Poll(); err == nil {
		t.Fatal("a deleted file is not reported")
	}
	if _, err := l.Poll(); err != nil || l.Status().Err == nil {
		t.Fatalf("a deleted file polled again: %v, status %v", err, l.Status().Err)
	}
	if !authed(a) {
		t.Fatal("a deleted file revoked everyone")
	}
}
