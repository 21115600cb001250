package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas/access"
)

func line(id, token, attrs string) string {
	return id + " " + access.HashToken(token) + " " + attrs + "\n"
}

// TestNoAPIWithoutPrincipals: the API does not start without a usable principals file (it
// has no unauthenticated mode), before it connects to anything.
func TestNoAPIWithoutPrincipals(t *testing.T) {
	dir := t.TempDir()
	none := filepath.Join(dir, "none")
	testenv.WriteFileAtomic(t, none, "# nobody yet\nold - role=analyst projects=*\n")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no principals file", nil, nil, "-principals-file"},
		{"missing principals file", []string{"-principals-file", filepath.Join(dir, "nope")}, nil, "no such file"},
		{"shared variable, missing file", nil, map[string]string{"ASSAY_PRINCIPALS_FILE": filepath.Join(dir, "nope")}, "no such file"},
		{"principals file without a token", []string{"-principals-file", none}, nil, "no principal has a token"},
		{"poll not positive", []string{"-principals-file", none, "-principals-poll", "0s"}, nil, "-principals-poll"},
		{"unitizing bound not positive", []string{"-principals-file", none, "-max-unitizing-spans", "0"}, nil, "-max-unitizing-spans"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // were it to start, it would stop at once
			err := run(ctx, append(tt.args, "-clickhouse-addr", "127.0.0.1:1"), testenv.EnvOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	var help strings.Builder
	if err := run(context.Background(), []string{"-h"}, testenv.EnvOf(nil), &help); err == nil {
		t.Fatal("-h: no error")
	}
	for _, want := range []string{"(env ASSAY_API_PRINCIPALS_FILE, ASSAY_PRINCIPALS_FILE)", "(env ASSAY_API_PRINCIPALS_POLL, ASSAY_PRINCIPALS_POLL)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, help.String())
		}
	}
}

// apiProcess runs the API main (run, as the binary does) on a free port over a fresh
// ClickHouse database until the test ends, without consumer lag (no broker needed).
func apiProcess(t *testing.T, args ...string) (string, *testenv.LockedBuffer) {
	t.Helper()
	cfg, _ := testenv.ClickHouse(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", addr, "-shutdown-grace", "5s", "-lag-processors", "",
			"-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}, args...), testenv.EnvOf(nil), logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api: %v", err)
		}
	})
	url := "http://" + addr
	testenv.WaitReady(t, url, 30*time.Second, logs)
	return url, logs
}

// whoami asks the API who token is: the status and the principal id.
func whoami(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/v1/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var w struct {
		Principal string `json:"principal"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&w)
	return resp.StatusCode, w.Principal
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

// TestRevocationByFileEdit: the real API main. A token removed from the principals file is
// refused (401) at the next poll, without a restart, while the others keep reading; a broken
// file is refused and the principals in force stay; /metrics counts the reloads.
func TestRevocationByFileEdit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, line("keeper", "tok-keeper", "role=analyst projects=*")+line("leaver", "tok-leaver", "role=vendor projects=p vendor=acme"))
	url, logs := apiProcess(t, "-principals-file", path, "-principals-poll", "200ms")
	if code, id := whoami(t, url, "tok-leaver"); code != 200 || id != "leaver" {
		t.Fatalf("leaver before the revocation: %d %q", code, id)
	}
	testenv.WriteFileAtomic(t, path, "# leaver revoked\n"+line("keeper", "tok-keeper", "role=analyst projects=*"))
	revoked := time.Now()
	waitFor(t, "the revoked token to be refused", func() bool {
		code, _ := whoami(t, url, "tok-leaver")
		return code == http.StatusUnauthorized
	})
	t.Logf("revoked token refused %v after the file was rewritten (poll 200ms)", time.Since(revoked).Round(time.Millisecond))
	if code, _ := whoami(t, url, "tok-keeper"); code != 200 {
		t.Errorf("keeper after the revocation: %d", code)
	}
	// A file that does not parse is refused: keeper keeps reading.
	testenv.WriteFileAtomic(t, path, line("keeper", "tok-keeper", "role=analyst projects=*")+"broken line\n")
	waitFor(t, "the broken file to be refused", func() bool { return strings.Contains(logs.String(), "principals file refused") })
	if code, _ := whoami(t, url, "tok-keeper"); code != 200 {
		t.Errorf("keeper with a broken file: %d", code)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"assay_api_principals_reloads_total 1", "assay_api_principals_reload_failed 1", "assay_api_principal_tokens 1",
		`assay_api_refused_requests_total{reason="unknown_token"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestSIGHUPReloadsPrincipals: with the poll an hour away, SIGHUP alone puts a new principal
// in force (and refuses one removed).
func TestSIGHUPReloadsPrincipals(t *testing.T) {
	// Catch SIGHUP in this process before the API does, so a signal sent before it registers
	// cannot kill the test binary.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, line("first", "tok-first", "role=analyst projects=*"))
	url, logs := apiProcess(t, "-principals-file", path, "-principals-poll", "1h")
	if code, _ := whoami(t, url, "tok-second"); code != http.StatusUnauthorized {
		t.Fatalf("second before it is added: %d", code)
	}
	testenv.WriteFileAtomic(t, path, line("second", "tok-second", "role=qa projects=p"))
	waitFor(t, "SIGHUP to reload the file", func() bool {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		code, _ := whoami(t, url, "tok-second")
		return code == http.StatusOK
	})
	if code, _ := whoami(t, url, "tok-first"); code != http.StatusUnauthorized {
		t.Errorf("first, removed from the file: %d, want 401", code)
	}
	if !strings.Contains(logs.String(), "on=SIGHUP") {
		t.Errorf("the SIGHUP reload is not logged:\n%s", logs.String())
	}
}
