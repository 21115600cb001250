package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	goruntime "runtime"
	"sync"
	"time"
)

// Snapshotter is implemented by processors whose partition states can be
// written to a snapshot and read back. With a SnapshotStore (WithSnapshots)
// the runner snapshots their states and restores a newly assigned partition
// from its latest snapshot plus the log after it, instead of replaying the
// partition from the start of the log (see the package doc, "Snapshots").
//
// The encoding is the processor's own (streams/runtime/statecodec has the
// primitives); the runner frames it with the processor's name, the
// partition, the state version, the offset it covers and a checksum.
type Snapshotter interface {
	Processor
	// StateVersion names the encoding of EncodeState. Change it whenever
	// the encoding or the meaning of the state changes: a snapshot of
	// another version is ignored and the state rebuilt from the log.
	StateVersion() uint32
	// EncodeState writes state, a state of this processor (NewState's, after
	// any Apply), to w. It must not change state; it is called from the
	// runner's goroutine, like Apply.
	EncodeState(state any, w io.Writer) error
	// DecodeState reads a state written by EncodeState, of the same state
	// version, for (topic, partition). A decoded state must equal the one
	// that was encoded: applying the same records to either gives the same
	// outputs and the same state. It returns an error for input it does not
	// understand; it must not panic (the runner recovers a panic as an
	// error anyway). The runner calls it for several partitions at once,
	// from several goroutines.
	DecodeState(topic string, partition int32, r io.Reader) (any, error)
}

// Snapshot is one stored snapshot of a partition state. Data is the runner's
// frame (header, the processor's encoding, checksum), opaque to the store;
// the other fields repeat the header's for the store to index and show.
type Snapshot struct {
	Processor    string
	Topic        string
	Partition    int32
	StateVersion uint32
	// Offset is the offset the state covers: every record before it, and
	// none after, is applied in the state.
	Offset    int64
	WrittenAt time.Time
	Data      []byte
}

// ErrNoSnapshot is returned by SnapshotStore.Load when no snapshot of the
// partition is stored.
var ErrNoSnapshot = errors.New("no snapshot stored")

// SnapshotStore keeps the latest snapshot of each (processor, topic,
// partition). ClickHouseSnapshots is the production store.
type SnapshotStore interface {
	// Save stores s as the latest snapshot of its partition. A Load running
	// at the same time, or after a failed Save, returns the previous
	// snapshot or s, never a mix (a mix would fail the checksum, and be
	// ignored, anyway).
	Save(ctx context.Context, s Snapshot) error
	// Load returns the latest snapshot of (processor, topic, partition), or
	// an error wrapping ErrNoSnapshot when there is none.
	Load(ctx context.Context, processor, topic string, partition int32) (Snapshot, error)
}

