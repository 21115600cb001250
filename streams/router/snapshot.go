package router

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unique"

	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// stateVersion is the version of the router's snapshot encoding (runtime.Snapshotter), for both
// of its states: raise it with any change of the encoding or of what a state means.
//
// Version 2: pending pre-labels carry their box scores; questions their region kind, whether the
// region rule judged them and their place in the held queue; answers of region questions their
// regions; the labels state its held queue's last seq and its evictions.
const stateVersion = 2

var _ runtime.Snapshotter = (*Router)(nil)

// StateVersion implements runtime.Snapshotter.
func (*Router) StateVersion() uint32 { return stateVersion }

// EncodeState implements runtime.Snapshotter. Maps are written sorted (items and questions by
// id, label digests as numbers), names (projects, questions, tags, models, answers, annotators,
// producers) through string tables; a pending pre-label is written in arrival order, without
// the entries taken out of the set that its queue still holds until they are pruned.
func (*Router) EncodeState(state any, w io.Writer) error {
	e := statecodec.NewEncoder(w)
	switch s := state.(type) {
	case *itemsState:
		s.encode(e)
	case *labelsState:
		s.encode(e)
	default:
		return fmt.Errorf("router: state %T", state)
	}
	return e.Close()
}

// DecodeState implements runtime.Snapshotter. An items state takes the router's PendingTTL and
// MaxPending, as NewState does: the limits are configuration, not state.
func (r *Router) DecodeState(topic string, partition int32, rd io.Reader) (any, error) {
	d, err := statecodec.NewDecoder(rd)
	if err != nil {
		return nil, err
	}
	var state any
	switch s := r.NewState(topic, partition).(type) {
	case *itemsState:
		s.decode(d)
		state = s
	case *labelsState:
		s.decode(d)
		state = s
	default:
		return nil, errors.New("router: no state for topic " + topic)
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("router state of %s: %w", topic, err)
	}
	return state, nil
}

// codec is an encoder with its tables of names.
type codec struct {
	e     *statecodec.Encoder
	names statecodec.Names
}

func (c *codec) name(s string) { c.names.Put(c.e, s) }

func (c *codec) on(d decidedOn) {
	c.name(d.model)
	c.name(d.modelVersion)
	c.name(d.value)
	c.e.Float64(d.confidence)
}

type decodec struct {
	d     *statecodec.Decoder
	names statecodec.NameList
}

func (c *decodec) name() string { return c.names.Get(c.d) }

func (c *decodec) on() decidedOn {
	return decidedOn{model: c.name(), modelVersion: c.name(), value: c.name(), confidence: c.d.Float64()}
}

