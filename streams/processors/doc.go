// Package processors names every processor a binary can run, so
// services/processor (-processors ledger,...) and assay replay resolve names
// the same way. A new processor adds one line to the table in processors.go.
package processors
