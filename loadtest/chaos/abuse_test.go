//go:build abuse

package chaos

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	load "github.com/assay-data/assay/loadtest/driver"
	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// The legitimate producer: the steady rate it sends at in every attack. It is the set of
// principals that writes the workload's events (driver.Principals), each request sent by the
// principal that may write its events.
const (
	legitRate       = 200.0 // events/s
	legitPerRequest = 10    // events a request: about 20 requests/s, enough answers for a p99
)

// Settings of the attacked processes, and the bounds the figures are held to.
const (
	// The gateway under gzip bombs and slow clients: its in-flight budget (the body limit
	// stays the default 32 MiB, so two maximal bodies fill it) and its HTTP timeouts.
	bombBudget         = 64 << 20
	bombReadHeader     = 5 * time.Second
	bombReadTimeout    = 10 * time.Second
	bombWriteTimeout   = 25 * time.Second // at least read + -inflight-wait (2 s) + -produce-timeout (10 s)
	slowCutMargin      = 3 * time.Second  // a slow connection is cut within its timeout and this
	maxDLQPerUnauth    = 2 << 10          // bytes of DLQ an unauthenticated request may cost, on average
	routerMaxPending   = 2000             // -router-max-pending: per items partition
	ledgerShutdown     = 10 * time.Second // -shutdown-timeout of the ledger process
	shutdownMargin     = 5 * time.Second  // process exit after the grace: the runtime's abort bound and the exit
	routerRSSGrowth    = 48 << 20         // router RSS floor of a later flood wave over the first's
	routerLiveGrowthMB = 16               // router live heap floor of a later flood wave over the first's, MB
	// gatewayOverhead is the gateway's memory beside the request bodies its budget counts,
	// which does not grow with the budget: the Go runtime and the binary (about 20 MiB idle),
	// the Kafka client and its buffers, the buffers and goroutines of up to -http-max-conns
	// connections, and the DLQ copies of rejected bodies (at most 512 KiB each).
	gatewayOverhead = 64 << 20
)

// figure is one line of the abuse summary: the attack, what was measured, its value, the
// bound it is held to (an assertion) or "-" (reported only), whether it held, and the details.
type figure struct {
	Attack string `json:"attack"`
	Figure string `json:"figure"`
	Value  string `json:"value"`
	Bound  string `json:"bound"`
	Held   string `json:"held"`
	Detail string `json:"detail"`
}

// abuse is the state of one run of the suite.
type abuse struct {
	t         *testing.T
	ctx       context.Context
	k         config.Kafka
	adm       *kadm.Client
	chCfg     config.ClickHouse
	conn      driver.Conn
	proxy     *testenv.TCPProxy
	procBin   string
	ingestBin string
	ledger    *proc
	router    *proc
	gw        *gatewayProc
	figures   []figure
	errs      int // failures counted by errorf

	// accepted holds the ids of the events the legitimate producer had accepted (202).
	accepted map[string]bool
	// refused are the item ids the guarded items table refuses (attack 4).
	refused map[string]bool
	// commits are the ledger group's committed offsets when the processor stopped by SIGTERM
	// during the outage had exited, and written the events rows below them then (attack 5).
	commits map[string]map[int32]int64
	written map[string]map[int32]int

	// principals is the gateways' principals file, tokens their tokens by principal id, and
	// writers picks the principal that sends each event.
	principals string
	tokens     map[string]string
	writers    *access.Writers
}

// TestAbuseSuite attacks the pipeline on the real stack (the shared broker, in a namespace of
// its own, and ClickHouse 18.16), with the gateway and the processors as processes of their
// own: an unauthenticated flood, gzip bombs and slow clients, a pre-label flood, a poison
// batch and a SIGTERM during a ClickHouse outage, each while a legitimate producer sends at a
// steady rate. Every attack yields a figure, held to a bound; afterwards the ledger tables
// must equal the log. -quick runs fewer seconds of each attack and a smaller flood.
func TestAbuseSuite(t *testing.T) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	a := &abuse{t: t, ctx: ctx, accepted: map[string]bool{}, refused: map[string]bool{}}
	a.k = testenv.Kafka(t)
	testenv.Topics(t, a.k, 3)
	a.adm = kadm.NewClient(testenv.KafkaClient(t, a.k))
	a.chCfg, a.conn = testenv.MigratedClickHouse(t)
	guardItems(t, a.conn)
	file, tokens, writers, err := load.Credentials(load.Principals())
	if err != nil {
		t.Fatal(err)
	}
	a.principals, a.tokens, a.writers = filepath.Join(t.TempDir(), "principals"), tokens, writers
	if err := os.WriteFile(a.principals, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	// The ledger reaches ClickHouse through a proxy, to be cut in attack 5.
	a.proxy = testenv.NewTCPProxy(t, a.chCfg.Addr[0])
	a.procBin = testenv.Binary(t, "github.com/assay-data/assay/services/processor")
	a.ingestBin = testenv.Binary(t, "github.com/assay-data/assay/services/ingest")
	a.ledger = a.startLedger()
	a.router = startProcEnv(t, a.procBin, router.Name, a.k, a.chCfg.Addr[0], a.chCfg.Database, []string{"GODEBUG=gctrace=1"},
		"-router-max-pending", fmt.Sprint(routerMaxPending))
	// The gateway of attacks 1, 4 and 5 has the defaults (rate limits, DLQ caps, timeouts).
	a.gw = startGateway(t, a.ingestBin, "gateway", a.k, a.principals)
	a.ledger.waitLog(t, assignedLine, time.Minute)
	a.router.waitLog(t, assignedLine, time.Minute)

	a.unauthenticatedFlood()
	a.bombsAndSlowClients()
	a.prelabelFlood()
	a.poisonBatch()
	a.sigtermDuringOutage()
	a.nothingLost()

	for _, p := range []*proc{a.ledger, a.router, a.gw.proc} {
		p.term(t)
	}
	a.note("total", "suite time", time.Since(started).Round(time.Second).String(), "-", true,
		fmt.Sprintf("quick=%v; all checks passed: %v", *quick, !t.Failed()))
	a.printFigures()
}

