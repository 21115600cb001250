package kpi

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// Snapshots (runtime.Snapshotter). Each processor writes its partition
// state with streams/runtime/statecodec: maps in a sorted order (digests
// as big-endian numbers, names as strings), so equal states give equal
// bytes; names and values through tables of interned strings, so they cost
// a byte or two per key; 128-bit digests as 16 bytes. What can be derived
// is not written: the agreement's labels (every entry of a live unit) and
// the accuracy's labelIQ (every scored label's item question) are rebuilt
// from the units and the labels. Increase a processor's state version with
// any change of its encoding or of the meaning of its state.
//
// Cost, measured by BenchmarkSnapshot (ns/key and bytes/key of the encoded
// state, over the state keys of StateKeys) is in doc.go, "State".

// State versions of the KPI processors' snapshots.
const (
	agreementStateVersion = 1
	accuracyStateVersion  = 1
	flowStateVersion      = 1
)

var (
	_ runtime.Snapshotter = (*Agreement)(nil)
	_ runtime.Snapshotter = (*Accuracy)(nil)
	_ runtime.Snapshotter = (*Flow)(nil)
)

// codec holds an encoder's string tables: names and values.
type codec struct {
	e    *statecodec.Encoder
	strs statecodec.Interned[string]
	vals statecodec.Interned[agreement.Value]
}

func (c *codec) str(h str)     { c.strs.Put(c.e, h) }
func (c *codec) val(h value)   { c.vals.Put(c.e, h) }
func (c *codec) id(id id128)   { c.e.Bytes16(id) }
func (c *codec) count(n int64) { c.e.Varint(n) }

// decodec holds a decoder's string tables.
type decodec struct {
	d    *statecodec.Decoder
	strs statecodec.Handles[string]
	vals statecodec.Handles[agreement.Value]
}

func (c *decodec) str() str     { return c.strs.Get(c.d) }
func (c *decodec) val() value   { return c.vals.Get(c.d) }
func (c *decodec) id() id128    { return c.d.Bytes16() }
func (c *decodec) count() int64 { return c.d.Varint() }

func newDecodec(r io.Reader) (*decodec, error) {
	d, err := statecodec.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	return &decodec{d: d}, nil
}

// cmpStr orders interned strings by their text.
func cmpStr(a, b str) int {
	if a == b {
		return 0
	}
	return strings.Compare(a.Value(), b.Value())
}

func cmpVal(a, b value) int {
	if a == b {
		return 0
	}
	return cmp.Compare(a.Value(), b.Value())
}

// sortedKeys returns m's keys in the order of compare.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// putApplied writes a set of event keys, sorted.
func (c *codec) putApplied(applied map[id128]struct{}) {
	c.e.Len(len(applied))
	for _, k := range statecodec.SortedKeys16(applied) {
		c.id(k)
	}
}

func (c *decodec) applied() map[id128]struct{} {
	n := c.d.Len(16)
	m := make(map[id128]struct{}, n)
	for range n {
		m[c.id()] = struct{}{}
	}
	if len(m) != n && c.d.Err() == nil {
		c.d.Fail(fmt.Errorf("applied: %d keys for %d entries", len(m), n))
	}
	return m
}

func cmpCellKey(x, y cellKey) int {
	return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.level, y.level),
		cmpStr(x.scope, y.scope), cmp.Compare(x.size, y.size), cmpVal(x.a, y.a), cmpVal(x.b, y.b))
}

func (c *codec) cellKey(k cellKey) {
	c.str(k.project)
	c.str(k.question)
	c.str(k.level)
	c.str(k.scope)
	c.e.Int(k.size)
	c.val(k.a)
	c.val(k.b)
}

func (c *decodec) cellKey() cellKey {
	return cellKey{project: c.str(), question: c.str(), level: c.str(), scope: c.str(), size: c.d.Int(), a: c.val(), b: c.val()}
}

// StateVersion implements runtime.Snapshotter.
func (*Agreement) StateVersion() uint32 { return agreementStateVersion }

