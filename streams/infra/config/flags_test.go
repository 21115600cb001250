package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func newFlags() (*flag.FlagSet, *int, *time.Duration, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("max-events", 50_000, "")
	d := fs.Duration("dedup-ttl", 10*time.Minute, "")
	p := fs.String("partitions", "6", "")
	return fs, n, d, p
}

func TestParseFlagsPrecedence(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"default", nil, nil, 50_000},
		{"global env", nil, map[string]string{"ASSAY_MAX_EVENTS": "7"}, 7},
		{"service env beats global", nil, map[string]string{"ASSAY_MAX_EVENTS": "7", "ASSAY_INGEST_MAX_EVENTS": "8"}, 8},
		{"empty env is unset", nil, map[string]string{"ASSAY_INGEST_MAX_EVENTS": ""}, 50_000},
		{"flag beats env", []string{"-max-events", "9"}, map[string]string{"ASSAY_INGEST_MAX_EVENTS": "8"}, 9},
		{"flag beats a bad env", []string{"-max-events", "9"}, map[string]string{"ASSAY_INGEST_MAX_EVENTS": "50k"}, 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, n, _, _ := newFlags()
			if err := ParseFlags(fs, "ingest", c.args, envMap(c.env), nil); err != nil {
				t.Fatal(err)
			}
			if *n != c.want {
				t.Fatalf("max-events = %d, want %d", *n, c.want)
			}
		})
	}
}

func TestParseFlagsBadValueIsAnError(t *testing.T) {
	for key, val := range map[string]string{"ASSAY_INGEST_MAX_EVENTS": "50k", "ASSAY_DEDUP_TTL": "10"} {
		fs, _, _, _ := newFlags()
		err := ParseFlags(fs, "ingest", nil, envMap(map[string]string{key: val}), nil)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%s=%s: err = %v, want an error naming the variable", key, val, err)
		}
	}
}

func TestParseFlagsAliases(t *testing.T) {
	fs, _, _, p := newFlags()
	err := ParseFlags(fs, "assay", nil, envMap(map[string]string{"ASSAY_TOPIC_PARTITIONS": "12"}), Aliases{"partitions": {"ASSAY_TOPIC_PARTITIONS"}})
	if err != nil || *p != "12" {
		t.Fatalf("partitions = %q, err %v; want 12 from the alias", *p, err)
	}
	fs, _, _, _ = newFlags()
	if err := ParseFlags(fs, "assay", nil, nil, Aliases{"no-such": {"X"}}); err == nil {
		t.Fatal("an alias of an unknown flag was accepted")
	}
	if got := EnvNames("ingest", "dedup-ttl", nil); strings.Join(got, ",") != "ASSAY_INGEST_DEDUP_TTL,ASSAY_DEDUP_TTL" {
		t.Fatalf("EnvNames = %v", got)
	}
}