// short picks the value of the full run or, with -quick, of the short one.
func short[T any](full, short T) T {
	if *quick {
		return short
	}
	return full
}

// note adds a figure; held says whether its bound held (ignored when bound is "-").
func (a *abuse) note(attack, fig, value, bound string, held bool, detail string) {
	h := "yes"
	switch {
	case bound == "-":
		h = "-"
	case !held:
		h = "NO"
	}
	f := figure{attack, fig, value, bound, h, detail}
	a.figures = append(a.figures, f)
	a.t.Logf("%-22s %-32s %15s  %-20s %-4s %s", f.Attack, f.Figure, f.Value, f.Bound, f.Held, f.Detail)
}

// errorf fails the test and counts the failure, so a figure can tell whether the checks
// behind it held.
func (a *abuse) errorf(format string, args ...any) {
	a.t.Helper()
	a.errs++
	a.t.Errorf(format, args...)
}

func (a *abuse) printFigures() {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nabuse suite summary (%s, quick=%v)\n%-22s %-32s %15s  %-20s %-4s %s\n", time.Now().UTC().Format(time.RFC3339), *quick,
		"attack", "figure", "value", "bound", "held", "details")
	for _, f := range a.figures {
		fmt.Fprintf(&b, "%-22s %-32s %15s  %-20s %-4s %s\n", f.Attack, f.Figure, f.Value, f.Bound, f.Held, f.Detail)
	}
	writeSummary(a.t, "abuse", b.String(), a.figures)
}

func (a *abuse) startLedger() *proc {
	return startProc(a.t, a.procBin, ledger.Name, a.k, a.proxy.Addr(), a.chCfg.Database, "-shutdown-timeout", ledgerShutdown.String())
}

// guardItems adds to the ledger's items table a check that ClickHouse 18.16 enforces on
// insert: a materialized column that throws for the item ids of attack 4 (refuse-*), as an
// operator's guard would. TestGuardColumnOnCurrentClickHouse checks current releases do the
// same.
func guardItems(t *testing.T, conn driver.Conn) {
	t.Helper()
	if err := conn.Exec(context.Background(), guardDDL); err != nil {
		t.Fatalf("guard items: %v", err)
	}
}

// collector is the principal whose token the authenticated attackers of attack 2 use: one
// that may write items, like a collector whose token leaked or that went wrong.
const collector = "load-collector"

const guardDDL = `ALTER TABLE items ADD COLUMN guard UInt8 MATERIALIZED throwIf(item_id LIKE 'refuse-%')`

// legit sends legitRate events/s for about d through the gateway at url and fails the test
// when any request fails (a 4xx other than 429: the driver retries 429 and 5xx).
func (a *abuse) legit(name string, d time.Duration, url string) load.Stats {
	a.t.Helper()
	st, ids, err := a.sendLegit(name, d, url)
	if err != nil {
		a.t.Fatalf("the legitimate producer failed (%s): %v", name, err)
	}
	for _, id := range ids {
		a.accepted[id] = true
	}
	return st
}

// sendLegit is legit without the test: it may run on another goroutine.
func (a *abuse) sendLegit(name string, d time.Duration, url string) (load.Stats, []string, error) {
	perRound := workload.TypesPerRound - 2 // Prepare leaves out the two types only Assay writes
	evs := workload.New("abuse-"+name, 13).Rounds(int(math.Ceil(legitRate * d.Seconds() / float64(perRound))))
	reqs, err := load.Prepare(evs, legitPerRequest, a.writers)
	if err != nil {
		return load.Stats{}, nil, err
	}
	st, err := load.Run(a.ctx, load.Config{URL: url, Tokens: a.tokens, Rate: legitRate, Concurrency: 4, RetryWait: 250 * time.Millisecond}, reqs)
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.EventIDs...)
	}
	return st, ids, err
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// dlqSize returns the bytes of the DLQ topic's log segments and its records (end offsets).
func (a *abuse) dlqSize() (bytes, records int64) {
	a.t.Helper()
	topic := a.k.Topic(schemas.FamilyDLQ.Topic())
	dirs, err := a.adm.DescribeAllLogDirs(a.ctx, kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
	if err != nil {
		a.t.Fatalf("describe log dirs: %v", err)
	}
	dirs.Each(func(d kadm.DescribedLogDir) { bytes += d.Topics.Size() })
	ends, err := a.adm.ListEndOffsets(a.ctx, topic)
	if err != nil {
		a.t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) { records += o.Offset })
	return bytes, records
}

