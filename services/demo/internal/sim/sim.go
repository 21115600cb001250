// Package sim holds what the demo's structured programs (services/demo/ner, detection and
// preference) share: a stream that stamps their events deterministically, their annotator
// pools, and seeded random sources. It holds no noise model: each program states its own.
package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/assay-data/assay/schemas"
)

// BaseMillis is the instant every program starts at, 2026-01-01T00:00:00Z, as
// services/demo/annotation's (services/demo.Shift moves a program to end when it is played).
const BaseMillis = 1_767_225_600_000

// Stream stamps the events of one program and keeps them in production order.
type Stream struct {
	// Prefix starts every event id ("<run>-ner"); distinct programs never share one.
	Prefix string
	// Producer is stamped on every event; the gateway replaces it with the principal that
	// sends the event.
	Producer string
	// Events are the stamped events, in production order.
	Events []schemas.Event
	n      int
}

// Emit stamps ev with the next event id, its occurrence offsetMillis after BaseMillis and its
// key as correlation id, and appends it.
func (s *Stream) Emit(ev schemas.Event, offsetMillis int64) {
	s.n++
	m := ev.Meta()
	m.EventID = fmt.Sprintf("%s-ev-%d", s.Prefix, s.n)
	m.OccurredAt = BaseMillis + offsetMillis
	m.Trace.CorrelationID = ev.Key()
	schemas.Stamp(ev, s.Producer, time.UnixMilli(m.OccurredAt+100))
	s.Events = append(s.Events, ev)
}

// Team is a cohort as a pool sees it: its name, its vendor ("" in house) and its size.
type Team struct {
	Name, Vendor string
	Annotators   int
}

// Annotator is one member of a program's pool.
type Annotator struct {
	// ID is "<prefix>-<cohort>-<member>".
	ID string
	// Cohort and Vendor are its team's.
	Cohort, Vendor string
	// Team is the index of its team in the pool's teams, Member its index in the team.
	Team, Member int
}

// Pool lists the annotators of teams, team by team.
func Pool(prefix string, teams []Team) []Annotator {
	var out []Annotator
	for ti, t := range teams {
		for m := range t.Annotators {
			out = append(out, Annotator{ID: fmt.Sprintf("%s-%s-%d", prefix, t.Name, m), Cohort: t.Name, Vendor: t.Vendor, Team: ti, Member: m})
		}
	}
	return out
}

// Raters draws k distinct annotators of pool (all of them when the pool is smaller), uniformly.
func Raters(rnd *rand.Rand, pool []Annotator, k int) []Annotator {
	perm := rnd.Perm(len(pool))[:min(k, len(pool))]
	out := make([]Annotator, len(perm))
	for i, p := range perm {
		out[i] = pool[p]
	}
	return out
}

// Rand returns the random source of seed for one purpose (salt): the programs draw from
// sources of their own, so adding a program or a kind of event to one leaves the others'
// draws as they were.
func Rand(seed, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^salt, (seed+salt)*0x9e3779b97f4a7c15|1))
}

// Weighted draws an index with probability proportional to weights (all >= 0, some > 0).
func Weighted(rnd *rand.Rand, weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	u := rnd.Float64() * sum
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// Delay is a label's delay after its item's ingest: a minute, plus an exponential wait of
// mean meanMinutes, so cycle-time quantiles are meaningful (as services/demo/annotation's).
func Delay(rnd *rand.Rand, meanMinutes float64) int64 {
	return 60_000 + int64(rnd.ExpFloat64()*meanMinutes*60_000)
}

// SHA256 is the hex SHA-256 of s: a stable content hash for a generated item.
func SHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Round rounds x to places decimals.
func Round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
