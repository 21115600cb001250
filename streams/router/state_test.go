package router

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// base is the event time the clocked tests start at.
var base = time.UnixMilli(1_790_000_000_000)

// clocked applies events to one partition of each topic, as the runner
// would, stamping each record with the time the test set (its Kafka
// timestamp); the decisions it emits are read back right after, stamped
// with the same time. It keeps the log it built (every record, read-backs
// included, in the order applied) so a test can rebuild from it.
type clocked struct {
	t      *testing.T
	r      *Router
	now    time.Time
	states map[string]any
	offs   map[string]int64
	log    []runtime.Record
	outs   []runtime.Output // one per record of log
}

func newClocked(t *testing.T, cfg Config) *clocked {
	return &clocked{t: t, r: newRouter(t, cfg), now: base, states: map[string]any{}, offs: map[string]int64{}}
}

// at sets the event time of the next records to base+d.
func (c *clocked) at(d time.Duration) *clocked {
	c.now = base.Add(d)
	return c
}

func (c *clocked) state(topic string) any {
	st, ok := c.states[topic]
	if !ok {
		st = c.r.NewState(topic, 0)
		c.states[topic] = st
	}
	return st
}

func (c *clocked) apply(evs ...schemas.Event) runtime.Output {
	c.t.Helper()
	var all runtime.Output
	queue := slices.Clone(evs)
	for len(queue) > 0 {
		ev := queue[0]
		queue = queue[1:]
		topic := "pfx." + ev.Family().Topic()
		rec := runtime.Record{Topic: topic, Family: ev.Family(), Offset: c.offs[topic], Key: []byte(ev.Key()), Timestamp: c.now, Event: ev}
		c.offs[topic]++
		out, err := c.r.Apply(c.state(topic), rec)
		if err != nil {
			c.t.Fatalf("Apply %s: %v", ev.Type(), err)
		}
		c.log = append(c.log, rec)
		c.outs = append(c.outs, out)
		queue = append(queue, out.Emit...)
		all.Rows = append(all.Rows, out.Rows...)
		all.Emit = append(all.Emit, out.Emit...)
	}
	return all
}

func (c *clocked) items() *itemsState {
	return c.state("pfx." + schemas.FamilyItems.Topic()).(*itemsState)
}

