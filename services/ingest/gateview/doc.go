// Package gateview is the ingest gateway's view of the quality gate: what the gate decided
// about each dataset version, read from the datasets topic, for the gateway's check of a
// TrainingRunRegistered (gateway.Config.Gate).
//
// A View is a view in the sense of goka's views and Kafka Streams' GlobalKTable, read by a
// streams/infra/logview Reader: its own franz-go consumer, in no consumer group and
// committing nothing, reads every partition of the datasets topic from the start of the log,
// read_committed (the gate writes its verdicts in transactions, and an aborted verdict must
// not count), and the view folds the records into a streams/gate State. Every instance of the gateway holds the whole view; nothing is
// partitioned between instances.
//
// What it keeps. Only the gate's verdicts (DatasetVersionCertified, DatasetVersionRejected)
// and owners' overrides (GateOverrideGranted) are applied; every other record of the topic
// (commits, training runs, coverage targets) is read and dropped. The state therefore holds
// per-version facts only (the latest verdict's outcome, sequence and reason, and whether an
// owner overrode the gate, with the override's reason), one entry per dataset version that
// has a verdict or an override: it is bounded by the number of dataset versions, never by the
// number of records read.
//
// Whom it trusts. A verdict counts only when its producer is the gate (gate.Producer,
// assay-processor/gate), as the router trusts only its own decisions: a verdict-looking
// record from anyone else is counted (outcome "untrusted") and dropped before it reaches the
// state (which ignores such verdicts too), whatever it says, so it can neither certify a
// version nor take a certification away. The gateway refuses those types from every
// principal (access: assay.internal), so such a record can only come from a client writing
// to Kafka directly. An override counts when it is on the topic: the gateway accepted it
// from an owner of the project the override names (access: GateOverrideGranted is
// owner-only within the owner's projects).
//
// Readiness. Run first lists the topic's high watermarks; the view is ready once it has read
// every partition up to them (an empty partition is read at once). Before that, Clearance
// returns an error (the gateway answers 503, not 409) and Ready says how far the view is: a
// 409 decided on a view that has not read the log yet would refuse runs on versions the gate
// certified long ago. Once ready it stays ready and keeps reading: a verdict or an override
// written later counts from the moment the view has fetched it (franz-go's fetches
// long-poll, so usually within milliseconds); a run sent in between is decided on the
// previous state, and its retry on the new one.
//
// Metrics, on the registry the caller injects: assay_ingest_gate_view_records_total{outcome}
// (applied, ignored, untrusted, undecodable) and assay_ingest_gate_view_ready (0, then 1 once
// caught up).
package gateview
