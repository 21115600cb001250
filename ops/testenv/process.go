package testenv

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// logTailBytes is how much of a process's log a failed test prints.
const logTailBytes = 6000

// Process is a service binary running as a real process for a test (so a test can kill -9 it),
// its stdout and stderr in a log file.
type Process struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Log is the path of the file holding the process's output.
	Log string

	done chan struct{}
	err  error
}

// StartProcess starts bin with args and env added to this process's environment, its output in
// a log file named after name. When the test ends the process is killed; if the test failed, the
// end of the log is printed, since that is where a service explains itself.
func StartProcess(t testing.TB, name, bin string, env []string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > logTailBytes {
				b = b[len(b)-logTailBytes:]
			}
			t.Logf("%s log (%s), tail:\n%s", name, logPath, b)
		}
	})
	return p
}

// Done is closed when the process has exited. Being a closed channel, any number of readers
// (the test, its cleanup) see it.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit status once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Kill9 kills the process with SIGKILL, so it can neither flush nor commit, and waits for it.
func (p *Process) Kill9(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// Term sends SIGTERM and requires a clean exit within limit.
func (p *Process) Term(t testing.TB, limit time.Duration) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", p.Cmd.Path, p.err)
		}
	case <-time.After(limit):
		t.Fatalf("%s did not stop within %s of SIGTERM", p.Cmd.Path, limit)
	}
}

// opsReady is the log line every Assay service writes once its /healthz, /readyz and /metrics
// listen (services/internal/serve); started with -http 127.0.0.1:0, the address is only there.
var opsReady = regexp.MustCompile(`msg="ops endpoints ready" addr=(\S+)`)

// Metrics returns the text of the process's /metrics, found through the address in its log.
func (p *Process) Metrics(t testing.TB) string {
	t.Helper()
	b, _ := os.ReadFile(p.Log)
	m := opsReady.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s log has no ops address", p.Cmd.Path)
	}
	return Metrics(t, "http://"+string(m[1]))
}

// Metrics returns the text of base's /metrics (base: a scheme and address, no path). It needs
// no stack, so unit tests of a handler served by httptest use it too.
func Metrics(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