// EncodeState implements runtime.Snapshotter.
func (*Agreement) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*AgreementState)
	if !ok {
		return fmt.Errorf("agreement: state is %T, want *AgreementState", state)
	}
	c := &codec{e: statecodec.NewEncoder(w)}
	// Units by item digest first: digests rarely tie, so names are seldom
	// compared.
	units := make([]*unit, 0, len(s.units))
	for _, u := range s.units {
		units = append(units, u)
	}
	statecodec.SortByDigest(units, func(u *unit) [16]byte { return u.key.item }, func(x, y *unit) int {
		return cmp.Or(cmpStr(x.key.project, y.key.project), cmpStr(x.key.question, y.key.question), cmpStr(x.key.level, y.key.level))
	})
	c.e.Len(len(s.labels))
	c.e.Len(len(units))
	for _, u := range units {
		c.id(u.key.item)
		c.str(u.key.project)
		c.str(u.key.question)
		c.str(u.key.level)
		c.e.Varint(u.day)
		c.e.Len(len(u.entries))
		for _, en := range u.entries {
			c.id(en.label)
			c.str(en.annotator)
			c.str(en.cohort)
			c.str(en.vendor)
			c.str(en.producer)
			c.val(en.value)
		}
	}
	c.e.Len(len(s.cells))
	for _, k := range sortedKeys(s.cells, cmpCellKey) {
		c.cellKey(k)
		c.count(s.cells[k])
	}
	c.e.Len(len(s.daily))
	for _, k := range sortedKeys(s.daily, func(x, y dayCellKey) int {
		return cmp.Or(cmpCellKey(x.cellKey, y.cellKey), cmp.Compare(x.day, y.day))
	}) {
		c.cellKey(k.cellKey)
		c.e.Varint(k.day)
		c.count(s.daily[k])
	}
	c.e.Len(len(s.profiles))
	for _, k := range sortedKeys(s.profiles, func(x, y profileKey) int {
		return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.level, y.level),
			cmpStr(x.scope, y.scope), cmp.Compare(x.day, y.day), cmpStr(x.profile, y.profile))
	}) {
		c.str(k.project)
		c.str(k.question)
		c.str(k.level)
		c.str(k.scope)
		c.e.Varint(k.day)
		c.str(k.profile)
		c.count(s.profiles[k])
	}
	c.e.Len(len(s.pairs))
	for _, k := range sortedKeys(s.pairs, func(x, y annKey) int {
		return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.annotator, y.annotator))
	}) {
		c.str(k.project)
		c.str(k.question)
		c.str(k.annotator)
		pc := s.pairs[k]
		c.count(pc.pairs)
		c.count(pc.agreements)
	}
	c.e.Len(len(s.kappa))
	for _, k := range sortedKeys(s.kappa, func(x, y pairCellKey) int {
		return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.level, y.level),
			cmpStr(x.a, y.a), cmpStr(x.b, y.b), cmpVal(x.va, y.va), cmpVal(x.vb, y.vb))
	}) {
		c.str(k.project)
		c.str(k.question)
		c.str(k.level)
		c.str(k.a)
		c.str(k.b)
		c.val(k.va)
		c.val(k.vb)
		c.count(s.kappa[k])
	}
	c.putApplied(s.applied)
	return c.e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (a *Agreement) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	c, err := newDecodec(r)
	if err != nil {
		return nil, err
	}
	s := &AgreementState{topic: topic, partition: partition}
	d := c.d
	nlabels := d.Len(0)
	// A unit takes at least 16 + 3 + 1 + 1 bytes, an entry 16 + 5.
	nunits := d.Len(21)
	if nlabels > d.Remaining()/21 {
		d.Fail(fmt.Errorf("%d labels announced, %d bytes left", nlabels, d.Remaining()))
		nlabels = 0
	}
	s.labels = make(map[id128]*unit, nlabels)
	s.units = make(map[unitKey]*unit, nunits)
	// Units and their entries are allocated in two slabs, not two objects a
	// unit: a restore of millions of units allocates (and the collector
	// traces) a handful of objects. Apply never writes past a unit's
	// entries (it appends to a clipped slice and deletes from a copy), so
	// the units sharing a slab stay apart.
	units := make([]unit, nunits)
	entries := make([]entry, 0, nlabels)
	for ui := range nunits {
		u := &units[ui]
		u.key.item = c.id()
		u.key.project, u.key.question, u.key.level = c.str(), c.str(), c.str()
		u.day = d.Varint()
		n := d.Len(21)
		if n == 0 && d.Err() == nil {
			d.Fail(fmt.Errorf("unit without labels"))
		}
		if len(entries)+n > cap(entries) { // more than announced: the check below refuses it
			entries = make([]entry, 0, n)
		}
		at := len(entries)
		entries = entries[:at+n]
		u.entries = entries[at : at+n : at+n]
		for i := range u.entries {
			u.entries[i] = entry{label: c.id(), annotator: c.str(), cohort: c.str(), vendor: c.str(), producer: c.str(), value: c.val()}
			// A label in two units leaves fewer labels than announced: refused
			// below, without a lookup per label here.
			s.labels[u.entries[i].label] = u
		}
		s.units[u.key] = u
		if d.Err() != nil {
			return nil, d.Err()
		}
	}
	if d.Err() == nil && (len(s.units) != nunits || len(s.labels) != nlabels) {
		d.Fail(fmt.Errorf("%d units and %d labels decoded, %d and %d announced", len(s.units), len(s.labels), nunits, nlabels))
	}
	n := d.Len(8)
	s.cells = make(map[cellKey]int64, n)
	for range n {
		k := c.cellKey()
		s.cells[k] = c.count()
	}
	n = d.Len(9)
	s.daily = make(map[dayCellKey]int64, n)
	for range n {
		k := dayCellKey{cellKey: c.cellKey()}
		k.day = d.Varint()
		s.daily[k] = c.count()
	}
	n = d.Len(7)
	s.profiles = make(map[profileKey]int64, n)
	for range n {
		k := profileKey{project: c.str(), question: c.str(), level: c.str(), scope: c.str()}
		k.day = d.Varint()
		k.profile = c.str()
		s.profiles[k] = c.count()
	}
	// The all-time profile totals are the days' sums: not encoded, recomputed.
	s.profileTotals = make(map[profileTotalKey]int64, n)
	for k, units := range s.profiles {
		s.profileTotals[profileTotalKey{k.project, k.question, k.level, k.scope, k.profile}] += units
	}
	n = d.Len(5)
	s.pairs = make(map[annKey]pairCount, n)
	for range n {
		k := annKey{project: c.str(), question: c.str(), annotator: c.str()}
		s.pairs[k] = pairCount{pairs: c.count(), agreements: c.count()}
	}
	n = d.Len(8)
	s.kappa = make(map[pairCellKey]int64, n)
	for range n {
		k := pairCellKey{project: c.str(), question: c.str(), level: c.str(), a: c.str(), b: c.str(), va: c.val(), vb: c.val()}
		s.kappa[k] = c.count()
	}
	s.applied = c.applied()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("agreement state: %w", err)
	}
	return s, nil
}

