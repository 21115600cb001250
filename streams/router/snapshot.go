package router

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unique"

	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// stateVersion is the version of the router's snapshot encoding (runtime.Snapshotter), for both
// of its states: raise it with any change of the encoding or of what a state means.
const stateVersion = 1

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
	n := d.Len(3)
	s.items = make(map[string]*labelItem, n)
	for range n {
		id := d.String()
		li := newLabelItem()
		nq := d.Len(3)
		for range nq {
			q := c.name()
			ql := &questionLabels{escalated: d.Bool()}
			na := d.Len(18)
			if !ql.escalated {
				ql.byAnnotator = make(map[name]annotatorLabel, na)
			} else if na > 0 && d.Err() == nil {
				d.Fail(errors.New("an escalated question with answers"))
			}
			for range na {
				a := handle(c.name())
				l := annotatorLabel{label: labelID(d.Bytes16()), value: handle(c.name())}
				if d.Err() != nil {
					return
				}
				ql.byAnnotator[a] = l
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
}
