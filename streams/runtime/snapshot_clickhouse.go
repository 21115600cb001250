package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SnapshotTable is the table of ClickHouseSnapshots (migration
// 0050_processor_snapshots.sql): one row per chunk of a snapshot, in a
// ReplacingMergeTree keyed by (processor, kafka_topic, kafka_partition,
// chunk) and versioned by snapshot_id, so merges keep only the latest
// snapshot of each partition state.
const SnapshotTable = "processor_snapshots"

// snapshotChunk is the size of one row's data: large enough that a snapshot
// of hundreds of megabytes is a few hundred rows, small enough that no row
// strains a block, a granule (the table's index_granularity is 16 rows) or
// the client's buffers.
const snapshotChunk = 1 << 20

// snapshotReadBlock caps the rows of one block read back (max_block_size),
// so reading a snapshot holds a few chunks in the client at a time.
const snapshotReadBlock = 8

// ErrCorruptSnapshot is wrapped by a SnapshotStore's Load error when what
// it holds cannot be a whole snapshot (chunks missing): the runner ignores
// it like a snapshot that fails its checksum.
var ErrCorruptSnapshot = errors.New("snapshot is incomplete")

// ClickHouseSnapshots returns a SnapshotStore in conn's database (table
// SnapshotTable). Each Save is one INSERT of one block, so one part: a
// snapshot is stored whole or not at all; its id (the writer's clock in
// nanoseconds) makes the latest written the one Load returns.
func ClickHouseSnapshots(conn driver.Conn) SnapshotStore { return chSnapshots{conn: conn} }

type chSnapshots struct{ conn driver.Conn }

const insertSnapshot = "INSERT INTO " + SnapshotTable + ` (processor, kafka_topic, kafka_partition, snapshot_id,
	chunk, chunks, chunk_at, bytes, state_version, kafka_offset, written_at, data)`

func (s chSnapshots) Save(ctx context.Context, snap Snapshot) error {
	id := uint64(time.Now().UnixNano())
	n := (len(snap.Data) + snapshotChunk - 1) / snapshotChunk
	b, err := s.conn.PrepareBatch(ctx, insertSnapshot)
	if err != nil {
		return fmt.Errorf("prepare snapshot insert: %w", err)
	}
	for i := range n {
		at := i * snapshotChunk
		chunk := snap.Data[at:min(at+snapshotChunk, len(snap.Data))]
		if err := b.Append(snap.Processor, snap.Topic, uint32(snap.Partition), id,
			uint32(i), uint32(n), uint64(at), uint64(len(snap.Data)), snap.StateVersion, uint64(snap.Offset),
			snap.WrittenAt.UTC(), chunk); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append snapshot chunk %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert snapshot of %s %s[%d] (%d bytes): %w", snap.Processor, snap.Topic, snap.Partition, len(snap.Data), err)
	}
	return nil
}

// latestSnapshot lists the snapshots of one partition state, newest first,
// with their chunk counts: the newest whole one is read.
const latestSnapshot = "SELECT snapshot_id, max(chunks), uniqExact(chunk) FROM " + SnapshotTable + `
WHERE processor = ? AND kafka_topic = ? AND kafka_partition = ?
GROUP BY snapshot_id ORDER BY snapshot_id DESC`

const readSnapshot = "SELECT chunk, chunk_at, bytes, state_version, kafka_offset, written_at, data FROM " + SnapshotTable + `
WHERE processor = ? AND kafka_topic = ? AND kafka_partition = ? AND snapshot_id = ?`

// Load reads the newest whole snapshot. A merge that replaces its chunks
// by a newer snapshot's between the two queries makes it incomplete: the
// read is tried once more, and then finds the newer one.
func (s chSnapshots) Load(ctx context.Context, processor, topic string, partition int32) (Snapshot, error) {
	snap, err := s.load(ctx, processor, topic, partition)
	if errors.Is(err, ErrCorruptSnapshot) && ctx.Err() == nil {
		snap, err = s.load(ctx, processor, topic, partition)
	}
	return snap, err
}

func (s chSnapshots) load(ctx context.Context, processor, topic string, partition int32) (Snapshot, error) {
	snap := Snapshot{Processor: processor, Topic: topic, Partition: partition}
	rows, err := s.conn.Query(ctx, latestSnapshot, processor, topic, uint32(partition))
	if err != nil {
		return snap, fmt.Errorf("list snapshots: %w", err)
	}
	var (
		id, found        uint64
		chunks           uint32
		have, incomplete uint64
	)
	for rows.Next() {
		var c uint32
		var h uint64
		if err := rows.Scan(&id, &c, &h); err != nil {
			rows.Close()
			return snap, fmt.Errorf("list snapshots: %w", err)
		}
		if uint64(c) == h {
			found, chunks = id, c
			break
		}
		incomplete++
		have = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("list snapshots: %w", err)
	}
	if found == 0 {
		if incomplete > 0 {
			return snap, fmt.Errorf("%w: %d snapshots of %s %s[%d], none whole (the newest has %d chunks)",
				ErrCorruptSnapshot, incomplete, processor, topic, partition, have)
		}
		return snap, fmt.Errorf("%w: %s %s[%d]", ErrNoSnapshot, processor, topic, partition)
	}

	rctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_block_size": snapshotReadBlock}))
	rows, err = s.conn.Query(rctx, readSnapshot, processor, topic, uint32(partition), found)
	if err != nil {
		return snap, fmt.Errorf("read snapshot: %w", err)
	}
	defer rows.Close()
	var (
		seen  = make([]bool, chunks)
		total uint64
		read  uint32
	)
	for rows.Next() {
		var (
			chunk, version uint32
			at, size, off  uint64
			written        time.Time
			data           []byte
		)
		if err := rows.Scan(&chunk, &at, &size, &version, &off, &written, &data); err != nil {
			return snap, fmt.Errorf("read snapshot: %w", err)
		}
		if snap.Data == nil {
			total = size
			snap.Data = make([]byte, size)
			snap.StateVersion, snap.Offset, snap.WrittenAt = version, int64(off), written
		}
		if chunk >= chunks || size != total || at+uint64(len(data)) > total {
			return snap, fmt.Errorf("%w: chunk %d of %d at %d (%d bytes) in a snapshot of %d bytes",
				ErrCorruptSnapshot, chunk, chunks, at, len(data), total)
		}
		if seen[chunk] {
			continue // the same insert stored twice: the copies are equal
		}
		seen[chunk] = true
		read++
		copy(snap.Data[at:], data)
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("read snapshot: %w", err)
	}
	if read != chunks {
		return snap, fmt.Errorf("%w: read %d of %d chunks", ErrCorruptSnapshot, read, chunks)
	}
	return snap, nil
}
