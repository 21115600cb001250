package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// PrivateKafka is a single-node KRaft broker of one test's own: its ports, its data under
// t.TempDir(). Tests that stop Kafka on purpose use it, because stopping the shared broker
// would break every package testing against it at the same time.
type PrivateKafka struct {
	// Config points at the broker, with a topic prefix unique to the test.
	Config config.Kafka

	t       testing.TB
	dir     string
	conf    string
	libs    string
	port    int
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// StartPrivateKafka starts a broker from the jars ops/kafka/kafka.sh collected
// (.data/kafka/libs, or $ASSAY_KAFKA_LIBS) on two free loopback ports, waits until it accepts
// topic creation, and stops it when t ends. It skips t (fails it under ASSAY_INTEGRATION=1)
// when java or the jars are missing. Starting takes a few seconds of JVM time.
func StartPrivateKafka(t testing.TB) *PrivateKafka {
	t.Helper()
	SkipShort(t)
	libs, err := kafkaLibs()
	if err == nil {
		_, err = exec.LookPath("java")
	}
	if err != nil {
		unavailable(t, "a private Kafka broker", err)
	}
	port, cport := freePort(t), freePort(t)
	dir := t.TempDir()
	p := &PrivateKafka{
		Config:  config.Kafka{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, TopicPrefix: Namespace(t) + "."},
		t:       t,
		dir:     dir,
		conf:    filepath.Join(dir, "server.properties"),
		libs:    libs,
		port:    port,
		logPath: filepath.Join(dir, "broker.log"),
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=2
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1
`, port, cport, filepath.Join(dir, "kraft"))
	if err := os.WriteFile(p.conf, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(log4j, []byte("status = warn\nappender.f.type = File\nappender.f.name = F\nappender.f.fileName = "+p.logPath+
		"\nappender.f.layout.type = PatternLayout\nappender.f.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = INFO\nrootLogger.appenderRef.f.ref = F\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// --cluster-id=ID, not -t ID: a random id that starts with "-" would be taken for a flag.
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	format := exec.Command("java", append(p.jvmFlags(), "kafka.tools.StorageTool", "format", "--cluster-id="+base64.RawURLEncoding.EncodeToString(id), "-c", p.conf)...)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("format private Kafka storage: %v\n%s", err, out)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	p.Start()
	return p
}

// jvmFlags keep the test broker light: a small heap, the serial collector and the client
// compiler only, which start faster and cost less CPU than Kafka's production flags.
func (p *PrivateKafka) jvmFlags() []string {
	return []string{"-Xmx256m", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + filepath.Join(p.dir, "log4j2.properties"), "-cp", p.libs + "/*"}
}

// Start (re)starts the broker on the same ports and data and waits until it is ready.
func (p *PrivateKafka) Start() {
	p.t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return
	}
	out, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.mu.Unlock()
		p.t.Fatal(err)
	}
	cmd := exec.Command("java", append(p.jvmFlags(), "kafka.Kafka", p.conf)...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C meant for `go test` reaches the test, which stops
	// the broker in its cleanup, rather than killing the broker under a running test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		p.mu.Unlock()
		p.t.Fatalf("start private Kafka: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if err := p.waitReady(90 * time.Second); err != nil {
		p.t.Fatalf("private Kafka on %s: %v\n%s", p.Config.Brokers[0], err, p.logTail())
	}
}

// waitReady polls until the broker validates a topic creation: the port opens before the
// broker is registered and unfenced, when creating topics would still fail.
func (p *PrivateKafka) waitReady(timeout time.Duration) error {
	cl, err := kafka.NewClient(p.Config)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("broker exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, last = adm.ValidateCreateTopics(ctx, 1, 1, nil, "readiness_probe")
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %w", timeout, last)
}

// Stop stops the broker (SIGTERM, a controlled shutdown; SIGKILL after 30 s) and waits
// until it has exited and its port is closed.
func (p *PrivateKafka) Stop() {
	p.t.Helper()
	p.stop(30 * time.Second)
}

func (p *PrivateKafka) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// logTail returns the end of the broker's log, for failure messages.
func (p *PrivateKafka) logTail() string {
	var b bytes.Buffer
	for _, f := range []string{filepath.Join(p.dir, "stdout.log"), p.logPath} {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

// kafkaLibs finds the broker jars: $ASSAY_KAFKA_LIBS, or .data/kafka/libs in the repository
// that contains the working directory (go test runs in the package's directory).
func kafkaLibs() (string, error) {
	if d := os.Getenv("ASSAY_KAFKA_LIBS"); d != "" {
		return d, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	libs := filepath.Join(root, ".data", "kafka", "libs")
	if m, _ := filepath.Glob(filepath.Join(libs, "kafka_*.jar")); len(m) > 0 {
		return libs, nil
	}
	return "", fmt.Errorf("no broker jars in %s (ops/kafka/kafka.sh start collects them)", libs)
}

// freePort asks the kernel for a free loopback port. The port is released before the broker
// binds it; a collision with another process in between is possible but rare.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
