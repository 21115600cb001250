// Package principals is what the mains of the services that authenticate callers (ingest,
// and the API) share about the principals file: its flags, its first load, and its watch —
// polling on a ticker and reloading on SIGHUP, goroutines and signal owned here on the mains'
// behalf, since the library (schemas/access) has neither — and the metrics of its reloads.
package principals

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
)

// DefaultPoll is how often the file is checked: a token removed from it is refused within
// this long.
const DefaultPoll = 2 * time.Second

// Flags are the principals file's flags.
type Flags struct {
	File string
	Poll time.Duration
}

// RegisterFlags registers -principals-file and -principals-poll on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.File, "principals-file", "", "principals file: '<id> <sha256hex|-> role=<role> projects=<p,q|*> ...' lines (`assay token create` prints them); reloaded when it changes and on SIGHUP")
	fs.DurationVar(&f.Poll, "principals-poll", DefaultPoll, "how often the principals file is checked for changes: a token removed from it is refused within this interval")
	return f
}

// Load reads the principals file the flags name; it is an error when none is named, when it
// does not parse, or when no principal in it has a token.
func (f *Flags) Load() (*access.Loader, error) {
	if f.File == "" {
		return nil, errors.New("no principals file: set -principals-file; create its first line with `assay token create -role owner -projects '*' -id <you>`")
	}
	if f.Poll <= 0 {
		return nil, fmt.Errorf("-principals-poll must be positive, got %v", f.Poll)
	}
	return access.NewLoader(f.File)
}

// Watch checks the loader's file every poll and reloads it on SIGHUP, logging what changed
// and what was refused, until ctx ends or the returned stop is called (which waits for the
// goroutine to end and stops catching SIGHUP).
func Watch(ctx context.Context, log *slog.Logger, l *access.Loader, poll time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	log = log.With("principals_file", l.Path())
	report := func(how string, changed bool, err error) {
		switch {
		case err != nil:
			log.Error("principals file refused; the principals in force stay", "on", how, "err", err)
		case changed:
			st := l.Status()
			log.Info("principals reloaded", "on", how, "principals", st.Principals, "tokens", st.Tokens)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				changed, err := l.Poll() // a standing refusal is returned once
				report("poll", changed, err)
			case <-hup:
				changed, err := l.Reload()
				if err == nil && !changed {
					log.Info("SIGHUP: principals file unchanged")
				}
				report("SIGHUP", changed, err)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// Collector exports the loader's state as assay_<service>_principals* metrics, read at
// scrape time.
func Collector(service string, l *access.Loader) prometheus.Collector {
	name := func(s string) string { return "assay_" + service + "_" + s }
	return &collector{l: l,
		principals: prometheus.NewDesc(name("principals"), "Principals of the principals file in force.", nil, nil),
		tokens:     prometheus.NewDesc(name("principal_tokens"), "Token hashes of the principals file in force, over all principals.", nil, nil),
		reloads:    prometheus.NewDesc(name("principals_reloads_total"), "Changed principals files put in force since the process started.", nil, nil),
		failures:   prometheus.NewDesc(name("principals_reload_failures_total"), "Principals files refused (unreadable, invalid, or without any token) since the process started.", nil, nil),
		failed:     prometheus.NewDesc(name("principals_reload_failed"), "Whether the last read of the principals file was refused (1: the principals in force are older than the file) or not (0): alert on it.", nil, nil),
		loaded:     prometheus.NewDesc(name("principals_loaded_timestamp_seconds"), "When the principals in force were loaded (Unix seconds).", nil, nil),
	}
}

type collector struct {
	l                                                     *access.Loader
	principals, tokens, reloads, failures, failed, loaded *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.principals, c.tokens, c.reloads, c.failures, c.failed, c.loaded} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Status()
	failed := 0.0
	if st.Err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(c.principals, prometheus.GaugeValue, float64(st.Principals))
	ch <- prometheus.MustNewConstMetric(c.tokens, prometheus.GaugeValue, float64(st.Tokens))
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(st.Reloads))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed)
	ch <- prometheus.MustNewConstMetric(c.loaded, prometheus.GaugeValue, float64(st.Loaded.UnixNano())/1e9)
}
