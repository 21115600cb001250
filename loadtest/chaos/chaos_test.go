//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	load "github.com/assay-data/assay/loadtest/driver"
	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

// The processors killed one by one, each in a process of its own. The router is left out:
// it only emits events the others consume, and its decisions would make the expected rows
// depend on them (the abuse suite runs it and counts the ledger's rows from the log instead).
var procNames = []string{ledger.Name, kpi.AgreementName, kpi.AccuracyName, kpi.FlowName}

// row is one line of the summary table.
type row struct {
	Fault    string `json:"fault"`
	Duration string `json:"duration"`
	Observed string `json:"observed"`
}

func TestFaultSuite(t *testing.T) {
	outage := 60 * time.Second
	if *quick {
		outage = 10 * time.Second
	}
	started := time.Now()
	pk := testenv.StartPrivateKafka(t)
	k := pk.Config
	testenv.Topics(t, k, 3)
	chCfg, conn := testenv.MigratedClickHouse(t)
	proxy := testenv.NewTCPProxy(t, chCfg.Addr[0])
	bin := testenv.Binary(t, "github.com/assay-data/assay/services/processor")

	// The gateway runs in this process: it must ride out the broker restart, which it does
	// by answering 503 until Kafka acknowledges again; the driver retries.
	// Its callers: one principal of each writing role, and the crowd vendor's labeler for the
	// annotation workload's project.
	gcfg := gateway.DefaultConfig()
	principals, tokens, writers, err := load.Credentials(load.Principals(annotationConfig().Project))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := access.Parse("chaos principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	gcfg.Principals = access.NewStore(reg)
	gcfg.ProduceTimeout = 5 * time.Second
	gw, err := gateway.New(gcfg, k, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+wire.Path, gw)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	})

	procs := map[string]*proc{}
	for _, n := range procNames {
		procs[n] = startProc(t, bin, n, k, proxy.Addr(), chCfg.Database)
	}

	// Steady load for the whole schedule: the realistic annotation workload (several raters
	// an item, gold, retractions, reviews: agreement and accuracy have work to do) interleaved
	// with rounds of every event type, sized to last about as long as the faults.
	const rate = 250.0 // events/s
	// About 35 s of kills and the broker restart, the outage, then 15 s of load after the
	// last fault, so recovery is checked under load too.
	schedule := 35*time.Second + outage + 15*time.Second
	evs := mixedLoad(int(rate * schedule.Seconds()))
	reqs, err := load.Prepare(evs, 50, writers)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type driven struct {
		st  load.Stats
		err error
	}
	loadDone := make(chan driven, 1)
	go func() {
		st, err := load.Run(ctx, load.Config{URL: srv.URL, Tokens: tokens, Rate: rate, Concurrency: 2, RetryWait: 250 * time.Millisecond}, reqs)
		loadDone <- driven{st, err}
	}()
	var summary []row
	note := func(fault string, d time.Duration, format string, args ...any) {
		took := "-"
		if d > 0 {
			took = d.Round(100 * time.Millisecond).String()
		}
		r := row{fault, took, fmt.Sprintf(format, args...)}
		summary = append(summary, r)
		t.Logf("%-34s %8s  %s", r.Fault, r.Duration, r.Observed)
	}
	waitEventsGrow(t, conn, 200, time.Minute)

	// 1. kill -9 each processor, restart it a second later.
	for _, n := range procNames {
		t0 := time.Now()
		procs[n].kill9()
		time.Sleep(time.Second)
		procs[n] = startProc(t, bin, n, k, proxy.Addr(), chCfg.Database)
		// The new process owns the partitions once the dead member's session expires (6 s)
		// and rebuilds their state from the log up to the committed offsets.
		took := "took over its partitions (stateless: nothing to rebuild)"
		if n != ledger.Name {
			took = "took over its partitions and rebuilt their state from " + procs[n].waitLog(t, rebuiltLine, 60*time.Second) + " records of the log"
		} else {
			procs[n].waitLog(t, assignedLine, 60*time.Second)
		}
		note("kill -9 "+n, time.Since(t0), "restarted 1 s later; the new process %s", took)
	}

	// 2. restart the (private) broker.
	t0 := time.Now()
	pk.Stop()
	time.Sleep(10 * time.Second)
	pk.Start()
	note("Kafka broker stop, 10 s, start", time.Since(t0), "gateway answered 503 meanwhile (counted below); processors reconnected")
	waitEventsGrow(t, conn, 100, 2*time.Minute)

	// 3. ClickHouse unreachable for the processors.
	t0 = time.Now()
	before := countEvents(t, conn)
	proxy.Cut()
	time.Sleep(outage)
	during := countEvents(t, conn) - before
	proxy.Restore(t)
	for n, p := range procs {
		if p.exited() {
			t.Fatalf("processor %s exited during the ClickHouse outage", n)
		}
	}
	note(fmt.Sprintf("ClickHouse cut for %s", outage), time.Since(t0), "%d events rows written during the cut; no processor exited", during)

	// 4. a burst of malformed input.
	t0 = time.Now()
	wantDLQ, statuses := malformedBurst(t, srv.URL, tokens["load-labelers"])
	note("malformed burst", time.Since(t0), "%d rejects expected in the DLQ; answers %v", wantDLQ, statuses)

	d := <-loadDone
	if d.err != nil {
		t.Fatalf("load: %v", d.err)
	}
	note("steady load (whole run)", d.st.Duration, "%d events in %d requests accepted at %.0f events/s; %d retries; answers %v",
		d.st.Events, d.st.Requests, d.st.EventsPerSecond(), d.st.Retries, d.st.Statuses)

	// Afterwards: ClickHouse equals the log.
	logCount := countLog(t, k)
	want := expectedLedgerRows(t, evs)
	want["dlq"] = wantDLQ
	want["events"] = logCount
	waitFor(t, 3*time.Minute, func() error {
		got := finalCounts(t, conn, ledger.Tables())
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("ledger rows after FINAL:\n got %v\nwant %v", got, want)
		}
		return nil
	})
	var ids, offsets, reasonless, ingestRejects uint64
	q := func(sql string, dst ...any) {
		if err := conn.QueryRow(context.Background(), sql).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q("SELECT uniqExact(event_id), uniqExact(topic, partition, offset) FROM events FINAL WHERE event_type != 'EventRejected'", &ids, &offsets)
	q("SELECT countIf(reason = ''), countIf(source LIKE 'ingest:%') FROM dlq FINAL", &reasonless, &ingestRejects)
	sent := 0
	for _, r := range reqs {
		sent += len(r.EventIDs)
	}
	if int(ids) != sent {
		t.Errorf("events holds %d distinct accepted event ids, %d were sent", ids, sent)
	}
	if reasonless != 0 || int(ingestRejects) != wantDLQ {
		t.Errorf("dlq: %d rows without a reason, %d gateway rejects, want 0 and %d", reasonless, ingestRejects, wantDLQ)
	}
	note("check: ledger == log", 0, "events FINAL = %d = records in the log; %d distinct event ids = %d sent (%d client re-sends collapsed in the typed tables); typed tables = expected rows exactly",
		logCount, ids, sent, int(offsets)-int(ids))
	note("check: DLQ", 0, "%d gateway rejects in dlq, each with a reason (%d without)", ingestRejects, reasonless)

	// Every processor's tables against a rebuild of the same log.
	existing := tablesIn(t, conn, chCfg.Database)
	for _, n := range procNames {
		p, err := processors.New(n, processors.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if missing := missingTables(p.Tables(), existing); len(missing) > 0 {
			// A processor ahead of the migrations (work in progress in the tree) cannot be
			// compared; saying so beats a false failure or a silent pass.
			note("check: "+n+" == replay", 0, "SKIPPED: tables %v are not created by the migrations", missing)
			continue
		}
		_, rconn := testenv.MigratedClickHouse(t)
		st, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(rconn), time.Time{})
		if err != nil {
			t.Fatalf("replay %s: %v", n, err)
		}
		var live, rebuilt map[string]string
		waitFor(t, time.Minute, func() error {
			live, rebuilt = fingerprints(t, conn, p.Tables()), fingerprints(t, rconn, p.Tables())
			if fmt.Sprint(live) != fmt.Sprint(rebuilt) {
				return fmt.Errorf("%s: live tables %v, rebuilt from the log %v", n, live, rebuilt)
			}
			return nil
		})
		rowsPer := map[string]string{}
		for tb, f := range live {
			rowsPer[tb], _, _ = strings.Cut(f, "/")
		}
		note("check: "+n+" == replay", 0, "every table equals a replay of the log (%d records) row for row, values included (count and hash of all columns after FINAL); rows: %v", st.Records, rowsPer)
	}
	for _, p := range procs {
		p.term(t)
	}
	note("total", time.Since(started), "all checks passed: %v", !t.Failed())
	printSummary(t, summary)
}

