// Package access is Assay's principal model: who may write which event, and who may read
// which figure. It is part of the contract, beside the event types it rules on, so every
// layer imports the same rules: the ingest gateway refuses at the door, the processors
// ignore (and dead-letter) what reached Kafka another way, the read API filters its answers.
//
// It owns:
//
//   - the roles and the Principal (id, role, projects, vendor, cohorts, models, annotator
//     prefix) and their validation;
//   - the principals file format, its parser (Parse, ReadFile) and the immutable Registry
//     (by token hash, by id); Store swaps registries atomically and Loader reloads a file
//     into one, with no goroutine or signal of its own: the mains poll and handle SIGHUP;
//   - the write rules (Authorize, AuthorizeWith, Registry.Check), each refusal a *Violation
//     naming its rule;
//   - the read scopes (Principal.ReadScope) the API filters with;
//   - tokens: NewToken, HashToken, BearerToken; and, for clients holding several principals'
//     tokens (the demo, load tests), Writers, which picks the principal of each event.
//
// # The principals file
//
// One token a line; blank lines and lines starting with '#' are ignored:
//
//	# id               sha256 of the token   role and scope
//	acme-labeling      3f0c...e1 role=labeler projects=cats,dogs vendor=acme cohorts=crowd
//	acme-labeling      91aa...07 role=labeler projects=cats,dogs vendor=acme cohorts=crowd
//	camera-collector   5b2d...c4 role=collector projects=cats
//	prelabel-bot       77e1...0a role=model projects=cats models=species-clf
//	qa-team            c0de...99 role=qa projects=*
//	data-owner         a1b2...3c role=owner projects=*
//	acme-dashboard     e4f5...6d role=vendor projects=cats vendor=acme
//	old-collector      -         role=collector projects=cats
//
// The first field is the principal id: the producer stamped on every event it writes
// ([A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}); ids starting "assay-" (any case) are reserved for
// Assay's own components and refused. The second is the SHA-256 of a token in hex (tokens
// themselves are never stored), or "-" for none. Then key=value attributes, in any order,
// each once; lists are comma-separated:
//
//	role=       collector, labeler, model, qa, owner, analyst or vendor (required)
//	projects=   the projects it writes or reads, or * for every project (required; * only for
//	            internal principals: not for role vendor, nor a labeler with a vendor)
//	vendor=     role vendor: required, the vendor whose party it reads; role labeler: the
//	            vendor its labels name (leave it out for an in-house team); no other role
//	cohorts=    role labeler: the cohorts its labels may name (none: labels without a
//	            cohort); role vendor: the cohorts it reads (none: all of its vendor's)
//	models=     role model: the model names its pre-labels may name, or * (required)
//	annotators= role labeler: a prefix every annotator_id of its labels must start with
//
// Attributes that do not apply to the role are refused, as are unknown keys. A principal may
// have several lines, one per token (rotation: add the new token's line, move the clients,
// delete the old line); all its lines must declare the same role and scope. One token hash
// belongs to one principal only. Errors name the file and the line, never the hash field.
//
// Revoking: delete the token's line (the gateway refuses the token at its next poll), or, to
// revoke a principal's last token while the processors keep attributing its past events on a
// replay, replace the hash with "-". A principal's role should never change: give the new
// role a new id, since replays judge past events by the registry in force.
//
// # Write rules
//
// Each event type is written by one role, in its projects (Authorize; rule names in
// brackets):
//
//	ItemIngested             collector   project_id in its projects
//	PreLabelProposed         model       model in its models [model.own_models]; project: the item's*
//	LabelSubmitted           labeler     project_id in its projects; vendor its own
//	                                     [labeler.own_vendor]; cohort one of its own
//	                                     [labeler.own_cohort]; annotator_id starting with its
//	                                     prefix, if it has one [labeler.own_annotators]
//	LabelRetracted           labeler     only labels it submitted [labeler.own_labels]*;
//	                                     project: the label's*
//	GoldLabelSet             qa          project: the item's*
//	ReviewCompleted          qa          project: the label's item's*
//	CoverageTargetSet        owner       project: the dataset's*
//	DatasetVersionCommitted  owner       project: the dataset's*
//	TrainingRunRegistered    owner       project: the dataset's*
//	EvalFindingReported      owner       project_id in its projects
//	RemediationStarted       owner       project: the finding's*
//	RemediationShipped       owner       project: the finding's*
//	GuidelineReleased        owner       project_id in its projects
//	QualityTargetsSet        owner       project_id in its projects
//	QuestionDefined          owner       project_id in its projects
//	GateOverrideGranted      owner       project_id in its projects
//	RoutingDecided           Assay's own processors only [assay.internal]
//	DatasetVersionCertified  Assay's gate only [assay.internal]
//	DatasetVersionRejected   Assay's gate only [assay.internal]
//	EventRejected            Assay's own components only [assay.internal]
//
// Another role's type is refused as [role.event_type]; a project outside the principal's as
// [scope.project]; analyst and vendor write nothing. A type access has no rule for is written
// by no principal (it fails closed), so a new event type needs a line in the writers table.
//
// (*) The events marked so name no project (and a retraction does not name its label's
// producer): the schemas have no such field, and this package adds none. A stateless caller
// (the gateway) cannot check these rules and lets them pass (Deferred lists them); a principal
// with projects=* passes them anyway. The processors, which know every item's project (from
// ItemIngested), every dataset's (from its items) and finding's (from EvalFindingReported),
// and every label's producer, check them with AuthorizeWith and Facts, and Registry.Check
// decides on events read from the log by their producer: a reserved producer may write only
// the internal types; any other must be a principal of the registry.
//
// # Read scopes
//
// Analyst, owner and qa read every figure of their projects. A vendor reads its projects'
// project-level figures and, of the party figures (per annotator, cohort, vendor, label,
// item), only its own vendor's rows (and cohorts', when it names some): ReadScope.
// Collector, labeler and model tokens read nothing [role.read].
package access