// 1. Many concurrent POSTs of 533 KB without a token or with a wrong one, from 16 addresses,
// while the legitimate producer sends at its rate; the same producer alone first. Each body
// starts with a KiB of random bytes, so that Kafka's compression cannot hide what the DLQ
// records keep of it.
func (a *abuse) unauthenticatedFlood() {
	const attack = "1 unauthenticated flood"
	quietFor, floodFor := short(20*time.Second, 6*time.Second), short(30*time.Second, 8*time.Second)
	quiet := a.legit("quiet", quietFor, a.gw.URL)
	bytes0, recs0 := a.dlqSize()
	raw0 := a.dlqRecordBytes()
	m0 := a.gw.metrics()
	body := unauthBody(533_000)
	type result struct {
		answers *tally
		took    time.Duration
	}
	flood := make(chan result, 1)
	go func() {
		ans, took := unauthFlood(a.gw.URL, body, 32, 16, floodFor)
		flood <- result{ans, took}
	}()
	during := a.legit("flood", floodFor, a.gw.URL)
	r := <-flood
	bytes1, recs1 := a.dlqSize()
	raw1 := a.dlqRecordBytes()
	m1 := a.gw.metrics()
	n := r.answers.total()
	disk, raw := bytes1-bytes0, raw1-raw0
	perReq := float64(max(disk, raw)) / float64(n)
	ok := perReq <= maxDLQPerUnauth
	skipped := func(m, cap string) float64 {
		return metricSum(m, "assay_ingest_unauthenticated_dlq_skipped_total", `cap="`+cap+`"`)
	}
	a.note(attack, "DLQ bytes per request", fmt.Sprintf("%.1f B", perReq), fmt.Sprintf("<= %d B", maxDLQPerUnauth), ok,
		fmt.Sprintf("%d requests of %d bytes in %s (32 clients, 16 addresses, half without a token, half a wrong one, each body starting with a random KiB): DLQ topic +%d records, +%d bytes on disk, +%d bytes of records (keys and values; the larger of the two is the figure); the gateway skipped the DLQ record of %.0f requests for the per-address cap and %.0f for the total cap",
			n, len(body), r.took.Round(100*time.Millisecond), recs1-recs0, disk, raw, skipped(m1, "client")-skipped(m0, "client"), skipped(m1, "total")-skipped(m0, "total")))
	if !ok {
		a.errorf("unauthenticated requests cost %.0f bytes of DLQ each, over %d", perReq, maxDLQPerUnauth)
	}
	a.note(attack, "unauthenticated answered/s", fmt.Sprintf("%.0f/s", perSecond(n, r.took)), "-", true,
		fmt.Sprintf("answers by status: %s", r.answers))
	ratio := float64(during.RequestP99) / float64(max(quiet.RequestP99, time.Millisecond))
	a.note(attack, "producer p99 flood/quiet", fmt.Sprintf("%.1fx", ratio), "never failed", true,
		fmt.Sprintf("legitimate producer at %.0f events/s in requests of %d: quiet %s: %.1f requests/s served, p50 %s p99 %s; during the flood: %.1f requests/s served, p50 %s p99 %s, answers %v, %d retries",
			legitRate, legitPerRequest, quietFor, perSecond(quiet.Requests, quiet.Duration), ms(quiet.RequestP50), ms(quiet.RequestP99),
			perSecond(during.Requests, during.Duration), ms(during.RequestP50), ms(during.RequestP99), during.Statuses, during.Retries))
}

// dlqRecordBytes reads the DLQ topic from its start and sums the bytes of its records' keys
// and values: what the records cost before Kafka compresses them (and what ClickHouse's dlq
// table copies).
func (a *abuse) dlqRecordBytes() int64 {
	a.t.Helper()
	cl, err := kafka.NewClient(a.k, kgo.ConsumeTopics(a.k.Topic(schemas.FamilyDLQ.Topic())), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		a.t.Fatal(err)
	}
	defer cl.Close()
	var n int64
	for idle := 0; idle < 2; {
		ctx, cancel := context.WithTimeout(a.ctx, time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		fs.EachRecord(func(r *kgo.Record) { n += int64(len(r.Key) + len(r.Value)) })
	}
	return n
}

// 2. Authenticated gzip bombs (each decoding to the 32 MiB body limit or past it) and slow
// clients (silent connections, a header a line a second, a body a byte a second) against a
// gateway with a 64 MiB in-flight budget, while the legitimate producer sends through it.
func (a *abuse) bombsAndSlowClients() {
	t := a.t
	const attack = "2 gzip bombs, slow"
	phase := short(40*time.Second, 20*time.Second)
	gw := startGateway(t, a.ingestBin, "gateway-budget", a.k, a.principals, "-max-inflight-bytes", fmt.Sprint(bombBudget),
		"-http-read-header-timeout", bombReadHeader.String(), "-http-read-timeout", bombReadTimeout.String(),
		"-http-write-timeout", bombWriteTimeout.String(), "-http-idle-timeout", bombReadTimeout.String())
	a.legit("warm-up", 2*time.Second, gw.URL)
	idle, _ := memory(gw.proc)
	// Past the limit: zeros decoding to 64 MiB are answered 413 once 32 MiB are read. At the
	// limit: 32 MiB of newlines decode completely, then are found to hold no event.
	past, at := gzipOf(t, 0, 64<<20), gzipOf(t, '\n', 32<<20)
	var (
		rssPeak, inflightPeak int64
		samples               int
	)
	stopSampling := sampler(200*time.Millisecond, func() {
		rss, _ := memory(gw.proc)
		rssPeak = max(rssPeak, rss)
		// Scraped as text: the gauge is the bytes charged to the budget right now.
		resp := gw.metrics()
		inflightPeak = max(inflightPeak, int64(metricSum(resp, "assay_ingest_inflight_bytes")))
		samples++
	})
	u, _ := url.Parse(gw.URL)
	slow := make(chan []slowOutcome, 3)
	for _, kind := range []string{slowSilent, slowHeader, slowBody} {
		go func() {
			slow <- slowClients(u.Host, kind, a.tokens[collector], 64, phase, bombWriteTimeout+10*time.Second)
		}()
	}
	bombs := &tally{}
	bombsDone := make(chan struct{})
	go func() {
		defer close(bombsDone)
		for end := time.Now().Add(phase); time.Now().Before(end); time.Sleep(3 * time.Second) {
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body, kind := past, "past the limit"
					if i >= 4 {
						body, kind = at, "at the limit"
					}
					bombs.add(kind + ": " + postGzip(gw.URL, a.tokens[collector], body))
				}()
			}
			wg.Wait()
		}
	}()
	producer := a.legit("bombs", phase, gw.URL)
	<-bombsDone
	byKind := map[string]*tally{}
	maxHeld := map[string]time.Duration{}
	slowErrs := a.errs
	for range 3 {
		for _, o := range <-slow {
			if byKind[o.kind] == nil {
				byKind[o.kind] = &tally{}
			}
			byKind[o.kind].add(o.outcome)
			maxHeld[o.kind] = max(maxHeld[o.kind], o.held)
			limit := bombReadHeader
			if o.kind == slowBody {
				limit = bombReadTimeout
			}
			if o.outcome == "not cut" || o.held > limit+slowCutMargin {
				a.errorf("a %s connection was held %s (%s), past its timeout %s + %s", o.kind, o.held.Round(time.Second), o.outcome, limit, slowCutMargin)
			}
		}
	}
	slowOK := a.errs == slowErrs
	stopSampling()
	_, hwm := memory(gw.proc)
	m := gw.metrics()
	a.note(attack, "gateway peak RSS (VmHWM)", mib(hwm), "<= "+mib(bombBudget+gatewayOverhead), hwm <= bombBudget+gatewayOverhead && inflightPeak <= bombBudget,
		fmt.Sprintf("budget -max-inflight-bytes %s (body limit 32 MiB), bound = budget + %s stated overhead; RSS idle %s, sampled peak %s; in-flight gauge peak %s (never above the budget); bombs %d KiB (64 MiB of zeros) and %d KiB (32 MiB of newlines), 6 every 3 s: answers %s",
			mib(bombBudget), mib(gatewayOverhead), mib(idle), mib(rssPeak), mib(inflightPeak), len(past)>>10, len(at)>>10, bombs))
	if hwm > bombBudget+gatewayOverhead {
		a.errorf("gateway peak RSS %s over its budget %s + overhead %s", mib(hwm), mib(bombBudget), mib(gatewayOverhead))
	}
	if inflightPeak > bombBudget {
		a.errorf("in-flight gauge reached %s, over the budget %s", mib(inflightPeak), mib(bombBudget))
	}
	var kinds []string
	for _, k := range []string{slowSilent, slowHeader, slowBody} {
		kinds = append(kinds, fmt.Sprintf("%s: %s, held at most %s", k, byKind[k], maxHeld[k].Round(100*time.Millisecond)))
	}
	a.note(attack, "slow clients cut", fmt.Sprintf("%d conns", byKind[slowSilent].total()+byKind[slowHeader].total()+byKind[slowBody].total()),
		fmt.Sprintf("<= timeout + %s", slowCutMargin), slowOK,
		fmt.Sprintf("64 of each kind, reconnecting for %s; -http-read-header-timeout %s, -http-read-timeout %s; %s; the gateway counted %.0f connections cut for read_timeout, %.0f for write_timeout",
			phase, bombReadHeader, bombReadTimeout, strings.Join(kinds, "; "),
			metricSum(m, "assay_http_connections_rejected_total", `reason="read_timeout"`), metricSum(m, "assay_http_connections_rejected_total", `reason="write_timeout"`)))
	a.note(attack, "producer served", fmt.Sprintf("%d requests", producer.Requests), "never failed", true,
		fmt.Sprintf("through the attacked gateway: %.1f requests/s, p50 %s p99 %s, answers %v, %d retries",
			perSecond(producer.Requests, producer.Duration), ms(producer.RequestP50), ms(producer.RequestP99), producer.Statuses, producer.Retries))
	gw.term(t)
}

