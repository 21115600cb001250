package kpi

import (
	"fmt"
	"io"

	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// Snapshots of kpi_regions and kpi_preference (runtime.Snapshotter), in the form of the other
// KPI processors' (snapshot.go): the answers (items by digest, their gold, units and labels in
// the order the state holds them), then the totals in sorted order, then the applied events.
// The labels index is rebuilt from the units.

const (
	regionsStateVersion    = 1
	preferenceStateVersion = 1
)

var (
	_ runtime.Snapshotter = (*Regions)(nil)
	_ runtime.Snapshotter = (*Preference)(nil)
)

// putAnswers writes the answers; put writes one value.
func putAnswers[V any](c *codec, a *answers[V], put func(*codec, V)) {
	c.e.Len(len(a.labels))
	c.e.Len(len(a.items))
	for _, iq := range sortedIQ(a.items) {
		it := a.items[iq]
		c.id(iq.item)
		c.str(iq.question)
		c.e.Bool(it.gold != nil)
		if it.gold != nil {
			c.str(it.gold.level)
			put(c, it.gold.value)
		}
		c.e.Len(len(it.units))
		for _, u := range it.units {
			c.str(u.project)
			c.str(u.level)
			c.e.Varint(u.day)
			c.e.Len(len(u.entries))
			for _, en := range u.entries {
				c.e.String(en.labelID)
				c.str(en.annotator)
				c.str(en.cohort)
				c.str(en.vendor)
				c.str(en.producer)
				c.e.Varint(en.at)
				put(c, en.value)
			}
		}
	}
}

// getAnswers reads what putAnswers wrote; get reads one value.
func getAnswers[V any](c *decodec, get func(*decodec) V) answers[V] {
	d := c.d
	a := answers[V]{}
	nlabels := d.Len(0)
	if nlabels > d.Remaining()/8 { // a label takes at least 1 + 5 + 1 + 1 bytes
		d.Fail(fmt.Errorf("%d labels announced, %d bytes left", nlabels, d.Remaining()))
		nlabels = 0
	}
	n := d.Len(19)
	a.items = make(map[itemQuestion]*answerItem[V], n)
	a.labels = make(map[id128]itemQuestion, nlabels)
	for range n {
		iq := itemQuestion{item: c.id(), question: c.str()}
		it := &answerItem[V]{}
		if d.Bool() {
			it.gold = &answerGold[V]{level: c.str()}
			it.gold.value = get(c)
		}
		nu := d.Len(4)
		if nu == 0 && it.gold == nil && d.Err() == nil {
			d.Fail(fmt.Errorf("item question without labels or gold"))
		}
		for range nu {
			u := &answerUnit[V]{project: c.str(), level: c.str(), day: d.Varint()}
			ne := d.Len(8)
			if ne == 0 && d.Err() == nil {
				d.Fail(fmt.Errorf("unit without labels"))
			}
			for range ne {
				en := answerEntry[V]{labelID: d.String(), annotator: c.str(), cohort: c.str(), vendor: c.str(), producer: c.str(), at: d.Varint()}
				en.value = get(c)
				u.entries = append(u.entries, en)
				a.labels[idOf(en.labelID)] = iq // a label twice leaves fewer than announced: refused below
			}
			it.units = append(it.units, u)
			if d.Err() != nil {
				return a
			}
		}
		a.items[iq] = it
	}
	if d.Err() == nil && (len(a.items) != n || len(a.labels) != nlabels) {
		d.Fail(fmt.Errorf("%d item questions and %d labels decoded, %d and %d announced", len(a.items), len(a.labels), n, nlabels))
	}
	return a
}

// text reads an interned string as text: "" once the decoder failed (a failed read's handle
// is the zero one, which has no value).
func (c *decodec) text() string {
	h := c.str()
	if c.d.Err() != nil {
		return ""
	}
	return h.Value()
}

func putRegionValue(c *codec, v regionValue) {
	c.e.Len(len(v.spans))
	for _, s := range v.spans {
		c.str(intern(s.Label))
		c.e.Varint(s.Start)
		c.e.Varint(s.End)
	}
	c.e.Len(len(v.boxes))
	for _, b := range v.boxes {
		c.str(intern(b.Label))
		c.e.Float64(b.X)
		c.e.Float64(b.Y)
		c.e.Float64(b.W)
		c.e.Float64(b.H)
		c.e.Bool(b.Score != nil)
		if b.Score != nil {
			c.e.Float64(*b.Score)
		}
	}
}

func getRegionValue(c *decodec) regionValue {
	d := c.d
	var v regionValue
	if n := d.Len(3); n > 0 {
		v.spans = make([]regions.Span, n)
		for i := range v.spans {
			v.spans[i] = regions.Span{Label: c.text(), Start: d.Varint(), End: d.Varint()}
		}
	}
	if n := d.Len(34); n > 0 {
		v.boxes = make([]regions.Box, n)
		for i := range v.boxes {
			b := regions.Box{Label: c.text(), X: d.Float64(), Y: d.Float64(), W: d.Float64(), H: d.Float64()}
			if d.Bool() {
				s := d.Float64()
				b.Score = &s
			}
			v.boxes[i] = b
		}
	}
	return v
}

func putPreference(c *codec, l preference.Label) {
	c.e.Len(len(l.Responses))
	for _, r := range l.Responses {
		c.str(intern(r))
	}
	c.e.Int(l.ChoiceIndex())
	c.e.Int(indexOf(l.Responses, l.ShownFirst))
	c.e.Bool(l.Strength != nil)
	if l.Strength != nil {
		c.e.Varint(int64(*l.Strength))
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if x == y {
			return i
		}
	}
	return -1
}

func getPreference(c *decodec) preference.Label {
	d := c.d
	var l preference.Label
	n := d.Len(1)
	if n > 0 {
		l.Responses = make([]string, n)
		for i := range l.Responses {
			l.Responses[i] = c.text()
		}
	}
	ci, si := d.Int(), d.Int()
	if ci < 0 || ci >= n || si < 0 || si >= n {
		if d.Err() == nil {
			d.Fail(fmt.Errorf("preference: choice %d and first shown %d of %d responses", ci, si, n))
		}
		return preference.Label{}
	}
	l.Choice, l.ShownFirst = l.Responses[ci], l.Responses[si]
	if d.Bool() {
		s := d.Int32()
		l.Strength = &s
	}
	return l
}

func (c *codec) regionKey(k regionKey) {
	c.str(k.project)
	c.str(k.question)
	c.str(k.level)
	c.str(k.scope)
	c.e.Varint(k.day)
}

func (c *decodec) regionKey() regionKey {
	return regionKey{project: c.str(), question: c.str(), level: c.str(), scope: c.str(), day: c.d.Varint()}
}

func (c *codec) tally(t tally) {
	for _, n := range []int64{t.units, t.matched, t.a, t.b, t.iou} {
		c.count(n)
	}
}

func (c *decodec) tally() tally {
	return tally{units: c.count(), matched: c.count(), a: c.count(), b: c.count(), iou: c.count()}
}

// StateVersion implements runtime.Snapshotter.
func (*Regions) StateVersion() uint32 { return regionsStateVersion }

// EncodeState implements runtime.Snapshotter.
func (*Regions) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*RegionsState)
	if !ok {
		return fmt.Errorf("regions: state is %T, want *RegionsState", state)
	}
	c := &codec{e: statecodec.NewEncoder(w)}
	putAnswers(c, &s.answers, putRegionValue)
	for _, m := range []map[regionLabelKey]tally{s.pairs, s.gold} {
		c.e.Len(len(m))
		for _, k := range sortedKeys(m, cmpRegionLabelKey) {
			c.regionKey(k.regionKey)
			c.str(k.label)
			c.tally(m[k])
		}
	}
	c.e.Len(len(s.cells))
	for _, k := range sortedKeys(s.cells, cmpRegionCellKey) {
		c.regionKey(k.regionKey)
		c.str(k.a)
		c.str(k.b)
		c.count(s.cells[k])
	}
	c.putApplied(s.applied)
	return c.e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (*Regions) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	c, err := newDecodec(r)
	if err != nil {
		return nil, err
	}
	d := c.d
	s := &RegionsState{topic: topic, partition: partition}
	s.answers = getAnswers(c, getRegionValue)
	if d.Err() != nil {
		return nil, fmt.Errorf("regions state: %w", d.Err())
	}
	for _, m := range []*map[regionLabelKey]tally{&s.pairs, &s.gold} {
		n := d.Len(11)
		*m = make(map[regionLabelKey]tally, n)
		for range n {
			k := regionLabelKey{regionKey: c.regionKey()}
			k.label = c.str()
			(*m)[k] = c.tally()
		}
	}
	n := d.Len(8)
	s.cells = make(map[regionCellKey]int64, n)
	for range n {
		k := regionCellKey{regionKey: c.regionKey()}
		k.a, k.b = c.str(), c.str()
		s.cells[k] = c.count()
	}
	s.applied = c.applied()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("regions state: %w", err)
	}
	for _, it := range s.items {
		if it.gold != nil {
			s.held += it.gold.value.size()
		}
		for _, u := range it.units {
			for _, en := range u.entries {
				s.held += en.value.size()
			}
		}
	}
	return s, nil
}

