package config

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		brokers []string
	}{
		{"default", "", nil, []string{DefaultKafkaBrokers}},
		{"env", "a:1, b:2", nil, []string{"a:1", "b:2"}},
		{"flag wins over env", "a:1", []string{"-kafka-brokers=c:3"}, []string{"c:3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			k := RegisterKafka(fs)
			if err := ParseFlags(fs, "ingest", tt.args, envMap(map[string]string{"ASSAY_KAFKA_BROKERS": tt.env}), nil); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(k.Brokers, tt.brokers) {
				t.Fatalf("brokers = %q, want %q", k.Brokers, tt.brokers)
			}
		})
	}
}

func TestTopicPrefix(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	k := RegisterKafka(fs)
	if err := ParseFlags(fs, "processor", nil, envMap(map[string]string{"ASSAY_TOPIC_PREFIX": "t1."}), nil); err != nil {
		t.Fatal(err)
	}
	if got := k.Topic("assay.items.v1"); got != "t1.assay.items.v1" {
		t.Fatalf("Topic = %q", got)
	}
}

// TestRegisterReadsNoEnvironment: the Register functions are library code with plain
// defaults; only ParseFlags, given main's environment, changes them. The password is never
// read by the package.
func TestRegisterReadsNoEnvironment(t *testing.T) {
	t.Setenv("ASSAY_KAFKA_BROKERS", "env:1")
	t.Setenv("ASSAY_CLICKHOUSE_ADDR", "env:2")
	t.Setenv("ASSAY_CLICKHOUSE_USER", "env-user")
	t.Setenv(EnvClickHousePassword, "secret")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	k, c := RegisterKafka(fs), RegisterClickHouse(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	want := ClickHouse{Addr: []string{DefaultClickHouseAddr}, Database: DefaultClickHouseDatabase, User: DefaultClickHouseUser}
	if !reflect.DeepEqual(k.Brokers, []string{DefaultKafkaBrokers}) || !reflect.DeepEqual(*c, want) {
		t.Fatalf("kafka %v, clickhouse %+v: want the defaults %+v", k.Brokers, *c, want)
	}
}

// TestUsageNamesTheVariables: -h shows each flag's variables, as ParseFlags derives them, and
// the list defaults as they are.
func TestUsageNamesTheVariables(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	RegisterClickHouse(fs)
	fs.Int("partitions", 6, "partitions per topic")
	err := ParseFlags(fs, "admin", []string{"-h"}, nil, Aliases{"partitions": {"ASSAY_TOPIC_PARTITIONS"}})
	if err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{
		"ClickHouse native addresses, comma-separated host:port (env ASSAY_ADMIN_CLICKHOUSE_ADDR, ASSAY_CLICKHOUSE_ADDR) (default 127.0.0.1:19000)",
		"partitions per topic (env ASSAY_ADMIN_PARTITIONS, ASSAY_PARTITIONS, ASSAY_TOPIC_PARTITIONS) (default 6)",
	} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, help.String())
		}
	}
	// A second pass (a command parsing its flags in two steps) does not repeat the list.
	fs.SetOutput(io.Discard)
	if err := ParseFlags(fs, "admin", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if u := fs.Lookup("partitions").Usage; strings.Count(u, "(env ") != 1 {
		t.Fatalf("usage annotated twice: %q", u)
	}
}