// groupLag is the lag of the processor's consumer group as the broker sees it: its committed
// offsets against the end offsets of every partition of its topics (kadm), less the
// transaction markers at the end of a partition, which are not records. A consumer commits
// the offset after the last record it was given, so a partition whose last offset is the
// commit marker of a transaction (the router's decisions on the items topic) reads a broker
// lag of 1 once everything is consumed; markers is how many such partitions there were.
func (a *abuse) groupLag(processor string) (lag int64, markers int, err error) {
	group := a.k.TopicPrefix + "assay.processor." + processor
	lags, err := a.adm.Lag(a.ctx, group)
	if err != nil {
		return -1, 0, err
	}
	l, ok := lags[group]
	if !ok {
		return -1, 0, fmt.Errorf("group %s not described", group)
	}
	if err := l.Error(); err != nil {
		return -1, 0, err
	}
	for _, m := range l.Lag.Sorted() {
		if m.Err != nil {
			return -1, 0, fmt.Errorf("%s/%d: %w", m.Topic, m.Partition, m.Err)
		}
		if m.Lag > 0 && m.Lag <= 10 && m.Commit.At >= 0 {
			only, err := a.onlyMarkers(m.Topic, m.Partition, m.Commit.At, m.End.Offset)
			if err != nil {
				return -1, 0, err
			}
			if only {
				markers++
				continue
			}
		}
		lag += m.Lag
	}
	return lag, markers, nil
}

// onlyMarkers reads the partition from offset from to end (exclusive) with control records
// kept and reports whether every offset there is a transaction marker.
func (a *abuse) onlyMarkers(topic string, p int32, from, end int64) (bool, error) {
	cl, err := kafka.NewClient(a.k, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.KeepControlRecords(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(a.ctx, time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		data, last := false, int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end {
				data = data || !r.Attrs.IsControl()
				last = max(last, r.Offset)
			}
		})
		if data {
			return false, nil
		}
		if last >= end-1 {
			return true, nil
		}
	}
	return false, fmt.Errorf("%s/%d: offsets %d..%d not read within 5 s", topic, p, from, end)
}

// waitLagZero waits until the processor's group has consumed and committed every record
// (groupLag), and returns how long it took and how many partitions ended in a marker.
func (a *abuse) waitLagZero(processor string, timeout time.Duration) (time.Duration, int) {
	a.t.Helper()
	start := time.Now()
	var markers int
	waitFor(a.t, timeout, func() error {
		lag, m, err := a.groupLag(processor)
		if err != nil {
			return err
		}
		if lag != 0 {
			return fmt.Errorf("%s lag %d", processor, lag)
		}
		markers = m
		return nil
	})
	return time.Since(start), markers
}