func TestPendingPrelabelsExpireAndEvict(t *testing.T) {
	const ttl = time.Hour
	type step struct {
		at  time.Duration
		evs []schemas.Event
	}
	cases := []struct {
		name             string
		max              int
		steps            []step
		want             []string
		expired, evicted int64
		keys             int // StateKeys of the items state at the end
	}{
		{name: "an item arriving within the TTL gets its pre-label decided",
			steps: []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {ttl - time.Millisecond, []schemas.Event{ingest("i1")}}},
			want:  []string{"i1/q-vehicle auto_accept confident"}, keys: 1},
		{name: "at exactly the TTL the pre-label has expired: the item gets no decision",
			steps:   []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {ttl, []schemas.Event{ingest("i1")}}},
			expired: 1, keys: 1},
		{name: "any record moves the partition's event time: another item's ingest expires it",
			steps:   []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {ttl + time.Second, []schemas.Event{ingest("i2")}}},
			expired: 1, keys: 1},
		{name: "nothing expires while the log does not move, however long the wall clock runs",
			steps: []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99), pre("i2", "q-vehicle", 0.99)}}},
			keys:  2},
		{name: "a late item: a pre-label sent again after its ingest is decided",
			steps: []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {2 * ttl, []schemas.Event{ingest("i1")}},
				{2*ttl + time.Second, []schemas.Event{pre("i1", "q-vehicle", 0.5)}}},
			want: []string{"i1/q-vehicle human_review low_confidence"}, expired: 1, keys: 1},
		{name: "a late item still gets its questions without a pre-label at ingest",
			steps:   []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {2 * ttl, []schemas.Event{ingestP1("i1")}}},
			want:    []string{"i1/q-caption human_label no_prelabel"},
			expired: 1, keys: 1},
		{name: "the clock never goes back: a record stamped earlier waits from the partition's time",
			steps: []step{{0, []schemas.Event{pre("i1", "q-vehicle", 0.99)}}, {2 * ttl, []schemas.Event{ingest("i9")}},
				{ttl, []schemas.Event{pre("i2", "q-vehicle", 0.99)}}, // stamped 2*ttl: not expired on arrival
				{3*ttl - time.Millisecond, []schemas.Event{ingest("i2")}}},
			want: []string{"i2/q-vehicle auto_accept confident"}, expired: 1, keys: 2},
		{name: "full: the oldest pending pre-label is evicted",
			max: 2,
			steps: []step{{0, []schemas.Event{pre("a", "q-vehicle", 0.99)}}, {time.Second, []schemas.Event{pre("b", "q-vehicle", 0.99)}},
				{2 * time.Second, []schemas.Event{pre("c", "q-vehicle", 0.99)}}, {3 * time.Second, []schemas.Event{ingest("a"), ingest("b"), ingest("c")}}},
			want:    []string{"b/q-vehicle auto_accept confident", "c/q-vehicle auto_accept confident"},
			evicted: 1, keys: 3},
		{name: "the cap counts item/questions: one item's first question goes first",
			max: 2,
			steps: []step{{0, []schemas.Event{pre("a", "q-vehicle", 0.99), pre("a", "q-pedestrian", 0.99), pre("b", "q-vehicle", 0.99)}},
				{time.Second, []schemas.Event{ingest("a"), ingest("b")}}},
			want:    []string{"a/q-pedestrian auto_accept confident", "b/q-vehicle auto_accept confident"},
			evicted: 1, keys: 2},
		{name: "equal times: evicted in log order",
			max:     1,
			steps:   []step{{0, []schemas.Event{pre("a", "q-vehicle", 0.99), pre("b", "q-vehicle", 0.99)}}, {0, []schemas.Event{ingest("a"), ingest("b")}}},
			want:    []string{"b/q-vehicle auto_accept confident"},
			evicted: 1, keys: 2},
		{name: "a second pre-label of a waiting item/question takes no slot",
			max: 1,
			steps: []step{{0, []schemas.Event{pre("a", "q-vehicle", 0.99), pre("a", "q-vehicle", 0.1)}},
				{time.Second, []schemas.Event{ingest("a")}}},
			want: []string{"a/q-vehicle auto_accept confident"}, keys: 1},
		{name: "decided pre-labels leave the set: a full set frees up as items arrive",
			max: 1,
			steps: []step{{0, []schemas.Event{pre("a", "q-vehicle", 0.99)}}, {time.Second, []schemas.Event{ingest("a")}},
				{2 * time.Second, []schemas.Event{pre("b", "q-vehicle", 0.99)}}, {3 * time.Second, []schemas.Event{ingest("b")}}},
			want: []string{"a/q-vehicle auto_accept confident", "b/q-vehicle auto_accept confident"}, keys: 2},
		{name: "pre-labels for items never ingested: expired, no item entry left",
			steps: []step{{0, []schemas.Event{pre("x1", "q", 0.9), pre("x2", "q", 0.9), pre("x2", "q2", 0.9)}},
				{ttl, []schemas.Event{tick()}}},
			expired: 3, keys: 1}, // the tick's own item
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newClocked(t, Config{Rules: NewRuleSet(testRules()), PendingTTL: ttl, MaxPending: c.max})
			var out runtime.Output
			for _, s := range c.steps {
				o := f.at(s.at).apply(s.evs...)
				out.Emit = append(out.Emit, o.Emit...)
			}
			if got := decided(out); !slices.Equal(got, c.want) {
				t.Errorf("decisions\n got %q\nwant %q", got, c.want)
			}
			st := f.items()
			if st.expired != c.expired || st.evicted != c.evicted || f.r.m.expired.Load() != c.expired || f.r.m.evicted.Load() != c.evicted {
				t.Errorf("expired %d evicted %d (router counters %d %d), want %d %d",
					st.expired, st.evicted, f.r.m.expired.Load(), f.r.m.evicted.Load(), c.expired, c.evicted)
			}
			if k := st.StateKeys(); k != c.keys {
				t.Errorf("StateKeys = %d, want %d", k, c.keys)
			}
		})
	}
}

