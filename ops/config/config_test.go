package config

import (
	"flag"
	"reflect"
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
			t.Setenv("ASSAY_KAFKA_BROKERS", tt.env)
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			k := RegisterKafka(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(k.Brokers, tt.brokers) {
				t.Fatalf("brokers = %q, want %q", k.Brokers, tt.brokers)
			}
		})
	}
}

func TestTopicPrefix(t *testing.T) {
	t.Setenv("ASSAY_TOPIC_PREFIX", "t1.")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	k := RegisterKafka(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := k.Topic("assay.items.v1"); got != "t1.assay.items.v1" {
		t.Fatalf("Topic = %q", got)
	}
}
