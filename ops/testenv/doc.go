// Package testenv gives integration tests the real Kafka broker and ClickHouse server, each
// test in a namespace of its own (a topic prefix and a fresh database), so that packages can
// run their integration tests in parallel against one local stack.
//
// When nothing answers on the configured addresses the tests skip, so `go test ./...` works on
// a laptop with nothing running; with ASSAY_INTEGRATION=1 (set by `make test` after it started
// the stack) they fail instead, so CI can never pass by skipping.
package testenv