// tick is an items-topic record that moves time and adds nothing but its
// own item ("tick", of a project without questions to decide): every record
// the router accepts on the items topic names an item (another producer's
// decision, which once changed nothing but time, is refused now and moves
// nothing).
func tick() schemas.Event { return ingest("tick") }

// timed is an event and its record time (from base).
type timed struct {
	at time.Duration
	ev schemas.Event
}

// mixedLog is a log of n steps: items arriving before, soon after or long
// after their pre-labels (some of them boxes), or never; several questions;
// labels that agree, disagree and are retracted; spans and boxes labels by
// one to three annotators, relabeled and retracted now and then. Times
// advance by up to a minute per step; bursts of pre-labels for made-up
// items fill the pending set now and then, and first region labels that
// no second annotator answers fill the held regions.
func mixedLog(n int, seed uint64) []timed {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []timed
	var now time.Duration
	type later struct {
		at time.Duration
		ev schemas.Event
	}
	var delayed []later
	for i := range n {
		now += time.Duration(rng.IntN(60_000)) * time.Millisecond
		// Release delayed ingests that are due, in time order.
		slices.SortStableFunc(delayed, func(a, b later) int { return int(a.at - b.at) })
		for len(delayed) > 0 && delayed[0].at <= now {
			out = append(out, timed{now, delayed[0].ev})
			delayed = delayed[1:]
		}
		id := fmt.Sprintf("it-%d", i)
		q := []string{"q-vehicle", "q-pedestrian", "q-other"}[rng.IntN(3)]
		conf := rng.Float64()
		switch rng.IntN(7) {
		case 0: // item first
			out = append(out, timed{now, ingest(id)}, timed{now, pre(id, q, conf)})
		case 1: // pre-label first, item within minutes
			out = append(out, timed{now, pre(id, q, conf)})
			delayed = append(delayed, later{now + time.Duration(rng.IntN(10))*time.Minute, ingestP1(id, "occluded")})
		case 2: // pre-label first, item after hours (past the TTL of the test)
			out = append(out, timed{now, pre(id, q, conf)}, timed{now, pre(id, "q-pedestrian", conf)})
			delayed = append(delayed, later{now + time.Duration(1+rng.IntN(5))*time.Hour, ingest(id)})
		case 3: // never ingested, now and then a burst of them
			out = append(out, timed{now, pre("made-up-"+id, q, conf)})
			if rng.IntN(20) == 0 {
				for j := range 50 {
					out = append(out, timed{now, pre(fmt.Sprintf("burst-%s-%d", id, j), q, conf)})
				}
			}
		case 4: // labels
			for a := range 2 + rng.IntN(3) {
				lid := fmt.Sprintf("l-%d-%d", i, a)
				out = append(out, timed{now, label(lid, id, q, fmt.Sprintf("ann-%d", a), []string{"car", "bus"}[rng.IntN(2)])})
				if rng.IntN(4) == 0 {
					out = append(out, timed{now, retract(lid, id)})
				}
			}
		case 5: // region labels: every annotator draws the same regions, more or less
			rq := []string{"q-ner", "q-ner-loose", "q-boxes"}[rng.IntN(3)]
			base := make([][4]float64, 1+rng.IntN(60))
			for j := range base {
				base[j] = [4]float64{float64(rng.IntN(900)), float64(rng.IntN(400)), float64(5 + rng.IntN(60)), float64(rng.IntN(3))}
			}
			for a := range 1 + rng.IntN(3) {
				lid := fmt.Sprintf("r-%d-%d", i, a)
				var ss []schemas.Span
				var bs []schemas.Box
				for _, r := range base {
					if rng.IntN(6) == 0 {
						continue // missed
					}
					x, l := r[0]+float64(rng.IntN(7)-3), []string{"PER", "ORG", "LOC"}[int(r[3])]
					if rng.IntN(10) == 0 {
						l = "MISC"
					}
					x = max(x, 0)
					ss = append(ss, sp(l, int64(x), int64(x+r[2])))
					bs = append(bs, bx(l, x, r[1], r[2], r[2]/2))
				}
				ann := fmt.Sprintf("ann-%d", a)
				if rq == "q-boxes" {
					out = append(out, timed{now, boxes(lid, id, rq, ann, bs...)})
				} else {
					out = append(out, timed{now, spans(lid, id, rq, ann, ss...)})
				}
				switch rng.IntN(8) {
				case 0:
					out = append(out, timed{now, retract(lid, id)})
				case 1: // a relabel (of a boxes question: with spans, which it ignores)
					out = append(out, timed{now, spans(lid+"-again", id, rq, ann, sp("PER", 0, 5))})
				}
			}
		case 6: // boxes pre-labels, item first or after
			scores := make([]float64, rng.IntN(4))
			for j := range scores {
				scores[j] = 0.5 + rng.Float64()/2
			}
			if rng.IntN(2) == 0 {
				out = append(out, timed{now, ingest(id)}, timed{now, preBoxes(id, q, conf, scores...)})
			} else {
				out = append(out, timed{now, preBoxes(id, q, conf, scores...)})
				delayed = append(delayed, later{now + time.Duration(rng.IntN(10))*time.Minute, ingest(id)})
			}
		}
	}
	return out
}

