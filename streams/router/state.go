package router

import (
	"crypto/sha256"
	"math"
	"sync/atomic"
	"time"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// itemsState is the state of one items partition: the items ingested, the
// pre-labels waiting for their item, and the partition's event time.
type itemsState struct {
	ttl int64 // Config.PendingTTL, in milliseconds of event time
	max int   // Config.MaxPending
	m   *counters

	// clock is the partition's event time: the latest record time
	// (recordTime) applied so far, in Unix milliseconds. It only moves
	// forward, and only with the log, so expiry is a function of the log.
	clock int64
	// items holds every item ingested in the partition (and, rarely, one
	// whose decision was read back before its ingest was seen, e.g. in a
	// replay that starts later in the log).
	items   map[string]*item
	pending pendingSet
	// expired and evicted count this partition's pending pre-labels that
	// expired or were evicted; they are part of the state (a rebuild
	// counts the same), the router's counters add them up for /metrics.
	expired, evicted int64
}

func newItemsState(ttl time.Duration, max int, m *counters) *itemsState {
	return &itemsState{
		ttl: ttl.Milliseconds(), max: max, m: m,
		items:   map[string]*item{},
		pending: pendingSet{byItem: map[string]*pending{}},
	}
}

// StateKeys reports the entries of the state: items plus pending
// pre-labels (each item/question waiting counts once). Like Apply, it must
// be called from the goroutine that applies records.
func (s *itemsState) StateKeys() int { return len(s.items) + s.pending.live }

type item struct {
	ingested bool
	project  string
	tags     []string
	// decided are the questions already routed at the items stage, with
	// the pre-label each was decided on (zero for no_prelabel), which the
	// routing_decisions row takes when the decision is read back. Nil
	// until the first decision.
	decided map[string]decidedOn
}

func (it *item) isDecided(q string) bool {
	_, ok := it.decided[q]
	return ok
}

func (it *item) decide(q string, on decidedOn) {
	if it.decided == nil {
		it.decided = map[string]decidedOn{}
	}
	it.decided[q] = on
}

// decidedOn is the pre-label a decision was made on.
type decidedOn struct {
	model, modelVersion, value string
	confidence                 float64
}

// cause is what a decision records of the record that caused it.
type cause struct {
	eventID, correlationID string
	at                     int64 // the record's time, Unix ms: the decision's occurred_at
}

func causeOf(rec runtime.Record) cause {
	m := rec.Event.Meta()
	corr := m.Trace.CorrelationID
	if corr == "" {
		corr = m.EventID
	}
	return cause{eventID: m.EventID, correlationID: corr, at: recordTime(rec)}
}

// recordTime is a record's event time in Unix milliseconds: its Kafka
// timestamp, stamped by whoever produced it to the log (the gateway, or
// the router for its decisions), else the envelope's recorded_at. Not
// occurred_at: that is the client's claim (backfills carry old ones, and
// the gateway accepts any from 2000 to now+1h), while the record time
// says when the record reached the log, which is what a pre-label waiting
// for its item measures.
func recordTime(rec runtime.Record) int64 {
	if at := rec.Timestamp.UnixMilli(); !rec.Timestamp.IsZero() && at > 0 {
		return at
	}
	return rec.Event.Meta().RecordedAt
}

// prelabel is what deciding a pre-label later needs: the question, the
// values the decision and its row record, what the box-confidence rule
// reads of its boxes, and the causing record's ids and time. The record
// itself (its bytes, key, envelope, boxes) is not kept.
type prelabel struct {
	question string
	on       decidedOn
	boxes    boxScores
	cause    cause
}

// boxScores is what the box-confidence rule reads of a pre-label: how many
// boxes it proposes and the lowest of their scores, a box without a score
// counting at the pre-label's confidence (the model stated no other). Zero
// boxes for a value of another level and for an empty list of boxes, which
// are routed by their confidence alone.
type boxScores struct {
	n      int
	lowest float64
}

func boxScoresOf(v schemas.LabelValue, confidence float64) boxScores {
	if v.Level != schemas.LevelBoxes || len(v.Boxes) == 0 {
		return boxScores{}
	}
	b := boxScores{n: len(v.Boxes), lowest: math.Inf(1)}
	for _, x := range v.Boxes {
		s := confidence
		if x.Score != nil {
			s = *x.Score
		}
		if math.IsNaN(s) {
			s = 0 // no confidence at all (the gateway refuses NaN)
		}
		b.lowest = min(b.lowest, s)
	}
	return b
}

// pending is a pre-label waiting for its item.
type pending struct {
	item string
	at   int64 // the partition clock when it arrived; its age counts from here
	pl   prelabel
	next *pending // the item's next pending pre-label, in arrival order
	gone bool     // taken out of the set; still in the queue until pruned
}

// pendingSet holds the pre-labels waiting for their item, by item and in
// arrival order. Arrival stamps come from the partition clock, which
// never goes back, so arrival order is event-time order: the front of the
// queue is always the oldest, for expiry and for eviction alike.
type pendingSet struct {
	byItem map[string]*pending // item -> first of its chain
	queue  []*pending          // arrival order; entries taken out stay (gone) until pruned
	live   int                 // entries not gone
}

// has reports whether a pre-label of item/question is waiting.
func (s *pendingSet) has(itemID, q string) bool {
	for p := s.byItem[itemID]; p != nil; p = p.next {
		if p.pl.question == q {
			return true
		}
	}
	return false
}

func (s *pendingSet) add(p *pending) {
	if first := s.byItem[p.item]; first == nil {
		s.byItem[p.item] = p
	} else {
		last := first
		for last.next != nil {
			last = last.next
		}
		last.next = p
	}
	s.queue = append(s.queue, p)
	s.live++
}

// take removes and returns item's pending pre-labels, in arrival order.
func (s *pendingSet) take(itemID string) []prelabel {
	var out []prelabel
	for p := s.byItem[itemID]; p != nil; {
		out = append(out, p.pl)
		p.gone = true
		s.live--
		next := p.next
		p.next = nil
		p = next
	}
	delete(s.byItem, itemID)
	// Entries taken out stay in the queue until they reach its front;
	// compact it when they outnumber the live ones, so the queue stays
	// within twice the live entries (plus a floor) at amortised O(1).
	if n := len(s.queue); n > 1024 && n > 2*s.live {
		q := make([]*pending, 0, 2*s.live)
		for _, p := range s.queue {
			if !p.gone {
				q = append(q, p)
			}
		}
		s.queue = q
	}
	return out
}

// oldest returns the oldest live entry, or nil, pruning gone ones.
func (s *pendingSet) oldest() *pending {
	for len(s.queue) > 0 && s.queue[0].gone {
		s.popFront()
	}
	if len(s.queue) == 0 {
		return nil
	}
	return s.queue[0]
}

func (s *pendingSet) popFront() {
	s.queue[0] = nil // let the collector have it
	s.queue = s.queue[1:]
}

// shrink gives the memory of a set that was large back once it is empty:
// Go maps never shrink, so after a flood the map would keep the room of
// MaxPending entries for ever. (An empty set that was never large is left
// alone: that is most records, and they should not allocate.)
func (s *pendingSet) shrink() {
	if s.live == 0 && cap(s.queue) > 1024 {
		s.byItem, s.queue = map[string]*pending{}, nil
	}
}

// dropOldest removes the oldest live entry (which oldest just returned).
func (s *pendingSet) dropOldest() {
	p := s.queue[0]
	s.popFront()
	p.gone = true
	s.live--
	// Unlink p from its item's chain; chains are a few entries (one per
	// question of the item), and p is usually the first.
	if first := s.byItem[p.item]; first == p {
		if p.next == nil {
			delete(s.byItem, p.item)
		} else {
			s.byItem[p.item] = p.next
		}
	} else {
		for q := first; q != nil; q = q.next {
			if q.next == p {
				q.next = p.next
				break
			}
		}
	}
	p.next = nil
}

// advance moves the partition clock to rec's time (never back) and
// expires the pending pre-labels that have waited PendingTTL or longer.
func (s *itemsState) advance(rec runtime.Record) {
	s.clock = max(s.clock, recordTime(rec))
	cutoff := s.clock - s.ttl
	for p := s.pending.oldest(); p != nil && p.at <= cutoff; p = s.pending.oldest() {
		s.pending.dropOldest()
		s.expired++
		s.m.expired.Add(1)
	}
	s.pending.shrink()
}

// wait adds a pre-label to the pending set, evicting the oldest pending
// one first when the set is full.
func (s *itemsState) wait(itemID string, pl prelabel) {
	for s.pending.live >= s.max && s.pending.oldest() != nil {
		s.pending.dropOldest()
		s.evicted++
		s.m.evicted.Add(1)
	}
	s.pending.add(&pending{item: itemID, at: s.clock, pl: pl})
}

// counters are the router's totals over all its partitions since the
// process started, rebuilds included (a rebuild applies the log again, so
// it expires the same pre-labels again and counts them again).
type counters struct {
	expired, evicted atomic.Int64
	// regionsEvicted counts item/questions whose first region labels were
	// dropped unjudged (labelsState.evict).
	regionsEvicted atomic.Int64
}

// labelsState is the state of one labels partition. Agreement compares
// answers and follows annotators and label ids: annotators and answers (a
// question's canonical values) repeat, so they are interned; label ids do
// not, so they are kept as 128-bit digests (SHA-256, so no one can aim for
// a collision): a label costs a few dozen bytes, not a few hundred. None
// depends on the process, so a state snapshotted by one router restores in
// another (snapshot.go). The spans and boxes the region rule compares are
// held in a bounded set (heldSet).
type labelsState struct {
	items map[string]*labelItem
	held  heldSet
	max   int // Config.MaxHeldRegions
	m     *counters
	// evicted counts this partition's item/questions whose first region
	// labels were dropped unjudged to keep held.regions within max; part of
	// the state, like itemsState.expired.
	evicted int64
}

func newLabelsState(maxHeld int, m *counters) *labelsState {
	return &labelsState{items: map[string]*labelItem{}, max: maxHeld, m: m}
}

// StateKeys reports the entries of the state: the items with labels. Like
// Apply, it must be called from the goroutine that applies records.
func (s *labelsState) StateKeys() int { return len(s.items) }

type labelItem struct {
	questions map[string]*questionLabels
	// labels maps a label id (its digest) to its question, for
	// retractions; it holds only the labels of questions still judged
	// (not escalated, and for a region question not judged yet).
	labels map[labelID]*questionLabels
	// producers maps every label id of the item, escalated or not, to the
	// producer that submitted it, until it is retracted: only that producer
	// may retract it.
	producers map[labelID]name
}

func newLabelItem() *labelItem {
	return &labelItem{questions: map[string]*questionLabels{}, labels: map[labelID]*questionLabels{}, producers: map[labelID]name{}}
}

// name is an interned string: producers, annotators and answers repeat
// across the labels of a partition.
type name = unique.Handle[string]

// labelID is a label id's digest.
type labelID [16]byte

func digestOf(id string) labelID {
	sum := sha256.Sum256([]byte(id))
	return labelID(sum[:16])
}

// producerOf returns the producer of a label of item, "" when the
// partition has not seen it (or it was retracted).
func (s *labelsState) producerOf(itemID, id string) string {
	li := s.items[itemID]
	if li == nil {
		return ""
	}
	if p, ok := li.producers[digestOf(id)]; ok {
		return p.Value()
	}
	return ""
}

// retracted forgets the producer of a retracted label: a label id
// submitted again is a new label.
func (s *labelsState) retracted(itemID, id string) {
	if li := s.items[itemID]; li != nil {
		delete(li.producers, digestOf(id))
	}
}

type questionLabels struct {
	// byAnnotator is each annotator's latest label: agreement is between
	// annotators, and a relabel replaces the annotator's earlier answer.
	// Nil once the question is escalated or judged: the outcome stands and
	// nothing reads the answers again.
	byAnnotator map[name]annotatorLabel
	escalated   bool
	// kind is regionNone for a question the share of agreeing pairs judges,
	// or the level of the regions the region rule compares (regionSpans,
	// regionBoxes), set by the question's first label.
	kind regionKind
	// judged: the region rule judged the first labels (escalated or not),
	// or dropped them unjudged (evicted); later labels change nothing.
	judged bool
	// heldSeq is the question's place in the partition's held queue, 0
	// while it holds no regions.
	heldSeq int64
}

type annotatorLabel struct {
	label labelID
	value name // the answer's valueKey
	// regions are the answer's spans or boxes when the question's kind is a
	// region kind, nil otherwise.
	regions *heldRegions
}

// regionKind says which rule judges a question and, for the region rule,
// which regions it compares.
type regionKind uint8

const (
	regionNone regionKind = iota
	regionSpans
	regionBoxes
)

func kindOf(v schemas.LabelValue) regionKind {
	switch v.Level {
	case schemas.LevelSpans:
		return regionSpans
	case schemas.LevelBoxes:
		return regionBoxes
	}
	return regionNone
}

// heldRegions is one answer's regions as the region rule compares them:
// labels interned, no scores (a person's box has none, and agreement
// ignores them).
type heldRegions struct {
	spans []regions.Span
	boxes []regions.Box
}

func heldOf(v schemas.LabelValue) *heldRegions {
	h := &heldRegions{}
	switch kindOf(v) {
	case regionSpans:
		h.spans = make([]regions.Span, len(v.Spans))
		for i, x := range v.Spans {
			h.spans[i] = regions.Span{Label: unique.Make(x.Label).Value(), Start: x.Start, End: x.End}
		}
	case regionBoxes:
		h.boxes = make([]regions.Box, len(v.Boxes))
		for i, x := range v.Boxes {
			h.boxes[i] = regions.Box{Label: unique.Make(x.Label).Value(), X: x.X, Y: x.Y, W: x.W, H: x.H}
		}
	}
	return h
}

// len is the number of regions held; a nil heldRegions holds none.
func (h *heldRegions) len() int {
	if h == nil {
		return 0
	}
	return len(h.spans) + len(h.boxes)
}

// heldSet keeps the region answers of a labels partition within a budget
// of regions. A question joins the queue when it first holds an answer
// and leaves it when it holds none (judged, escalated, retracted or
// evicted); when the partition holds more regions than the budget, the
// question that has held answers longest loses them unjudged (evicted).
// Queue order is log order, so eviction is a function of the log, and a
// rebuilt state evicts what the live one did.
type heldSet struct {
	// queue lists questions in the order they started holding answers; an
	// entry whose question's heldSeq is no longer its seq is stale and
	// stays until it reaches the front or the queue is compacted.
	queue   []heldEntry
	seq     int64 // the last seq given
	live    int   // questions holding answers
	regions int   // regions held
}

type heldEntry struct {
	item, question string
	seq            int64
}

// question returns the question an entry names if the entry is not stale.
func (s *labelsState) question(e heldEntry) (*labelItem, *questionLabels) {
	li := s.items[e.item]
	if li == nil {
		return nil, nil
	}
	ql := li.questions[e.question]
	if ql == nil || ql.heldSeq != e.seq {
		return nil, nil
	}
	return li, ql
}

// hold records a's answer al to question q of item (replacing a's earlier
// one, which the caller has taken out of li.labels) and puts the question
// in the queue if it was not there.
func (s *labelsState) hold(itemID, q string, li *labelItem, ql *questionLabels, a name, al annotatorLabel) {
	if old, ok := ql.byAnnotator[a]; ok {
		s.held.regions -= old.regions.len()
	}
	if ql.heldSeq == 0 {
		s.held.seq++
		ql.heldSeq = s.held.seq
		s.held.queue = append(s.held.queue, heldEntry{item: itemID, question: q, seq: ql.heldSeq})
		s.held.live++
	}
	ql.byAnnotator[a] = al
	li.labels[al.label] = ql
	s.held.regions += al.regions.len()
}

// unheld takes a's answer out of the held regions (the caller deletes it
// from byAnnotator), and the question out of the queue when it holds no
// answer any more.
func (s *labelsState) unheld(ql *questionLabels, al annotatorLabel, remaining int) {
	s.held.regions -= al.regions.len()
	if remaining == 0 && ql.heldSeq != 0 {
		s.leave(ql)
	}
}

// leave takes ql out of the queue (its entry goes stale).
func (s *labelsState) leave(ql *questionLabels) {
	ql.heldSeq = 0
	s.held.live--
	// Compact when stale entries outnumber live ones, so the queue stays
	// within twice the live entries (plus a floor) at amortised O(1).
	if n := len(s.held.queue); n > 1024 && n > 2*s.held.live {
		q := make([]heldEntry, 0, 2*s.held.live)
		for _, e := range s.held.queue {
			if _, live := s.question(e); live != nil {
				q = append(q, e)
			}
		}
		s.held.queue = q
	}
}

// drop forgets every answer of ql (judged, escalated or evicted): they
// leave the held regions, the queue and the retraction index.
func (s *labelsState) drop(li *labelItem, ql *questionLabels) {
	for _, l := range ql.byAnnotator {
		s.held.regions -= l.regions.len()
		if li.labels[l.label] == ql {
			delete(li.labels, l.label)
		}
	}
	ql.byAnnotator = nil
	if ql.heldSeq != 0 {
		s.leave(ql)
	}
}

// evict drops the answers of the questions that have held them longest
// until the partition holds at most max regions; each such question is
// judged no more (its first labels are gone).
func (s *labelsState) evict() {
	for s.held.regions > s.max && len(s.held.queue) > 0 {
		e := s.held.queue[0]
		s.held.queue[0] = heldEntry{}
		s.held.queue = s.held.queue[1:]
		li, ql := s.question(e)
		if ql == nil {
			continue // stale
		}
		s.drop(li, ql)
		ql.judged = true
		s.evicted++
		s.m.regionsEvicted.Add(1)
	}
	if len(s.held.queue) == 0 && cap(s.held.queue) > 1024 {
		s.held.queue = nil // give a large queue's memory back
	}
}