// StateVersion implements runtime.Snapshotter.
func (*Accuracy) StateVersion() uint32 { return accuracyStateVersion }

// sortedIQ returns the keys of a map by item question, sorted by item digest,
// then question.
func sortedIQ[V any](m map[itemQuestion]V) []itemQuestion {
	keys := make([]itemQuestion, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	statecodec.SortByDigest(keys, func(k itemQuestion) [16]byte { return k.item },
		func(x, y itemQuestion) int { return cmpStr(x.question, y.question) })
	return keys
}

// EncodeState implements runtime.Snapshotter.
func (*Accuracy) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*AccuracyState)
	if !ok {
		return fmt.Errorf("accuracy: state is %T, want *AccuracyState", state)
	}
	c := &codec{e: statecodec.NewEncoder(w)}
	c.e.Len(len(s.labelIQ))
	c.e.Len(len(s.labels))
	for _, iq := range sortedIQ(s.labels) {
		c.id(iq.item)
		c.str(iq.question)
		ls := s.labels[iq]
		c.e.Len(len(ls))
		for _, l := range ls {
			c.id(l.id)
			c.str(l.project)
			c.str(l.annotator)
			c.str(l.cohort)
			c.str(l.vendor)
			c.str(l.level)
			c.str(l.producer)
			c.val(l.value)
		}
	}
	c.e.Len(len(s.gold))
	for _, iq := range sortedIQ(s.gold) {
		c.id(iq.item)
		c.str(iq.question)
		g := s.gold[iq]
		c.str(g.level)
		c.val(g.value)
	}
	c.e.Len(len(s.counts))
	for _, k := range sortedKeys(s.counts, func(x, y accKey) int {
		return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.scope, y.scope))
	}) {
		c.str(k.project)
		c.str(k.question)
		c.str(k.scope)
		sc := s.counts[k]
		c.count(sc.correct)
		c.count(sc.total)
	}
	c.e.Len(len(s.confusion))
	for _, k := range sortedKeys(s.confusion, func(x, y confKey) int {
		return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.scope, y.scope),
			cmpVal(x.gold, y.gold), cmpVal(x.label, y.label))
	}) {
		c.str(k.project)
		c.str(k.question)
		c.str(k.scope)
		c.val(k.gold)
		c.val(k.label)
		c.count(s.confusion[k])
	}
	c.putApplied(s.applied)
	return c.e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (*Accuracy) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	c, err := newDecodec(r)
	if err != nil {
		return nil, err
	}
	d := c.d
	s := &AccuracyState{topic: topic, partition: partition}
	nlabels := d.Len(0)
	if nlabels > d.Remaining()/23 { // a label takes at least 16 + 7 bytes
		d.Fail(fmt.Errorf("%d labels announced, %d bytes left", nlabels, d.Remaining()))
		nlabels = 0
	}
	n := d.Len(18)
	s.labels = make(map[itemQuestion][]scoredLabel, n)
	s.labelIQ = make(map[id128]itemQuestion, nlabels)
	for range n {
		iq := itemQuestion{item: c.id(), question: c.str()}
		m := d.Len(23)
		if m == 0 && d.Err() == nil {
			d.Fail(fmt.Errorf("item question without labels"))
		}
		ls := make([]scoredLabel, m)
		for i := range ls {
			ls[i] = scoredLabel{id: c.id(), project: c.str(), annotator: c.str(), cohort: c.str(), vendor: c.str(),
				level: c.str(), producer: c.str(), value: c.val()}
			s.labelIQ[ls[i].id] = iq // a label twice leaves fewer than announced: refused below
		}
		s.labels[iq] = ls
		if d.Err() != nil {
			return nil, d.Err()
		}
	}
	if d.Err() == nil && (len(s.labels) != n || len(s.labelIQ) != nlabels) {
		d.Fail(fmt.Errorf("%d item questions and %d labels decoded, %d and %d announced", len(s.labels), len(s.labelIQ), n, nlabels))
	}
	n = d.Len(19)
	s.gold = make(map[itemQuestion]gold, n)
	for range n {
		iq := itemQuestion{item: c.id(), question: c.str()}
		s.gold[iq] = gold{level: c.str(), value: c.val()}
	}
	n = d.Len(5)
	s.counts = make(map[accKey]score, n)
	for range n {
		k := accKey{project: c.str(), question: c.str(), scope: c.str()}
		s.counts[k] = score{correct: c.count(), total: c.count()}
	}
	n = d.Len(6)
	s.confusion = make(map[confKey]int64, n)
	for range n {
		k := confKey{project: c.str(), question: c.str(), scope: c.str(), gold: c.val(), label: c.val()}
		s.confusion[k] = c.count()
	}
	s.applied = c.applied()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("accuracy state: %w", err)
	}
	return s, nil
}

