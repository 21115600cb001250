package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/streams/infra/config"
)

func TestNewValidatesOptions(t *testing.T) {
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "x."}
	m := MeasurerFunc(func(context.Context, VersionRef, int64) (Figures, error) { return Figures{}, nil })
	tests := []struct {
		name string
		k    config.Kafka
		m    Measurer
		opts []Option
		err  string
	}{
		{name: "no brokers", k: config.Kafka{}, m: m, err: "no Kafka brokers"},
		{name: "no measurer", k: k, err: "no Measurer"},
		{name: "tick", k: k, m: m, opts: []Option{WithTick(0)}, err: "tick must be > 0"},
		{name: "settle", k: k, m: m, opts: []Option{WithSettle(-time.Second)}, err: "settle timeout"},
		{name: "recheck below tick", k: k, m: m, opts: []Option{WithTick(time.Minute), WithRecheck(time.Second)}, err: "shorter than the tick"},
		{name: "measure timeout", k: k, m: m, opts: []Option{WithMeasureTimeout(0)}, err: "measure timeout"},
		{name: "shutdown timeout", k: k, m: m, opts: []Option{WithShutdownTimeout(0)}, err: "shutdown timeout"},
		{name: "transactional id", k: k, m: m, opts: []Option{WithTransactionalID("")}, err: "transactional id"},
		{name: "logger", k: k, m: m, opts: []Option{WithLogger(nil)}, err: "nil logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.k, tt.m, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
		})
	}
	reg := prometheus.NewRegistry()
	r, err := New(k, m, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if r.TransactionalID() != "x.assay.gate" {
		t.Fatalf("transactional id %q", r.TransactionalID())
	}
	if r.Ready(context.Background()) == nil {
		t.Fatal("ready before Run")
	}
	// A second gate on the same registry is refused, not silently sharing series.
	if _, err := New(k, m, WithRegisterer(reg)); err == nil || !strings.Contains(err.Error(), "register") {
		t.Fatalf("second registration: %v", err)
	}
	names := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"assay_gate_verdicts_total", "assay_gate_versions_pending", "assay_gate_measure_seconds", "assay_gate_ready", "assay_gate_measure_failures_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered (have %v)", n, names)
		}
	}
}