// annotationConfig is the annotation workload of the steady load.
func annotationConfig() annotation.Config { return annotation.DefaultConfig("chaos-ann", 7) }

// mixedLoad returns about n events: the annotation workload's events interleaved, in their
// order, with workload rounds (without the types only Assay's own components write,
// access.Internal: no caller may send them).
func mixedLoad(n int) []schemas.Event {
	ann := annotation.Generate(annotationConfig()).Events
	rounds := max(1, (n-len(ann))/(workload.TypesPerRound-2))
	gen := workload.New("chaos", 42)
	out := make([]schemas.Event, 0, n)
	a := 0
	for i := range rounds {
		for _, ev := range gen.Round(i) {
			if !access.Internal(ev.Type()) {
				out = append(out, ev)
			}
		}
		next := (i + 1) * len(ann) / rounds
		out = append(out, ann[a:next]...)
		a = next
	}
	return out
}

// expectedLedgerRows is what each ledger table holds after FINAL once evs were processed:
// the rows the ledger makes for each event, once per event id (a client re-send collapses
// on event_id in the typed tables).
func expectedLedgerRows(t *testing.T, evs []schemas.Event) map[string]int {
	t.Helper()
	want := map[string]int{}
	for _, tb := range ledger.Tables() {
		want[tb.Name] = 0
	}
	l := ledger.New()
	for i, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.Apply(nil, runtime.Record{Topic: ev.Family().Topic(), Family: ev.Family(), Offset: int64(i), Key: []byte(ev.Key()), Value: val, Event: ev, Timestamp: time.Now()})
		if err != nil {
			t.Fatalf("ledger rejects generated event %s: %v", ev.Meta().EventID, err)
		}
		for _, r := range out.Rows {
			want[r.Table]++
		}
	}
	return want
}

