package lineage

import (
	"errors"
	"fmt"
	"io"
	"unique"

	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// stateVersion is the version of State's snapshot encoding (runtime.Snapshotter): raise it with
// any change of the encoding or of what State means. Version 2 added the items partitions'
// latest ingests.
const stateVersion = 2

var _ runtime.Snapshotter = (*Processor)(nil)

// StateVersion implements runtime.Snapshotter.
func (*Processor) StateVersion() uint32 { return stateVersion }

// EncodeState implements runtime.Snapshotter: the labels' producers and the findings' projects,
// each map sorted by digest, names through a table (a partition's labels come from a handful of
// producers): about 17 bytes a label or finding; then the items' latest ingests (digest, time,
// event id, project and dataset through the table: about 60 bytes an item). The (project,
// dataset) totals are not written: they are the items' count, recomputed on decode.
func (*Processor) EncodeState(state any, w io.Writer) error {
	s, ok := state.(*State)
	if !ok || s == nil {
		return fmt.Errorf("lineage: state is %T, want *State", state)
	}
	e := statecodec.NewEncoder(w)
	var names statecodec.Interned[string]
	for _, m := range []map[digest]unique.Handle[string]{s.labels, s.findings} {
		e.Len(len(m))
		for _, k := range statecodec.SortedKeys16(m) {
			e.Bytes16(k)
			names.Put(e, m[k])
		}
	}
	e.Len(len(s.items))
	for _, k := range statecodec.SortedKeys16(s.items) {
		it := s.items[k]
		e.Bytes16(k)
		e.Varint(it.at)
		e.String(it.event)
		names.Put(e, it.where.project)
		names.Put(e, it.where.dataset)
	}
	return e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (p *Processor) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	if p.NewState(topic, partition) == nil {
		return nil, errors.New("lineage keeps no state for topic " + topic)
	}
	d, err := statecodec.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	var names statecodec.Handles[string]
	read := func() map[digest]unique.Handle[string] {
		n := d.Len(17)
		m := make(map[digest]unique.Handle[string], n)
		for range n {
			k := digest(d.Bytes16())
			m[k] = names.Get(d)
		}
		if len(m) != n && d.Err() == nil {
			d.Fail(fmt.Errorf("%d keys for %d entries", len(m), n))
		}
		return m
	}
	s := newState()
	s.labels, s.findings = read(), read()
	n := d.Len(20)
	for range n {
		k := digest(d.Bytes16())
		it := ingest{at: d.Varint(), event: d.String()}
		it.where.project, it.where.dataset = names.Get(d), names.Get(d)
		s.items[k] = it
		s.datasets[it.where]++
	}
	if len(s.items) != n && d.Err() == nil {
		d.Fail(fmt.Errorf("%d items for %d entries", len(s.items), n))
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("lineage state: %w", err)
	}
	return s, nil
}
