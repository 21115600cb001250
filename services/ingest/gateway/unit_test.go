package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
)

func TestDecodeRequest(t *testing.T) {
	ok := `{"event_type":"LabelRetracted","event_id":"e1","label_id":"l","item_id":"i","reason":"r"}`
	tests := []struct {
		name, ct, body string
		reqCode        string   // request-level code expected
		codes          []string // per element: "" for decoded, else the code
		fields         []string
	}{
		{name: "single object", body: ok, codes: []string{""}},
		{name: "array", body: "[" + ok + "," + ok + "]", codes: []string{"", ""}},
		{name: "ndjson with blank and CRLF lines", ct: wire.MediaNDJSON, body: ok + "\r\n\n" + ok + "\n", codes: []string{"", ""}},
		{name: "content type with charset", ct: "application/json; charset=utf-8", body: ok, codes: []string{""}},
		{name: "broken array", body: "[" + ok, reqCode: wire.CodeMalformedJSON},
		{name: "trailing data after array", body: "[" + ok + "] x", reqCode: wire.CodeMalformedJSON},
		{name: "broken object", body: `{"event_type":`, reqCode: wire.CodeMalformedJSON},
		{name: "empty", body: " \n", reqCode: wire.CodeEmpty},
		{name: "empty array", body: "[]", reqCode: wire.CodeEmpty},
		{name: "form content type", ct: "application/x-www-form-urlencoded", body: ok, reqCode: wire.CodeUnsupportedMedia},
		{name: "too many", ct: wire.MediaNDJSON, body: strings.Repeat(ok+"\n", 4), reqCode: wire.CodeTooManyEvents},
		{name: "element kinds", body: `[1, null, {}]`, codes: []string{wire.CodeNotObject, wire.CodeNotObject, wire.CodeMissingType}},
		{name: "event_type not a string", body: `{"event_type":7}`, codes: []string{wire.CodeWrongType}, fields: []string{"event_type"}},
		{name: "unknown type", body: `{"event_type":"Nope"}`, codes: []string{wire.CodeUnknownType}, fields: []string{"event_type"}},
		{name: "unknown field", body: `{"event_type":"LabelRetracted","label":"x"}`, codes: []string{wire.CodeUnknownField}, fields: []string{"label"}},
		{name: "wrong type nested", body: `{"event_type":"LabelSubmitted","value":{"level":"ordinal","rank":"high"}}`, codes: []string{wire.CodeWrongType}, fields: []string{"value.rank"}},
		{name: "float for integer", body: `{"event_type":"LabelSubmitted","time_spent_ms":1.5}`, codes: []string{wire.CodeWrongType}, fields: []string{"time_spent_ms"}},
		{name: "ndjson bad line among good", ct: wire.MediaNDJSON, body: ok + "\n{\"event_type\"\n" + ok, codes: []string{"", wire.CodeMalformedJSON, ""}},
		{name: "ndjson two objects on a line", ct: wire.MediaNDJSON, body: ok + " " + ok, codes: []string{wire.CodeMalformedJSON}},
		{name: "event too large", body: `{"event_type":"LabelRetracted","reason":"` + strings.Repeat("x", 300) + `"}`, codes: []string{wire.CodeEventTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rerr := DecodeRequest([]byte(tt.body), tt.ct, 3, 256)
			if tt.reqCode != "" {
				if rerr == nil || rerr.Code != tt.reqCode {
					t.Fatalf("request error %v, want code %s", rerr, tt.reqCode)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("request error %v", rerr)
			}
			if len(got) != len(tt.codes) {
				t.Fatalf("%d elements, want %d", len(got), len(tt.codes))
			}
			for i, d := range got {
				if d.Index != i {
					t.Errorf("element %d has index %d", i, d.Index)
				}
				code, field := "", ""
				if d.Err != nil {
					code, field = d.Err.Code, d.Err.Field
					if d.Event != nil {
						t.Errorf("element %d has both an event and an error", i)
					}
				} else if d.Event == nil {
					t.Errorf("element %d has neither an event nor an error", i)
				}
				if code != tt.codes[i] {
					t.Errorf("element %d: code %q (%v), want %q", i, code, d.Err, tt.codes[i])
				}
				if tt.fields != nil && field != tt.fields[i] {
					t.Errorf("element %d: field %q, want %q", i, field, tt.fields[i])
				}
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	h := HashToken("secret")
	toks, err := ParseTokens("# comment\ncollector " + h + "\n\nlabeler " + strings.ToUpper(HashToken("s2")) + " labels,reviews;rot " + HashToken("s3"))
	if err != nil {
		t.Fatal(err)
	}
	if toks.Len() != 3 {
		t.Fatalf("%d tokens", toks.Len())
	}
	p, err := toks.Authenticate("Bearer secret")
	if err != nil || p.ID != "collector" || !p.Allows(schemas.FamilyItems) || p.Allows(schemas.FamilyDLQ) {
		t.Fatalf("collector: %+v %v", p, err)
	}
	p, err = toks.Authenticate("bearer  s2 ")
	if err != nil || p.ID != "labeler" || p.Allows(schemas.FamilyItems) || !p.Allows(schemas.FamilyReviews) {
		t.Fatalf("labeler: %+v %v", p, err)
	}
	for _, hdr := range []string{"", "Basic abc", "Bearer", "Bearer "} {
		if _, err := toks.Authenticate(hdr); err != ErrNoCredentials {
			t.Errorf("%q: %v", hdr, err)
		}
	}
	if _, err := toks.Authenticate("Bearer " + h); err != ErrUnknownToken {
		t.Errorf("sending the hash as the token must fail: %v", err)
	}
	for _, bad := range []string{
		"collector secret",            // the token instead of its hash
		"collector " + h + " dlq",     // reserved family
		"collector " + h + " widgets", // unknown family
		"a " + h + "\nb " + h,         // one hash, two producers
		"bad id " + h,                 // three fields, the last not families
		"only-one-field",
	} {
		_, err := ParseTokens(bad)
		if err == nil {
			t.Errorf("%q parsed", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
	if _, err := LoadTokens("", ""); err == nil {
		t.Error("no tokens must be an error")
	}
}

func TestWindow(t *testing.T) {
	now := time.Now()
	w := newWindow(3, time.Minute)
	w.add("p", []string{"a", "b"}, []uint64{1, 2}, now)
	if h, ok := w.lookup("p", "a", now); !ok || h != 1 {
		t.Fatal("a not found")
	}
	if _, ok := w.lookup("q", "a", now); ok {
		t.Fatal("ids are per producer")
	}
	if _, ok := w.lookup("p", "a", now.Add(2*time.Minute)); ok {
		t.Fatal("expired id found")
	}
	w.add("p", []string{"a", "c", "d"}, []uint64{9, 3, 4}, now) // a refreshed; d evicts the oldest slot (a's)
	if _, ok := w.lookup("p", "b", now); !ok {
		t.Fatal("b evicted too early")
	}
	w.add("p", []string{"e"}, []uint64{5}, now)
	if _, ok := w.lookup("p", "b", now); ok {
		t.Fatal("b should be evicted after 3 newer ids")
	}
	if len(w.m) != 3 {
		t.Fatalf("window holds %d ids, capacity 3", len(w.m))
	}
	var off *window = newWindow(0, 0)
	off.add("p", []string{"a"}, []uint64{1}, now)
	if _, ok := off.lookup("p", "a", now); ok {
		t.Fatal("disabled window remembers")
	}
}

func TestByteLimiter(t *testing.T) {
	var used int64
	l := newByteLimiter(100, func(n int64) { used = n })
	ctx := context.Background()
	if err := l.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.acquire(short, 60); err == nil {
		t.Fatal("over budget admitted")
	}
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx, 60) }()
	time.Sleep(20 * time.Millisecond)
	l.release(60)
	if err := <-got; err != nil || used != 60 {
		t.Fatalf("waiter: %v, used %d", err, used)
	}
	l.release(60)
	if err := l.acquire(ctx, 500); err != nil {
		t.Fatalf("a request over the whole budget must run alone: %v", err)
	}
	l.release(500)
	if used != 0 {
		t.Fatalf("used %d after all releases", used)
	}
}
