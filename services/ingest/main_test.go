package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

// TestConfigurationErrorsStopTheGateway: a value that does not parse is an error naming the
// variable (ASSAY_INGEST_MAX_EVENTS=50k used to become the default, 50000, silently), HTTP
// bounds that would cut acknowledged requests are refused, and so is a gateway without a
// usable principals file, or with the old inline tokens variable; all before anything is
// started.
func TestConfigurationErrorsStopTheGateway(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		testenv.WriteFileAtomic(t, p, text)
		return p
	}
	good := file("good", "collector "+strings.Repeat("ab", 32)+" role=collector projects=p\n")
	withFile := func(m map[string]string) map[string]string {
		m["ASSAY_INGEST_PRINCIPALS_FILE"] = good
		return m
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unparsable service variable", nil, withFile(map[string]string{"ASSAY_INGEST_MAX_EVENTS": "50k"}), `ASSAY_INGEST_MAX_EVENTS="50k"`},
		{"unparsable shared variable", nil, withFile(map[string]string{"ASSAY_HTTP_READ_TIMEOUT": "5"}), "ASSAY_HTTP_READ_TIMEOUT"},
		{"write timeout below read", []string{"-http-write-timeout", "1m"}, withFile(map[string]string{}), "write timeout"},
		{"write timeout below read + produce", []string{"-http-write-timeout", "5m5s"}, withFile(map[string]string{}), "-produce-timeout"},
		{"no principals file", nil, nil, "-principals-file"},
		{"missing principals file", []string{"-principals-file", filepath.Join(dir, "nope")}, nil, "no such file"},
		{"principals file without a token", []string{"-principals-file", file("none", "# nobody yet\nold - role=qa projects=p\n")}, nil, "no principal has a token"},
		{"reserved principal id", []string{"-principals-file", file("reserved", "assay-processor/router "+strings.Repeat("ab", 32)+" role=qa projects=p\n")}, nil, "line 1 (principal assay-processor/router): principal id \"assay-processor/router\" is reserved"},
		{"the old inline tokens", nil, withFile(map[string]string{"ASSAY_INGEST_TOKENS": "collector " + strings.Repeat("ab", 32)}), "ASSAY_INGEST_TOKENS is no longer read"},
		{"poll not positive", []string{"-principals-poll", "0s"}, withFile(map[string]string{}), "-principals-poll"},
		{"negative memory limit", []string{"-memory-limit", "-1"}, withFile(map[string]string{}), "-memory-limit -1"},
		{"share out of range", nil, withFile(map[string]string{"ASSAY_INGEST_MAX_INFLIGHT_SHARE": "1.5"}), "in-flight share 1.5"},
		{"gate flag not a boolean", nil, withFile(map[string]string{"ASSAY_INGEST_GATE_TRAINING_RUNS": "maybe"}), `ASSAY_INGEST_GATE_TRAINING_RUNS="maybe"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // were it to start, it would stop at once
			err := run(ctx, tt.args, testenv.EnvOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestMemoryLimit: the soft memory limit is -memory-limit when set, else the budget and the
// stated overhead; GOMEMLIMIT, read by the runtime at start, wins over both.
func TestMemoryLimit(t *testing.T) {
	const budget = 64 << 20
	if got, src := memoryLimit(0, budget, testenv.EnvOf(nil)); got != budget+48<<20 || src != "derived" {
		t.Errorf("derived: %d (%s), want %d", got, src, budget+48<<20)
	}
	if got, src := memoryLimit(200<<20, budget, testenv.EnvOf(nil)); got != 200<<20 || src != "-memory-limit" {
		t.Errorf("flag: %d (%s)", got, src)
	}
	if got, src := memoryLimit(200<<20, budget, testenv.EnvOf(map[string]string{"GOMEMLIMIT": "1GiB"})); got != debug.SetMemoryLimit(-1) || src != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT: %d (%s): want the runtime's limit left alone", got, src)
	}
}

// TestIntegrationMemoryLimit: the running gateway has set the runtime's limit (derived from
// -max-inflight-bytes, or -memory-limit) and logged it, and gives the previous one back when
// it stops.
func TestIntegrationMemoryLimit(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, collectorLine("keeper", "tok-keeper"))
	before := debug.SetMemoryLimit(-1)
	for _, c := range []struct {
		args []string
		want int64
	}{
		{[]string{"-max-inflight-bytes", "67108864"}, 64<<20 + 48<<20},
		{[]string{"-max-inflight-bytes", "67108864", "-memory-limit", "209715200"}, 200 << 20},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, logs := gatewayProcess(t, append([]string{"-principals-file", path,
				"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, c.args...), nil)
			if got := debug.SetMemoryLimit(-1); got != c.want {
				t.Errorf("runtime memory limit %d while the gateway runs, want %d", got, c.want)
			}
			if !strings.Contains(logs.String(), fmt.Sprintf(`msg="memory limit" bytes=%d`, c.want)) {
				t.Errorf("the limit is not logged:\n%s", logs.String())
			}
		})
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit %d after the gateways stopped, want %d back", got, before)
	}
}

// TestUsageNamesEveryVariable: -h shows each flag's variables, the principals file's too.
func TestUsageNamesEveryVariable(t *testing.T) {
	var help strings.Builder
	if err := run(context.Background(), []string{"-h"}, testenv.EnvOf(nil), &help); err == nil {
		t.Fatal("-h: no error")
	}
	for _, want := range []string{"(env ASSAY_INGEST_PRINCIPALS_FILE, ASSAY_PRINCIPALS_FILE)", "(env ASSAY_INGEST_PRINCIPALS_POLL, ASSAY_PRINCIPALS_POLL) (default 2s)",
		"(env ASSAY_INGEST_MAX_EVENTS, ASSAY_MAX_EVENTS)", "(env ASSAY_INGEST_HTTP_READ_TIMEOUT, ASSAY_HTTP_READ_TIMEOUT) (default 5m0s)",
		"(env ASSAY_INGEST_GATE_TRAINING_RUNS, ASSAY_GATE_TRAINING_RUNS) (default true)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, help.String())
		}
	}
}

// gatewayProcess runs the ingest main (run, as the binary does) on a free port against k
// until the test ends, and waits until it is ready.
func gatewayProcess(t *testing.T, args []string, env map[string]string) (url string, logs *testenv.LockedBuffer) {
	t.Helper()
	url, logs = startGateway(t, args, env)
	testenv.WaitReady(t, url, 30*time.Second, logs)
	return url, logs
}

// startGateway runs the ingest main on a free port until the test ends, without waiting.
func startGateway(t *testing.T, args []string, env map[string]string) (url string, logs *testenv.LockedBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs = &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", addr, "-shutdown-grace", "5s"}, args...), testenv.EnvOf(env), logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	return "http://" + addr, logs
}

func post(t *testing.T, url, token string, n int) int {
	t.Helper()
	b, _ := json.Marshal(ingesttest.Sample(schemas.TypeItemIngested, n))
	b = append([]byte(`{"event_type":"ItemIngested",`), b[1:]...)
	req, _ := http.NewRequest(http.MethodPost, url+wire.Path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func collectorLine(id, token string) string {
	return id + " " + access.HashToken(token) + " role=collector projects=" + ingesttest.Project + "\n"
}

// TestIntegrationRevocationByFileEdit: the real gateway main on the real broker. A token
// removed from the principals file is refused (401) at the next poll, without a restart,
// while the others keep writing; a broken file is refused and the principals in force stay;
// the metrics count the reloads and the refusal.
func TestIntegrationRevocationByFileEdit(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, collectorLine("keeper", "tok-keeper")+collectorLine("leaver", "tok-leaver"))
	const poll = 200 * time.Millisecond
	url, logs := gatewayProcess(t, []string{"-principals-file", path, "-principals-poll", poll.String(),
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, nil)

	if s := post(t, url, "tok-leaver", 1); s != http.StatusAccepted {
		t.Fatalf("leaver before the revocation: %d", s)
	}
	testenv.WriteFileAtomic(t, path, "# leaver revoked\n"+collectorLine("keeper", "tok-keeper"))
	revoked := time.Now()
	n := 2
	for post(t, url, "tok-leaver", n) != http.StatusUnauthorized {
		n++
		if time.Since(revoked) > 10*time.Second {
			t.Fatalf("the revoked token still writes 10s after the edit (poll %v)\n%s", poll, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revoked token refused %v after the edit (poll interval %v)", time.Since(revoked).Round(time.Millisecond), poll)
	if s := post(t, url, "tok-keeper", 100); s != http.StatusAccepted {
		t.Fatalf("keeper after the revocation: %d", s)
	}

	testenv.WriteFileAtomic(t, path, collectorLine("keeper", "tok-keeper")+"oops this is not a line\n")
	waitFor(t, "the broken file to be refused", func() bool {
		return strings.Contains(testenv.Metrics(t, url), "\nassay_ingest_principals_reload_failed 1\n")
	})
	if s := post(t, url, "tok-keeper", 101); s != http.StatusAccepted {
		t.Fatalf("keeper while the file is broken: %d", s)
	}
	m := testenv.Metrics(t, url)
	for _, want := range []string{"assay_ingest_principals 1", "assay_ingest_principal_tokens 1",
		"assay_ingest_principals_reloads_total 1", "assay_ingest_principals_reload_failures_total 1"} {
		if !strings.Contains(m, "\n"+want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if l := logs.String(); !strings.Contains(l, "principals reloaded") || !strings.Contains(l, "principals file refused") || !strings.Contains(l, "line 2") {
		t.Errorf("the reload and the refusal are not logged:\n%s", l)
	}
}

// TestIntegrationSIGHUPReloadsPrincipals: with the poll an hour away, SIGHUP alone puts a new
// principal in force.
func TestIntegrationSIGHUPReloadsPrincipals(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	// Catch SIGHUP in this process before the gateway does, so a signal sent before it
	// registers cannot kill the test binary.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, collectorLine("first", "tok-first"))
	url, logs := gatewayProcess(t, []string{"-principals-file", path, "-principals-poll", "1h",
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, nil)
	if s := post(t, url, "tok-second", 1); s != http.StatusUnauthorized {
		t.Fatalf("second before it is added: %d", s)
	}
	testenv.WriteFileAtomic(t, path, collectorLine("first", "tok-first")+collectorLine("second", "tok-second"))
	waitFor(t, "SIGHUP to reload the file", func() bool {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return post(t, url, "tok-second", 2) == http.StatusAccepted
	})
	if !strings.Contains(logs.String(), "on=SIGHUP") {
		t.Errorf("the SIGHUP reload is not logged:\n%s", logs.String())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
