package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// TestFigureCache: a key is read once per ttl however many callers ask, also when they ask
// at once; anew once the ttl has passed; a failed read is not kept; a caller that goes away
// does not fail the read the others wait for; without a ttl every call reads.
func TestFigureCache(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := &figureCache[int]{ttl: 2 * time.Second, now: clock}
	var reads atomic.Int32
	read := func(context.Context) (int, error) { return int(reads.Add(1)), nil }
	ctx := context.Background()
	for range 5 {
		if v, err := c.get(ctx, "k", read); err != nil || v != 1 {
			t.Fatalf("get: %d %v, want the first read's 1", v, err)
		}
	}
	advance(1900 * time.Millisecond)
	if v, _ := c.get(ctx, "k", read); v != 1 {
		t.Fatalf("within the ttl: read %d", v)
	}
	advance(200 * time.Millisecond)
	if v, _ := c.get(ctx, "k", read); v != 2 {
		t.Fatalf("after the ttl: %d, want a second read", v)
	}

	// Callers asking at once share one read; the first one leaving does not fail it.
	release := make(chan struct{})
	started := make(chan struct{})
	var slow atomic.Int32
	slowRead := func(ctx context.Context) (int, error) {
		slow.Add(1)
		close(started)
		<-release
		return 7, ctx.Err()
	}
	first, cancelFirst := context.WithCancel(ctx)
	errFirst := make(chan error, 1)
	go func() { _, err := c.get(first, "s", slowRead); errFirst <- err }()
	<-started
	results := make(chan int, 4)
	for range 4 {
		go func() {
			v, err := c.get(ctx, "s", func(context.Context) (int, error) { return -1, errors.New("a second read of s") })
			if err != nil {
				v = -2
			}
			results <- v
		}()
	}
	cancelFirst()
	if err := <-errFirst; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that went away got %v, want its own cancellation", err)
	}
	time.Sleep(50 * time.Millisecond) // let the others join the read in flight
	close(release)
	for range 4 {
		if v := <-results; v != 7 {
			t.Errorf("a caller waiting for the shared read got %d, want 7", v)
		}
	}
	if slow.Load() != 1 {
		t.Errorf("%d reads of s, want one shared", slow.Load())
	}

	// A failed read is not kept.
	fails := 0
	failing := func(context.Context) (int, error) { fails++; return 0, errors.New("unreachable") }
	for range 2 {
		if _, err := c.get(ctx, "f", failing); err == nil {
			t.Fatal("a failed read answered a value")
		}
	}
	if fails != 2 {
		t.Errorf("%d reads after a failure, want every call to read again", fails)
	}

	// Without a ttl, every call reads.
	c0 := &figureCache[int]{now: clock}
	reads.Store(0)
	c0.get(ctx, "k", read)
	c0.get(ctx, "k", read)
	if reads.Load() != 2 || len(c0.m) != 0 {
		t.Errorf("without a ttl: %d reads, %d kept", reads.Load(), len(c0.m))
	}
}

