package runtime

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
)

// Record is one Kafka record as a processor sees it: where it sits in the
// log and the event it carries.
type Record struct {
	// Topic is the full topic name, deployment prefix included.
	Topic string
	// Family is the contract family of Topic.
	Family schemas.Family
	// Partition and Offset locate the record in the log; together with
	// Topic they are a deterministic key for rows that must collapse on
	// replay.
	Partition int32
	Offset    int64
	// Key is the record key (the family's partition key).
	Key []byte
	// Timestamp is the record's Kafka timestamp.
	Timestamp time.Time
	// Value is the record as read: Avro single-object encoded bytes.
	Value []byte
	// Event is Value decoded; never nil when Apply is called.
	Event schemas.Event
	// Authorize judges Event again with facts the processor's state knows
	// (the project of an event that names none, the producer of a retracted
	// label): the runner checked it without facts before Apply. It is nil
	// when the runner has no authorizer (WithAuthorizer). Processors call
	// Authorized, which also applies the rules that need no registry.
	Authorize func(access.Facts) error
}

// Table declares a ClickHouse table a processor writes: its name (in the
// runner's database) and the columns a Row fills, in order. The runner
// inserts with exactly this column list.
type Table struct {
	// Name is the table name, unquoted.
	Name string
	// Columns are the column names, in the order of Row.Values.
	Columns []string
}

// Row is one row for the table named Table; Values follow that table's
// Columns, with Go types clickhouse-go converts to the column types.
type Row struct {
	Table  string
	Values []any
}

// Output is everything one record causes.
type Output struct {
	// Rows are written to ClickHouse in the record's batch.
	Rows []Row
	// Emit are events produced to their family's topic; only processors
	// that implement Emitter may emit (they run in Kafka transactions).
	Emit []schemas.Event
}

// Processor is a pure state machine over the events of some families. It
// does no I/O; the Runner calls it from one goroutine per runner, so it
// needs no locking.
type Processor interface {
	// Name identifies the processor in metrics, logs, the consumer group
	// name and DLQ records; lower case, e.g. "ledger".
	Name() string
	// Families lists the families whose topics the processor consumes.
	Families() []schemas.Family
	// Tables declares every table a Row may name.
	Tables() []Table
	// NewState returns the empty state of one (topic, partition). A nil
	// state means the processor is stateless: the runner then skips the
	// rebuild on assignment.
	NewState(topic string, partition int32) any
	// Apply folds rec into state (in place) and returns what it causes. An
	// error marks rec as poison: it goes to the DLQ and processing goes on,
	// so Apply must leave state unchanged when it returns an error. A
	// refusal of rec.Authorized (an *access.Violation, wrapped or not) is
	// counted with cause "forbidden", any other error with cause "apply".
	Apply(state any, rec Record) (Output, error)
}

// Emitter is implemented by processors whose Apply returns events. Their
// runner consumes and produces in Kafka transactions, so an emitted event
// is visible (to read_committed consumers) exactly when the offsets of the
// records that caused it are committed.
type Emitter interface {
	Processor
	// EmitsEvents reports whether Apply may return events.
	EmitsEvents() bool
}

// Instrumented is implemented by processors with Prometheus collectors of
// their own, e.g. the state of configuration they reload outside Apply; the
// runner registers them on the registerer of WithRegisterer, beside its
// assay_processor_* series, so they reach the service's /metrics.
type Instrumented interface {
	Processor
	// Collectors returns the collectors to register, once per runner.
	Collectors() []prometheus.Collector
}

// StateSizer is implemented by partition states that can say how many keys
// they hold. The runner exports the count as assay_processor_state_keys
// {processor, topic, partition}, updated after every poll and flush and
// removed when the partition is revoked or lost, so state that grows
// without bound shows on a dashboard before it exhausts memory.
type StateSizer interface {
	// StateKeys returns the number of keys (items, labels, ...) the state
	// holds. It is called from the runner's goroutine, like Apply.
	StateKeys() int
}

func emits(p Processor) bool {
	e, ok := p.(Emitter)
	return ok && e.EmitsEvents()
}
