package config

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"time"
)

// Local defaults: the addresses ops/stack.sh starts Kafka and ClickHouse on.
const (
	DefaultKafkaBrokers       = "127.0.0.1:19092"
	DefaultClickHouseAddr     = "127.0.0.1:19000"
	DefaultClickHouseDatabase = "assay"
	DefaultClickHouseUser     = "default"
)

// Kafka says how to reach the Kafka cluster and which topic namespace to use.
type Kafka struct {
	// Brokers are the seed brokers (host:port).
	Brokers []string
	// TopicPrefix is prepended to every topic name ("" in production; tests and side-by-side
	// environments use it to get a namespace of their own on one cluster).
	TopicPrefix string
}

// Topic returns the full name of a contract topic in this namespace.
func (k Kafka) Topic(name string) string { return k.TopicPrefix + name }

// ClickHouse says how to reach the ClickHouse server and which database holds Assay's tables.
type ClickHouse struct {
	// Addr is the native-protocol address (host:port); the HTTP interface is never used
	// because the 18.16 server rejects the client's HTTP settings.
	Addr     []string
	Database string
	User     string
	Password string
}

// RegisterKafka registers -kafka-brokers and -topic-prefix on fs, with ASSAY_KAFKA_BROKERS and
// ASSAY_TOPIC_PREFIX as fallbacks, and returns the value they fill in when fs is parsed.
func RegisterKafka(fs *flag.FlagSet) *Kafka {
	k := &Kafka{}
	fs.Func("kafka-brokers", "comma-separated Kafka seed brokers (env ASSAY_KAFKA_BROKERS, default "+DefaultKafkaBrokers+")", func(s string) error {
		k.Brokers = splitList(s)
		return nil
	})
	k.Brokers = splitList(Env("ASSAY_KAFKA_BROKERS", DefaultKafkaBrokers))
	fs.StringVar(&k.TopicPrefix, "topic-prefix", Env("ASSAY_TOPIC_PREFIX", ""), "prefix of every topic name (env ASSAY_TOPIC_PREFIX)")
	return k
}

// RegisterClickHouse registers the -clickhouse-* flags on fs with ASSAY_CLICKHOUSE_* fallbacks.
func RegisterClickHouse(fs *flag.FlagSet) *ClickHouse {
	c := &ClickHouse{}
	fs.Func("clickhouse-addr", "comma-separated ClickHouse native addresses (env ASSAY_CLICKHOUSE_ADDR, default "+DefaultClickHouseAddr+")", func(s string) error {
		c.Addr = splitList(s)
		return nil
	})
	c.Addr = splitList(Env("ASSAY_CLICKHOUSE_ADDR", DefaultClickHouseAddr))
	fs.StringVar(&c.Database, "clickhouse-database", Env("ASSAY_CLICKHOUSE_DATABASE", DefaultClickHouseDatabase), "ClickHouse database (env ASSAY_CLICKHOUSE_DATABASE)")
	fs.StringVar(&c.User, "clickhouse-user", Env("ASSAY_CLICKHOUSE_USER", DefaultClickHouseUser), "ClickHouse user (env ASSAY_CLICKHOUSE_USER)")
	// The password has no flag on purpose: flags show up in ps output and shell history.
	c.Password = Env("ASSAY_CLICKHOUSE_PASSWORD", "")
	return c
}

// Env returns the environment variable key, or def when it is unset or empty.
func Env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// EnvDuration returns the environment variable key parsed as a time.Duration, or def when it
// is unset or does not parse.
func EnvDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(Env(key, "")); err == nil {
		return d
	}
	return def
}

// EnvInt returns the environment variable key parsed as an int, or def when it is unset or
// does not parse.
func EnvInt(key string, def int) int {
	if n, err := strconv.Atoi(Env(key, "")); err == nil {
		return n
	}
	return def
}

// EnvBool returns the environment variable key parsed by strconv.ParseBool, or def.
func EnvBool(key string, def bool) bool {
	if b, err := strconv.ParseBool(Env(key, "")); err == nil {
		return b
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
