// Package questionview is the ingest gateway's view of the questions projects define: the
// QuestionDefined in force for each project and question, read from the projects topic, for
// the gateway's check of label values (gateway.Config.Questions).
//
// A View is a view in the sense of goka's views and Kafka Streams' GlobalKTable, read by a
// streams/infra/logview Reader: its own franz-go consumer, in no consumer group and
// committing nothing, reads every partition of the projects topic from the start of the log,
// read_committed. Every instance of the gateway holds the whole view.
//
// What it keeps. Only QuestionDefined is applied; every other record of the topic (quality
// targets, guidelines) is read and dropped. A definition replaces the one before it of the
// same project and question: a project's definitions share its partition (their key is the
// project), so the latest in the log is the latest the owner sent. Of each definition only
// what a check needs is kept (project, question, level, labels, strength scale, IoU
// threshold, and the event id, producer and time for the answers), not its description.
//
// Whom it trusts. A definition counts when it is on the topic, was stamped by a producer
// that is not one of Assay's own components (schemas/access: Reserved; Assay never writes
// questions) and passes the contract's Validate: the gateway accepted it from an owner of
// the project it names (access: QuestionDefined is owner-only within the owner's
// projects), and Kafka's ACLs keep other writers off the topic. A record that fails those is
// counted (outcome untrusted or invalid) and dropped. The view does not judge definitions
// against the principals file in force: revoking an owner, or moving it to other projects,
// must not undefine the questions it defined, which would refuse every region label of
// them at the next restart.
//
// Memory. The view holds at most Config.MaxBytes of definitions, by an estimate of each (its
// strings plus a fixed overhead per definition and per label: DefinitionBytes); questions
// are few (a project defines tens), so the default of 32 MiB holds about a hundred thousand
// definitions of ten labels. Past the cap a definition that does not fit is dropped
// (outcome over_cap, logged), and so is the earlier definition of its question, never left
// in force stale; from then on the view is incomplete (assay_ingest_question_view_full 1)
// and says so to every lookup: the gateway then no longer refuses a value for its question
// being undefined (the definition may be among those dropped), and leaves that to the
// processors, while it still checks values against the definitions it holds. The cure is a
// larger -question-view-bytes and a restart.
//
// Readiness. Like the gate's view: until the view has read every partition up to its high
// watermark at start, Definitions returns an error wrapping ErrNotReady (the gateway
// answers 503 to a request with a label value to check, never a 422 decided on a partial
// view) and Ready says how far it is. Once ready it keeps reading: a definition written
// later counts from the moment the view has fetched it, usually within milliseconds; a
// label sent in between is checked against the previous definition, and its retry against
// the new one.
//
// Metrics, on the registry the caller injects: assay_ingest_question_view_records_total
// {outcome} (applied, ignored, untrusted, invalid, undecodable, over_cap),
// assay_ingest_question_view_ready, assay_ingest_question_view_definitions,
// assay_ingest_question_view_bytes and assay_ingest_question_view_full.
package questionview