// 3. PreLabelProposed events for made-up items, produced straight to the items topic as
// fast as the broker takes them, in equal waves, against a router whose pending set holds
// routerMaxPending pre-labels a partition. The sets are full early in the first wave; from
// then on a wave must leave no more memory behind than the first: were the pending
// pre-labels kept, each wave would add perWave × 0.4 KB of heap. RSS swings by tens of MiB
// with the pace of the garbage collector and with the router's rebuilds (a transaction that
// aborts makes it replay its partitions from the start of the log: the peaks), so growth is
// read at the floors, which transients do not raise: the lowest RSS sampled in each wave, and
// the lowest live heap a collection marked in it (the router runs with GODEBUG=gctrace=1),
// where what the router keeps is exact.
func (a *abuse) prelabelFlood() {
	t := a.t
	const attack = "3 pre-label flood"
	waves, perWave := short(4, 3), short(200_000, 150_000)
	var tmpl *schemas.PreLabelProposed
	for _, ev := range workload.New("abuse-tmpl", 1).Round(0) {
		if p, ok := ev.(*schemas.PreLabelProposed); ok {
			tmpl = p
		}
	}
	cl := testenv.KafkaClient(t, a.k, kgo.ProducerLinger(5*time.Millisecond))
	type sample struct {
		wave    int
		at      time.Duration
		rss     int64
		evicted float64
		gcs     int // collections logged so far
	}
	var (
		samples []sample
		wave    atomic.Int32
		t0      = time.Now()
	)
	rss0, _ := memory(a.router)
	stop := sampler(250*time.Millisecond, func() {
		rss, _ := memory(a.router)
		samples = append(samples, sample{int(wave.Load()), time.Since(t0), rss,
			metricSum(a.router.metrics(), "assay_router_pending_prelabels_evicted_total"), len(a.router.liveHeaps())})
	})
	type waveStats struct {
		took           time.Duration
		floor, peak    int64 // RSS sampled during the wave (the first's from the cap on)
		end            int64 // RSS after the wave and a second
		live           []int // live heap (MB) of the wave's collections
		rebuilds       int
		states, evicts float64
	}
	ws := make([]waveStats, waves)
	gc0, aborts := len(a.router.liveHeaps()), a.router.count(abortedLine)
	gcs := gc0
	for w := range waves {
		wave.Store(int32(w))
		start := time.Now()
		var (
			mu    sync.Mutex
			first error
		)
		for i := w * perWave; i < (w+1)*perWave; i++ {
			ev := *tmpl
			ev.ItemID = fmt.Sprintf("ghost-%d", i)
			ev.EventID = fmt.Sprintf("abuse-ghost-pl-%d", i)
			val, err := schemas.Encode(&ev)
			if err != nil {
				t.Fatal(err)
			}
			cl.Produce(a.ctx, &kgo.Record{Topic: a.k.Topic(schemas.FamilyItems.Topic()), Key: []byte(ev.ItemID), Value: val}, func(_ *kgo.Record, err error) {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			})
		}
		if err := cl.Flush(a.ctx); err != nil || first != nil {
			t.Fatalf("produce wave %d: %v %v", w+1, err, first)
		}
		a.waitLagZero(router.Name, 10*time.Minute)
		s := &ws[w]
		s.took = time.Since(start)
		time.Sleep(time.Second) // the same settling time after each wave
		s.end, _ = memory(a.router)
		heaps := a.router.liveHeaps()
		s.live, gcs = heaps[gcs:], len(heaps)
		if len(s.live) == 0 {
			t.Fatalf("no collection logged during wave %d (GODEBUG=gctrace=1)", w+1)
		}
		n := a.router.count(abortedLine)
		s.rebuilds, aborts = n-aborts, n
		m := a.router.metrics()
		s.states = metricSum(m, "assay_processor_state_keys", `processor="router"`)
		s.evicts = metricSum(m, "assay_router_pending_prelabels_evicted_total")
	}
	stop()
	full := float64(3 * routerMaxPending) // as many evicted as the three pending sets hold
	capAt := slices.IndexFunc(samples, func(s sample) bool { return s.evicted >= full })
	if capAt < 0 || samples[capAt].wave != 0 {
		t.Fatalf("the pending sets were not full during the first wave (%d samples, cap reached at sample %d)", len(samples), capAt)
	}
	// The first wave's collections count from the cap on, like its RSS samples.
	ws[0].live = ws[0].live[min(max(samples[capAt].gcs-gc0, 0), len(ws[0].live)):]
	if len(ws[0].live) == 0 {
		t.Fatal("no collection logged in the first wave once the pending sets were full")
	}
	for i, s := range samples {
		w := &ws[s.wave]
		w.peak = max(w.peak, s.rss)
		if i >= capAt && (w.floor == 0 || s.rss < w.floor) {
			w.floor = s.rss
		}
	}
	var (
		rssGrowth, liveGrowth int64
		rebuilds              int
		perWaveFig            []string
	)
	for w, s := range ws {
		perWaveFig = append(perWaveFig, fmt.Sprintf("wave %d: consumed in %s, RSS %s..%s, end %s, live heap %d..%d MB over %d collections, %d rebuilds, state keys %.0f",
			w+1, s.took.Round(100*time.Millisecond), mib(s.floor), mib(s.peak), mib(s.end), slices.Min(s.live), slices.Max(s.live), len(s.live), s.rebuilds, s.states))
		rebuilds += s.rebuilds
		if w > 0 {
			rssGrowth = max(rssGrowth, s.floor-ws[0].floor)
			liveGrowth = max(liveGrowth, int64(slices.Min(s.live)-slices.Min(ws[0].live)))
		}
	}
	_, hwm := memory(a.router)
	n := waves * perWave
	kept := int64(perWave) * 400 // heap a wave would add were its pre-labels kept
	a.note(attack, "router RSS growth after the cap", mib(rssGrowth), "<= "+mib(routerRSSGrowth), rssGrowth <= routerRSSGrowth,
		fmt.Sprintf("%d waves of %d pre-labels for made-up items; -router-max-pending %d (x3 partitions), full %s into wave 1; growth = the lowest RSS sampled in a later wave over the lowest in the first once the sets were full (keeping the pre-labels would add about %s a wave); RSS before the flood %s, when the sets were full %s, last %s, peak (VmHWM) %s; %d samples every 250 ms; %s",
			waves, perWave, routerMaxPending, samples[capAt].at.Round(100*time.Millisecond), mib(kept),
			mib(rss0), mib(samples[capAt].rss), mib(ws[waves-1].end), mib(hwm), len(samples), strings.Join(perWaveFig, "; ")))
	if rssGrowth > routerRSSGrowth {
		a.errorf("a later wave's lowest RSS is %s above the first's, over %s", mib(rssGrowth), mib(routerRSSGrowth))
	}
	a.note(attack, "router live heap growth", fmt.Sprintf("%+d MB", liveGrowth), fmt.Sprintf("<= +%d MB", routerLiveGrowthMB), liveGrowth <= routerLiveGrowthMB,
		fmt.Sprintf("the lowest live heap a collection marked in a later wave over the lowest in the first (GODEBUG=gctrace=1): what the router keeps, without the garbage and the transients of rebuilds that move RSS; keeping the pre-labels would add about %s a wave", mib(kept)))
	if liveGrowth > routerLiveGrowthMB {
		a.errorf("the router's live heap floor grew %d MB over the first wave's, over %d MB", liveGrowth, routerLiveGrowthMB)
	}
	last := ws[waves-1]
	a.note(attack, "router rebuilds during the flood", fmt.Sprint(rebuilds), "-", true,
		fmt.Sprintf("transactions aborted without a rebalance, after which the router rebuilt every partition from the start of the log (evictions during rebuilds count again: %.0f evicted for %d made-up pre-labels, %d held by the caps); state keys at the end %.0f (pending pre-labels plus the legitimate producer's items and labels)",
			last.evicts, n, 3*routerMaxPending, last.states))
	if last.evicts < float64(n-3*routerMaxPending) {
		a.errorf("the router evicted %.0f pre-labels; with %d made up and room for %d, at least %d must have been", last.evicts, n, 3*routerMaxPending, n-3*routerMaxPending)
	}
}