// checkRegionsHappened fails unless the log applied to c escalated for low
// region agreement, judged other region questions without, evicted first
// region labels and routed pre-labels by their boxes: the region rules'
// state must have been through all of it for a rebuild or a snapshot test
// to prove anything about it.
func checkRegionsHappened(t *testing.T, c *clocked) {
	t.Helper()
	ls := c.state("pfx." + schemas.FamilyLabels.Topic()).(*labelsState)
	rules := map[string]int{}
	for _, o := range c.outs {
		for _, ev := range o.Emit {
			rules[ev.(*schemas.RoutingDecided).Rule]++
		}
	}
	judged := 0
	for _, li := range ls.items {
		for _, ql := range li.questions {
			if ql.judged && !ql.escalated && ql.kind != regionNone {
				judged++
			}
		}
	}
	t.Logf("region rules: %d low_region_agreement, %d judged without, %d evicted, %d regions held by %d questions; %d low_box_confidence",
		rules[RuleLowRegionAgreement], judged, ls.evicted, ls.held.regions, ls.held.live, rules[RuleLowBoxConfidence])
	if rules[RuleLowRegionAgreement] == 0 || judged == 0 || ls.evicted == 0 || rules[RuleLowBoxConfidence] == 0 || ls.held.live == 0 {
		t.Fatal("the log must escalate, judge without escalating, evict, route by box scores and leave regions held")
	}
}

// TestRebuildEqualsLive: a state rebuilt from the log, as the runner does
// on every assignment (up to any committed offset) and assay replay does
// from the start, equals the live state and produces the same output from
// there on, expiries and evictions included. They are decided by the
// log's own times, so when the rebuild runs (hours or days after the live
// router saw the records) does not matter.
func TestRebuildEqualsLive(t *testing.T) {
	cfg := Config{Rules: NewRuleSet(testRules()), PendingTTL: 30 * time.Minute, MaxPending: 100, MaxHeldRegions: MinMaxHeldRegions}
	live := newClocked(t, cfg)
	for _, e := range mixedLog(3000, 7) {
		live.at(e.at).apply(e.ev)
	}
	st := live.items()
	if st.expired == 0 || st.evicted == 0 {
		t.Fatalf("the log expired %d and evicted %d pending pre-labels: both must happen for the test to prove anything", st.expired, st.evicted)
	}
	checkRegionsHappened(t, live)
	t.Logf("log of %d records: %d pending pre-labels expired, %d evicted, %d decisions; state keys: items %d, labels %d",
		len(live.log), st.expired, st.evicted, countEmits(live.outs), st.StateKeys(), live.state("pfx."+schemas.FamilyLabels.Topic()).(*labelsState).StateKeys())

	for _, cut := range []int{0, 1, len(live.log) / 3, len(live.log) / 2, len(live.log) - 1, len(live.log)} {
		// A new owner: fresh states from the same router, the log up to the
		// cut replayed into them (their output dropped, as a rebuild
		// does), then the rest applied live.
		states := map[string]any{}
		for i, rec := range live.log {
			s, ok := states[rec.Topic]
			if !ok {
				s = live.r.NewState(rec.Topic, 0)
				states[rec.Topic] = s
			}
			out, err := live.r.Apply(s, rec)
			if err != nil {
				t.Fatal(err)
			}
			if i >= cut && !reflect.DeepEqual(out, live.outs[i]) {
				t.Fatalf("cut %d: record %d (%s) output differs from the live one:\n got %+v\nwant %+v", cut, i, rec.Event.Type(), out, live.outs[i])
			}
		}
		for topic, s := range states {
			if !reflect.DeepEqual(s, live.states[topic]) {
				t.Fatalf("cut %d: the rebuilt state of %s differs from the live one", cut, topic)
			}
		}
	}
}

