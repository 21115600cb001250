package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"

	load "github.com/assay-data/assay/loadtest/driver"
	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// Config says what to measure and where.
type Config struct {
	// Kafka and ClickHouse are the servers; the bench works in a namespace of its own
	// (topic prefix and databases named bench_<unix>), removed at the end unless Keep.
	Kafka      config.Kafka
	ClickHouse config.ClickHouse
	// Rounds of loadtest/workload are sent (workload.TypesPerRound-1 events a round reach
	// the gateway: every type but the DLQ's).
	Rounds int
	// Seed makes the stream reproducible.
	Seed uint64
	// PerRequest is the events per gateway request; Concurrency the requests in flight.
	PerRequest, Concurrency int
	// BatchSize and FlushInterval configure the processor (FlushInterval bounds latency).
	BatchSize     int
	FlushInterval time.Duration
	// RawRecords is the record count of the raw Kafka produce baselines: a run of a few
	// seconds at least, or JVM warm-up and client start-up dominate.
	RawRecords int
	// LatencyFor is how long the half-load latency phase runs.
	LatencyFor time.Duration
	// KafkaLibs holds the broker's jars (ProducerPerformance); empty skips that baseline.
	KafkaLibs string
	// ClickHouseClient is the clickhouse-client binary (of the installed server) for the
	// Native insert ceiling; empty skips that baseline.
	ClickHouseClient string
	// OutDir receives the profiles (and the caller writes the JSON there).
	OutDir string
	// Keep leaves the namespace's topics and databases in place.
	Keep bool
	// Log receives progress lines.
	Log io.Writer
}

// Figure is one measured number.
type Figure struct {
	// Name identifies the figure, e.g. pipeline_sustained.
	Name string `json:"name"`
	// Value is in Unit.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Note says how it was measured.
	Note string `json:"note,omitempty"`
}

// Ratio is a pipeline figure over a baseline from the same run, with its goal if it has one.
type Ratio struct {
	// Name is "pipeline figure / baseline figure".
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Goal is the target of the issue, when there is one, and Met whether it was reached.
	Goal string `json:"goal,omitempty"`
	Met  *bool  `json:"met,omitempty"`
}

