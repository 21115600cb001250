package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
	gatefigures "github.com/assay-data/assay/streams/gate/figures"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// gateConfig is the gate's flags: -gate turns it on, the rest tune it (streams/gate options).
type gateConfig struct {
	enabled                               bool
	tick, settle, recheck, measureTimeout time.Duration
	shutdown                              time.Duration
}

func registerGateFlags(fs *flag.FlagSet) *gateConfig {
	c := &gateConfig{}
	fs.BoolVar(&c.enabled, "gate", false, "run the quality gate (a singleton: in one processor instance only)")
	fs.DurationVar(&c.tick, "gate-tick", gate.DefaultTick, "how often the gate measures the versions due")
	fs.DurationVar(&c.settle, "gate-settle", gate.DefaultSettle, "how long a committed version may stay out of the ledger before it is rejected as not in the ledger")
	fs.DurationVar(&c.recheck, "gate-recheck", gate.DefaultRecheck, "how often a judged version is measured again, so later events supersede its verdict")
	fs.DurationVar(&c.measureTimeout, "gate-measure-timeout", gate.DefaultMeasureTimeout, "bound on reading one version's figures from ClickHouse")
	fs.DurationVar(&c.shutdown, "gate-shutdown-timeout", gate.DefaultShutdownTimeout, "bound on aborting the gate's open transaction at shutdown")
	return c
}

func (c *gateConfig) validate() error {
	if !c.enabled {
		return nil
	}
	for name, d := range map[string]time.Duration{"-gate-tick": c.tick, "-gate-settle": c.settle, "-gate-recheck": c.recheck,
		"-gate-measure-timeout": c.measureTimeout, "-gate-shutdown-timeout": c.shutdown} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", name, d)
		}
	}
	return nil
}

// runner builds the gate, measuring versions with streams/gate/figures on conn.
func (c *gateConfig) runner(k config.Kafka, conn driver.Conn, log *slog.Logger, reg prometheus.Registerer) (*gate.Runner, error) {
	m := gate.MeasurerFunc(func(ctx context.Context, ref gate.VersionRef, committedAt int64) (gate.Figures, error) {
		return gatefigures.Read(ctx, conn, gatefigures.Request{DatasetID: ref.DatasetID, Version: ref.Version, CommittedAt: committedAt})
	})
	return gate.New(k, m, gate.WithTick(c.tick), gate.WithSettle(c.settle), gate.WithRecheck(c.recheck),
		gate.WithMeasureTimeout(c.measureTimeout), gate.WithShutdownTimeout(c.shutdown),
		gate.WithLogger(log.With("component", "gate")), gate.WithRegisterer(reg))
}

// topics are the topics the gate reads.
func (c *gateConfig) topics(k config.Kafka) []string {
	return []string{k.Topic(schemas.FamilyDatasets.Topic()), k.Topic(schemas.FamilyProjects.Topic())}
}

// waitTopics waits, with backoff, until every topic exists: the gate rebuilds from their end
// offsets, and a processor started before `assay admin topics` should wait, not fail.
func waitTopics(ctx context.Context, log *slog.Logger, k config.Kafka, topics []string) error {
	cl, err := kafka.NewClient(k)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0
	err = backoff.RetryNotify(func() error {
		td, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return err
		}
		for _, t := range topics {
			if d, ok := td[t]; !ok || d.Err != nil {
				return fmt.Errorf("topic %s does not exist yet", t)
			}
		}
		return nil
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		log.Warn("gate: waiting for its topics", "err", err, "retry_in", wait)
	})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("gate: wait for topics: %w", err)
	}
	return nil
}