func countEmits(outs []runtime.Output) int {
	n := 0
	for _, o := range outs {
		n += len(o.Emit)
	}
	return n
}

// TestPendingFlood: a million pre-labels for made-up items, a millisecond
// apart (17 minutes of event time, well inside the default TTL), through
// Apply with the default configuration: the pending set stays at the cap,
// the rest is evicted and counted. The heap in use is logged, not
// asserted.
func TestPendingFlood(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	r := newRouter(t, Config{})
	topic := "pfx." + schemas.FamilyItems.Topic()
	st := r.NewState(topic, 0).(*itemsState)
	heap := func() uint64 {
		goruntime.GC()
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	ev := &schemas.PreLabelProposed{Model: "det", ModelVersion: "1.0", Value: schemas.Nominal("car"), Confidence: 0.99, QuestionID: "q-vehicle"}
	ev.Producer = "flood"
	for i := range n {
		// A fresh event per record, with its own strings, as the decoder
		// gives the router.
		e := *ev
		e.ItemID = fmt.Sprintf("made-up-%08d-7c1e-4a1b-9d3e-5f2a6b7c8d9e", i)
		e.EventID = fmt.Sprintf("ev-%08d-7c1e-4a1b-9d3e-5f2a6b7c8d9e", i)
		e.Model, e.ModelVersion, e.QuestionID = string([]byte("det")), string([]byte("1.0")), string([]byte("q-vehicle"))
		rec := runtime.Record{Topic: topic, Offset: int64(i), Timestamp: base.Add(time.Duration(i) * time.Millisecond), Event: &e}
		if _, err := r.Apply(st, rec); err != nil {
			t.Fatal(err)
		}
		if k := st.StateKeys(); k > DefaultMaxPending {
			t.Fatalf("after %d pre-labels the state holds %d keys, above the cap %d", i+1, k, DefaultMaxPending)
		}
	}
	full := heap()
	if k := st.StateKeys(); k != DefaultMaxPending || len(st.items) != 0 {
		t.Fatalf("state keys %d (items %d), want the cap %d and no item entries", k, len(st.items), DefaultMaxPending)
	}
	if st.evicted != int64(n-DefaultMaxPending) || st.expired != 0 || r.m.evicted.Load() != st.evicted {
		t.Fatalf("evicted %d (counter %d), expired %d; want %d evicted", st.evicted, r.m.evicted.Load(), st.expired, n-DefaultMaxPending)
	}
	if len(st.pending.queue) > 2*DefaultMaxPending+1024 {
		t.Fatalf("pending queue holds %d entries for %d live ones", len(st.pending.queue), st.pending.live)
	}
	// One record a TTL later expires every one of them.
	later := runtime.Record{Topic: topic, Offset: int64(n), Timestamp: base.Add(time.Duration(n)*time.Millisecond + DefaultPendingTTL), Event: tick()}
	if _, err := r.Apply(st, later); err != nil {
		t.Fatal(err)
	}
	if k := st.StateKeys(); k != 1 || st.pending.live != 0 || st.expired != DefaultMaxPending {
		t.Fatalf("a TTL later: %d keys (%d pending), %d expired; want the tick's item only and %d expired", k, st.pending.live, st.expired, DefaultMaxPending)
	}
	after := heap()
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("%d pre-labels for made-up items: heap in use %.1f MiB before, %.1f MiB with %d pending (%.0f bytes each), %.1f MiB once they expired; %d evicted, %d expired",
		n, mib(before), mib(full), DefaultMaxPending, float64(int64(full)-int64(before))/DefaultMaxPending, mib(after), st.evicted, st.expired)
	goruntime.KeepAlive(st)
}

func TestLabelsStateIsCompact(t *testing.T) {
	f := newFeed(t, testRules())
	f.apply(label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a1", "bus"), // a relabel
		label("l3", "i2", "q", "a1", "car"), label("l4", "i2", "q", "a2", "car"),
		label("l5", "i3", "q", "a1", "car"), label("l6", "i3", "q", "a2", "bus")) // escalates
	st := f.states["pfx."+schemas.FamilyLabels.Topic()].(*labelsState)
	if k := st.StateKeys(); k != 3 {
		t.Fatalf("StateKeys = %d, want 3 items", k)
	}
	if n := len(st.items["i1"].labels); n != 1 {
		t.Errorf("i1 keeps %d label ids, want 1 (the relabel replaced the first)", n)
	}
	esc := st.items["i3"]
	if q := esc.questions["q"]; !q.escalated || q.byAnnotator != nil || len(esc.labels) != 0 {
		t.Errorf("escalated question keeps its answers: escalated %v, %d annotators, %d label ids", q.escalated, len(q.byAnnotator), len(esc.labels))
	}
	// Later labels and retractions of an escalated question change nothing.
	if out := f.apply(label("l7", "i3", "q", "a3", "van"), retract("l5", "i3")); len(out.Emit) != 0 {
		t.Errorf("after the escalation: %v", decided(out))
	}
	if q := esc.questions["q"]; q.byAnnotator != nil || len(esc.labels) != 0 {
		t.Errorf("a label after the escalation was kept")
	}
}

func TestConfig(t *testing.T) {
	r := newRouter(t, Config{})
	if r.cfg.PendingTTL != DefaultPendingTTL || r.cfg.MaxPending != DefaultMaxPending || r.cfg.RulesPoll != DefaultRulesPoll || r.cfg.MaxHeldRegions != DefaultMaxHeldRegions ||
		r.rules.Current().Version != DefaultRules().Version || r.Loader() != nil {
		t.Fatalf("zero Config: %+v, rules %s, loader %v", r.cfg, r.rules.Current().Version, r.Loader())
	}
	bad := testRules()
	bad.DefaultConfidenceThreshold = 2
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{PendingTTL: -time.Second}, "pending pre-label TTL must not be negative"},
		{Config{PendingTTL: time.Microsecond}, "at least 1ms"},
		{Config{MaxPending: -1}, "max pending pre-labels must not be negative"},
		{Config{MaxHeldRegions: -1}, "max held regions must be 0 (the default) or at least 1250"},
		{Config{MaxHeldRegions: MinMaxHeldRegions - 1}, "got 1249"},
		{Config{RulesPoll: -time.Second}, "rules poll interval must not be negative"},
		{Config{RulesFile: "x.json", Rules: NewRuleSet(testRules())}, "both a rules file and a rule set"},
		{Config{Rules: NewRuleSet(bad)}, "default_confidence_threshold must be in [0, 1]"},
		{Config{RulesFile: t.TempDir() + "/missing.json"}, "missing.json"},
	} {
		if _, err := New(c.cfg); err == nil || !containsAll(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	// Every problem at once.
	_, err := New(Config{PendingTTL: -1, MaxPending: -1})
	if err == nil || !containsAll(err.Error(), "TTL", "max pending") {
		t.Errorf("want both problems, got %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestHeldRegionsAreBounded: first region labels that no second annotator
// answers are held until the partition's budget is spent; then the
// question that has held them longest loses them, unjudged for ever, and
// the others are judged as usual. Retractions, relabels and judgements
// give their regions back.
func TestHeldRegionsAreBounded(t *testing.T) {
	r := newRouter(t, Config{Rules: NewRuleSet(testRules()), MaxHeldRegions: MinMaxHeldRegions})
	f := &feed{t: t, r: r, states: map[string]any{}, offs: map[string]int64{}}
	hundred := func(l string) []schemas.Span {
		var ss []schemas.Span
		for i := range int64(100) {
			ss = append(ss, sp(l, 10*i, 10*i+5))
		}
		return ss
	}
	// Twelve items' first labels of 100 spans: 1200 regions, within 1250.
	for i := range 12 {
		f.apply(spans(fmt.Sprintf("l%d-a", i), fmt.Sprintf("i%d", i), "q", "a1", hundred("PER")...))
	}
	ls := f.states["pfx."+schemas.FamilyLabels.Topic()].(*labelsState)
	if ls.held.regions != 1200 || ls.held.live != 12 || ls.evicted != 0 {
		t.Fatalf("held %d regions of %d questions, %d evicted; want 1200 of 12, none", ls.held.regions, ls.held.live, ls.evicted)
	}
	// A relabel replaces, a retraction gives back.
	f.apply(spans("l0-b", "i0", "q", "a1", sp("PER", 0, 5)), retract("l1-a", "i1"))
	if ls.held.regions != 1001 || ls.held.live != 11 {
		t.Fatalf("after a relabel and a retraction: %d regions of %d questions, want 1001 of 11", ls.held.regions, ls.held.live)
	}
	// Three more: 1301 > 1250, so the oldest holder (i0, first held before
	// the others even though relabeled since) loses its regions.
	for i := 12; i < 15; i++ {
		f.apply(spans(fmt.Sprintf("l%d-a", i), fmt.Sprintf("i%d", i), "q", "a1", hundred("PER")...))
	}
	if ls.held.regions != 1100+100 || ls.evicted != 2 || r.m.regionsEvicted.Load() != 2 {
		t.Fatalf("held %d regions, %d evicted (counter %d); want 1200 and 2 (i0's 1 region did not make room for 100, i2's did)",
			ls.held.regions, ls.evicted, r.m.regionsEvicted.Load())
	}
	// An evicted question is never judged; a held one is, and gives its regions back.
	out := f.apply(spans("l0-c", "i0", "q", "a2", hundred("LOC")...), spans("l2-c", "i2", "q", "a2", hundred("LOC")...),
		spans("l3-c", "i3", "q", "a2", hundred("LOC")...))
	if got := decided(out); !slices.Equal(got, []string{"i3/q expert_review low_region_agreement"}) {
		t.Fatalf("decisions %q, want i3's only", got)
	}
	if ls.held.regions != 1100 || ls.held.live != 11 {
		t.Fatalf("after the judgement: %d regions of %d questions, want 1100 of 11", ls.held.regions, ls.held.live)
	}
	for _, id := range []string{"i0", "i2"} {
		if q := ls.items[id].questions["q"]; !q.judged || q.escalated || q.byAnnotator != nil || q.heldSeq != 0 {
			t.Errorf("%s: judged %v escalated %v, %d answers, seq %d; want judged (evicted), nothing held", id, q.judged, q.escalated, len(q.byAnnotator), q.heldSeq)
		}
	}
}

// TestRegionAnswersPerQuestionAreCapped: with the region rule off nothing
// is judged, and a question holds the regions of its first
// MaxRegionLabels annotators only; a relabel of one of them still replaces.
func TestRegionAnswersPerQuestionAreCapped(t *testing.T) {
	rules := testRules()
	rules.Agreement.MinRegionF1 = 0
	f := newFeed(t, rules)
	for a := range 8 {
		f.apply(spans(fmt.Sprintf("l%d", a), "i1", "q", fmt.Sprintf("a%d", a), sp("PER", 0, 5), sp("LOC", 10, 20)))
	}
	f.apply(spans("l0-again", "i1", "q", "a0", sp("PER", 0, 5)))
	ls := f.states["pfx."+schemas.FamilyLabels.Topic()].(*labelsState)
	q := ls.items["i1"].questions["q"]
	if len(q.byAnnotator) != MaxRegionLabels || ls.held.regions != 2*MaxRegionLabels-1 || len(ls.items["i1"].labels) != MaxRegionLabels {
		t.Fatalf("%d answers, %d regions, %d label ids held; want %d answers, %d regions", len(q.byAnnotator), ls.held.regions,
			len(ls.items["i1"].labels), MaxRegionLabels, 2*MaxRegionLabels-1)
	}
	// Turned on (a reload), the held first labels are judged at the next one.
	rules.Agreement.MinRegionF1 = 0.99
	out := f.apply(spans("l1-again", "i1", "q", "a1", sp("PER", 0, 5), sp("LOC", 10, 20)))
	if got := decided(out); !slices.Equal(got, []string{"i1/q expert_review low_region_agreement"}) {
		t.Fatalf("decisions %q", got)
	}
}

// TestOversizedRegionLabelIsRefused: a label with more regions than a
// value may hold (the gateway refuses it; this one was written around it)
// is refused, so the runner sends it to the DLQ, and changes nothing.
func TestOversizedRegionLabelIsRefused(t *testing.T) {
	r := newRouter(t, Config{Rules: NewRuleSet(testRules())})
	topic := "pfx." + schemas.FamilyLabels.Topic()
	st := r.NewState(topic, 0).(*labelsState)
	if _, err := r.Apply(st, runtime.Record{Topic: topic, Event: spans("l1", "i1", "q", "a1", sp("PER", 0, 5))}); err != nil {
		t.Fatal(err)
	}
	var many []schemas.Box
	for i := range schemas.MaxRegions + 1 {
		many = append(many, bx("car", float64(i), 0, 1, 1))
	}
	before := st.StateKeys()
	_, err := r.Apply(st, runtime.Record{Topic: topic, Offset: 1, Event: boxes("l2", "i2", "q", "a1", many...)})
	if err == nil || !strings.Contains(err.Error(), "251 regions, more than the 250") {
		t.Fatalf("Apply = %v, want a refusal naming the count and the limit", err)
	}
	if st.StateKeys() != before || st.items["i2"] != nil || st.held.regions != 1 {
		t.Fatalf("the refused label changed the state: %d keys, %d regions held", st.StateKeys(), st.held.regions)
	}
}

// TestHeldRegionsMemory fills a labels partition to DefaultMaxHeldRegions
// with first labels of 10 boxes that no second annotator answers, through
// Apply, and logs the heap they take beside that of as many nominal first
// labels (not asserted): the difference is what holding the regions costs,
// the figure behind DefaultMaxHeldRegions's doc.
func TestHeldRegionsMemory(t *testing.T) {
	n := DefaultMaxHeldRegions / 10
	if testing.Short() {
		n /= 5
	}
	heap := func() uint64 {
		goruntime.GC()
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return m.HeapInuse
	}
	fill := func(value func() schemas.LabelValue) (*labelsState, uint64) {
		r := newRouter(t, Config{Rules: NewRuleSet(testRules())})
		topic := "pfx." + schemas.FamilyLabels.Topic()
		st := r.NewState(topic, 0).(*labelsState)
		before := heap()
		for i := range n {
			e := label(fmt.Sprintf("label-%08d-7c1e-4a1b-9d3e-5f2a6b7c8d9e", i), fmt.Sprintf("item-%08d-7c1e-4a1b-9d3e-5f2a6b7c8d9e", i), "q-det", "annotator-1", "")
			e.Value = value()
			if _, err := r.Apply(st, runtime.Record{Topic: topic, Offset: int64(i), Event: e}); err != nil {
				t.Fatal(err)
			}
		}
		return st, heap() - before
	}
	boxesState, withBoxes := fill(func() schemas.LabelValue {
		bs := make([]schemas.Box, 10)
		for j := range bs {
			bs[j] = bx(string([]byte("car")), float64(40*j), 10, 30, 20) // a fresh label string, as decoded
		}
		return schemas.Boxes(640, 480, bs...)
	})
	if boxesState.held.regions != 10*n || boxesState.evicted != 0 {
		t.Fatalf("held %d regions, %d evicted; want %d, none", boxesState.held.regions, boxesState.evicted, 10*n)
	}
	goruntime.KeepAlive(boxesState)
	boxesState = nil
	nominalState, nominal := fill(func() schemas.LabelValue { return schemas.Nominal(string([]byte("car"))) })
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("%d first labels, one item each: %.1f MiB with 10 boxes each, %.1f MiB nominal; holding the regions costs %.0f bytes a box (%.0f bytes a label and its item otherwise)",
		n, mib(withBoxes), mib(nominal), float64(int64(withBoxes)-int64(nominal))/float64(10*n), float64(nominal)/float64(n))
	goruntime.KeepAlive(nominalState)
}
