package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/assay-data/assay/schemas/access"
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

// TestPrincipalsFollowTheRegistry: authentication reads the registry in force; a principal a
// reload keeps keeps its request limiter (a reload refills no bucket), one it drops loses its
// limiter and its duplicate window.
func TestPrincipalsFollowTheRegistry(t *testing.T) {
	reg := func(text string) *access.Registry {
		t.Helper()
		r, err := access.Parse("", text)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := "a " + access.HashToken("secret-a") + " role=collector projects=p\n"
	b := "b " + access.HashToken("secret-b") + " role=collector projects=p\n"
	store := access.NewStore(reg(a + b))
	win := newWindow(10, time.Minute, nil)
	sh := newShares(100)
	ps := newPrincipals(store, 1, 1, win, sh)

	p, err := ps.authenticate("Bearer secret-a")
	if err != nil || p.ID != "a" {
		t.Fatalf("a: %+v %v", p, err)
	}
	if p, err := ps.authenticate("bearer  secret-b "); err != nil || p.ID != "b" {
		t.Fatalf("b: %+v %v", p, err)
	}
	for _, hdr := range []string{"", "Basic abc", "Bearer", "Bearer "} {
		if _, err := ps.authenticate(hdr); !errors.Is(err, access.ErrNoCredentials) {
			t.Errorf("%q: %v", hdr, err)
		}
	}
	if _, err := ps.authenticate("Bearer " + access.HashToken("secret-a")); !errors.Is(err, access.ErrUnknownToken) {
		t.Errorf("sending the hash as the token must fail: %v", err)
	}
	now := time.Now()
	la := ps.limiter("a")
	if _, ok := reserve(la, now); !ok {
		t.Fatal("a's first request limited")
	}
	if _, ok := reserve(ps.limiter("a"), now); ok {
		t.Fatal("a's burst of 1 allowed a second request")
	}
	ps.limiter("b")
	shareA := sh.of("a")
	sh.of("b")
	win.add("a", []string{"e1"}, []uint64{1}, now)
	win.add("b", []string{"e2"}, []uint64{2}, now)

	store.Swap(reg(a)) // b revoked
	if _, err := ps.authenticate("Bearer secret-b"); !errors.Is(err, access.ErrUnknownToken) {
		t.Fatalf("revoked b: %v", err)
	}
	if ps.limiter("a") != la {
		t.Fatal("a reload gave a a new limiter")
	}
	if _, ok := ps.limiters["b"]; ok {
		t.Fatal("b's limiter outlived its principal")
	}
	if _, ok := win.lookup("b", "e2", now); ok || win.len() != 1 {
		t.Fatalf("b's window outlived its principal (%d ids)", win.len())
	}
	if _, ok := sh.m["b"]; ok || sh.of("a") != shareA {
		t.Fatal("b's share of the budget outlived its principal, or a lost its own")
	}
}

func TestWindow(t *testing.T) {
	now := time.Now()
	w := newWindow(3, time.Minute, nil)
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
	if w.len() != 3 {
		t.Fatalf("window holds %d ids, capacity 3", w.len())
	}
	var off *window = newWindow(0, 0, nil)
	off.add("p", []string{"a"}, []uint64{1}, now)
	if _, ok := off.lookup("p", "a", now); ok {
		t.Fatal("disabled window remembers")
	}
}

func TestBudget(t *testing.T) {
	var used int64
	b := newBudget(100, func(d int64) { used += d })
	ctx := context.Background()
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 60); err == nil {
		t.Fatal("over budget admitted")
	}
	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 60) }()
	time.Sleep(20 * time.Millisecond)
	b.release(60)
	if err := <-got; err != nil || used != 60 {
		t.Fatalf("waiter: %v, used %d", err, used)
	}
	b.release(60)
	if used != 0 || b.used.Load() != 0 || b.peak.Load() != 60 {
		t.Fatalf("used %d (gauge %d), peak %d after all releases", b.used.Load(), used, b.peak.Load())
	}
}