// malformedBurst sends requests the gateway must reject and returns how many DLQ records
// they imply: one per request rejected as a whole, one per bad event otherwise.
func malformedBurst(t *testing.T, url, token string) (int, map[int]int) {
	t.Helper()
	type bad struct {
		body, ctype, auth string
		records           int
	}
	now := time.Now().UnixMilli()
	var cases []bad
	for i := range 20 {
		cases = append(cases,
			bad{`{"event_type": "ItemIngested", "item_id": ` + fmt.Sprint(i), wire.MediaJSON, token, 1}, // broken JSON
			bad{"<xml/>", "application/xml", token, 1},                                                  // media type
			bad{`{"event_type":"ItemIngested"}`, wire.MediaJSON, "wrong-token", 1},                      // unauthenticated
			bad{fmt.Sprintf(`{"event_type":"NoSuchEvent","event_id":"bad-a-%d"}`+"\n"+ // unknown type
				`{"event_type":"ItemIngested","event_id":"bad-b-%d","bogus":1}`+"\n"+ // unknown field
				`{"event_type":"LabelSubmitted","event_id":"bad-c-%d","occurred_at":%d}`+"\n"+ // required fields missing
				`{"event_type":"EventRejected","event_id":"bad-d-%d","source":"x","reason":"y"}`, i, i, i, now, i), // only Assay writes it (403)
				wire.MediaNDJSON, token, 4},
		)
	}
	statuses := map[int]int{}
	want := 0
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, url+wire.Path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Authorization", "Bearer "+c.auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p wire.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		statuses[resp.StatusCode]++
		// A request without a valid token leaves a DLQ record only within the gateway's
		// per-address cap of the interval (10 an hour by default); past it, it is only
		// counted, and the answer says so.
		capped := resp.StatusCode == http.StatusUnauthorized && !p.DeadLettered
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || (!p.DeadLettered && !capped) {
			t.Fatalf("malformed request answered %d (dead-lettered %v): %+v\n%s", resp.StatusCode, p.DeadLettered, p, c.body)
		}
		if !capped {
			want += c.records
		}
	}
	return want, statuses
}

// printSummary prints the fault suite's table and writes it (writeSummary).
func printSummary(t *testing.T, rows []row) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nfault suite summary (%s)\n%-34s %10s  %s\n", time.Now().UTC().Format(time.RFC3339), "fault / check", "took", "observed")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-34s %10s  %s\n", r.Fault, r.Duration, r.Observed)
	}
	writeSummary(t, "chaos", b.String(), rows)
}
