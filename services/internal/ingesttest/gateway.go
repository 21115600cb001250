package ingesttest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// Gateway serves a real ingest gateway for k over HTTP that accepts the principals of a
// principals file (Principals() has one of every role), with the default limits and its log
// discarded; server and gateway close when t ends. It is for tests of what sends through the
// gateway (the client, the CLI); the gateway's own tests build theirs with metrics, checks and
// options.
func Gateway(t testing.TB, k config.Kafka, principals string) *httptest.Server {
	t.Helper()
	reg, err := access.Parse("test principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.DefaultConfig()
	cfg.Principals = access.NewStore(reg)
	gw, err := gateway.New(cfg, k, serve.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+wire.Path, gw)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); _ = gw.Close(context.Background()) })
	return srv
}