// TestRedactUnitizing: a vendor's view of unitizing alpha keeps the overlaps of its own
// annotators and, of another party's, the spans without the rater or the item, in the list
// and in the reasons that quote them; a full view, and the cached result, are left whole.
func TestRedactUnitizing(t *testing.T) {
	ps := &parties{annotators: map[string][]party{
		"a1": {{vendor: "acme", cohort: "crowd"}},
		"g1": {{vendor: "globex", cohort: "g-crowd"}},
	}, cohorts: map[string][]party{}}
	own := unitizing.Overlap{Rater: "a1", Item: "item-a", First: unitizing.Span{Label: "PER", Start: 0, End: 4}, Second: unitizing.Span{Label: "PER", Start: 2, End: 6}}
	other := unitizing.Overlap{Rater: "g1", Item: "item-g", First: unitizing.Span{Label: "ORG", Start: 10, End: 14}, Second: unitizing.Span{Label: "ORG", Start: 12, End: 16}}
	res := unitizing.Result{
		Undefined: other.String() + " (2 overlap(s) in 2 label(s); unitizing alpha is defined for flat spans only)",
		Overlaps:  []unitizing.Overlap{own, other},
		Categories: []unitizing.Category{
			{Label: "ORG", Undefined: other.String() + " (1 overlap(s) of this label; unitizing alpha is defined for flat spans only)"},
			{Label: "PER", Undefined: own.String() + " (1 overlap(s) of this label; unitizing alpha is defined for flat spans only)"},
		},
	}
	before, _ := json.Marshal(res)

	full := View{scope: scopeOf(t, "analyst - role=analyst projects=p")}
	if got, _ := json.Marshal(full.redactUnitizing(res)); string(got) != string(before) {
		t.Errorf("a full view's result changed:\n%s\nwant\n%s", got, before)
	}
	acme := View{scope: scopeOf(t, "acme - role=vendor projects=p vendor=acme"), parties: ps}
	got := acme.redactUnitizing(res)
	body, _ := json.Marshal(got)
	for _, foreign := range []string{"g1", "item-g"} {
		if strings.Contains(string(body), foreign) {
			t.Errorf("acme's result carries %q: %s", foreign, body)
		}
	}
	for _, mine := range []string{`"a1"`, "item-a", `"ORG"`} {
		if !strings.Contains(string(body), mine) {
			t.Errorf("acme's result lacks %s: %s", mine, body)
		}
	}
	if got.Overlaps[1].First != other.First || got.Categories[1].Undefined != res.Categories[1].Undefined || !strings.Contains(got.Undefined, "flat spans") {
		t.Errorf("acme's result lost more than another party's names: %s", body)
	}
	if after, _ := json.Marshal(res); string(after) != string(before) {
		t.Errorf("redacting changed the cached result:\n%s\nwant\n%s", after, before)
	}
}

// TestStructuredScope: a vendor reads the region and preference figures of the project and of
// its own cohorts, vendor and annotators; another party's scope, a malformed scope or question
// and an unknown parameter are refused before any figure is read.
func TestStructuredScope(t *testing.T) {
	conn := &fakeConn{queries: map[string]int{}}
	store := access.NewStore(mustRegistry(t, "acme "+access.HashToken("tok-acme")+" role=vendor projects=p vendor=acme\n"))
	srv, err := New(Config{Conn: conn, Principals: store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	// The fake's parties of p: annotator a-p, in cohort crowd of vendor acme.
	for _, path := range []string{"/v1/regions", "/v1/preferences"} {
		for _, tc := range []struct {
			query url.Values
			code  int
			rule  string
			param string
		}{
			{url.Values{"scope": {"cohort:night"}}, http.StatusForbidden, RuleParty, ""},
			{url.Values{"scope": {"vendor:globex"}}, http.StatusForbidden, RuleParty, ""},
			{url.Values{"scope": {"annotator:someone-else"}}, http.StatusForbidden, RuleParty, ""},
			{url.Values{"project": {"q"}}, http.StatusForbidden, access.RuleProject, ""},
			{url.Values{"scope": {"cohort:"}}, http.StatusBadRequest, "", "scope"},
			{url.Values{"scope": {"team:x"}}, http.StatusBadRequest, "", "scope"},
			{url.Values{"question": {"q\x00"}}, http.StatusBadRequest, "", "question"},
			{url.Values{"question": {strings.Repeat("q", MaxIDBytes+1)}}, http.StatusBadRequest, "", "question"},
			{url.Values{"window": {"1y"}}, http.StatusBadRequest, "", "window"},
			{url.Values{"cohort": {"crowd"}}, http.StatusBadRequest, "", "cohort"},
			{url.Values{"scope": {"all", "cohort:crowd"}}, http.StatusBadRequest, "", "scope"},
		} {
			req := httptest.NewRequest(http.MethodGet, path+"?"+tc.query.Encode(), nil)
			req.Header.Set("Authorization", "Bearer tok-acme")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			var p Problem
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			if rec.Code != tc.code || p.Rule != tc.rule || p.Param != tc.param {
				t.Errorf("%s?%s as acme: %d %+v, want %d rule %q param %q", path, tc.query.Encode(), rec.Code, p, tc.code, tc.rule, tc.param)
			}
		}
	}
	if conn.queries["p"] == 0 {
		t.Error("the refusals of another party's scope were decided without reading p's parties")
	}
	for project := range conn.queries {
		if project != "p" {
			t.Errorf("a figure was read (query with first argument %q) before a refusal", project)
		}
	}
}