// poisonItems are the events of attack 4: 150 items whose occurred_at spans 150 months (one
// INSERT block over 150 partitions of events, which current ClickHouse refuses as a whole),
// and 20 items of which three the guarded items table refuses.
func poisonItems() (months, guarded []schemas.Event, refused []string) {
	var tmpl *schemas.ItemIngested
	for _, ev := range workload.New("abuse-poison", 1).Round(0) {
		if it, ok := ev.(*schemas.ItemIngested); ok {
			tmpl = it
		}
	}
	item := func(id string, at time.Time) schemas.Event {
		it := *tmpl
		it.ItemID, it.EventID, it.OccurredAt = id, "abuse-poison-"+id, at.UnixMilli()
		return &it
	}
	for i := range 150 {
		months = append(months, item(fmt.Sprintf("month-%d", i), time.Date(2001, time.Month(1+i), 15, 12, 0, 0, 0, time.UTC)))
	}
	for i := range 20 {
		id := fmt.Sprintf("guarded-%d", i)
		if i%7 == 3 {
			id = fmt.Sprintf("refuse-%d", i)
			refused = append(refused, id)
		}
		guarded = append(guarded, item(id, time.Now().Add(-time.Minute)))
	}
	return months, guarded, refused
}

// 4. A request of 150 events over 150 months, and one with records the server refuses,
// accepted by the gateway and written by the ledger: its lag must return to 0.
func (a *abuse) poisonBatch() {
	t := a.t
	const attack = "4 poison batch"
	errs0 := a.errs
	backlog, _ := a.waitLagZero(ledger.Name, 15*time.Minute)
	isolated0 := metricSum(a.ledger.metrics(), "assay_processor_write_isolated_records_total", `processor="ledger"`)
	months, guarded, refused := poisonItems()
	for _, id := range refused {
		a.refused[id] = true
	}
	reqs, err := load.Prepare(months, 150, a.writers)
	if err != nil {
		t.Fatal(err)
	}
	more, err := load.Prepare(guarded, 20, a.writers)
	if err != nil {
		t.Fatal(err)
	}
	reqs = append(reqs, more...)
	t0 := time.Now()
	st, err := load.Run(a.ctx, load.Config{URL: a.gw.URL, Tokens: a.tokens, Concurrency: 1}, reqs)
	if err != nil || st.Requests != 2 {
		t.Fatalf("poison requests: %v (%+v)", err, st)
	}
	for _, r := range reqs {
		for _, id := range r.EventIDs {
			a.accepted[id] = true
		}
	}
	_, markers := a.waitLagZero(ledger.Name, 5*time.Minute)
	took := time.Since(t0) // from the first request on
	var partitions uint64
	if err := a.conn.QueryRow(a.ctx, "SELECT uniqExact(toYYYYMM(occurred_at)) FROM events WHERE record_key LIKE 'month-%'").Scan(&partitions); err != nil {
		t.Fatal(err)
	}
	rows, err := a.conn.Query(a.ctx, "SELECT original, reason FROM dlq FINAL WHERE source = 'assay-processor/ledger'")
	if err != nil {
		t.Fatal(err)
	}
	var inDLQ []string
	var reason string
	for rows.Next() {
		var orig string
		if err := rows.Scan(&orig, &reason); err != nil {
			t.Fatal(err)
		}
		it, err := schemas.DecodeAs[schemas.ItemIngested]([]byte(orig))
		if err != nil {
			t.Fatalf("ledger DLQ original: %v", err)
		}
		inDLQ = append(inDLQ, it.ItemID)
		for _, want := range []string{"table items", "395", "throwIf"} {
			if !strings.Contains(reason, want) {
				a.errorf("DLQ reason for %s lacks %q: %s", it.ItemID, want, reason)
			}
		}
	}
	rows.Close()
	slices.Sort(inDLQ)
	want := slices.Clone(refused)
	slices.Sort(want)
	if !slices.Equal(inDLQ, want) {
		a.errorf("the ledger's DLQ rows name items %v, want the refused %v", inDLQ, want)
	}
	if partitions != 150 {
		a.errorf("events holds the 150-month items in %d monthly partitions, want 150", partitions)
	}
	isolated := metricSum(a.ledger.metrics(), "assay_processor_write_isolated_records_total", `processor="ledger"`) - isolated0
	a.note(attack, "ledger lag back to 0 after", took.Round(100*time.Millisecond).String(), "lag 0 (kadm)", a.errs == errs0,
		fmt.Sprintf("lag = committed against end offsets from the broker, %d partitions ending in a transaction marker (broker lag 1, no record left); one request of 150 ItemIngested over 150 months (2001-01..2013-06, %d partitions of events written; 18.16 takes the block whole) and one of 20 items of which %d are refused by a throwIf column on items: answers %v; the ledger isolated %.0f records, in dlq with the server's message (%.120s...); backlog of the earlier attacks drained in %s first",
			markers, partitions, len(refused), st.Statuses, isolated, reason, backlog.Round(100*time.Millisecond)))
}