// StateVersion implements runtime.Snapshotter.
func (*Flow) StateVersion() uint32 { return flowStateVersion }

// EncodeState implements runtime.Snapshotter.
func (*Flow) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*FlowState)
	if !ok {
		return fmt.Errorf("flow: state is %T, want *FlowState", state)
	}
	e := statecodec.NewEncoder(w)
	e.Len(len(s.stages))
	stages := make([]stageKey, 0, len(s.stages))
	for k := range s.stages {
		stages = append(stages, k)
	}
	statecodec.SortByDigest(stages, func(k stageKey) [16]byte { return k.item }, func(x, y stageKey) int { return cmp.Compare(x.stage, y.stage) })
	for _, k := range stages {
		e.Bytes16(k.item)
		e.Uvarint(uint64(k.stage))
		e.Varint(s.stages[k])
	}
	e.Len(len(s.reviewed))
	for _, k := range statecodec.SortedKeys16(s.reviewed) {
		e.Bytes16(k)
		e.Bool(s.reviewed[k])
	}
	e.Len(len(s.reviews))
	for _, k := range statecodec.SortedKeys16(s.reviews) {
		e.Bytes16(k)
	}
	e.Varint(s.rework.reviews)
	e.Varint(s.rework.reworkReviews)
	e.Varint(s.rework.labelsReviewed)
	e.Varint(s.rework.labelsReworked)
	return e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (*Flow) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	d, err := statecodec.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	s := &FlowState{topic: topic, partition: partition}
	n := d.Len(18)
	s.stages = make(map[stageKey]int64, n)
	for range n {
		k := stageKey{item: d.Bytes16()}
		st := d.Uvarint()
		if st >= uint64(len(stageNames)) && d.Err() == nil {
			d.Fail(fmt.Errorf("stage %d", st))
		}
		k.stage = stage(st)
		s.stages[k] = d.Varint()
	}
	n = d.Len(17)
	s.reviewed = make(map[id128]bool, n)
	for range n {
		k := d.Bytes16()
		s.reviewed[k] = d.Bool()
	}
	n = d.Len(16)
	s.reviews = make(map[id128]struct{}, n)
	for range n {
		s.reviews[d.Bytes16()] = struct{}{}
	}
	s.rework.reviews = d.Varint()
	s.rework.reworkReviews = d.Varint()
	s.rework.labelsReviewed = d.Varint()
	s.rework.labelsReworked = d.Varint()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("flow state: %w", err)
	}
	return s, nil
}
