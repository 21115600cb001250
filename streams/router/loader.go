package router

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Loader keeps a RuleSet in step with a rules file. It is the I/O half of
// the rules: the processor only reads the RuleSet, so Apply stays pure
// and a reload never happens in the middle of one record. A Loader starts
// no goroutine and handles no signal: its owner calls Run (the poll) and
// Reload (on SIGHUP, say) from goroutines it owns.
type Loader struct {
	path string
	poll time.Duration
	set  *RuleSet
	log  *slog.Logger

	mu     sync.Mutex // serialises reloads (poll and explicit Reload)
	digest [sha256.Size]byte
	mtime  time.Time
	size   int64
	err    error     // last reload error, nil after a success
	fails  int64     // refused reloads
	loaded time.Time // when the rules in force were loaded
}

// NewLoader reads and validates the rules file at path; an invalid file is
// an error here, because at start there are no older rules to keep. Run
// checks the file every poll (zero: DefaultRulesPoll); a nil log is
// slog.Default().
func NewLoader(path string, poll time.Duration, log *slog.Logger) (*Loader, error) {
	if poll < 0 {
		return nil, fmt.Errorf("rules file %s: poll interval must not be negative, got %v", path, poll)
	}
	if poll == 0 {
		poll = DefaultRulesPoll
	}
	if log == nil {
		log = slog.Default()
	}
	l := &Loader{path: path, poll: poll, log: log.With("rules_file", path)}
	data, st, err := l.read()
	if err != nil {
		return nil, err
	}
	r, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	l.set = NewRuleSet(r)
	l.digest, l.mtime, l.size, l.loaded = sha256.Sum256(data), st.ModTime(), st.Size(), time.Now()
	return l, nil
}

// status is what the metrics report: whether the last reload was refused,
// how many were, and when the rules in force were loaded.
func (l *Loader) status() (failed bool, failures int64, loaded time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil, l.fails, l.loaded
}

// RuleSet is the set the loader updates; hand it to New.
func (l *Loader) RuleSet() *RuleSet { return l.set }

// Err is the error of the last reload attempt, nil if it succeeded (or
// none failed yet); the rules in force are then those of the last success.
func (l *Loader) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Loader) read() ([]byte, os.FileInfo, error) {
	st, err := os.Stat(l.path)
	if err != nil {
		return nil, nil, fmt.Errorf("rules file: %w", err)
	}
	data, err := os.ReadFile(l.path)
	if err != nil {
		return nil, nil, fmt.Errorf("rules file: %w", err)
	}
	return data, st, nil
}

// Reload reads the file again and puts its rules in force if they are
// valid. An unreadable or invalid file, or a changed file that kept its
// version (decisions would then name one version for two rule sets), is
// refused with an error and the rules in force stay. It reports whether
// new rules were put in force.
func (l *Loader) Reload() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed, err := l.reload()
	l.err = err
	cur := l.set.Current().Version
	switch {
	case err != nil:
		l.fails++
		l.log.Error("rules reload refused; the rules in force stay", "version_in_force", cur, "err", err)
	case changed:
		l.loaded = time.Now()
		l.log.Info("rules reloaded", "version", cur)
	}
	return changed, err
}

func (l *Loader) reload() (bool, error) {
	data, st, err := l.read()
	if err != nil {
		return false, err
	}
	l.mtime, l.size = st.ModTime(), st.Size()
	d := sha256.Sum256(data)
	if d == l.digest {
		return false, nil // touched, not changed
	}
	r, err := ParseRules(data)
	if err != nil {
		return false, fmt.Errorf("rules file %s: %w", l.path, err)
	}
	if cur := l.set.Current(); r.Version == cur.Version {
		return false, fmt.Errorf("rules file %s changed but its version %q did not: give every rule set its own version", l.path, r.Version)
	}
	if err := l.set.Swap(r); err != nil {
		return false, fmt.Errorf("rules file %s: %w", l.path, err)
	}
	l.digest = d
	return true, nil
}

// modified reports whether the file's mtime or size differ from the last
// read: a stat per poll is cheap; the file is read only when it changed.
func (l *Loader) modified() bool {
	st, err := os.Stat(l.path)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return true // let Reload report the error
	}
	return !st.ModTime().Equal(l.mtime) || st.Size() != l.size
}

// Poll reloads the rules if the file's modification time or size changed
// since the last read, as Reload does; an unchanged file is not read (so
// an unchanged broken file is not reported again).
func (l *Loader) Poll() (bool, error) {
	if !l.modified() {
		return false, nil
	}
	return l.Reload()
}

// Run polls the file every poll interval until ctx ends. Refused reloads
// are logged and kept in Err; Run itself never fails. It does not listen
// for signals: the process's main decides what a SIGHUP means and calls
// Reload.
func (l *Loader) Run(ctx context.Context) {
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, _ = l.Poll()
		}
	}
}
