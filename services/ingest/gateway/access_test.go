package gateway_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

// TestIntegrationAccessMatrix sends one event of every type with the token of every role
// (ingesttest.Principals: each principal scoped to the samples' project, cohort and model)
// through the real gateway to the real broker: the writer of a type gets 202 and its event is
// on the ledger with the principal as producer; everyone else gets 403 naming the rule,
// and the refused event is in the DLQ, not on the ledger. The expected writers are written
// out from the issue, not read from the access package.
func TestIntegrationAccessMatrix(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, partitions)
	h := newHarness(t, k, nil)

	writer := map[schemas.EventType]access.Role{
		schemas.TypeItemIngested:            "collector",
		schemas.TypePreLabelProposed:        "model",
		schemas.TypeLabelSubmitted:          "labeler",
		schemas.TypeLabelRetracted:          "labeler",
		schemas.TypeGoldLabelSet:            "qa",
		schemas.TypeReviewCompleted:         "qa",
		schemas.TypeCoverageTargetSet:       "owner",
		schemas.TypeDatasetVersionCommitted: "owner",
		schemas.TypeTrainingRunRegistered:   "owner",
		schemas.TypeEvalFindingReported:     "owner",
		schemas.TypeRemediationStarted:      "owner",
		schemas.TypeRemediationShipped:      "owner",
		schemas.TypeGuidelineReleased:       "owner", // a project's guideline: its accountable owner
		schemas.TypeQualityTargetsSet:       "owner", // a project's quality targets: its owner
		schemas.TypeQuestionDefined:         "owner", // a project's questions: its owner
		schemas.TypeGateOverrideGranted:     "owner", // letting an uncertified version through: its owner
		schemas.TypeRoutingDecided:          "",      // Assay's router only
		schemas.TypeDatasetVersionCertified: "",      // Assay's gate only
		schemas.TypeDatasetVersionRejected:  "",      // Assay's gate only
		schemas.TypeEventRejected:           "",      // Assay's components only
	}
	sample := func(typ schemas.EventType, n int) schemas.Event {
		if typ == schemas.TypeEventRejected {
			return &schemas.EventRejected{Envelope: schemas.Envelope{EventID: fmt.Sprintf("evt-rej-%d", n), OccurredAt: time.Now().UnixMilli()},
				Source: "ingest", Original: []byte("x"), Reason: "r"}
		}
		return ingesttest.Sample(typ, n)
	}
	accepted := map[string]access.Role{} // event id -> producer
	refused := 0
	n := 0
	for _, typ := range schemas.EventTypes() {
		w, ok := writer[typ]
		if !ok {
			t.Fatalf("the matrix has no row for %s: decide who writes it", typ)
		}
		for _, role := range access.Roles() {
			n++
			ev := sample(typ, n)
			a := h.post(t, ingesttest.TokenOf(role), wire.MediaJSON, marshal(t, ev))
			want, rule := http.StatusForbidden, access.RuleEventType
			switch {
			case w == "":
				rule = access.RuleInternal
			case w == role:
				want, rule = http.StatusAccepted, ""
			}
			if a.status != want {
				t.Errorf("%s writing %s: %d, want %d: %s", role, typ, a.status, want, a.body)
				continue
			}
			if want == http.StatusAccepted {
				accepted[ev.Meta().EventID] = role
				continue
			}
			refused++
			if len(a.problem.Errors) != 1 || a.problem.Errors[0].Code != wire.CodeForbidden || a.problem.Errors[0].Rule != rule || !a.problem.DeadLettered {
				t.Errorf("%s writing %s: %s, want one error of code %s naming rule %s", role, typ, a.body, wire.CodeForbidden, rule)
			}
		}
	}
	// One writing role for each type but the internal ones; every other role refused.
	types, writable := len(schemas.EventTypes()), 0
	for _, w := range writer {
		if w != "" {
			writable++
		}
	}
	if len(accepted) != writable || refused != types*len(access.Roles())-writable {
		t.Fatalf("%d accepted, %d refused; want %d and %d", len(accepted), refused, writable, types*len(access.Roles())-writable)
	}

	var ledger []string
	for _, f := range schemas.Families() {
		if f != schemas.FamilyDLQ {
			ledger = append(ledger, k.Topic(f.Topic()))
		}
	}
	recs := ingesttest.ReadTopicExactly(t, k, len(accepted), ledger...)
	if len(recs) != len(accepted) {
		t.Fatalf("%d records on the ledger, want the %d accepted events only", len(recs), len(accepted))
	}
	for _, r := range recs {
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if role, ok := accepted[ev.Meta().EventID]; !ok || ev.Meta().Producer != string(role) {
			t.Errorf("ledger holds %s by %s", ev.Meta().EventID, ev.Meta().Producer)
		}
	}
	rejs := dlqRecords(t, k, refused)
	if len(rejs) != refused {
		t.Fatalf("%d DLQ records, want %d", len(rejs), refused)
	}
	for _, r := range rejs {
		if len(r.Original) == 0 || r.OriginalProducer == "" || r.Source != "ingest:"+r.OriginalProducer {
			t.Errorf("DLQ record %+v: want the refused event, its principal and its source", r)
		}
	}
}