// committedOffsets returns the ledger group's committed offsets.
func (a *abuse) committedOffsets() map[string]map[int32]int64 {
	a.t.Helper()
	offs, err := a.adm.FetchOffsets(a.ctx, a.k.TopicPrefix+"assay.processor."+ledger.Name)
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.At
		}
	})
	return out
}

func sumOffsets(m map[string]map[int32]int64) int64 {
	var n int64
	for _, ps := range m {
		for _, o := range ps {
			n += o
		}
	}
	return n
}

// 5. ClickHouse cut off from the ledger while it writes under load, then SIGTERM: it must
// exit within its -shutdown-timeout (and a margin) and commit nothing it did not write.
func (a *abuse) sigtermDuringOutage() {
	t := a.t
	const attack = "5 SIGTERM, CH down"
	type driven struct {
		st  load.Stats
		ids []string
		err error
	}
	loadDone := make(chan driven, 1)
	go func() {
		st, ids, err := a.sendLegit("outage", short(40*time.Second, 25*time.Second), a.gw.URL)
		loadDone <- driven{st, ids, err}
	}()
	waitEventsGrow(t, a.conn, 200, time.Minute)
	retries0 := metricSum(a.ledger.metrics(), "assay_processor_write_retries_total", `processor="ledger"`)
	atCut := a.committedOffsets()
	a.proxy.Cut()
	// A batch is in flight once a write has failed and is being retried.
	var retries float64
	waitFor(t, time.Minute, func() error {
		retries = metricSum(a.ledger.metrics(), "assay_processor_write_retries_total", `processor="ledger"`)
		if retries <= retries0 {
			return errors.New("no write retried yet")
		}
		return nil
	})
	t0 := time.Now()
	if err := a.ledger.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.ledger.Done():
	case <-time.After(ledgerShutdown + time.Minute):
		t.Fatalf("the ledger did not exit within %s of SIGTERM", ledgerShutdown+time.Minute)
	}
	exit := time.Since(t0)
	exitStatus := "exit status 0"
	if err := a.ledger.Err(); err != nil {
		exitStatus = err.Error() // the runtime reports the batch it could not write
	}
	a.commits = a.committedOffsets()
	// What the events table holds below each commit, read while nothing can write it: the
	// ledger is gone and the proxy still cut. nothingLost compares it with the log.
	a.written = map[string]map[int32]int{}
	for topic, ps := range a.commits {
		a.written[topic] = map[int32]int{}
		for p, off := range ps {
			var n uint64
			if err := a.conn.QueryRow(a.ctx, "SELECT uniqExact(offset) FROM events WHERE topic = ? AND partition = ? AND offset < ?",
				topic, uint32(p), uint64(off)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			a.written[topic][p] = int(n)
		}
	}
	a.note(attack, "exit after SIGTERM", exit.Round(100*time.Millisecond).String(), fmt.Sprintf("<= %s + %s", ledgerShutdown, shutdownMargin), exit <= ledgerShutdown+shutdownMargin,
		fmt.Sprintf("ledger with -shutdown-timeout %s, ClickHouse cut by a TCP proxy, SIGTERM once %.0f writes had been retried; the process ended with %v; committed offsets %d at the cut, %d at exit (checked against the events rows below them after the run)",
			ledgerShutdown, retries-retries0, exitStatus, sumOffsets(atCut), sumOffsets(a.commits)))
	if exit > ledgerShutdown+shutdownMargin {
		a.errorf("the ledger exited %s after SIGTERM, over -shutdown-timeout %s + %s", exit, ledgerShutdown, shutdownMargin)
	}
	a.proxy.Restore(t)
	a.ledger = a.startLedger()
	d := <-loadDone
	if d.err != nil {
		t.Fatalf("the legitimate producer failed during the outage: %v", d.err)
	}
	for _, id := range d.ids {
		a.accepted[id] = true
	}
}

