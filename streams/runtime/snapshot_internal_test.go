package runtime

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
)

// textState is a Snapshotter whose state is a string, for frame tests.
type textState struct {
	version uint32
	panics  bool
}

func (textState) Name() string                      { return "text" }
func (textState) Families() []schemas.Family        { return []schemas.Family{schemas.FamilyItems} }
func (textState) Tables() []Table                   { return nil }
func (textState) NewState(string, int32) any        { return new(string) }
func (textState) Apply(any, Record) (Output, error) { return Output{}, nil }
func (s textState) StateVersion() uint32            { return s.version }
func (textState) EncodeState(state any, w io.Writer) error {
	_, err := io.WriteString(w, *state.(*string))
	return err
}
func (s textState) DecodeState(_ string, _ int32, r io.Reader) (any, error) {
	if s.panics {
		var m map[string]int
		m["boom"]++ // a nil map: a decoder with a bug
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(string(b), "bad") {
		return nil, errors.New("bad state")
	}
	str := string(b)
	return &str, nil
}

// reframe recomputes the checksum of a frame whose body was edited, so the
// edit is judged by what it changed, not caught by the checksum.
func reframe(frame []byte) []byte {
	body := frame[:len(frame)-4]
	return binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crcTable))
}

// TestSnapshotFrame: a frame decodes to what was encoded when everything
// matches; otherwise it is refused with the reason the runner counts, and
// the state is rebuilt from the log. No I/O: frames are checked in memory.
func TestSnapshotFrame(t *testing.T) {
	p := textState{version: 3}
	state := "the state"
	h := frameHeader{processor: "text", topic: "p.assay.items.v1", partition: 2, stateVersion: 3, offset: 1234, writtenAt: 1_700_000_000_000}
	frame, err := encodeFrame(p, &state, h)
	if err != nil {
		t.Fatal(err)
	}
	want := h
	want.offset = 5000 // the group's committed offset: at or after the snapshot's
	got, payload, err := decodeFrame(frame, want)
	if err != nil || got != h || string(payload) != state {
		t.Fatalf("decode: %+v %q %v", got, payload, err)
	}
	st, err := decodeState(p, h.topic, h.partition, payload)
	if err != nil || *st.(*string) != state {
		t.Fatalf("decode state: %v %v", st, err)
	}
	atCommit := want
	atCommit.offset = h.offset
	if _, _, err := decodeFrame(frame, atCommit); err != nil {
		t.Fatalf("a snapshot at the committed offset: %v", err)
	}

	other := func(edit func(*frameHeader)) []byte {
		h2 := h
		edit(&h2)
		f, err := encodeFrame(p, &state, h2)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	flipped := append([]byte(nil), frame...)
	flipped[len(flipped)/2] ^= 0x40
	badFormat := append([]byte(nil), frame...)
	badFormat[len(frameMagic)] = frameFormat + 1
	badMagic := append([]byte(nil), frame...)
	copy(badMagic, "XXXX")
	badHeader := append([]byte(frameMagic), frameFormat, 0xff) // a length varint that never ends
	cases := []struct {
		name   string
		frame  []byte
		want   frameHeader
		reason string
	}{
		{"empty", nil, want, rejectCorrupt},
		{"truncated", frame[:len(frame)-1], want, rejectCorrupt},
		{"truncated to the header", frame[:len(frameMagic)+1+4], want, rejectCorrupt},
		{"a byte flipped", flipped, want, rejectCorrupt},
		{"magic", reframe(badMagic), want, rejectCorrupt},
		{"malformed header", reframe(append(badHeader, 0, 0, 0, 0)), want, rejectCorrupt},
		{"frame format", reframe(badFormat), want, rejectFormat},
		{"other processor", other(func(h *frameHeader) { h.processor = "ledger" }), want, rejectProcessor},
		{"other topic", other(func(h *frameHeader) { h.topic = "p.assay.labels.v1" }), want, rejectPartition},
		{"other partition", other(func(h *frameHeader) { h.partition = 1 }), want, rejectPartition},
		{"older state version", other(func(h *frameHeader) { h.stateVersion = 2 }), want, rejectVersion},
		{"newer state version", other(func(h *frameHeader) { h.stateVersion = 4 }), want, rejectVersion},
		{"ahead of the commit", frame, frameHeader{processor: "text", topic: h.topic, partition: 2, stateVersion: 3, offset: 1000}, rejectAhead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodeFrame(c.frame, c.want)
			var se *SnapshotError
			if !errors.As(err, &se) || se.Reason != c.reason {
				t.Fatalf("err %v, want reason %s", err, c.reason)
			}
		})
	}

	// The processor's decoder refusing, or panicking, is an error too.
	bad := "bad state"
	f, err := encodeFrame(p, &bad, h)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err = decodeFrame(f, want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeState(p, h.topic, h.partition, payload); err == nil {
		t.Fatal("a state the processor refuses decoded")
	}
	if _, err := decodeState(textState{version: 3, panics: true}, h.topic, h.partition, payload); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("a panicking decoder: %v", err)
	}
}
