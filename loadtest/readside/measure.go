package readside

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Timing is a probe's latency over N runs (after one warm-up run, not counted):
// nearest-rank quantiles.
type Timing struct {
	Group, Name string
	N           int
	P50, P99    time.Duration
	Max         time.Duration
	// Err is the first failure; a probe that fails is not timed further.
	Err error
}

// Budget bounds how long Time runs one probe: at most Max runs, and no new run after
// Time has passed, but at least Min runs (3 for a probe whose warm-up took over 5 s).
type Budget struct {
	Min, Max int
	Time     time.Duration
}

// DefaultBudget times a probe 30 times, or for a minute and at least 5 times.
var DefaultBudget = Budget{Min: 5, Max: 30, Time: time.Minute}

// Time runs pr under b and returns its latency quantiles.
func Time(ctx context.Context, pr Probe, b Budget) Timing {
	t := Timing{Group: pr.Group, Name: pr.Name}
	warm := time.Now()
	if err := pr.Run(ctx); err != nil {
		t.Err = err
		return t
	}
	if time.Since(warm) > 5*time.Second {
		b.Min = min(b.Min, 3) // a read of many seconds: its p99 is over 200 ms by far in any case
	}
	var ds []time.Duration
	start := time.Now()
	for len(ds) < b.Max && (len(ds) < b.Min || time.Since(start) < b.Time) {
		s := time.Now()
		if err := pr.Run(ctx); err != nil {
			t.Err = err
			break
		}
		ds = append(ds, time.Since(s))
	}
	t.N = len(ds)
	if t.N == 0 {
		return t
	}
	slices.Sort(ds)
	rank := func(q float64) time.Duration { return ds[max(int(math.Ceil(q*float64(len(ds))))-1, 0)] }
	t.P50, t.P99, t.Max = rank(0.5), rank(0.99), ds[len(ds)-1]
	return t
}

// WaitMerges waits until ClickHouse merges no part of the database (a load leaves the
// ledger tables in many parts, which the server merges in the background), at most limit.
func WaitMerges(ctx context.Context, conn driver.Conn, limit time.Duration) error {
	end := time.Now().Add(limit)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&n); err != nil {
			return err
		}
		if n == 0 || time.Now().After(end) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// Shape describes a loaded database: the rows and parts of its largest tables.
func Shape(ctx context.Context, conn driver.Conn) (string, error) {
	rows, err := conn.Query(ctx, `SELECT table, toInt64(sum(rows)), toInt64(count()), toInt64(sum(bytes))
FROM system.parts WHERE active AND database = currentDatabase()
GROUP BY table ORDER BY sum(rows) DESC LIMIT 16`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var table string
		var n, parts, bytes int64
		if err := rows.Scan(&table, &n, &parts, &bytes); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  %-28s %12d rows %4d parts %8.1f MiB\n", table, n, parts, float64(bytes)/(1<<20))
	}
	return b.String(), rows.Err()
}

// Report formats the timings of the same probes over several databases (one column pair
// a database, in the order of names), marking every p99 over limit.
func Report(names []string, timings map[string][]Timing, limit time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %-50s", "group", "read path")
	for _, n := range names {
		fmt.Fprintf(&b, " | %-24s", n+" p50 / p99 (n)")
	}
	b.WriteString("\n")
	if len(names) == 0 {
		return b.String()
	}
	for i, t := range timings[names[0]] {
		fmt.Fprintf(&b, "%-9s %-50s", t.Group, t.Name)
		for _, n := range names {
			ts := timings[n]
			if i >= len(ts) {
				fmt.Fprintf(&b, " | %-24s", "-")
				continue
			}
			x := ts[i]
			cell := fmt.Sprintf("%s / %s (%d)", ms(x.P50), ms(x.P99), x.N)
			if x.Err != nil {
				cell = "error"
			}
			mark := " "
			if x.Err == nil && x.P99 > limit {
				mark = "!"
			}
			fmt.Fprintf(&b, " |%s%-24s", mark, cell)
		}
		b.WriteString("\n")
	}
	for _, n := range names {
		for _, t := range timings[n] {
			if t.Err != nil {
				fmt.Fprintf(&b, "error in %s, %s: %v\n", n, t.Name, t.Err)
			}
		}
	}
	return b.String()
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
}

// timingJSON is a Timing as EncodeTimings writes it.
type timingJSON struct {
	Group, Name string
	N           int
	P50, P99    time.Duration
	Max         time.Duration
	Err         string `json:",omitempty"`
}

// EncodeTimings writes timings by database label as JSON, for a later Compare.
func EncodeTimings(ts map[string][]Timing) ([]byte, error) {
	out := map[string][]timingJSON{}
	for k, list := range ts {
		for _, t := range list {
			j := timingJSON{Group: t.Group, Name: t.Name, N: t.N, P50: t.P50, P99: t.P99, Max: t.Max}
			if t.Err != nil {
				j.Err = t.Err.Error()
			}
			out[k] = append(out[k], j)
		}
	}
	return json.MarshalIndent(out, "", " ")
}

// DecodeTimings reads what EncodeTimings wrote.
func DecodeTimings(b []byte) (map[string][]Timing, error) {
	var in map[string][]timingJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	out := map[string][]Timing{}
	for k, list := range in {
		for _, j := range list {
			t := Timing{Group: j.Group, Name: j.Name, N: j.N, P50: j.P50, P99: j.P99, Max: j.Max}
			if j.Err != "" {
				t.Err = errors.New(j.Err)
			}
			out[k] = append(out[k], t)
		}
	}
	return out, nil
}

// Compare formats the timings of one database before and after a change: every probe of
// after (in its order), with before's timing of the probe of the same name when there is one,
// and the ratio of the p99s; a p99 over limit is marked.
func Compare(before, after []Timing, limit time.Duration) string {
	by := map[string]Timing{}
	for _, t := range before {
		by[t.Group+"\x00"+t.Name] = t
	}
	cell := func(t Timing) string {
		if t.Err != nil {
			return "error"
		}
		mark := " "
		if t.P99 > limit {
			mark = "!"
		}
		return mark + fmt.Sprintf("%s / %s (%d)", ms(t.P50), ms(t.P99), t.N)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %-55s | %-25s | %-25s | %s\n", "group", "read path", "before p50 / p99 (n)", "after p50 / p99 (n)", "p99 after/before")
	for _, t := range after {
		bt, ok := by[t.Group+"\x00"+t.Name]
		before, ratio := "-", "-"
		if ok {
			before = cell(bt)
			if bt.Err == nil && t.Err == nil && bt.P99 > 0 {
				ratio = fmt.Sprintf("%.3f", float64(t.P99)/float64(bt.P99))
			}
		}
		fmt.Fprintf(&b, "%-9s %-55s | %-25s | %-25s | %s\n", t.Group, t.Name, before, cell(t), ratio)
	}
	return b.String()
}