// frameMagic starts every snapshot frame; frameFormat is the version of the
// frame's layout (not of the state: that is the processor's StateVersion).
const (
	frameMagic  = "ASNP"
	frameFormat = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// frameHeader is what a frame says about the state it holds.
type frameHeader struct {
	processor    string
	topic        string
	partition    int32
	stateVersion uint32
	offset       int64
	writtenAt    int64 // Unix ms
}

// encodeFrame returns the frame of state: magic, format, header, the
// processor's encoding, and a CRC-32C of everything before it.
func encodeFrame(p Snapshotter, state any, h frameHeader) ([]byte, error) {
	var buf bytes.Buffer
	b := append([]byte(frameMagic), frameFormat)
	b = binary.AppendUvarint(b, uint64(len(h.processor)))
	b = append(b, h.processor...)
	b = binary.AppendUvarint(b, uint64(len(h.topic)))
	b = append(b, h.topic...)
	b = binary.AppendUvarint(b, uint64(uint32(h.partition)))
	b = binary.AppendUvarint(b, uint64(h.stateVersion))
	b = binary.AppendUvarint(b, uint64(h.offset))
	b = binary.AppendVarint(b, h.writtenAt)
	buf.Write(b)
	if err := p.EncodeState(state, &buf); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	sum := crc32.Checksum(buf.Bytes(), crcTable)
	out := binary.LittleEndian.AppendUint32(buf.Bytes(), sum)
	return out, nil
}

// rejection reasons of a snapshot (the label of
// assay_processor_snapshot_rejected_total).
const (
	rejectUnavailable = "unavailable" // the store failed to answer
	rejectCorrupt     = "corrupt"     // checksum, magic or header do not hold
	rejectFormat      = "format"      // a frame layout this runner does not read
	rejectProcessor   = "processor"   // another processor's snapshot
	rejectPartition   = "partition"   // another topic or partition's snapshot
	rejectVersion     = "version"     // another state version
	rejectAhead       = "ahead"       // covers offsets past the group's committed offset
	rejectDecode      = "decode"      // the processor could not decode it
)

// SnapshotError says why a snapshot is not used (DecodeSnapshot, and the
// runner's restore): Reason is one of unavailable, corrupt, format,
// processor, partition, version, ahead, decode, the reason label of
// assay_processor_snapshot_rejected_total.
type SnapshotError struct {
	Reason string
	Err    error
}

func (e *SnapshotError) Error() string { return "snapshot " + e.Reason + ": " + e.Err.Error() }
func (e *SnapshotError) Unwrap() error { return e.Err }

func rejected(reason, format string, args ...any) error {
	return &SnapshotError{reason, fmt.Errorf(format, args...)}
}

// EncodeSnapshot returns what the runner stores for a snapshot of state, a
// partition state of p that covers every record of (topic, partition)
// before offset: p's encoding in the runner's frame (p's name, the
// partition, p's state version, offset, at, and a checksum).
func EncodeSnapshot(p Snapshotter, state any, topic string, partition int32, offset int64, at time.Time) ([]byte, error) {
	return encodeFrame(p, state, frameHeader{processor: p.Name(), topic: topic, partition: partition,
		stateVersion: p.StateVersion(), offset: offset, writtenAt: at.UnixMilli()})
}

// DecodeSnapshot checks data, a snapshot read back, against what the runner
// expects when it restores (topic, partition) for a group whose committed
// offset is committed, and decodes it: it returns the state and the offset
// it covers, or a *SnapshotError saying why the snapshot is not to be used
// (then the runner rebuilds the state from the log). No I/O.
func DecodeSnapshot(p Snapshotter, data []byte, topic string, partition int32, committed int64) (any, int64, error) {
	h, payload, err := decodeFrame(data, frameHeader{processor: p.Name(), topic: topic, partition: partition,
		stateVersion: p.StateVersion(), offset: committed})
	if err != nil {
		return nil, 0, err
	}
	state, err := decodeState(p, topic, partition, payload)
	if err != nil {
		return nil, 0, &SnapshotError{rejectDecode, err}
	}
	return state, h.offset, nil
}

// decodeFrame checks a frame against what the runner expects of it and
// returns its header and the processor's encoding.
func decodeFrame(data []byte, want frameHeader) (frameHeader, []byte, error) {
	var h frameHeader
	if len(data) < len(frameMagic)+1+4 {
		return h, nil, rejected(rejectCorrupt, "%d bytes is too short for a snapshot", len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, crcTable); got != sum {
		return h, nil, rejected(rejectCorrupt, "checksum %08x, the frame says %08x", got, sum)
	}
	if string(body[:len(frameMagic)]) != frameMagic {
		return h, nil, rejected(rejectCorrupt, "not a snapshot frame")
	}
	if f := body[len(frameMagic)]; f != frameFormat {
		return h, nil, rejected(rejectFormat, "frame format %d, this runner reads %d", f, frameFormat)
	}
	rest := body[len(frameMagic)+1:]
	var bad bool
	uvarint := func() uint64 {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			bad = true
			return 0
		}
		rest = rest[n:]
		return v
	}
	str := func() string {
		n := uvarint()
		if bad || n > uint64(len(rest)) {
			bad = true
			return ""
		}
		s := string(rest[:n])
		rest = rest[n:]
		return s
	}
	h.processor = str()
	h.topic = str()
	part := uvarint()
	version := uvarint()
	h.offset = int64(uvarint())
	if !bad {
		v, n := binary.Varint(rest)
		if n <= 0 {
			bad = true
		} else {
			h.writtenAt, rest = v, rest[n:]
		}
	}
	if bad || part > 1<<31-1 || version > 1<<32-1 || h.offset < 0 {
		return h, nil, rejected(rejectCorrupt, "malformed header")
	}
	h.partition, h.stateVersion = int32(part), uint32(version)
	switch {
	case h.processor != want.processor:
		return h, nil, rejected(rejectProcessor, "snapshot of processor %q", h.processor)
	case h.topic != want.topic || h.partition != want.partition:
		return h, nil, rejected(rejectPartition, "snapshot of %s[%d]", h.topic, h.partition)
	case h.stateVersion != want.stateVersion:
		return h, nil, rejected(rejectVersion, "state version %d, the processor's is %d", h.stateVersion, want.stateVersion)
	case h.offset > want.offset:
		return h, nil, rejected(rejectAhead, "covers offsets up to %d, the group committed %d", h.offset, want.offset)
	}
	return h, rest, nil
}

// decodeState runs the processor's DecodeState, turning a panic into an
// error: a snapshot must never take the runner down.
func decodeState(p Snapshotter, topic string, partition int32, payload []byte) (state any, err error) {
	defer func() {
		if v := recover(); v != nil {
			state, err = nil, fmt.Errorf("decode panicked: %v", v)
		}
	}()
	return p.DecodeState(topic, partition, bytes.NewBuffer(payload))
}

// snapshotOptions are the runner's snapshot settings.
type snapshotOptions struct {
	store    SnapshotStore
	records  int
	interval time.Duration
	timeout  time.Duration
}

// Defaults of WithSnapshotEvery and WithSnapshotTimeout.
const (
	DefaultSnapshotRecords  = 100_000
	DefaultSnapshotInterval = 5 * time.Minute
	DefaultSnapshotTimeout  = 2 * time.Minute
)

// WithSnapshots makes the runner snapshot the partition states of a
// processor that implements Snapshotter into store, and restore newly
// assigned partitions from their latest snapshot plus the log after it (see
// the package doc, "Snapshots"). A processor that does not implement
// Snapshotter is rebuilt from the log as without it. Replay ignores it.
func WithSnapshots(store SnapshotStore) Option {
	return func(o *options) {
		if store == nil {
			o.errs = append(o.errs, errors.New("snapshots: nil store"))
			return
		}
		o.snap.store = store
	}
}

// WithSnapshotEvery sets when a partition's state is snapshotted: once
// records records (default DefaultSnapshotRecords) have been applied to it
// since its latest snapshot, and at least an eighth of its keys' worth for
// a state that reports its size (StateSizer), so that encoding costs at
// most eight keys' encoding per record applied however large the state
// grows; or interval (default DefaultSnapshotInterval) after its latest
// snapshot if any record has been applied since. records must be at least
// 1 and interval positive; New refuses other values.
func WithSnapshotEvery(records int, interval time.Duration) Option {
	return func(o *options) {
		if records < 1 {
			o.errs = append(o.errs, fmt.Errorf("snapshots: every %d records: must be at least 1", records))
		}
		if interval <= 0 {
			o.errs = append(o.errs, fmt.Errorf("snapshots: every %s: must be positive", interval))
		}
		o.snap.records, o.snap.interval = records, interval
	}
}

// WithSnapshotTimeout bounds one snapshot load or write (default
// DefaultSnapshotTimeout): a load that takes longer is abandoned for a
// rebuild from the log, a write is abandoned and retried at the next point.
// New refuses a timeout that is not positive.
func WithSnapshotTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.errs = append(o.errs, fmt.Errorf("snapshots: timeout %s: must be positive", d))
		}
		o.snap.timeout = d
	}
}

