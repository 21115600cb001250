package ledger

import (
	"errors"
	"fmt"
	"io"
	"unique"

	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/statecodec"
)

// stateVersion is the version of Findings' snapshot encoding (runtime.Snapshotter): raise it
// with any change of the encoding or of what Findings means.
const stateVersion = 1

var _ runtime.Snapshotter = (*Ledger)(nil)

// StateVersion implements runtime.Snapshotter.
func (*Ledger) StateVersion() uint32 { return stateVersion }

// EncodeState implements runtime.Snapshotter: the findings' projects sorted by digest, projects
// through a table, about 17 bytes a finding.
func (*Ledger) EncodeState(state any, w io.Writer) error {
	f, ok := state.(*Findings)
	if !ok || f == nil {
		return fmt.Errorf("ledger: state is %T, want *Findings", state)
	}
	e := statecodec.NewEncoder(w)
	var names statecodec.Interned[string]
	e.Len(len(f.projects))
	for _, k := range statecodec.SortedKeys16(f.projects) {
		e.Bytes16(k)
		names.Put(e, f.projects[k])
	}
	return e.Close()
}

// DecodeState implements runtime.Snapshotter.
func (l *Ledger) DecodeState(topic string, partition int32, r io.Reader) (any, error) {
	if l.NewState(topic, partition) == nil {
		return nil, errors.New("the ledger keeps no state for topic " + topic)
	}
	d, err := statecodec.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	var names statecodec.Handles[string]
	n := d.Len(17)
	f := &Findings{projects: make(map[[16]byte]unique.Handle[string], n)}
	for range n {
		k := d.Bytes16()
		f.projects[k] = names.Get(d)
	}
	if len(f.projects) != n && d.Err() == nil {
		d.Fail(fmt.Errorf("%d findings for %d entries", len(f.projects), n))
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("ledger state: %w", err)
	}
	return f, nil
}
