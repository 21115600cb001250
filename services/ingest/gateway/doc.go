// Package gateway is the library behind services/ingest: the HTTP door through which
// collectors, annotation tools and evaluation harnesses put events on the ledger.
//
// POST /v1/events takes one event (a JSON object), a batch (a JSON array) or a large batch
// (NDJSON, Content-Type application/x-ndjson). Each object carries event_type and the fields
// of the schemas Go struct of that type, by their JSON names. The gateway:
//
//   - authenticates the caller by a bearer token, configured only as its SHA-256 hash in the
//     principals file (schemas/access), from the header alone (nothing of the body is read
//     first): the token's principal is the producer stamped on every event (schemas.Stamp).
//     The registry is read from Config.Principals once per request; its owner (the ingest
//     main) swaps it on reload, and the gateway then drops the limiters and duplicate windows
//     of principals that are gone;
//   - authorizes every event for its principal (access.Authorize): a type the principal's
//     role does not write, or an event outside its scope (project, vendor, cohort, model), is
//     a 403 whose error names the rule (EventError.Rule: role.event_type, scope.project,
//     labeler.own_vendor, ...). The rules that need state (the project of an event that names
//     none, the producer of a retracted label) are the processors' (access.Deferred);
//   - makes a request without a valid token cost a constant: such requests are limited per
//     remote address (429), at most 16 KiB of the body is read (the connection is closed
//     rather than the rest read), and a DLQ record is written only within a per-address and a total cap per
//     interval, keeping metadata (remote address, reason, size, SHA-256 of what was read)
//     and the first KiB, never the body; the rest are only counted;
//   - limits each principal's request rate (429 with Retry-After from its token bucket; a
//     reload keeps the buckets of the principals it keeps); principals are not limited per
//     address, since behind a proxy they all share one;
//   - decodes strictly (unknown fields and wrong types are errors), stamps and validates each
//     event (schemas' Validate plus the door's own rules: timestamps in milliseconds and not
//     in the future, sizes, event id shape), and encodes it to Avro. The usual event is read
//     in one pass by a fast decoder (fastjson.go) that gives up on anything unusual; what it
//     gives up on is decoded by encoding/json, whose answers and error messages are the
//     contract's;
//   - gates training runs (Config.Gate, set by the ingest main unless -gate-training-runs=false):
//     a TrainingRunRegistered any of whose dataset_versions the quality gate has not
//     certified (its latest verdict is DatasetVersionRejected, or there is no verdict yet) is
//     refused (code not_certified), unless an owner of the version's project granted a
//     GateOverrideGranted for that version; the error names the field
//     (dataset_versions[i]), the version, the latest verdict's reason (or that the gate has
//     not judged it) and the way on (the override). The gate is asked after the recent-ids
//     window, so the retry of a run accepted earlier stays a duplicate. While the gate's view
//     has not caught up, a request with a training run gets 503 (code gate_unavailable), not
//     a 409 decided on a partial view. An override is an ordinary owner's event here: it is
//     authorized (owner-only, in the owner's projects) and published, and the view reads it
//     back from the topic;
//   - checks label values against the questions projects define (Config.Questions, set by
//     the ingest main unless -check-questions=false; services/ingest/questionview reads
//     QuestionDefined from the projects topic): a LabelSubmitted, GoldLabelSet or
//     PreLabelProposed whose question is defined and whose value the definition does not
//     admit (schemas.QuestionDefined.Admits: another level, a category or region label
//     outside the closed set, a strength above the scale), and a spans, boxes or preference
//     value whose question is not defined, is refused as invalid (422, code invalid, like
//     every value the contract's Validate refuses), the error naming the field
//     (value.spans[2].label, value.level, value.preference.strength; question_id for a
//     question not defined, with how to proceed: an owner sends QuestionDefined). A
//     LabelSubmitted's question is looked up in its project; a GoldLabelSet and a
//     PreLabelProposed name no project, so theirs is looked up by question id among the
//     projects the principal may write, and refused only when no definition found admits
//     it (only the processors know the item's project, and which definition applies). A
//     ReviewCompleted's corrected value answers the question of the label it reviews, which
//     the gateway does not know: it gets the contract's checks only, and checking it
//     against its question is left to the processors. Values of levels that need no definition (nominal,
//     ordinal, interval, ratio, multi_label) pass when their question is not defined, and so
//     does any value whose question the view does not hold once it is past its memory cap.
//     The definitions are asked after the recent-ids window, like the gate; while the view
//     has not caught up, a request with a value to check gets 503 (code
//     questions_unavailable), not a 422 decided on a partial view;
//   - publishes the request all-or-nothing: if any event is rejected (invalid, forbidden, or
//     a training run the gate refuses), none is published, every rejected event is written
//     to the DLQ topic with its original bytes (up to MaxDLQOriginalBytes) and the reason
//     (with the rule, for a forbidden one), and the answer names each rejected event by
//     index, field and, if forbidden, rule; its status is 413 if any event is too large, else
//     403 if any is forbidden, else 422 if any is invalid, else 409 (only training runs the
//     gate refused: the request passes once their versions are certified or overridden). A body
//     rejected as a whole keeps its first MaxDLQOriginalBytes, except one rejected for its
//     size (413: over the body limit, too many events, more memory than a request may hold),
//     which keeps metadata only, like a request without a valid token (its size, the SHA-256
//     of the bytes read, the first KiB: under 2 KiB), so that resending a large body does
//     not cost storage in proportion;
//   - answers 202 only after Kafka acknowledged every record (acks=all, idempotent producer),
//     and 503 with Retry-After when Kafka does not;
//   - collapses retried events by event id in a bounded window of recently acknowledged ids,
//     one per producer, so one producer's batches never evict another's ids. A retry is the
//     same event when its JSON is the same up to insignificant whitespace (what json.Compact
//     removes; a hash of it is kept, not the event); the same id with other content (other
//     member order, escapes or number spelling included) is an id_conflict;
//     what escapes the window (restarts, other instances, concurrent retries) is collapsed
//     downstream, where every typed table is a ReplacingMergeTree keyed by event_id;
//   - bounds the memory of the requests in flight by a budget (MaxInFlightBytes), so a
//     burst queues briefly and then gets 503 instead of exhausting memory. The rule: a
//     request charges memory to the budget before it holds it, and what it holds is what
//     it charged. Its body is read into pieces of at most 64 KiB, each charged before it is
//     allocated (after gzip decoding: a compressed bomb or a chunked body holds no more than
//     it has decoded, and at most one piece more), and events are cut out of the pieces in
//     place, so there is no second copy of a body; as each event turns into its record (or
//     its DLQ record) the record is charged and the pieces behind it are dropped, their
//     charge paying for what comes next. Fixed bookkeeping (a record's structs, an answer's
//     JSON, the transient work of one event) is counted by estimates (request.go); an
//     event's lists are charged at their elements' Go size before they are made (the fast
//     decoder counts a list, then makes it at its exact size), since a list of empty
//     objects decodes to many times its JSON ("boxes":[{},{},...]: 56 bytes a Box from
//     3). A DLQ record of metadata only (< 2 KiB) is a constant of the request, not
//     charged;
//   - gives each principal at most a share of the budget (MaxInFlightShare, half by
//     default): past it only that principal's requests wait and get 503, so one producer
//     (a leaked token sending gzip bombs, a runaway loop) cannot take everyone's room. A
//     body larger than what one request may hold is a 413, and so is a request whose events
//     need more memory than that (split the batch);
//   - answers 408 (Connection: close) to a request whose body did not arrive within the
//     server's read timeout: the client's own sending was too slow, which is not overload.
//
// Every piece of per-key state is bounded: the per-address table by -max-clients (and its
// entries expire once their buckets have refilled), the duplicate windows by the window size
// times the configured principals, the per-principal limiters and shares by the principals.
//
// The answers and their reasons are the contract documented in README.md ("Ingest").
package gateway