// nothingLost: once the processors caught up, the ledger's tables equal the log. Every
// record is one events row; every typed table holds the rows the ledger makes of the log's
// events, once per event id, less the rows the guarded table refused (the record is named
// in dlq instead); every event the legitimate producer had accepted is in the log; the
// commits of the processor stopped during the outage cover only records it had written;
// and the tables equal a replay of the log into a fresh database.
func (a *abuse) nothingLost() {
	t := a.t
	const attack = "after: nothing lost"
	errs0 := a.errs
	a.waitLagZero(ledger.Name, 15*time.Minute)
	a.waitLagZero(router.Name, 15*time.Minute)
	want := map[string]int{}
	for _, tb := range ledger.Tables() {
		want[tb.Name] = 0
	}
	var (
		l        = ledger.New()
		ids      = map[string]bool{}
		below    = map[string]map[int32]int{}
		undecode int
	)
	records := readLog(t, a.k, func(r *kgo.Record) {
		want[ledger.TableEvents]++
		if c, ok := a.commits[r.Topic][r.Partition]; ok && r.Offset < c {
			if below[r.Topic] == nil {
				below[r.Topic] = map[int32]int{}
			}
			below[r.Topic][r.Partition]++
		}
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			undecode++
			return
		}
		id := ev.Meta().EventID
		if ids[id] {
			return // a re-sent event: its typed rows collapse on event_id
		}
		ids[id] = true
		fam, _ := schemas.FamilyOfTopic(a.k.TopicPrefix, r.Topic)
		out, err := l.Apply(nil, runtime.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Family: fam, Key: r.Key, Value: r.Value, Event: ev, Timestamp: r.Timestamp})
		if err != nil {
			a.errorf("the ledger rejects %s from the log: %v", id, err)
			return
		}
		it, isItem := ev.(*schemas.ItemIngested)
		for _, row := range out.Rows {
			if row.Table == ledger.TableEvents {
				continue
			}
			// A refused record's rows from the refusing table on (tables are written in
			// name order) are not written; its rows in the earlier ones are.
			if isItem && a.refused[it.ItemID] && row.Table >= ledger.TableItems {
				continue
			}
			want[row.Table]++
		}
	})
	if undecode > 0 {
		a.errorf("%d records of the log do not decode", undecode)
	}
	var got map[string]int
	waitFor(t, 3*time.Minute, func() error {
		got = finalCounts(t, a.conn, ledger.Tables())
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("ledger rows after FINAL:\n got %v\nwant %v", got, want)
		}
		return nil
	})
	var missing []string
	for id := range a.accepted {
		if !ids[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		a.errorf("%d events accepted (202) are not in the log, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	for topic, ps := range a.written {
		for p, n := range ps {
			if below[topic][p] != n {
				a.errorf("%s/%d: the ledger committed offset %d at its SIGTERM, below which the log holds %d records, but only %d were in events",
					topic, p, a.commits[topic][p], below[topic][p], n)
			}
		}
	}
	a.note(attack, "ledger == log", fmt.Sprintf("%d records", records), "equal", a.errs == errs0,
		fmt.Sprintf("events FINAL = %d records of the log; typed tables = the ledger's rows for the log's %d event ids less the %d refused items rows: %v; all %d events the producer had accepted are in the log; the commits at the SIGTERM cover only written records (%d partitions checked)",
			got[ledger.TableEvents], len(ids), len(a.refused), got, len(a.accepted), countPartitions(a.written)))

	// And value for value: a replay of the log into a fresh database with the same guard.
	_, rconn := testenv.MigratedClickHouse(t)
	guardItems(t, rconn)
	start := time.Now()
	st, err := runtime.Replay(a.ctx, ledger.New(), a.k, runtime.ClickHouseSink(rconn), time.Time{})
	if err != nil {
		t.Fatalf("replay the ledger: %v", err)
	}
	var live, rebuilt map[string]string
	waitFor(t, time.Minute, func() error {
		live, rebuilt = fingerprints(t, a.conn, ledger.Tables()), fingerprints(t, rconn, ledger.Tables())
		if fmt.Sprint(live) != fmt.Sprint(rebuilt) {
			return fmt.Errorf("live tables %v, rebuilt from the log %v", live, rebuilt)
		}
		return nil
	})
	a.note(attack, "ledger == replay", fmt.Sprintf("%d tables", len(live)), "equal", true,
		fmt.Sprintf("every ledger table equals a replay of the log (%d records in %s, %d isolated) row for row, values included (count and hash of every column after FINAL)",
			st.Records, time.Since(start).Round(time.Second), st.Isolated))
}

func countPartitions(m map[string]map[int32]int) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

// TestGuardColumnOnCurrentClickHouse: the guard the suite adds to items (a materialized
// throwIf column added by ALTER) refuses the insert of a guarded item on a current release
// (chdb) as it does on 18.16, with code 395, and lets the others in.
func TestGuardColumnOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx := context.Background()
	if err := s.Exec(ctx, guardDDL); err != nil {
		t.Fatalf("%s: %v", guardDDL, err)
	}
	_, guarded, refused := poisonItems()
	l := ledger.New()
	var table runtime.Table
	for _, tb := range ledger.Tables() {
		if tb.Name == ledger.TableItems {
			table = tb
		}
	}
	for i, ev := range guarded {
		val, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.Apply(nil, runtime.Record{Topic: "items", Offset: int64(i), Family: schemas.FamilyItems, Key: []byte(ev.Key()), Value: val, Event: ev, Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range out.Rows {
			if row.Table != ledger.TableItems {
				continue
			}
			err := s.Insert(ctx, table.Name, table.Columns, [][]any{row.Values})
			id := ev.(*schemas.ItemIngested).ItemID
			var ex *clickhouse.Exception
			switch {
			case slices.Contains(refused, id) && (!errors.As(err, &ex) || ex.Code != 395):
				t.Errorf("%s: insert answered %v, want code 395 from throwIf", id, err)
			case !slices.Contains(refused, id) && err != nil:
				t.Errorf("%s: %v", id, err)
			}
		}
	}
	got, err := s.Query(ctx, "SELECT count() FROM items")
	if err != nil || strings.TrimSpace(got) != fmt.Sprint(len(guarded)-len(refused)) {
		t.Fatalf("items holds %q (%v), want the %d items not refused", got, err, len(guarded)-len(refused))
	}
	t.Logf("ClickHouse %s refuses the %d guarded items with code 395", s.Version, len(refused))
}
