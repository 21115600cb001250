package config

import (
	"flag"
	"strings"
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

// EnvClickHousePassword is the one place the ClickHouse password comes from. It has no flag
// on purpose (flags show up in ps output and shell history), so it is not read by ParseFlags:
// main reads it and sets ClickHouse.Password.
const EnvClickHousePassword = "ASSAY_CLICKHOUSE_PASSWORD"

// RegisterKafka registers -kafka-brokers and -topic-prefix on fs, with the local defaults,
// and returns the value they fill in when fs is parsed (by ParseFlags, which gives them their
// environment variables ASSAY_KAFKA_BROKERS and ASSAY_TOPIC_PREFIX).
func RegisterKafka(fs *flag.FlagSet) *Kafka {
	k := &Kafka{Brokers: splitList(DefaultKafkaBrokers)}
	fs.Var((*listValue)(&k.Brokers), "kafka-brokers", "`list` of Kafka seed brokers, comma-separated host:port")
	fs.StringVar(&k.TopicPrefix, "topic-prefix", "", "prefix of every topic name")
	return k
}

// RegisterClickHouse registers the -clickhouse-* flags on fs with the local defaults. The
// password is not a flag: main sets it from EnvClickHousePassword.
func RegisterClickHouse(fs *flag.FlagSet) *ClickHouse {
	c := &ClickHouse{Addr: splitList(DefaultClickHouseAddr)}
	fs.Var((*listValue)(&c.Addr), "clickhouse-addr", "`list` of ClickHouse native addresses, comma-separated host:port")
	fs.StringVar(&c.Database, "clickhouse-database", DefaultClickHouseDatabase, "ClickHouse database")
	fs.StringVar(&c.User, "clickhouse-user", DefaultClickHouseUser, "ClickHouse user")
	return c
}

// listValue is a comma-separated list flag; setting it replaces the default.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(s string) error {
	*l = splitList(s)
	return nil
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
