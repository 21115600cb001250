package auditor

import (
	"context"
	"fmt"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime"
)

// Families are the ledger topics lineage is made of (the DLQ carries none).
var Families = []schemas.Family{schemas.FamilyItems, schemas.FamilyLabels, schemas.FamilyReviews, schemas.FamilyDatasets, schemas.FamilyFindings}

// folder is a runtime.Processor that writes nothing: every partition folds into one shared
// graph. Sharing is safe because runtime.Replay calls Apply from one goroutine, and correct in
// any interleaving of partitions because the graph's fold is order-free.
type folder struct{ g *lineage.Graph }

func (folder) Name() string               { return "lineage-audit" }
func (folder) Families() []schemas.Family { return Families }
func (folder) Tables() []runtime.Table    { return nil }
func (folder) NewState(string, int32) any { return nil }
func (f folder) Apply(_ any, rec runtime.Record) (runtime.Output, error) {
	f.g.Apply(rec.Event)
	return runtime.Output{}, nil
}

// Rebuild replays every lineage topic of k from the beginning of the log into a fresh graph
// bounded by asOf (epoch ms; 0 for no bound). Records that do not decode are counted in the
// stats' Rejected and left out, as the live processors left them out.
func Rebuild(ctx context.Context, k config.Kafka, asOf int64, opts ...runtime.Option) (*lineage.Graph, runtime.ReplayStats, error) {
	g := lineage.New(asOf)
	stats, err := runtime.Replay(ctx, folder{g}, k, nil, timeZero, opts...)
	if err != nil {
		return nil, stats, fmt.Errorf("rebuild lineage: %w", err)
	}
	return g, stats, nil
}