// TestWindowPerProducer floods one producer's window with twice its size and checks that
// another producer's recent id survives, that each window keeps its own size, and that the
// size reported for the metric follows.
func TestWindowPerProducer(t *testing.T) {
	now := time.Now()
	var reported int
	w := newWindow(100_000, 10*time.Minute, func(d int) { reported += d })
	w.add("b", []string{"b-recent"}, []uint64{7}, now)
	for batch := 0; batch < 40; batch++ { // 200k ids in batches of 5,000
		ids := make([]string, 5000)
		hashes := make([]uint64, 5000)
		for i := range ids {
			ids[i] = "a-" + itoa(batch*5000+i)
		}
		w.add("a", ids, hashes, now)
	}
	if h, ok := w.lookup("b", "b-recent", now); !ok || h != 7 {
		t.Fatal("producer a's flood evicted producer b's id")
	}
	if _, ok := w.lookup("a", "a-99999", now); ok {
		t.Fatal("a's window keeps more than its size")
	}
	if _, ok := w.lookup("a", "a-100000", now); !ok {
		t.Fatal("a's window lost an id within its size")
	}
	if got := w.len(); got != 100_001 || reported != got {
		t.Fatalf("window holds %d ids (reported %d), want 100000 of a and 1 of b", got, reported)
	}
	// Expired ids at the old end go when the producer next adds: an idle window shrinks.
	w.add("b", []string{"b-later"}, []uint64{8}, now.Add(11*time.Minute))
	if _, ok := w.lookup("b", "b-recent", now.Add(11*time.Minute)); ok || w.len() != 100_001 || reported != 100_001 {
		t.Fatalf("expired id kept: %d ids (reported %d)", w.len(), reported)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5123":                  "192.0.2.7",
		"[::ffff:192.0.2.7]:5123":         "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":      "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":               "fe80::/64",
		"not an address":                  "not an address",
		"unix-socket-peer:0":              "unix-socket-peer",
		"[2001:db8:1:3:3:4:5:6]:443":      "2001:db8:1:3::/64",
		"198.51.100.255:1":                "198.51.100.255",
		"[::1]:18090":                     "::/64",
		"[2001:db8:aaaa:bbbb::cccc]:8080": "2001:db8:aaaa:bbbb::/64",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClientTable checks both bounds of the per-address table: idle entries whose buckets
// have refilled are dropped, and a full table evicts the least recently seen address.
func TestClientTable(t *testing.T) {
	now := time.Now()
	var size, evictions int
	tab := newClientTable(3, time.Minute, func() (*rate.Limiter, *rate.Limiter) {
		return rate.NewLimiter(1, 1), nil
	}, func(n int, evicted bool) {
		size = n
		if evicted {
			evictions++
		}
	})
	a := tab.get("a", now)
	if tab.get("a", now.Add(time.Second)) != a {
		t.Fatal("a second get made a new entry")
	}
	tab.get("b", now.Add(2*time.Second))
	tab.get("c", now.Add(3*time.Second))
	tab.get("a", now.Add(4*time.Second)) // a is now the most recent, b the least
	tab.get("d", now.Add(5*time.Second))
	if size != 3 || evictions != 1 {
		t.Fatalf("size %d, evictions %d; want 3 and 1", size, evictions)
	}
	if tab.get("a", now.Add(6*time.Second)) != a {
		t.Fatal("the most recently seen entry was evicted")
	}
	// b was evicted: getting it again evicts the least recent, now c.
	tab.get("b", now.Add(7*time.Second))
	if _, ok := tab.m["c"]; ok {
		t.Fatal("c should have been evicted")
	}
	// Past the idle time everything but the newcomer is dropped, without counting as evictions.
	tab.get("e", now.Add(7*time.Second+time.Minute+time.Millisecond))
	if size != 1 || tab.len() != 1 || evictions != 2 {
		t.Fatalf("after the idle time: size %d, evictions %d; want 1 and 2", size, evictions)
	}
}

// TestReserve checks that a refused request costs the bucket nothing and is told how long
// to wait, and the Retry-After rounding.
func TestReserve(t *testing.T) {
	now := time.Now()
	l := rate.NewLimiter(0.5, 1) // one every 2 s
	if _, ok := reserve(l, now); !ok {
		t.Fatal("first request refused")
	}
	for i := 0; i < 3; i++ {
		wait, ok := reserve(l, now.Add(500*time.Millisecond))
		if ok || wait != 1500*time.Millisecond {
			t.Fatalf("refusal %d: ok %v wait %s, want 1.5s (refusals must not consume tokens)", i, ok, wait)
		}
	}
	if _, ok := reserve(l, now.Add(2*time.Second)); !ok {
		t.Fatal("refused after the refill")
	}
	if _, ok := reserve(nil, now); !ok {
		t.Fatal("a nil limiter limits")
	}
	for d, want := range map[time.Duration]int64{0: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 100 * time.Second: 100} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"negative token rate":      func(c *Config) { c.TokenRate = -1 },
		"token rate without burst": func(c *Config) { c.TokenBurst = 0 },
		"client rate without burst": func(c *Config) {
			c.ClientBurst = 0
		},
		"no client table":           func(c *Config) { c.MaxClients = 0 },
		"negative DLQ cap":          func(c *Config) { c.UnauthDLQTotal = -1 },
		"DLQ caps without interval": func(c *Config) { c.UnauthDLQInterval = 0 },
		"negative dedup window":     func(c *Config) { c.DedupWindow = -1 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.validateLimits(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := DefaultConfig()
	c.TokenRate, c.TokenBurst, c.ClientRate, c.ClientBurst, c.UnauthDLQPerClient, c.UnauthDLQTotal, c.UnauthDLQInterval = 0, 0, 0, 0, 0, 0, 0
	if err := c.validateLimits(); err != nil {
		t.Errorf("every limit off: %v", err)
	}
	if err := DefaultConfig().validateLimits(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
