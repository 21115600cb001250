package lineagetest

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
)

// HistoryRecords is History encoded as the log carries it.
func HistoryRecords() ([]Record, error) { return Records(History()) }

// Records encodes events as the log carries them, each with its family and key.
func Records(evs []schemas.Event) ([]Record, error) {
	var out []Record
	for _, ev := range evs {
		b, err := schemas.Encode(ev)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ev.Meta().EventID, err)
		}
		out = append(out, Record{Family: ev.Family(), Key: ev.Key(), Value: b})
	}
	return out, nil
}

// Produce writes recs to their topics in the namespace of k, keyed as the contract says, and
// waits for every acknowledgement.
func Produce(ctx context.Context, cl *kgo.Client, k config.Kafka, recs []Record) error {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Topic: k.Topic(r.Family.Topic()), Key: []byte(r.Key), Value: r.Value}
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records: %w", len(krs), err)
	}
	return nil
}
