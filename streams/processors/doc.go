// Package processors names every processor a binary can run, so
// services/processor (-processors ledger,...) and assay replay resolve names
// the same way. A new processor adds one line to the table in processors.go.
//
// Processors are built with their configuration and may refuse it:
// New(name, cfg) and Parse(list, cfg) return an error rather than panic,
// and no processor reads the environment, installs a signal handler or
// starts a goroutine. Config carries one field per processor that takes
// configuration (the router's, the KPI processors' state limits), and the
// principals file every runner judges events by (LoadPrincipals);
// RegisterFlags declares its flags once for every binary, and main derives
// their environment variables (streams/infra/config.ParseFlags). A processor with
// something to run beside the runner (the router's rules Loader) exposes it
// for main to run on goroutines and signals main owns.
package processors
