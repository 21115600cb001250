package access

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Loader keeps a Store in step with a principals file. It starts no goroutine and handles no
// signal: the process's main calls Poll on its own ticker and Reload on SIGHUP.
//
// A file that does not parse, or that leaves no token at all, is refused and the registry in
// force stays: a half-written file must not revoke everyone. To stop every write, stop the
// service. Write the file atomically (a temporary file renamed over it) so no poll reads it
// half-written; a principal cut off at a line boundary would parse.
type Loader struct {
	path  string
	store *Store

	mu       sync.Mutex // serialises reloads
	digest   [sha256.Size]byte
	reloads  int64  // registries put in force after the first
	failures int64  // refused reloads
	err      error  // last attempt's error, nil after a success
	refused  string // what the last refused attempt saw (refusalKey)
	loaded   time.Time
}

// LoaderStatus is what a main reports as metrics.
type LoaderStatus struct {
	// Reloads counts the new registries put in force since the first load.
	Reloads int64
	// Failures counts the refused reloads.
	Failures int64
	// Err is the last attempt's error; nil after a success.
	Err error
	// Loaded is when the registry in force was loaded.
	Loaded time.Time
	// Principals and Tokens count the registry in force.
	Principals, Tokens int
}

// ErrNoTokens: a principals file in which no principal has a token. Refused at start and on
// reload (see Loader).
var ErrNoTokens = errors.New("no principal has a token: create one with `assay token create --role owner --projects '*'` and add its line")

// NewLoader reads the principals file at path; an invalid file, or one without any token, is
// an error here, because at start there is no older registry to keep.
func NewLoader(path string) (*Loader, error) {
	l := &Loader{path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("principals file: %w", err)
	}
	r, err := parseUsable(path, data)
	if err != nil {
		return nil, err
	}
	l.store, l.digest, l.loaded = NewStore(r), sha256.Sum256(data), time.Now()
	return l, nil
}

func parseUsable(path string, data []byte) (*Registry, error) {
	r, err := Parse(path, string(data))
	if err != nil {
		return nil, err
	}
	if r.Tokens() == 0 {
		return nil, fmt.Errorf("principals file %s: %w", path, ErrNoTokens)
	}
	return r, nil
}

// Store is the store the loader updates; hand it to the gateway (or the API).
func (l *Loader) Store() *Store { return l.store }

// Path is the principals file's path.
func (l *Loader) Path() string { return l.path }

// Reload reads the file and, if its content changed (by SHA-256) and it is valid, puts the
// new registry in force. It reports whether it did; on error the registry in force stays.
func (l *Loader) Reload() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := os.ReadFile(l.path)
	return l.attempt(data, err)
}

// Poll is Reload for the periodic check. The file is small, so every poll reads and hashes
// it: an edit that keeps the size and lands within the file system's timestamp granularity is
// not missed. A refused file is counted and returned once: later polls of the same content
// (or the same read error) return no error, and Status().Err still holds it.
func (l *Loader) Poll() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := os.ReadFile(l.path)
	if l.err != nil && refusalKey(data, err) == l.refused {
		return false, nil
	}
	return l.attempt(data, err)
}

// refusalKey identifies what a reload attempt saw, so a poll can tell a refusal it already
// reported.
func refusalKey(data []byte, readErr error) string {
	if readErr != nil {
		return "read: " + readErr.Error()
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

func (l *Loader) attempt(data []byte, readErr error) (bool, error) {
	changed, err := l.apply(data, readErr)
	l.err = err
	switch {
	case err != nil:
		l.failures++
		l.refused = refusalKey(data, readErr)
	case changed:
		l.reloads++
		l.loaded = time.Now()
	}
	return changed, err
}

func (l *Loader) apply(data []byte, readErr error) (bool, error) {
	if readErr != nil {
		return false, fmt.Errorf("principals file: %w", readErr)
	}
	d := sha256.Sum256(data)
	if d == l.digest {
		return false, nil // touched, or back to the content in force
	}
	r, err := parseUsable(l.path, data)
	if err != nil {
		return false, err
	}
	l.store.Swap(r)
	l.digest = d
	return true, nil
}

// Status reports the loader's counts and the registry in force.
func (l *Loader) Status() LoaderStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.store.Load()
	return LoaderStatus{Reloads: l.reloads, Failures: l.failures, Err: l.err, Loaded: l.loaded, Principals: r.Len(), Tokens: r.Tokens()}
}