func (c *codec) prefKey(k prefKey) {
	c.str(k.project)
	c.str(k.question)
	c.str(k.scope)
	c.e.Varint(k.day)
}

func (c *decodec) prefKey() prefKey {
	return prefKey{project: c.str(), question: c.str(), scope: c.str(), day: c.d.Varint()}
}

// StateVersion implements runtime.Snapshotter.
func (*Preference) StateVersion() uint32 { return preferenceStateVersion }

// EncodeState implements runtime.Snapshotter.
func (*Preference) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*PreferenceState)
	if !ok {
		return fmt.Errorf("preference: state is %T, want *PreferenceState", state)
	}
	c := &codec{e: statecodec.NewEncoder(w)}
	putAnswers(c, &s.answers, putPreference)
	c.e.Len(len(s.cells))
	for _, k := range sortedKeys(s.cells, cmpPrefCellKey) {
		c.prefKey(k.prefKey)
		c.str(k.coding)
		c.e.Int(k.size)
		c.val(k.a)
		c.val(k.b)
		c.count(s.cells[k])
	}
	c.e.Len(len(s.profiles))
	for _, k := range sortedKeys(s.profiles, cmpPrefProfileKey) {
		c.prefKey(k.prefKey)
		c.str(k.coding)
		c.str(k.profile)
		c.count(s.profiles[k])
	}
	c.e.Len(len(s.bias))
	for _, k := range sortedKeys(s.bias, cmpPrefKey) {
		c.prefKey(k)
		b := s.bias[k]
		c.count(b.FirstChosen)
		c.count(b.Labels)
		c.count(b.ExpectedScaled)
	}
	c.e.Len(len(s.accuracy))
	for _, k := range sortedKeys(s.accuracy, cmpPrefKey) {
		c.prefKey(k)
		a := s.accuracy[k]
		c.count(a.Correct)
		c.count(a.Labels)
	}
	c.putApplied(s.applied)
	return c.e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (*Preference) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	c, err := newDecodec(r)
	if err != nil {
		return nil, err
	}
	d := c.d
	s := &PreferenceState{topic: topic, partition: partition}
	s.answers = getAnswers(c, getPreference)
	if d.Err() != nil {
		return nil, fmt.Errorf("preference state: %w", d.Err())
	}
	n := d.Len(9)
	s.cells = make(map[prefCellKey]int64, n)
	for range n {
		k := prefCellKey{prefKey: c.prefKey()}
		k.coding, k.size, k.a, k.b = c.str(), d.Int(), c.val(), c.val()
		s.cells[k] = c.count()
	}
	n = d.Len(7)
	s.profiles = make(map[prefProfileKey]int64, n)
	for range n {
		k := prefProfileKey{prefKey: c.prefKey()}
		k.coding, k.profile = c.str(), c.str()
		s.profiles[k] = c.count()
	}
	n = d.Len(7)
	s.bias = make(map[prefKey]preference.BiasCounts, n)
	for range n {
		k := c.prefKey()
		s.bias[k] = preference.BiasCounts{FirstChosen: c.count(), Labels: c.count(), ExpectedScaled: c.count()}
	}
	n = d.Len(6)
	s.accuracy = make(map[prefKey]preference.AccuracyCounts, n)
	for range n {
		k := c.prefKey()
		s.accuracy[k] = preference.AccuracyCounts{Correct: c.count(), Labels: c.count()}
	}
	s.applied = c.applied()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("preference state: %w", err)
	}
	return s, nil
}