// Result is the table `make bench` prints and commits.
type Result struct {
	// Started, Host, Cores and the load averages say where and under what load it ran.
	Started    time.Time `json:"started"`
	Host       string    `json:"host"`
	Cores      int       `json:"cores"`
	LoadBefore string    `json:"loadavg_before"`
	LoadAfter  string    `json:"loadavg_after"`
	// Events went through the pipeline at full speed; Rows are the ledger rows they make;
	// RecordBytes is their mean Avro size, the record size of the raw Kafka baselines.
	Events      int `json:"events"`
	Rows        int `json:"rows"`
	RecordBytes int `json:"record_bytes"`
	// Settings are the partitions, request and processor batch settings.
	Settings string   `json:"settings"`
	Figures  []Figure `json:"figures"`
	Ratios   []Ratio  `json:"ratios"`
	// Profiles are the pprof -top outputs written; Notes the CPU use per process by phase.
	Profiles []string `json:"profiles,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

func (r *Result) add(name string, v float64, unit, note string) {
	r.Figures = append(r.Figures, Figure{name, v, unit, note})
}

func (r *Result) ratio(name string, num, den float64, goal string, min float64) {
	q := Ratio{Name: name}
	if den > 0 {
		q.Value = num / den
	}
	if goal != "" {
		met := q.Value >= min
		q.Goal, q.Met = goal, &met
	}
	r.Ratios = append(r.Ratios, q)
}

// perRound is the events of a workload round that callers may send: every type but the two
// only Assay's own components write.
var perRound = workload.TypesPerRound - 2

// Run measures everything in order and returns the result; a failing step ends the run.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...) }
	ns := fmt.Sprintf("bench_%d", time.Now().Unix())
	k := cfg.Kafka
	k.TopicPrefix = ns + "."
	host, _ := os.Hostname()
	res := &Result{Started: time.Now().UTC(), Host: host, Cores: numCPU(), LoadBefore: loadavg(),
		Settings: fmt.Sprintf("6 partitions a topic; %d events/request, %d requests in flight; processor batch %d, flush %s",
			cfg.PerRequest, cfg.Concurrency, cfg.BatchSize, cfg.FlushInterval)}

	// The namespace: contract topics, a raw topic for the baselines, three databases.
	cl, err := kafka.NewClient(k)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	if _, err := kafka.EnsureTopics(ctx, adm, kafka.Topics(k, 6, 1)); err != nil {
		return nil, fmt.Errorf("create bench topics: %w", err)
	}
	rawTopic, javaTopic := k.Topic("raw"), k.Topic("raw-java")
	if _, err := adm.CreateTopics(ctx, 6, 1, nil, rawTopic, javaTopic); err != nil {
		return nil, fmt.Errorf("create raw topics: %w", err)
	}
	dbs := map[string]config.ClickHouse{}
	conns := map[string]driver.Conn{}
	roles := []string{"pipeline", "raw", "replay"}
	if cfg.ClickHouseClient != "" {
		roles = append(roles, "ceiling", "ceiling_replay")
	}
	for _, role := range roles {
		c := cfg.ClickHouse
		c.Database = ns + "_" + role
		conn, err := migrated(ctx, c)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		dbs[role], conns[role] = c, conn
	}
	if !cfg.Keep {
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var names []string
			for _, s := range kafka.Topics(k, 6, 1) {
				names = append(names, s.Name)
			}
			_, _ = adm.DeleteTopics(cctx, append(names, rawTopic, javaTopic)...)
			for _, c := range dbs {
				_ = conns["raw"].Exec(cctx, "DROP DATABASE IF EXISTS "+clickhouse.QuoteIdent(c.Database))
			}
		}()
	}

	// The stream: workload rounds without the types only Assay's own components write
	// (access.Internal: the gateway refuses them from any principal), each
	// event sent by the principal that may write it.
	var evs []schemas.Event
	for _, ev := range workload.New(ns, cfg.Seed).Rounds(cfg.Rounds) {
		if !access.Internal(ev.Type()) {
			schemas.Stamp(ev, "bench", time.Now())
			evs = append(evs, ev)
		}
	}
	principalsText, tokens, writers, err := load.Credentials(load.Principals())
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "assay-bench-principals-*")
	if err != nil {
		return nil, fmt.Errorf("principals file: %w", err)
	}
	principalsFile := tmp.Name()
	defer os.Remove(principalsFile)
	_, err = tmp.WriteString(principalsText)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("principals file: %w", err)
	}
	n := len(evs)
	size := 0
	for _, ev := range evs {
		b, err := schemas.Encode(ev)
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		size += len(b)
	}
	size /= n
	res.Events, res.RecordBytes = n, size
	logf("namespace %s: %d events of %d bytes on average (Avro)", ns, n, size)

	// Baselines.
	raw := max(cfg.RawRecords, n)
	logf("raw franz-go produce of %d × %d B", raw, size)
	cpuA := snapshotCPU()
	prodRate, err := rawProduce(ctx, k, rawTopic, raw, size)
	if err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes, "CPU during the raw franz-go produce (items = records): "+cpuUsers(cpuA, snapshotCPU(), map[int]string{os.Getpid(): "bench-producer"}, 4, raw))
	res.add("kafka_produce_franz", prodRate, "records/s", "franz-go, acks=all, idempotent, async produce + flush")
	logf("raw franz-go consume")
	consRate, err := rawConsume(ctx, k, raw, rawTopic)
	if err != nil {
		return nil, err
	}
	res.add("kafka_consume_franz", consRate, "records/s", "franz-go, no group, no decoding")
	var javaRate, javaCons float64
	if cfg.KafkaLibs != "" {
		logf("ProducerPerformance")
		var cmd string
		javaRate, cmd, err = javaProducerPerformance(ctx, cfg.KafkaLibs, k, javaTopic, raw, size)
		if err != nil {
			return nil, err
		}
		res.add("kafka_produce_java", javaRate, "records/s", cmd)
		logf("ConsumerPerformance")
		javaCons, cmd, err = javaConsumerPerformance(ctx, cfg.KafkaLibs, k, javaTopic, raw)
		if err != nil {
			return nil, err
		}
		res.add("kafka_consume_java", javaCons, "records/s", cmd)
	}
	logf("raw ClickHouse insert of the ledger's rows")
	rows, nrows, err := ledgerRows(evs)
	if err != nil {
		return nil, err
	}
	res.Rows = nrows
	// Best of two: the first insert into fresh tables pays for their first parts and merges,
	// and a baseline should be the ceiling, not a cold start.
	var chRate float64
	for range 2 {
		r, err := rawInsert(ctx, conns["raw"], rows, n, cfg.BatchSize)
		if err != nil {
			return nil, err
		}
		chRate = max(chRate, r)
	}
	res.add("clickhouse_insert", chRate, "events/s", fmt.Sprintf("best of 2: clickhouse-go batch inserts of the ledger's %.2f rows/event, %d events a batch", float64(nrows)/float64(n), cfg.BatchSize))
	var ceilRate float64
	if cfg.ClickHouseClient != "" {
		logf("ClickHouse Native insert ceiling (clickhouse-client)")
		chunks, err := prepareNative(ctx, cfg.ClickHouseClient, dbs["ceiling"], ns+"_stage", rows, n, cfg.BatchSize)
		if err != nil {
			return nil, err
		}
		var best nativeCeiling
		for range 2 { // best of 2, as clickhouse_insert
			c, err := chunks.insert(ctx, dbs["ceiling"].Database)
			if err != nil {
				chunks.Close()
				return nil, err
			}
			if r := c.EventsPerSecond(n); r > ceilRate {
				ceilRate, best = r, c
			}
		}
		chunks.Close()
		res.add("clickhouse_native_ceiling", ceilRate, "events/s", fmt.Sprintf("best of 2: clickhouse-client INSERT ... FORMAT Native of the same rows, %d events a batch: %d inserts one after the other as the runner writes (%.0f rows/s, %.1f MB), %s of query time as --time reports it (%s with the clients' start-ups)",
			cfg.BatchSize, best.Inserts, float64(best.Rows)/best.Query.Seconds(), float64(best.Bytes)/1e6, best.Query.Round(time.Millisecond), best.Wall.Round(time.Millisecond)))
	}

	floor, tables, err := flushFloor(ctx, conns["raw"], evs[:perRound], 15)
	if err != nil {
		return nil, err
	}
	res.add("clickhouse_flush_floor", float64(floor.Microseconds())/1000, "ms", fmt.Sprintf("median of 15 flushes of one round's rows: %d sequential inserts, one a table, as the runner writes", tables))

	// The pipeline.
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	procProf, gwProf := filepath.Join(cfg.OutDir, "cpu-processor.pprof"), filepath.Join(cfg.OutDir, "cpu-gateway.pprof")
	base := childArgs(k, dbs["pipeline"])
	proc, err := startChild(self, "processor", append(base, "-cpuprofile", procProf, "-batch-size", strconv.Itoa(cfg.BatchSize),
		"-flush-interval", cfg.FlushInterval.String()))
	if err != nil {
		return nil, err
	}
	defer proc.stop()
	gw, err := startChild(self, "gateway", append(base, "-cpuprofile", gwProf, "-principals-file", principalsFile))
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	url, err := gw.waitAddr(30 * time.Second)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, url, 60*time.Second); err != nil {
		return nil, err
	}
	reqs, err := load.Prepare(evs, cfg.PerRequest, writers)
	if err != nil {
		return nil, err
	}
	logf("pipeline at full speed: %d requests through the gateway at %s", len(reqs), url)
	pconn := conns["pipeline"]
	own := map[int]string{os.Getpid(): "bench-driver", proc.cmd.Process.Pid: "processor", gw.cmd.Process.Pid: "gateway"}
	cpuA = snapshotCPU()
	start := time.Now()
	dst, err := load.Run(ctx, load.Config{URL: url, Tokens: tokens, Concurrency: cfg.Concurrency}, reqs)
	if err != nil {
		return nil, fmt.Errorf("drive pipeline: %w", err)
	}
	if err := waitRows(ctx, pconn, n, 5*time.Minute, proc, gw); err != nil {
		return nil, err
	}
	pipeDur := time.Since(start)
	res.Notes = append(res.Notes, "CPU during the full-speed pipeline phase (items = events): "+cpuUsers(cpuA, snapshotCPU(), own, 8, n))
	pipeRate := float64(n) / pipeDur.Seconds()
	res.add("pipeline_sustained", pipeRate, "events/s", fmt.Sprintf("first request sent → last events row visible in ClickHouse (%d events in %s)", n, pipeDur.Round(time.Millisecond)))
	res.add("gateway_accept", dst.EventsPerSecond(), "events/s", fmt.Sprintf("202s over the driver's run; %d retries; request p50 %s p99 %s", dst.Retries, dst.RequestP50, dst.RequestP99))
	logf("sustained %.0f events/s (gateway accepted at %.0f/s)", pipeRate, dst.EventsPerSecond())

	// Latency at half load (the goal), then at a quarter (to tell a load effect from the
	// fixed cost of a flush): a stream at that rate, every ItemIngested a marker whose row is
	// polled for.
	var lat latency
	latTotal := 0
	for i, share := range []float64{0.5, 0.25} {
		rate := pipeRate * share
		run := fmt.Sprintf("%s-lat%d", ns, i)
		latRounds := int(rate * cfg.LatencyFor.Seconds() / float64(perRound))
		var latEvs []schemas.Event
		for _, ev := range workload.New(run, cfg.Seed+1+uint64(i)).Rounds(max(latRounds, 10)) {
			if !access.Internal(ev.Type()) {
				latEvs = append(latEvs, ev)
			}
		}
		latTotal += len(latEvs)
		// About 20 requests a second, so a request's own batching adds at most 50 ms.
		latReqs, err := load.Prepare(latEvs, max(10, min(cfg.PerRequest, int(rate/20))), writers)
		if err != nil {
			return nil, err
		}
		logf("latency at %.0f events/s for %s (%d requests of %d events)", rate, cfg.LatencyFor, len(latReqs), len(latReqs[0].EventIDs))
		cpuA = snapshotCPU()
		l, err := measureLatency(ctx, pconn, url, rate, cfg.Concurrency, latReqs, tokens, len(latEvs)/perRound, run+"-ev-%")
		if err != nil {
			return nil, err
		}
		pct := int(share * 100)
		res.Notes = append(res.Notes, fmt.Sprintf("CPU during the %d%% load latency phase: %s", pct, cpuUsers(cpuA, snapshotCPU(), own, 8, 0)))
		res.add(fmt.Sprintf("latency_p50_at_%dpct", pct), float64(l.p50.Milliseconds()), "ms",
			fmt.Sprintf("gateway recorded_at → row in ClickHouse's items table; %d markers polled every 25 ms, at %.0f events/s", l.n, rate))
		res.add(fmt.Sprintf("latency_p99_at_%dpct", pct), float64(l.p99.Milliseconds()), "ms", "")
		res.add(fmt.Sprintf("latency_max_at_%dpct", pct), float64(l.max.Milliseconds()), "ms", "")
		if i == 0 {
			lat = l
		}
	}

	procRSS, procHWM := proc.memory()
	gwRSS, gwHWM := gw.memory()
	res.add("processor_rss_peak", procHWM/1024, "MiB", fmt.Sprintf("VmHWM of the processor process (VmRSS at the end %.0f MiB)", procRSS/1024))
	res.add("gateway_rss_peak", gwHWM/1024, "MiB", fmt.Sprintf("VmHWM of the gateway process (VmRSS at the end %.0f MiB)", gwRSS/1024))
	proc.stop()
	gw.stop()

	// Replay: the ledger rebuilt from the pipeline's log into a fresh database, against a raw
	// read of the same topics.
	total := n + latTotal
	var topics []string
	for _, f := range ledger.New().Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	logf("raw consume of the ledger topics (%d records)", total)
	cpuA = snapshotCPU()
	consLedger, err := rawConsume(ctx, k, total, topics...)
	if err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes, "CPU during the raw consume of the ledger topics (items = records): "+cpuUsers(cpuA, snapshotCPU(), map[int]string{os.Getpid(): "bench-consumer"}, 4, total))
	res.add("kafka_consume_ledger_topics", consLedger, "records/s", "franz-go read of the pipeline's topics, read_committed")
	logf("replay")
	// Replay runs in this process: its profile is this process's during the replay.
	replayProf := filepath.Join(cfg.OutDir, "cpu-replay.pprof")
	pf, err := os.Create(replayProf)
	if err != nil {
		return nil, fmt.Errorf("replay profile: %w", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, fmt.Errorf("replay profile: %w", err)
	}
	cpuA = snapshotCPU()
	replayed := &recordingSink{sink: runtime.ClickHouseSink(conns["replay"])}
	st, err := runtime.Replay(ctx, ledger.New(), k, replayed, time.Time{}, runtime.WithBatchSize(cfg.BatchSize))
	pprof.StopCPUProfile()
	pf.Close()
	res.Notes = append(res.Notes, "CPU during the replay (items = records): "+cpuUsers(cpuA, snapshotCPU(), map[int]string{os.Getpid(): "bench-replay"}, 6, st.Records))
	if err != nil {
		return nil, err
	}
	res.add("replay", st.EventsPerSecond(), "events/s", fmt.Sprintf("runtime.Replay(ledger): %d records, %d rows in %s, %d inserts (write concurrency %d, overlapped)",
		st.Records, st.Rows, st.Duration.Round(time.Millisecond), len(replayed.inserts), runtime.DefaultWriteConcurrency))
	// The ceiling of the replay's own inserts: its batches follow the fetches, so a batch holds
	// the records of a few partitions and touches only their tables, where the chunks of
	// clickhouse_native_ceiling touch every table.
	var replayCeil float64
	if cfg.ClickHouseClient != "" {
		logf("ClickHouse Native insert ceiling of the replay's own inserts (clickhouse-client)")
		chunks, err := prepareInserts(ctx, cfg.ClickHouseClient, dbs["ceiling_replay"], ns+"_stage2", replayed.inserts)
		if err != nil {
			return nil, err
		}
		var best nativeCeiling
		for range 2 {
			c, err := chunks.insert(ctx, dbs["ceiling_replay"].Database)
			if err != nil {
				chunks.Close()
				return nil, err
			}
			if r := c.EventsPerSecond(st.Records); r > replayCeil {
				replayCeil, best = r, c
			}
		}
		chunks.Close()
		res.add("clickhouse_native_ceiling_replay_inserts", replayCeil, "events/s", fmt.Sprintf("best of 2: clickhouse-client INSERT ... FORMAT Native of exactly the replay's %d inserts (%d rows), one after the other: %s of query time",
			best.Inserts, best.Rows, best.Query.Round(time.Millisecond)))
	}

	res.ratio("pipeline / kafka_produce_franz", pipeRate, prodRate, "≥ 0.5", 0.5)
	if javaRate > 0 {
		res.ratio("pipeline / kafka_produce_java", pipeRate, javaRate, "", 0)
	}
	res.ratio("pipeline / clickhouse_insert", pipeRate, chRate, "", 0)
	res.ratio("replay / kafka_consume_ledger_topics", st.EventsPerSecond(), consLedger, "≥ 0.7", 0.7)
	res.ratio("replay / kafka_consume_franz", st.EventsPerSecond(), consRate, "", 0)
	if javaCons > 0 {
		res.ratio("replay / kafka_consume_java", st.EventsPerSecond(), javaCons, "", 0)
	}
	res.ratio("replay / clickhouse_insert", st.EventsPerSecond(), chRate, "", 0)
	if ceilRate > 0 {
		res.ratio("replay / clickhouse_native_ceiling", st.EventsPerSecond(), ceilRate, "≥ 0.7", 0.7)
		res.ratio("clickhouse_insert / clickhouse_native_ceiling", chRate, ceilRate, "", 0)
	}
	if replayCeil > 0 {
		res.ratio("replay / clickhouse_native_ceiling_replay_inserts", st.EventsPerSecond(), replayCeil, "", 0)
	}
	met := lat.p99 < time.Second
	res.Ratios = append(res.Ratios, Ratio{Name: "latency_p99_at_50pct / 1 s", Value: lat.p99.Seconds(), Goal: "< 1", Met: &met})
	for _, p := range []struct{ bin, prof, name string }{{self, procProf, "processor"}, {self, gwProf, "gateway"}, {self, replayProf, "replay"}} {
		out := filepath.Join(cfg.OutDir, "pprof-top-"+p.name+".txt")
		if err := pprofTop(ctx, p.bin, p.prof, out); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("pprof top of the %s: %v", p.name, err))
			continue
		}
		res.Profiles = append(res.Profiles, out)
	}
	res.LoadAfter = loadavg()
	return res, nil
}

func migrated(ctx context.Context, c config.ClickHouse) (driver.Conn, error) {
	if err := clickhouse.EnsureDatabase(ctx, c); err != nil {
		return nil, fmt.Errorf("create database %s: %w", c.Database, err)
	}
	conn, err := clickhouse.Open(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", c.Database, err)
	}
	ms, err := migrations.All()
	if err != nil {
		return nil, err
	}
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migrate %s: %w", c.Database, err)
	}
	return conn, nil
}

// waitRows waits until the events table holds want rows (raw count: copies of a retried
// request count too, so the figure is never flattered by waiting for fewer).
func waitRows(ctx context.Context, conn driver.Conn, want int, timeout time.Duration, children ...*child) error {
	deadline := time.Now().Add(timeout)
	for {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&got); err != nil {
			return fmt.Errorf("count events: %w", err)
		}
		if int(got) >= want {
			return nil
		}
		for _, c := range children {
			if c.exited() {
				return fmt.Errorf("%s exited: %s", c.role, c.logTail())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("events holds %d of %d rows after %s", got, want, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type latency struct {
	n             int
	p50, p99, max time.Duration
}

// measureLatency drives reqs at rate while polling items for their rows: each ItemIngested
// is a marker, its latency the time its row was first seen minus its recorded_at (stamped by
// the gateway when it accepted the request; same host, same clock).
func measureLatency(ctx context.Context, conn driver.Conn, url string, rate float64, conc int, reqs []load.Request, tokens map[string]string, markers int, like string) (latency, error) {
	seen := map[string]time.Duration{}
	var stoppedAt time.Time // written before stop(), read by the poller only after it sees ctx done
	since := time.Now().Add(-time.Second).UnixMilli()
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var pollErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for pctx.Err() == nil || len(seen) < markers {
			rows, err := conn.Query(ctx, "SELECT event_id, recorded_at_ms FROM items WHERE recorded_at_ms >= ? AND event_id LIKE ?", since, like)
			if err != nil {
				pollErr = fmt.Errorf("poll markers: %w", err)
				return
			}
			now := time.Now()
			for rows.Next() {
				var id string
				var rec int64
				if err := rows.Scan(&id, &rec); err != nil {
					rows.Close()
					pollErr = fmt.Errorf("scan marker: %w", err)
					return
				}
				if _, ok := seen[id]; !ok {
					seen[id] = now.Sub(time.UnixMilli(rec))
				}
			}
			rows.Close()
			if pctx.Err() != nil && time.Since(stoppedAt) > time.Minute {
				pollErr = fmt.Errorf("only %d of %d markers seen a minute after the load", len(seen), markers)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	_, err := load.Run(ctx, load.Config{URL: url, Tokens: tokens, Rate: rate, Concurrency: conc}, reqs)
	stoppedAt = time.Now()
	stop()
	wg.Wait()
	if err != nil {
		return latency{}, fmt.Errorf("drive latency load: %w", err)
	}
	if pollErr != nil {
		return latency{}, pollErr
	}
	ds := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return latency{n: len(ds), p50: load.Quantile(ds, 0.5), p99: load.Quantile(ds, 0.99), max: ds[len(ds)-1]}, nil
}

func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("gateway at %s not ready within %s (last: %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// child is a role process of the bench binary.
type child struct {
	role string
	cmd  *exec.Cmd
	out  *os.File
	addr chan string
	done chan struct{}
	once sync.Once
}

func startChild(self, role string, args []string) (*child, error) {
	logf, err := os.CreateTemp("", "assay-bench-"+role+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("child log: %w", err)
	}
	cmd := exec.Command(self, append([]string{RoleFlag, role}, args...)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("child stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	c := &child{role: role, cmd: cmd, out: logf, addr: make(chan string, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "addr="); ok {
				c.addr <- a
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(c.done) }()
	return c, nil
}

func (c *child) waitAddr(timeout time.Duration) (string, error) {
	select {
	case a := <-c.addr:
		return "http://" + a, nil
	case <-c.done:
		return "", fmt.Errorf("%s exited at start: %s", c.role, c.logTail())
	case <-time.After(timeout):
		return "", fmt.Errorf("%s printed no address within %s", c.role, timeout)
	}
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// memory returns VmRSS and VmHWM (peak) in KiB from /proc.
func (c *child) memory() (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				rss = v
			case "VmHWM:":
				hwm = v
			}
		}
	}
	return rss, hwm
}

// stop ends the child with SIGTERM (it flushes, commits and writes its profile), SIGKILL
// after 30 s.
func (c *child) stop() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		c.out.Close()
		_ = os.Remove(c.out.Name())
	})
}

func (c *child) logTail() string {
	b, _ := os.ReadFile(c.out.Name())
	return tail(b, 3000)
}

func pprofTop(ctx context.Context, bin, prof, out string) error {
	if _, err := os.Stat(prof); err != nil {
		return fmt.Errorf("no profile: %w", err)
	}
	var all []byte
	// Flat shows where cycles burn; cumulative shows which stage (decode, encode, insert) they
	// belong to.
	for _, mode := range [][]string{{"-top"}, {"-top", "-cum"}} {
		args := append(append([]string{"tool", "pprof"}, mode...), "-nodecount=40", bin, prof)
		b, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %w: %s", err, tail(b, 500))
		}
		all = append(append(all, []byte("$ go "+strings.Join(args, " ")+"\n")...), b...)
		all = append(all, '\n')
	}
	return os.WriteFile(out, all, 0o644)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// Table renders the result as the printed table.
func (r *Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Assay bench %s on %s (%d cores), load average before %s, after %s\n", r.Started.Format(time.RFC3339), r.Host, r.Cores, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "%d events (%d ledger rows), %d B per Avro record; %s\n\n", r.Events, r.Rows, r.RecordBytes, r.Settings)
	fmt.Fprintf(&b, "%-30s %14s  %-10s %s\n", "figure", "value", "unit", "how")
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "%-30s %14.1f  %-10s %s\n", f.Name, f.Value, f.Unit, f.Note)
	}
	fmt.Fprintf(&b, "\n%-40s %8s  %-6s %s\n", "ratio", "value", "goal", "met")
	for _, q := range r.Ratios {
		met := ""
		if q.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*q.Met]
		}
		fmt.Fprintf(&b, "%-40s %8.3f  %-6s %s\n", q.Name, q.Value, q.Goal, met)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// WriteJSON writes the result to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("marshal result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