// snapState is the runner's bookkeeping of one partition state's snapshots.
// Guarded by Runner.mu.
type snapState struct {
	// next is the offset the state covers: every record polled before it is
	// applied. pending says it is not committed yet; only a committed point
	// is snapshotted.
	next    int64
	pending bool
	// since counts the records applied since the latest snapshot, the
	// records of a rebuild included (a full rebuild is due a snapshot).
	since int
	// last is when the latest snapshot was written or loaded (or the state
	// set up without one); writtenAt is when the latest snapshot of the
	// state was written, zero when none is known.
	last      time.Time
	writtenAt time.Time
	// writing is set while a snapshot of this state is being written;
	// retryAt delays the next attempt after a failed one.
	writing bool
	retryAt time.Time
}

// snapWrite is a snapshot encoded by the poll loop, for the writer.
type snapWrite struct {
	key   tp
	st    *snapState
	snap  Snapshot
	since int // records it covers since the previous snapshot
}

// snapDone reports a write's outcome to the poll loop.
type snapDone struct {
	w   snapWrite
	err error
}

// restored is a partition state restored from a snapshot.
type restored struct {
	state any
	h     frameHeader
}

// restoreAll restores the partitions of ends (their committed offsets: a
// partition with nothing committed has nothing to restore, whatever is
// stored) from their snapshots, several at a time (twice as many as the
// process may run at once: loading is I/O, decoding CPU, and an odd
// partition should not wait for a pair to finish), and returns those that
// had a usable snapshot. Called with mu held; the goroutines it starts end
// before it returns.
func (r *Runner) restoreAll(ctx context.Context, ends map[tp]int64) map[tp]restored {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[tp]restored{}
		sem = make(chan struct{}, 2*goruntime.GOMAXPROCS(0))
	)
	for k, end := range ends {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if state, h, ok := r.restore(ctx, k, end); ok {
				mu.Lock()
				out[k] = restored{state, h}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// restore loads the latest snapshot of k and decodes it, for a partition
// whose group committed offset is committed. ok is false when there is no
// usable snapshot; why is logged and counted. It touches no runner state,
// so restoreAll runs several at once.
func (r *Runner) restore(ctx context.Context, k tp, committed int64) (state any, h frameHeader, ok bool) {
	start := time.Now()
	name := r.e.name
	log := r.e.log.With("topic", k.topic, "partition", k.partition)
	lctx, cancel := context.WithTimeout(ctx, r.e.o.snap.timeout)
	snap, err := r.e.o.snap.store.Load(lctx, name, k.topic, k.partition)
	cancel()
	if errors.Is(err, ErrNoSnapshot) {
		r.e.m.snapMisses.WithLabelValues(name).Inc()
		log.Info("no snapshot stored: rebuilding the partition from the start of the log")
		return nil, h, false
	}
	if err == nil {
		want := frameHeader{processor: name, topic: k.topic, partition: k.partition,
			stateVersion: r.snapper.StateVersion(), offset: committed}
		var payload []byte
		if h, payload, err = decodeFrame(snap.Data, want); err == nil {
			if state, err = decodeState(r.snapper, k.topic, k.partition, payload); err != nil {
				err = &SnapshotError{rejectDecode, err}
			}
		}
	} else if errors.Is(err, ErrCorruptSnapshot) {
		err = &SnapshotError{rejectCorrupt, err}
	} else {
		err = &SnapshotError{rejectUnavailable, err}
	}
	if err != nil {
		reason := rejectCorrupt
		var se *SnapshotError
		if errors.As(err, &se) {
			reason = se.Reason
		}
		r.e.m.snapRejected.WithLabelValues(name, reason).Inc()
		log.Warn("snapshot ignored: rebuilding the partition from the start of the log", "reason", reason, "err", err)
		return nil, h, false
	}
	elapsed := time.Since(start)
	r.e.m.snapRestores.WithLabelValues(name).Inc()
	r.e.m.snapLoadSeconds.WithLabelValues(name).Observe(elapsed.Seconds())
	r.e.m.snapBytes.WithLabelValues(name, k.topic, partLabel(k.partition)).Set(float64(len(snap.Data)))
	log.Info("state restored from a snapshot", "offset", h.offset, "committed", committed, "bytes", len(snap.Data),
		"written_at", time.UnixMilli(h.writtenAt).UTC(), "duration", elapsed)
	return state, h, true
}

// committed marks every state as equal to the group's committed offsets:
// called after a batch's commit (or transaction) succeeded, when everything
// polled is applied and committed. Called with mu held.
func (r *Runner) committed() {
	for _, ss := range r.snaps {
		ss.pending = false
	}
}

// snapshotRetry is how long after a failed snapshot of a state the next
// attempt waits (at most the snapshot interval).
const snapshotRetry = 30 * time.Second

// snapshotKeysPerRecord bounds what snapshots cost per record applied: a
// state of n keys (StateSizer) is snapshotted by record count only once
// n/snapshotKeysPerRecord records have been applied since its latest
// snapshot (and WithSnapshotEvery's count), so encoding it costs at most
// that many keys' encoding per record (a few microseconds), however large
// the state grows. The interval still bounds how stale a snapshot gets.
const snapshotKeysPerRecord = 8

// due reports whether the state ss of key is to be snapshotted at now.
func (r *Runner) due(key tp, ss *snapState, now time.Time) bool {
	o := r.e.o.snap
	if ss.pending || ss.writing || ss.since == 0 || now.Before(ss.retryAt) {
		return false
	}
	if now.Sub(ss.last) >= o.interval {
		return true
	}
	records := o.records
	if sz, ok := r.states[key].(StateSizer); ok {
		records = max(records, sz.StateKeys()/snapshotKeysPerRecord)
	}
	return ss.since >= records
}

// maybeSnapshot encodes the state most due for a snapshot, if any, and
// writes it in the background; one write at a time. Only states equal to
// their committed offset are snapshotted, so a snapshot never covers a
// record whose effects are not durable. Called with mu held, between polls.
func (r *Runner) maybeSnapshot(now time.Time) {
	if r.snapper == nil || r.writing {
		return
	}
	var (
		key  tp
		best *snapState
	)
	for k, ss := range r.snaps {
		if r.due(k, ss, now) && (best == nil || ss.since > best.since) {
			key, best = k, ss
		}
	}
	if best == nil {
		return
	}
	w, err := r.encodeSnapshot(key, best, now)
	if err != nil {
		return
	}
	r.writing, best.writing = true, true
	r.snapWG.Add(1)
	go func() {
		defer r.snapWG.Done()
		ctx, cancel := context.WithTimeout(r.writeCtx, r.e.o.snap.timeout)
		defer cancel()
		start := time.Now()
		err := r.e.o.snap.store.Save(ctx, w.snap)
		r.e.m.snapWriteSeconds.WithLabelValues(r.e.name).Observe(time.Since(start).Seconds())
		r.snapResults <- snapDone{w, err}
	}()
}

// encodeSnapshot frames the state of key as it is now. A failure is logged,
// counted and retried later. Called with mu held.
func (r *Runner) encodeSnapshot(key tp, ss *snapState, now time.Time) (snapWrite, error) {
	start := time.Now()
	h := frameHeader{processor: r.e.name, topic: key.topic, partition: key.partition,
		stateVersion: r.snapper.StateVersion(), offset: ss.next, writtenAt: now.UnixMilli()}
	data, err := encodeFrame(r.snapper, r.states[key], h)
	r.e.m.snapEncodeSeconds.WithLabelValues(r.e.name).Observe(time.Since(start).Seconds())
	if err != nil {
		r.e.m.snapWriteFailures.WithLabelValues(r.e.name).Inc()
		r.e.log.Warn("could not encode a snapshot; retrying later", "topic", key.topic, "partition", key.partition, "err", err)
		ss.retryAt = now.Add(min(snapshotRetry, r.e.o.snap.interval))
		return snapWrite{}, err
	}
	return snapWrite{key: key, st: ss, since: ss.since, snap: Snapshot{
		Processor: r.e.name, Topic: key.topic, Partition: key.partition, StateVersion: h.stateVersion,
		Offset: h.offset, WrittenAt: time.UnixMilli(h.writtenAt), Data: data,
	}}, nil
}

// snapshotDone takes the outcome of the background write, if it has
// ended. Called with mu held.
func (r *Runner) snapshotDone() {
	select {
	case d := <-r.snapResults:
		r.written(d)
	default:
	}
}

// written books the outcome of a snapshot write. Called with mu held.
func (r *Runner) written(d snapDone) {
	r.writing = false
	ss := d.w.st
	ss.writing = false
	if d.err != nil {
		r.e.m.snapWriteFailures.WithLabelValues(r.e.name).Inc()
		r.e.log.Warn("could not write a snapshot; retrying later", "topic", d.w.key.topic, "partition", d.w.key.partition, "err", d.err)
		ss.retryAt = time.Now().Add(min(snapshotRetry, r.e.o.snap.interval))
		return
	}
	n := len(d.w.snap.Data)
	r.e.m.snapWrites.WithLabelValues(r.e.name).Inc()
	r.e.m.snapWrittenBytes.WithLabelValues(r.e.name).Add(float64(n))
	r.e.log.Debug("snapshot written", "topic", d.w.key.topic, "partition", d.w.key.partition,
		"offset", d.w.snap.Offset, "bytes", n)
	if r.snaps[d.w.key] != ss {
		return // the partition was revoked (or rebuilt) meanwhile
	}
	ss.since -= d.w.since
	ss.last, ss.writtenAt = d.w.snap.WrittenAt, d.w.snap.WrittenAt
	r.e.m.snapBytes.WithLabelValues(r.e.name, d.w.key.topic, partLabel(d.w.key.partition)).Set(float64(n))
}

// finalSnapshots, at shutdown after the final commit, waits for the write
// in progress and then snapshots every state that has applied records since
// its latest snapshot, so the next owner replays little or nothing; all
// within ctx (the shutdown grace). Called with mu held.
func (r *Runner) finalSnapshots(ctx context.Context) {
	if r.snapper == nil {
		return
	}
	if r.writing {
		select {
		case d := <-r.snapResults:
			r.written(d)
		case <-ctx.Done():
			return
		}
	}
	for k, ss := range r.snaps {
		if ss.pending || ss.since == 0 || ctx.Err() != nil {
			continue
		}
		now := time.Now()
		w, err := r.encodeSnapshot(k, ss, now)
		if err != nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, r.e.o.snap.timeout)
		start := time.Now()
		err = r.e.o.snap.store.Save(wctx, w.snap)
		cancel()
		r.e.m.snapWriteSeconds.WithLabelValues(r.e.name).Observe(time.Since(start).Seconds())
		r.written(snapDone{w, err})
	}
}
