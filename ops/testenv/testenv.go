package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Required reports whether integration infrastructure must be present (ASSAY_INTEGRATION=1).
func Required() bool {
	b, err := strconv.ParseBool(os.Getenv("ASSAY_INTEGRATION"))
	return err == nil && b
}

// envOr returns the environment variable key, or def when it is unset or empty. Tests read their
// setup from the environment; the services take theirs from flags (config.ParseFlags).
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// SkipShort skips t under -short (make unit): it needs the real stack or a checker, and
// -short runs only what needs nothing running. Every entry point of this package that reaches
// a server, a checker or a built binary calls it, so integration tests skip without asking.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (ASSAY_INTEGRATION=1) but unavailable: %v", what, err)
	}
	t.Skipf("%s unavailable (start it with ops/stack.sh up, or set ASSAY_INTEGRATION=1 to fail instead): %v", what, err)
}

var seq atomic.Int64

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace returns a name unique to this test run and test, made of [a-z0-9_] only, usable as
// a topic prefix or a database name.
func Namespace(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%d_%s", time.Now().UnixNano()%1e10, seq.Add(1), strings.Trim(name, "_"))
}

// Kafka returns the configuration of the real broker with a topic prefix unique to t, after
// checking that the broker answers. It skips or fails t when it does not (see package doc).
func Kafka(t testing.TB) config.Kafka {
	t.Helper()
	SkipShort(t)
	k := config.Kafka{
		Brokers:     strings.Split(envOr("ASSAY_KAFKA_BROKERS", config.DefaultKafkaBrokers), ","),
		TopicPrefix: Namespace(t) + ".",
	}
	cl, err := kafka.NewClient(k)
	if err != nil {
		unavailable(t, "Kafka", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		unavailable(t, "Kafka at "+strings.Join(k.Brokers, ","), err)
	}
	return k
}

// Topics creates every contract topic in the namespace of k with the given partition count and
// deletes them when t ends, so the test broker's disk does not grow with every run.
func Topics(t testing.TB, k config.Kafka, partitions int32) {
	t.Helper()
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	specs := kafka.Topics(k, partitions, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kafka.EnsureTopics(ctx, adm, specs); err != nil {
		cl.Close()
		t.Fatalf("create test topics: %v", err)
	}
	t.Cleanup(func() {
		defer cl.Close()
		if os.Getenv("ASSAY_KEEP_TEST_DATA") != "" {
			return
		}
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = s.Name
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, names...)
	})
}

// KafkaClient returns a client for k, closed when t ends.
func KafkaClient(t testing.TB, k config.Kafka, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(k, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ClickHouse returns the configuration of the real ClickHouse server with a fresh, empty
// database unique to t (dropped when t ends) and a connection to it. It skips or fails t when
// the server does not answer (see package doc).
func ClickHouse(t testing.TB) (config.ClickHouse, driver.Conn) {
	t.Helper()
	SkipShort(t)
	cfg := config.ClickHouse{
		Addr:     strings.Split(envOr("ASSAY_CLICKHOUSE_ADDR", config.DefaultClickHouseAddr), ","),
		Database: Namespace(t),
		User:     envOr("ASSAY_CLICKHOUSE_USER", config.DefaultClickHouseUser),
		Password: os.Getenv(config.EnvClickHousePassword),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clickhouse.EnsureDatabase(ctx, cfg); err != nil {
		unavailable(t, "ClickHouse at "+strings.Join(cfg.Addr, ","), err)
	}
	conn, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("ASSAY_KEEP_TEST_DATA") == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+clickhouse.QuoteIdent(cfg.Database))
		}
		conn.Close()
	})
	return cfg, conn
}

// MigratedClickHouse is ClickHouse with every migration applied.
func MigratedClickHouse(t testing.TB) (config.ClickHouse, driver.Conn) {
	t.Helper()
	cfg, conn := ClickHouse(t)
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return cfg, conn
}

// Python returns the interpreter that the environment variable env names: a virtual environment
// made by the setup script (a path from the repository root, named in messages) with a test-only
// checker installed. Without it t is skipped, or failed under ASSAY_INTEGRATION=1, so CI can
// never pass by skipping, as with the servers.
func Python(t testing.TB, env, setup string) string {
	t.Helper()
	SkipShort(t)
	python := os.Getenv(env)
	if python == "" {
		if Required() {
			t.Fatalf("%s is not set: run %s and export its output", env, setup)
		}
		t.Skipf("%s not set (run %s and export its output): check skipped", env, setup)
	}
	return python
}

// JavaClasspath returns the Java classpath in the environment variable env (set from the
// checker's setup script, e.g. ops/avro/setup.sh), after checking that java is on PATH; what
// names the checker in messages ("Apache Avro"). Without either it skips t, or fails it under
// ASSAY_INTEGRATION=1, so CI can never pass by skipping a check against a Java reference.
func JavaClasspath(t testing.TB, env, setup, what string) string {
	t.Helper()
	SkipShort(t)
	cp := os.Getenv(env)
	_, err := exec.LookPath("java")
	switch {
	case cp == "" && Required():
		t.Fatalf("%s is not set: run %s and export its output", env, setup)
	case cp == "":
		t.Skipf("%s not set (run %s and export its output): %s check skipped", env, setup, what)
	case err != nil && Required():
		t.Fatalf("java is required for the %s check: %v", what, err)
	case err != nil:
		t.Skipf("java not found: %s check skipped: %v", what, err)
	}
	return cp
}

// Database says which database Stack gives a test.
type Database int

const (
	// NoDatabase: Kafka only; Env.ClickHouse and Env.Conn stay zero.
	NoDatabase Database = iota
	// EmptyDatabase: a fresh, empty database (ClickHouse), for code under test that migrates.
	EmptyDatabase
	// MigratedDatabase: a fresh database with every migration applied (MigratedClickHouse).
	MigratedDatabase
)

// Env is the real stack as one integration test sees it: its Kafka namespace, a client for it
// and, unless NoDatabase was asked for, its own database and a connection to it.
type Env struct {
	Kafka      config.Kafka
	Client     *kgo.Client
	ClickHouse config.ClickHouse
	Conn       driver.Conn
}

// Stack is the setup pipeline tests share: Kafka with every contract topic at the given
// partition count (Topics), a client (KafkaClient), and the database db says. Everything is
// released when t ends; it skips or fails t like the calls it is made of.
func Stack(t testing.TB, partitions int32, db Database) Env {
	t.Helper()
	e := Env{Kafka: Kafka(t)}
	Topics(t, e.Kafka, partitions)
	e.Client = KafkaClient(t, e.Kafka)
	switch db {
	case EmptyDatabase:
		e.ClickHouse, e.Conn = ClickHouse(t)
	case MigratedDatabase:
		e.ClickHouse, e.Conn = MigratedClickHouse(t)
	}
	return e
}
