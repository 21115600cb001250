package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

const partitions = 6

// TestIntegrationRoundTrip sends every event type a principal may write, as JSON arrays (one
// per role, each with its principal's token), a large NDJSON batch and a single object, and
// checks that each record is on its family's topic, on the partition the Java client's
// murmur2 would pick for its key, at the offset the answer named, and decodes to the event
// sent (stamped with its principal's id as the producer).
func TestIntegrationRoundTrip(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, partitions)
	h := newHarness(t, k, nil)

	sent := map[string]schemas.Event{}
	writer := map[string]access.Role{} // event id -> the role whose principal sent it
	batches := map[string][]schemas.Event{}
	for i, typ := range ingesttest.AllTypes() {
		role, ok := access.WriterOf(typ)
		if !ok {
			continue // RoutingDecided: Assay's router writes it, never a caller
		}
		ev := ingesttest.Sample(typ, i)
		tok := ingesttest.TokenOf(role)
		batches[tok] = append(batches[tok], ev)
		sent[ev.Meta().EventID] = ev
		writer[ev.Meta().EventID] = role
	}
	if len(batches) != 5 {
		t.Fatalf("%d writing roles, want collector, labeler, model, qa and owner", len(batches))
	}
	var labels []schemas.Event
	for i := 1000; i < 1300; i++ {
		ev := ingesttest.Sample(schemas.TypeLabelSubmitted, i)
		labels = append(labels, ev)
		sent[ev.Meta().EventID] = ev
		writer[ev.Meta().EventID] = access.RoleLabeler
	}
	single := ingesttest.Sample(schemas.TypeItemIngested, 5000)
	sent[single.Meta().EventID] = single
	writer[single.Meta().EventID] = access.RoleCollector

	before := time.Now().UnixMilli()
	results := map[string]wire.EventResult{}
	var answers []answer
	for tok, batch := range batches {
		answers = append(answers, h.post(t, tok, wire.MediaJSON, jsonArray(t, batch...)))
	}
	answers = append(answers,
		h.post(t, labelerToken, wire.MediaNDJSON, ndjson(t, labels...)),
		h.post(t, collectorToken, "", marshal(t, single)))
	for _, a := range answers {
		if a.status != http.StatusAccepted {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		for _, r := range a.accepted.Events {
			results[r.EventID] = r
		}
	}
	if len(results) != len(sent) {
		t.Fatalf("%d results for %d events", len(results), len(sent))
	}

	var topics []string
	for _, f := range schemas.Families() {
		if f != schemas.FamilyDLQ {
			topics = append(topics, k.Topic(f.Topic()))
		}
	}
	recs := ingesttest.ReadTopic(t, k, len(sent), 30*time.Second, topics...)
	if len(recs) != len(sent) {
		t.Fatalf("read %d records, sent %d", len(recs), len(sent))
	}
	for _, r := range recs {
		got, err := schemas.Decode(r.Value)
		if err != nil {
			t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		id := got.Meta().EventID
		want, ok := sent[id]
		if !ok {
			t.Fatalf("unexpected event %s", id)
		}
		res := results[id]
		if r.Topic != k.Topic(want.Family().Topic()) || res.Topic != r.Topic {
			t.Errorf("%s on topic %s (answer said %s), want family %s", id, r.Topic, res.Topic, want.Family())
		}
		if string(r.Key) != want.Key() {
			t.Errorf("%s key %q, want %q", id, r.Key, want.Key())
		}
		if p := ingesttest.Partition(want.Key(), partitions); r.Partition != p || *res.Partition != p {
			t.Errorf("%s on partition %d (answer %d), murmur2 says %d", id, r.Partition, *res.Partition, p)
		}
		if *res.Offset != r.Offset {
			t.Errorf("%s at offset %d, answer said %d", id, r.Offset, *res.Offset)
		}
		m := got.Meta()
		if m.Producer != string(writer[id]) || m.RecordedAt < before || m.RecordedAt > time.Now().UnixMilli() {
			t.Errorf("%s stamped producer %q recorded_at %d", id, m.Producer, m.RecordedAt)
		}
		// The gateway owns producer, recorded_at and event_type; everything else must be
		// exactly what was sent.
		want.Meta().Producer, want.Meta().RecordedAt, want.Meta().EventType = m.Producer, m.RecordedAt, want.Type()
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if !bytes.Equal(wj, gj) {
			t.Errorf("%s decoded differently:\n got %s\nwant %s", id, gj, wj)
		}
	}
}

// rejectCase is one kind of bad input and the answer it must get.
type rejectCase struct {
	name        string
	token       string // "" is the labeler's, "-" none
	contentType string
	body        string
	status      int
	code        string // request-level code, or the code of every rejected event
	rule        string // the access rule named for the first rejected event (code forbidden)
	field       string // the field named for the first rejected event
	index       int    // the index of the first rejected event
	dlq         int    // DLQ records this input must produce
	marker      string // text inside the DLQ original(s)
}

func eventJSON(t *testing.T, typ schemas.EventType, n int, edit func(map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(marshal(t, ingesttest.Sample(typ, n)), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestIntegrationRejections sends every kind of bad input and checks the documented answer,
// the named index and field, a DLQ record with the original bytes and reason for every
// rejected event, and that nothing of a rejected request reached the ledger topics.
func TestIntegrationRejections(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, partitions)
	h := newHarness(t, k, func(c *gateway.Config) {
		c.MaxBodyBytes = 64 << 10
		c.MaxEventBytes = 16 << 10
		c.MaxEvents = 100
		c.MaxDLQOriginalBytes = 8 << 10
	})
	mark := func(s string) func(map[string]any) { return func(m map[string]any) { m["item_id"] = s } }
	valid := func(n int) string { return eventJSON(t, schemas.TypeLabelSubmitted, n, nil) }

	cases := []rejectCase{
		{name: "malformed JSON array", contentType: wire.MediaJSON, body: `[{"event_type":"ItemIngested","item_id":"MARK-malformed"`,
			status: 400, code: wire.CodeMalformedJSON, dlq: 1, marker: "MARK-malformed"},
		{name: "wrong type among valid events", body: "[" + valid(1) + "," + eventJSON(t, schemas.TypeLabelSubmitted, 2, func(m map[string]any) {
			m["time_spent_ms"] = "long"
			m["item_id"] = "MARK-wrongtype"
		}) + "," + valid(3) + "]", status: 422, code: wire.CodeWrongType, field: "time_spent_ms", index: 1, dlq: 1, marker: "MARK-wrongtype"},
		{name: "unknown event type", body: `{"event_type":"ItemDeleted","item_id":"MARK-unknowntype"}`,
			status: 422, code: wire.CodeUnknownType, field: "event_type", dlq: 1, marker: "MARK-unknowntype"},
		{name: "missing event type", body: `{"item_id":"MARK-notype"}`,
			status: 422, code: wire.CodeMissingType, field: "event_type", dlq: 1, marker: "MARK-notype"},
		{name: "bad hash", token: collectorToken, body: eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) { m["sha256"] = "ABC"; m["item_id"] = "MARK-hash" }),
			status: 422, code: wire.CodeInvalid, field: "sha256", dlq: 1, marker: "MARK-hash"},
		{name: "unknown field", token: collectorToken, body: eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) { m["colour"] = "red"; m["item_id"] = "MARK-unknownfield" }),
			status: 422, code: wire.CodeUnknownField, field: "colour", dlq: 1, marker: "MARK-unknownfield"},
		{name: "label value does not match its level", body: eventJSON(t, schemas.TypeLabelSubmitted, 1, func(m map[string]any) {
			m["value"] = map[string]any{"level": "nominal", "category": "x", "rank": 2}
			m["item_id"] = "MARK-level"
		}), status: 422, code: wire.CodeInvalid, field: "value.rank", dlq: 1, marker: "MARK-level"},
		{name: "occurred_at in the future", token: collectorToken, body: eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) {
			m["occurred_at"] = time.Now().Add(3 * time.Hour).UnixMilli()
			m["item_id"] = "MARK-future"
		}), status: 422, code: wire.CodeInvalid, field: "occurred_at", dlq: 1, marker: "MARK-future"},
		{name: "occurred_at in seconds", token: collectorToken, body: eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) {
			m["occurred_at"] = time.Now().Unix()
			m["item_id"] = "MARK-seconds"
		}), status: 422, code: wire.CodeInvalid, field: "occurred_at", dlq: 1, marker: "MARK-seconds"},
		{name: "duplicate ids in one request", body: "[" + valid(7) + "," + eventJSON(t, schemas.TypeLabelSubmitted, 7, mark("MARK-dupid")) + "]",
			status: 422, code: wire.CodeDuplicateID, field: "event_id", index: 1, dlq: 1, marker: "MARK-dupid"},
		{name: "not an object", body: `["MARK-notobject-a", ["MARK-notobject-b"]]`, status: 422, code: wire.CodeNotObject, index: 0, dlq: 2, marker: "MARK-notobject"},
		{name: "broken NDJSON line", contentType: wire.MediaNDJSON, body: valid(1) + "\n{\"event_type\":\"LabelSubmitted\",\"item_id\":\"MARK-ndjson\"\n" + valid(2) + "\n",
			status: 422, code: wire.CodeMalformedJSON, index: 1, dlq: 1, marker: "MARK-ndjson"},
		{name: "missing auth", token: "-", body: eventJSON(t, schemas.TypeItemIngested, 1, mark("MARK-noauth")),
			status: 401, code: wire.CodeUnauthenticated, dlq: 1, marker: "MARK-noauth"},
		{name: "unknown token", token: "not-a-token", body: eventJSON(t, schemas.TypeItemIngested, 1, mark("MARK-badtoken")),
			status: 401, code: wire.CodeUnauthenticated, dlq: 1, marker: "MARK-badtoken"},
		{name: "event type the role does not write", body: "[" + valid(1) + "," + eventJSON(t, schemas.TypeItemIngested, 1, mark("MARK-forbidden")) + "]",
			status: 403, code: wire.CodeForbidden, rule: access.RuleEventType, field: "event_type", index: 1, dlq: 1, marker: "MARK-forbidden"},
		{name: "a labeler setting gold", body: eventJSON(t, schemas.TypeGoldLabelSet, 1, mark("MARK-gold")),
			status: 403, code: wire.CodeForbidden, rule: access.RuleEventType, field: "event_type", dlq: 1, marker: "MARK-gold"},
		{name: "a labeler claiming another vendor", body: "[" + valid(1) + "," + eventJSON(t, schemas.TypeLabelSubmitted, 2, func(m map[string]any) {
			m["vendor"] = "acme"
			m["item_id"] = "MARK-vendor"
		}) + "]", status: 403, code: wire.CodeForbidden, rule: access.RuleOwnVendor, field: "vendor", index: 1, dlq: 1, marker: "MARK-vendor"},
		{name: "a collector in another project", token: collectorToken, body: eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) {
			m["project_id"] = "proj-2"
			m["item_id"] = "MARK-project"
		}), status: 403, code: wire.CodeForbidden, rule: access.RuleProject, field: "project_id", dlq: 1, marker: "MARK-project"},
		{name: "routing decisions are the router's", token: qaToken, body: eventJSON(t, schemas.TypeRoutingDecided, 1, mark("MARK-routing")),
			status: 403, code: wire.CodeForbidden, rule: access.RuleInternal, field: "event_type", dlq: 1, marker: "MARK-routing"},
		{name: "DLQ events are not for callers", body: `{"event_type":"EventRejected","event_id":"x","source":"MARK-dlqtype","reason":"r","original":""}`,
			status: 403, code: wire.CodeForbidden, rule: access.RuleInternal, field: "event_type", dlq: 1, marker: "MARK-dlqtype"},
		{name: "oversize body", body: `[` + strings.Repeat(eventJSON(t, schemas.TypeLabelSubmitted, 1, mark("MARK-bigbody"))+",", 200) + valid(1) + `]`,
			status: 413, code: wire.CodeBodyTooLarge, dlq: 1, marker: "MARK-bigbody"},
		{name: "oversize event", body: "[" + valid(1) + "," + eventJSON(t, schemas.TypeItemIngested, 1, func(m map[string]any) {
			m["uri"] = strings.Repeat("u", 20<<10)
			m["item_id"] = "MARK-bigevent"
		}) + "]", status: 413, code: wire.CodeEventTooLarge, index: 1, dlq: 1, marker: "MARK-bigevent"},
		{name: "too many events", contentType: wire.MediaNDJSON, body: strings.Repeat(eventJSON(t, schemas.TypeRemediationStarted, 1, func(m map[string]any) { m["plan"] = "MARK-toomany" })+"\n", 101),
			status: 413, code: wire.CodeTooManyEvents, dlq: 1, marker: "MARK-toomany"},
		{name: "unsupported media type", contentType: "text/plain", body: "MARK-media", status: 415, code: wire.CodeUnsupportedMedia, dlq: 1, marker: "MARK-media"},
		{name: "empty body", body: "  ", status: 400, code: wire.CodeEmpty, dlq: 1},
	}
	wantDLQ := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := c.token
			switch token {
			case "":
				token = labelerToken
			case "-":
				token = ""
			}
			a := h.post(t, token, c.contentType, []byte(c.body))
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if !a.problem.DeadLettered {
				t.Errorf("answer does not say the input was dead-lettered: %s", a.body)
			}
			if c.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if len(a.problem.Errors) == 0 {
				if a.problem.Code != c.code {
					t.Fatalf("code %q, want %q: %s", a.problem.Code, c.code, a.body)
				}
				return
			}
			if len(a.problem.Errors) != c.dlq || a.problem.Rejected != c.dlq {
				t.Errorf("%d errors (rejected %d), want %d: %s", len(a.problem.Errors), a.problem.Rejected, c.dlq, a.body)
			}
			e := a.problem.Errors[0]
			if e.Code != c.code || e.Field != c.field || e.Index != c.index || e.Rule != c.rule {
				t.Errorf("first error %+v, want code %s rule %q field %q index %d", e, c.code, c.rule, c.field, c.index)
			}
			if c.rule != "" && (e.Reason == "" || !strings.Contains(e.Reason, "labeler") && !strings.Contains(e.Reason, "collector") && !strings.Contains(e.Reason, "qa")) {
				t.Errorf("a refusal's reason does not name the principal: %q", e.Reason)
			}
		})
		wantDLQ += c.dlq
	}

	rejs := dlqRecords(t, k, wantDLQ)
	if len(rejs) != wantDLQ {
		t.Fatalf("%d DLQ records, want %d", len(rejs), wantDLQ)
	}
	for _, c := range cases {
		if c.marker == "" {
			continue
		}
		n := 0
		for _, r := range rejs {
			if !ingesttest.Contains(r.Original, c.marker) {
				continue
			}
			n++
			if !strings.HasPrefix(r.Reason, c.code+":") || !strings.Contains(r.Reason, c.rule) {
				t.Errorf("%s: DLQ reason %q, want code %s and rule %q", c.name, r.Reason, c.code, c.rule)
			}
			wantSource := "ingest:labeler"
			switch c.token {
			case "-", "not-a-token":
				wantSource = "ingest:unauthenticated"
			case collectorToken:
				wantSource = "ingest:collector"
			case qaToken:
				wantSource = "ingest:qa"
			}
			if r.Source != wantSource || r.Producer != "assay-ingest" {
				t.Errorf("%s: DLQ source %q producer %q, want %q, assay-ingest", c.name, r.Source, r.Producer, wantSource)
			}
			if c.field != "" && r.Field != c.field && len(r.Original) < 8<<10 {
				t.Errorf("%s: DLQ field %q, want %q", c.name, r.Field, c.field)
			}
		}
		if n != c.dlq {
			t.Errorf("%s: %d DLQ records carry %s, want %d", c.name, n, c.marker, c.dlq)
		}
	}
	// A body rejected for its size keeps metadata only: its size, the SHA-256 of what was
	// read and its first KiB (not the first -max-dlq-original-bytes, here 8 KiB).
	for _, r := range rejs {
		if (ingesttest.Contains(r.Original, "MARK-bigbody") || ingesttest.Contains(r.Original, "MARK-toomany")) &&
			(len(r.Original) != 1<<10 || !strings.Contains(r.Reason, "; sha256 ") || !strings.Contains(r.Reason, "; body ")) {
			t.Errorf("a body rejected for its size kept %d bytes, reason %q; want its first KiB, its size and hash", len(r.Original), r.Reason)
		}
	}

	// All-or-nothing: the valid events of every rejected request stayed out of the ledger.
	var ledger []string
	for _, f := range schemas.Families() {
		if f != schemas.FamilyDLQ {
			ledger = append(ledger, k.Topic(f.Topic()))
		}
	}
	if recs := ingesttest.ReadTopic(t, k, 1, 2*time.Second, ledger...); len(recs) != 0 {
		t.Errorf("%d records on ledger topics after only rejected requests", len(recs))
	}

	// The metrics count what happened, with bounded labels.
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`assay_ingest_requests_total{code="422"}`,
		`assay_ingest_events_rejected_total{event_type="ItemIngested",reason="invalid"}`,
		`assay_ingest_events_rejected_total{event_type="unknown",reason="unauthenticated"} 2`,
		`assay_ingest_events_rejected_total{event_type="LabelSubmitted",reason="forbidden"} 1`,
		`assay_ingest_events_forbidden_total{rule="labeler.own_vendor"} 1`,
		`assay_ingest_events_forbidden_total{rule="role.event_type"} 2`,
		`assay_ingest_events_forbidden_total{rule="assay.internal"} 2`,
		`assay_ingest_inflight_bytes 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestIntegrationIdempotentRetry resends an acknowledged batch (byte-identical, then
// re-formatted as NDJSON) and checks that it is answered 202 from the window without new
// records, that reusing an id for other content is a 422, and that ids the gateway generates
// are returned.
func TestIntegrationIdempotentRetry(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, partitions)
	h := newHarness(t, k, nil)

	var evs []schemas.Event
	for i := 0; i < 50; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	body := jsonArray(t, evs...)
	if a := h.post(t, labelerToken, wire.MediaJSON, body); a.status != 202 || a.accepted.Duplicates != 0 {
		t.Fatalf("first send: %d %s", a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, body); a.status != 202 || a.accepted.Duplicates != 50 || a.accepted.Accepted != 50 {
		t.Fatalf("retry: %d %s", a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaNDJSON, ndjson(t, evs...)); a.status != 202 || a.accepted.Duplicates != 50 {
		t.Fatalf("retry as NDJSON: %d %s", a.status, a.body)
	}
	changed := ingesttest.Sample(schemas.TypeLabelSubmitted, 3).(*schemas.LabelSubmitted)
	changed.AnnotatorID = "someone-else"
	a := h.post(t, labelerToken, wire.MediaJSON, marshal(t, changed))
	if a.status != 422 || len(a.problem.Errors) != 1 || a.problem.Errors[0].Code != wire.CodeIDConflict {
		t.Fatalf("same id, other content: %d %s", a.status, a.body)
	}
	// Another producer's ids are its own: the window never suppresses them.
	if a := h.post(t, labeler2Token, wire.MediaJSON, marshal(t, ingesttest.Sample(schemas.TypeLabelSubmitted, 0))); a.status != 202 || a.accepted.Duplicates != 0 {
		t.Fatalf("other producer, same id: %d %s", a.status, a.body)
	}

	noIDs := []schemas.Event{ingesttest.Sample(schemas.TypeGoldLabelSet, 1), ingesttest.Sample(schemas.TypeGoldLabelSet, 2)}
	for _, ev := range noIDs {
		ev.Meta().EventID = ""
	}
	a = h.post(t, qaToken, wire.MediaJSON, jsonArray(t, noIDs...))
	if a.status != 202 || len(a.accepted.Events) != 2 || a.accepted.Events[0].EventID == "" || a.accepted.Events[0].EventID == a.accepted.Events[1].EventID {
		t.Fatalf("generated ids: %d %s", a.status, a.body)
	}

	recs := ingesttest.ReadTopicExactly(t, k, 53, k.Topic(schemas.FamilyLabels.Topic()))
	if len(recs) != 53 {
		t.Fatalf("%d records on the labels topic, want 50 + 1 (other producer) + 2 (generated ids)", len(recs))
	}
}

// TestIntegrationKafkaDown stops a private broker under a stream of requests: requests get
// 503 with Retry-After (never a 202 that is not durable), readiness fails, and after the
// broker is back every event that was ever answered 202 is on the topic; retried batches
// then succeed.
func TestIntegrationKafkaDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private broker")
	}
	pk := testenv.StartPrivateKafka(t)
	k := pk.Config
	testenv.Topics(t, k, 3)
	h := newHarness(t, k, func(c *gateway.Config) {
		c.ProduceTimeout = 3 * time.Second
		c.RetryAfter = 2 * time.Second
	})

	var (
		acked   = map[string]bool{}
		pending [][]byte // bodies answered 503, to retry after the restart
		batchNo int
	)
	send := func() answer {
		var evs []schemas.Event
		for i := 0; i < 20; i++ {
			ev := ingesttest.Sample(schemas.TypeLabelSubmitted, batchNo*100+i)
			evs = append(evs, ev)
		}
		batchNo++
		body := jsonArray(t, evs...)
		a := h.post(t, labelerToken, wire.MediaJSON, body)
		switch a.status {
		case http.StatusAccepted:
			for _, r := range a.accepted.Events {
				acked[r.EventID] = true
			}
		case http.StatusServiceUnavailable:
			if ra := a.header.Get("Retry-After"); ra != "2" {
				t.Errorf("503 with Retry-After %q, want 2", ra)
			}
			pending = append(pending, body)
		default:
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		return a
	}
	for i := 0; i < 5; i++ {
		if a := send(); a.status != 202 {
			t.Fatalf("before the stop: %d %s", a.status, a.body)
		}
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pk.Stop() }()
	deadline := time.Now().Add(60 * time.Second)
	for len(pending) == 0 && time.Now().Before(deadline) {
		send()
	}
	wg.Wait()
	if len(pending) == 0 {
		t.Fatal("no 503 while the broker was stopping")
	}
	if a := send(); a.status != 503 {
		t.Fatalf("with the broker down: %d %s", a.status, a.body)
	}
	if resp, err := http.Get(h.srv.URL + "/readyz"); err != nil || resp.StatusCode != 503 {
		t.Fatalf("readyz with the broker down: %v %v", resp.StatusCode, err)
	}
	t.Logf("%d batches acknowledged, %d answered 503 before the restart", len(acked)/20, len(pending))

	pk.Start()
	// What a client does: retry every 503'd batch (same ids) until it is accepted.
	for _, body := range pending {
		for try := 0; ; try++ {
			a := h.post(t, labelerToken, wire.MediaJSON, body)
			if a.status == 202 {
				for _, r := range a.accepted.Events {
					acked[r.EventID] = true
				}
				break
			}
			if a.status != 503 || try > 30 {
				t.Fatalf("retry after restart: %d %s", a.status, a.body)
			}
			time.Sleep(time.Second)
		}
	}
	if a := send(); a.status != 202 {
		t.Fatalf("after the restart: %d %s", a.status, a.body)
	}

	recs := ingesttest.ReadTopic(t, k, len(acked), 30*time.Second, k.Topic(schemas.FamilyLabels.Topic()))
	onTopic := map[string]int{}
	for _, r := range recs {
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		onTopic[ev.Meta().EventID]++
	}
	missing := 0
	for id := range acked {
		if onTopic[id] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are not on the topic", missing, len(acked))
	}
	dups := len(recs) - len(onTopic)
	t.Logf("all %d acknowledged events are on the topic; %d records are second copies (collapsed downstream by event_id)", len(acked), dups)
	if len(onTopic) != len(acked) {
		t.Errorf("%d distinct events on the topic, %d acknowledged", len(onTopic), len(acked))
	}
}

// TestIntegrationUnauthenticatedFlood replays the attack on the real broker: a
// flood of 533 KB bodies with a wrong token. With the default per-address rate, the first
// requests get 401 and the rest 429; only the per-address cap of DLQ records (3 here) is
// written, each under 2 KiB, carrying the SHA-256 of what was read instead of the body.
func TestIntegrationUnauthenticatedFlood(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, partitions)
	h := newHarness(t, k, func(c *gateway.Config) { c.UnauthDLQPerClient = 3 })
	body := bigBody(t, "MARK-flood", 533_000)
	statuses := map[int]int{}
	const requests = 40
	for i := 0; i < requests; i++ {
		a := do(t, from("127.0.0.1"), h.request(t, "wrong", bytes.NewReader(body), int64(len(body))))
		statuses[a.status]++
		if a.status == http.StatusTooManyRequests && a.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	if statuses[401]+statuses[429] != requests || statuses[429] == 0 {
		t.Fatalf("answers %v: want 401s, then 429s past the per-address rate", statuses)
	}
	if n := dlqCount(t, k); n != 3 {
		t.Fatalf("%d DLQ records after %d unauthenticated requests, want the cap of 3", n, requests)
	}
	sum := sha256.Sum256(body[:16<<10])
	total := 0
	for _, r := range ingesttest.ReadTopic(t, k, 3, 20*time.Second, k.Topic(schemas.FamilyDLQ.Topic())) {
		total += len(r.Value)
		rej, err := schemas.DecodeAs[schemas.EventRejected](r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Value) >= 2<<10 || !strings.Contains(rej.Reason, hex.EncodeToString(sum[:])) || len(rej.Original) != 1<<10 {
			t.Errorf("DLQ record of %d bytes, original %d bytes, reason %q", len(r.Value), len(rej.Original), rej.Reason)
		}
	}
	t.Logf("%d requests of %d bytes (answers %v): 3 DLQ records, %d bytes in all", requests, len(body), statuses, total)
}