func (s *itemsState) encode(e *statecodec.Encoder) {
	c := &codec{e: e}
	e.Varint(s.clock)
	e.Varint(s.expired)
	e.Varint(s.evicted)
	ids := make([]string, 0, len(s.items))
	for id := range s.items {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	e.Len(len(ids))
	for _, id := range ids {
		it := s.items[id]
		e.String(id)
		e.Bool(it.ingested)
		c.name(it.project)
		e.Len(len(it.tags))
		for _, t := range it.tags {
			c.name(t)
		}
		// nil (no decision yet) and empty differ in memory only; both are written as none.
		qs := make([]string, 0, len(it.decided))
		for q := range it.decided {
			qs = append(qs, q)
		}
		slices.Sort(qs)
		e.Len(len(qs))
		for _, q := range qs {
			c.name(q)
			c.on(it.decided[q])
		}
	}
	e.Len(s.pending.live)
	for _, p := range s.pending.queue {
		if p.gone {
			continue
		}
		e.String(p.item)
		e.Varint(p.at)
		c.name(p.pl.question)
		c.on(p.pl.on)
		e.Len(p.pl.boxes.n)
		if p.pl.boxes.n > 0 {
			e.Float64(p.pl.boxes.lowest)
		}
		e.String(p.pl.cause.eventID)
		e.String(p.pl.cause.correlationID)
		e.Varint(p.pl.cause.at)
	}
}

func (s *itemsState) decode(d *statecodec.Decoder) {
	c := &decodec{d: d}
	s.clock, s.expired, s.evicted = d.Varint(), d.Varint(), d.Varint()
	n := d.Len(5)
	s.items = make(map[string]*item, n)
	for range n {
		id := d.String()
		it := &item{ingested: d.Bool(), project: c.name()}
		if m := d.Len(1); m > 0 {
			it.tags = make([]string, m)
			for i := range it.tags {
				it.tags[i] = c.name()
			}
		}
		if m := d.Len(12); m > 0 {
			it.decided = make(map[string]decidedOn, m)
			for range m {
				q := c.name()
				it.decided[q] = c.on()
			}
		}
		if _, dup := s.items[id]; dup && d.Err() == nil {
			d.Fail(fmt.Errorf("item %q twice", id))
		}
		s.items[id] = it
	}
	n = d.Len(17)
	for range n {
		p := &pending{item: d.String(), at: d.Varint()}
		p.pl.question = c.name()
		p.pl.on = c.on()
		if p.pl.boxes.n = d.Len(1); p.pl.boxes.n > 0 {
			p.pl.boxes.lowest = d.Float64()
		}
		p.pl.cause = cause{eventID: d.String(), correlationID: d.String(), at: d.Varint()}
		if d.Err() != nil {
			return
		}
		s.pending.add(p)
	}
}

func (s *labelsState) encode(e *statecodec.Encoder) {
	c := &codec{e: e}
	ids := make([]string, 0, len(s.items))
	for id := range s.items {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	e.Len(len(ids))
	for _, id := range ids {
		li := s.items[id]
		e.String(id)
		// Questions, with each annotator's latest label.
		qs := make([]string, 0, len(li.questions))
		for q := range li.questions {
			qs = append(qs, q)
		}
		slices.Sort(qs)
		e.Len(len(qs))
		for _, q := range qs {
			ql := li.questions[q]
			c.name(q)
			e.Bool(ql.escalated)
			e.Uvarint(uint64(ql.kind))
			e.Bool(ql.judged)
			e.Varint(ql.heldSeq)
			anns := make([]name, 0, len(ql.byAnnotator))
			for a := range ql.byAnnotator {
				anns = append(anns, a)
			}
			slices.SortFunc(anns, func(a, b name) int { return strings.Compare(a.Value(), b.Value()) })
			e.Len(len(anns))
			for _, a := range anns {
				l := ql.byAnnotator[a]
				c.name(a.Value())
				e.Bytes16(l.label)
				c.name(l.value.Value())
				if ql.kind != regionNone {
					c.regions(l.regions)
				}
			}
		}
		// The labels a retraction finds, by the question they count in: mostly
		// the inverse of the answers above, but not always (a label id reused
		// by another annotator stays an answer when the first relabels).
		qof := make(map[*questionLabels]string, len(li.questions))
		for q, ql := range li.questions {
			qof[ql] = q
		}
		e.Len(len(li.labels))
		for _, k := range statecodec.SortedKeys16(li.labels) {
			e.Bytes16(k)
			c.name(qof[li.labels[k]])
		}
		e.Len(len(li.producers))
		for _, k := range statecodec.SortedKeys16(li.producers) {
			e.Bytes16(k)
			c.name(li.producers[k].Value())
		}
	}
	// The held queue is the questions' heldSeq in order (decode rebuilds it);
	// the regions held and the questions holding them are sums.
	e.Varint(s.held.seq)
	e.Varint(s.evicted)
}

// regions writes a region answer: its spans or its boxes (the question's kind says which).
func (c *codec) regions(h *heldRegions) {
	c.e.Len(len(h.spans))
	for _, x := range h.spans {
		c.name(x.Label)
		c.e.Varint(x.Start)
		c.e.Varint(x.End)
	}
	c.e.Len(len(h.boxes))
	for _, x := range h.boxes {
		c.name(x.Label)
		c.e.Float64(x.X)
		c.e.Float64(x.Y)
		c.e.Float64(x.W)
		c.e.Float64(x.H)
	}
}

func (c *decodec) regions(kind regionKind) *heldRegions {
	h := &heldRegions{}
	n := c.d.Len(3)
	if kind == regionSpans {
		h.spans = make([]regions.Span, n)
	} else if n > 0 && c.d.Err() == nil {
		c.d.Fail(errors.New("spans held for a boxes question"))
	}
	for i := range n {
		x := regions.Span{Label: unique.Make(c.name()).Value(), Start: c.d.Varint(), End: c.d.Varint()}
		if c.d.Err() != nil {
			return h
		}
		h.spans[i] = x
	}
	n = c.d.Len(33)
	if kind == regionBoxes {
		h.boxes = make([]regions.Box, n)
	} else if n > 0 && c.d.Err() == nil {
		c.d.Fail(errors.New("boxes held for a spans question"))
	}
	for i := range n {
		x := regions.Box{Label: unique.Make(c.name()).Value(), X: c.d.Float64(), Y: c.d.Float64(), W: c.d.Float64(), H: c.d.Float64()}
		if c.d.Err() != nil {
			return h
		}
		h.boxes[i] = x
	}
	return h
}

func (s *labelsState) decode(d *statecodec.Decoder) {
	c := &decodec{d: d}
	// Interned once per distinct name, not per label.
	handles := map[string]name{}
	handle := func(v string) name {
		h, ok := handles[v]
		if !ok {
			h = unique.Make(v)
			handles[v] = h
		}
		return h
	}
	var held []heldEntry
	n := d.Len(3)
	s.items = make(map[string]*labelItem, n)
	for range n {
		id := d.String()
		li := newLabelItem()
		nq := d.Len(3)
		for range nq {
			q := c.name()
			escalated, kind := d.Bool(), d.Uvarint()
			ql := &questionLabels{escalated: escalated, kind: regionKind(kind), judged: d.Bool(), heldSeq: d.Varint()}
			if kind > uint64(regionBoxes) && d.Err() == nil {
				d.Fail(fmt.Errorf("question %q of item %q: region kind %d", q, id, kind))
			}
			na := d.Len(18)
			if !ql.escalated && !ql.judged {
				ql.byAnnotator = make(map[name]annotatorLabel, na)
			} else if na > 0 && d.Err() == nil {
				d.Fail(errors.New("an escalated or judged question with answers"))
			}
			for range na {
				a := handle(c.name())
				l := annotatorLabel{label: labelID(d.Bytes16()), value: handle(c.name())}
				if ql.kind != regionNone {
					l.regions = c.regions(ql.kind)
				}
				if d.Err() != nil {
					return
				}
				ql.byAnnotator[a] = l
				s.held.regions += l.regions.len()
			}
			// A region question holding answers is in the queue, and only such a question.
			if holds := ql.kind != regionNone && len(ql.byAnnotator) > 0; holds != (ql.heldSeq > 0) {
				if d.Err() == nil {
					d.Fail(fmt.Errorf("question %q of item %q: held seq %d with %d answers", q, id, ql.heldSeq, len(ql.byAnnotator)))
				}
				return
			}
			if ql.heldSeq > 0 {
				held = append(held, heldEntry{item: id, question: q, seq: ql.heldSeq})
			}
			li.questions[q] = ql
		}
		nl := d.Len(17)
		for range nl {
			k := labelID(d.Bytes16())
			ql := li.questions[c.name()]
			if ql == nil && d.Err() == nil {
				d.Fail(errors.New("a label of a question the item does not have"))
			}
			li.labels[k] = ql
		}
		np := d.Len(17)
		for range np {
			k := labelID(d.Bytes16())
			li.producers[k] = handle(c.name())
		}
		if _, dup := s.items[id]; dup && d.Err() == nil {
			d.Fail(fmt.Errorf("item %q twice", id))
		}
		s.items[id] = li
	}
	s.held.seq, s.evicted = d.Varint(), d.Varint()
	slices.SortFunc(held, func(a, b heldEntry) int { return cmp.Compare(a.seq, b.seq) })
	for i, e := range held {
		if (i > 0 && held[i-1].seq == e.seq || e.seq > s.held.seq) && d.Err() == nil {
			d.Fail(fmt.Errorf("held queue: seq %d repeated or past the last given (%d)", e.seq, s.held.seq))
		}
	}
	if len(held) > 0 {
		s.held.queue = held
	}
	s.held.live = len(held)
}
