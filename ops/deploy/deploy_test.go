package deploy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/processors"
)

// root is the repository root, relative to this package.
const root = "../.."

type compose struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(filepath.Join(root, path))
	return err == nil
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	readYAML(t, "docker-compose.yml", &c)
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c
}

// TestComposeReferences: every file, binary, service, volume and port the compose file
// names exists, and every published port is bound to loopback.
func TestComposeReferences(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"kafka", "clickhouse", "setup", "ingest", "processor", "api", "prometheus", "grafana", "demo"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	for name, s := range c.Services {
		if s.Build != nil {
			if !exists(filepath.Join(s.Build.Context, s.Build.Dockerfile)) {
				t.Errorf("%s: dockerfile %s/%s does not exist", name, s.Build.Context, s.Build.Dockerfile)
			}
			// The image has one binary per services/<name> main package.
			if len(s.Entrypoint) > 0 {
				bin := s.Entrypoint[0]
				if bin == "/bin/sh" {
					bin = "assay"
				}
				if !exists(filepath.Join("services", bin, "main.go")) {
					t.Errorf("%s: entrypoint %q is not a binary of services/", name, s.Entrypoint[0])
				}
			}
		} else if s.Image == "" {
			t.Errorf("%s: neither image nor build", name)
		}
		for _, v := range s.Volumes {
			src, _, ok := cutVolume(v)
			if !ok {
				t.Errorf("%s: volume %q has no target", name, v)
				continue
			}
			if strings.HasPrefix(src, "${") {
				// A host path the operator gives: it must be required (${VAR:?why}), never
				// defaulted to a path that may hold someone else's secrets.
				if !strings.Contains(src, ":?") {
					t.Errorf("%s: volume source %s must be a required variable (${VAR:?message})", name, src)
				}
			} else if strings.HasPrefix(src, ".") {
				if !exists(src) {
					t.Errorf("%s: mounted %s does not exist", name, src)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: named volume %s is not declared", name, src)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published on every interface; bind it to 127.0.0.1", name, p)
			}
		}
		for _, dep := range dependsOn(t, s.DependsOn) {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
	}
	// The build context leaves out the local stack's state.
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil || !slices.Contains(strings.Fields(string(ignore)), ".data") {
		t.Errorf(".dockerignore must exclude .data (the local stack's gigabytes): %v", err)
	}
	// The processors the compose stack runs are ones the binary knows.
	names := processors.Names()
	for _, p := range strings.Split(c.Services["processor"].Environment["ASSAY_PROCESSOR_PROCESSORS"], ",") {
		if !slices.Contains(names, p) {
			t.Errorf("processor %q is not registered (known: %v)", p, names)
		}
	}
}

// cutVolume splits a volume "source:target[:mode]" whose source may be a ${VAR:?message}
// interpolation (which has colons of its own).
func cutVolume(v string) (src, rest string, ok bool) {
	if strings.HasPrefix(v, "${") {
		end := strings.Index(v, "}")
		if end < 0 || end+1 >= len(v) || v[end+1] != ':' {
			return "", "", false
		}
		return v[:end+1], v[end+2:], true
	}
	return strings.Cut(v, ":")
}

// TestComposeShipsNoDefaultSecret (issue 15): the gateway has no default token and reads a
// principals file from a directory the operator must name; the demo plays with the tokens of
// its own principals, not a public one; Grafana admits no anonymous viewer and has no default
// admin password.
func TestComposeShipsNoDefaultSecret(t *testing.T) {
	c := loadCompose(t)
	hexRun := regexp.MustCompile(`[0-9a-fA-F]{32,}`)
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if strings.Contains(k, "TOKEN") || hexRun.MatchString(v) {
				t.Errorf("%s: %s=%q looks like a token or a token hash shipped by default", name, k, v)
			}
			if strings.Contains(k, "PASSWORD") && strings.Contains(v, ":-") {
				t.Errorf("%s: %s has a default value (%q)", name, k, v)
			}
		}
	}
	ingest := c.Services["ingest"]
	if f := ingest.Environment["ASSAY_INGEST_PRINCIPALS_FILE"]; f == "" || !mountedFrom(ingest.Volumes, f, "${ASSAY_PRINCIPALS_DIR:?") {
		t.Errorf("ingest: the principals file %q is not in a mount of the required ASSAY_PRINCIPALS_DIR: %v", f, ingest.Volumes)
	}
	demo := c.Services["demo"]
	if i := slices.Index(demo.Command, "-tokens"); i < 0 || i+1 >= len(demo.Command) || !mountedFrom(demo.Volumes, demo.Command[i+1], "${ASSAY_PRINCIPALS_DIR:?") {
		t.Errorf("demo: want -tokens in the principals directory, got %v %v", demo.Command, demo.Volumes)
	}
	g := c.Services["grafana"].Environment
	if g["GF_AUTH_ANONYMOUS_ENABLED"] != "false" {
		t.Errorf("grafana: GF_AUTH_ANONYMOUS_ENABLED=%q, want false", g["GF_AUTH_ANONYMOUS_ENABLED"])
	}
	if p := g["GF_SECURITY_ADMIN_PASSWORD"]; !strings.HasPrefix(p, "${GRAFANA_ADMIN_PASSWORD:?") {
		t.Errorf("grafana: admin password %q, want a required ${GRAFANA_ADMIN_PASSWORD:?...}", p)
	}
}

// TestComposeReadAccess (issue 15): the API reads the gateway's principals file from the same
// required directory (it does not start without one), and ClickHouse has the read-only
// analyst user that ops/clickhouse/clickhouse.sh gives the local server.
func TestComposeReadAccess(t *testing.T) {
	c := loadCompose(t)
	api := c.Services["api"]
	if f := api.Environment["ASSAY_API_PRINCIPALS_FILE"]; f == "" || !mountedFrom(api.Volumes, f, "${ASSAY_PRINCIPALS_DIR:?") {
		t.Errorf("api: the principals file %q is not in a mount of the required ASSAY_PRINCIPALS_DIR: %v", f, api.Volumes)
	}
	if a, i := api.Environment["ASSAY_API_PRINCIPALS_FILE"], c.Services["ingest"].Environment["ASSAY_INGEST_PRINCIPALS_FILE"]; a != i {
		t.Errorf("api reads principals from %q, the gateway from %q: one file for both", a, i)
	}
	const analyst = "./ops/clickhouse/users.d/analyst.xml:/etc/clickhouse-server/users.d/analyst.xml:ro"
	if !slices.Contains(c.Services["clickhouse"].Volumes, analyst) {
		t.Errorf("clickhouse: the analyst user is not mounted (%s): %v", analyst, c.Services["clickhouse"].Volumes)
	}
}

// mountedFrom reports whether path lies under the target of a volume whose source starts
// with source.
func mountedFrom(volumes []string, path, source string) bool {
	for _, v := range volumes {
		src, rest, ok := cutVolume(v)
		target, _, _ := strings.Cut(rest, ":")
		if ok && strings.HasPrefix(src, source) && strings.HasPrefix(path, strings.TrimSuffix(target, "/")+"/") {
			return true
		}
	}
	return false
}

// dependsOn reads depends_on in either of its forms (a list, or a map of conditions).
func dependsOn(t *testing.T, n yaml.Node) []string {
	t.Helper()
	var out []string
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		if err := n.Decode(&out); err != nil {
			t.Fatal(err)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	default:
		t.Fatalf("depends_on of kind %d", n.Kind)
	}
	return out
}

// TestPrometheusConfig: scrape targets are compose services on the ports they listen on,
// rule files exist, and every metric an alert uses is registered somewhere in the code.
func TestPrometheusConfig(t *testing.T) {
	c := loadCompose(t)
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "ops/prometheus/prometheus.yml", &cfg)
	listens := map[string]string{}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if k == "ASSAY_INGEST_ADDR" || k == "ASSAY_PROCESSOR_HTTP" || k == "ASSAY_API_ADDR" {
				listens[name] = v[strings.LastIndex(v, ":")+1:]
			}
		}
	}
	if len(cfg.ScrapeConfigs) != 3 {
		t.Errorf("%d scrape configs, want ingest, processor and api", len(cfg.ScrapeConfigs))
	}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, _ := strings.Cut(target, ":")
				if listens[host] != port {
					t.Errorf("job %s scrapes %s, but service %q listens on port %q", sc.JobName, target, host, listens[host])
				}
			}
		}
	}
	if !slices.Equal(cfg.RuleFiles, []string{"/etc/prometheus/rules/*.yml"}) {
		t.Errorf("rule_files %v", cfg.RuleFiles)
	}

	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Expr   string            `yaml:"expr"`
				For    string            `yaml:"for"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "ops/prometheus/rules/assay.yml", &rules)
	code := goSource(t)
	metric := regexp.MustCompile(`assay_[a-z0-9_]+`)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity", r.Alert)
			}
			for _, m := range metric.FindAllString(r.Expr, -1) {
				name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if !bytes.Contains(code, []byte(`"`+name+`"`)) {
					t.Errorf("alert %s uses %s, which no Go code registers", r.Alert, m)
				}
			}
		}
	}
	for _, want := range []string{"AssayAgreementBelowTarget", "AssayConsumerLag", "AssayDLQRate", "AssayOpenFindingTooOld"} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

// goSource concatenates the repository's non-test Go files.
func goSource(t *testing.T) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".data" || d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			all = append(all, b...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestPromtool runs promtool's checks and the rules' unit tests (ops/prometheus/tests):
// $ASSAY_PROMTOOL, or promtool on PATH (ops/prometheus/promtool.sh installs Debian's, and make
// test runs it). Without it the test skips, or fails under ASSAY_INTEGRATION=1, so CI can never
// pass the alert rules untested.
func TestPromtool(t *testing.T) {
	testenv.SkipShort(t)
	promtool := os.Getenv("ASSAY_PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			if testenv.Required() {
				t.Fatal("promtool is required under ASSAY_INTEGRATION=1: run ops/prometheus/promtool.sh and set ASSAY_PROMTOOL")
			}
			t.Skip("promtool not installed (ops/prometheus/promtool.sh); the YAML checks above still ran")
		}
	}
	for _, args := range [][]string{
		{"check", "config", "--syntax-only", "ops/prometheus/prometheus.yml"},
		{"check", "rules", "ops/prometheus/rules/assay.yml"},
		{"test", "rules", "ops/prometheus/tests/assay_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGrafanaProvisioning: data sources and dashboard providers parse; every panel uses a
// provisioned data source; every ClickHouse query reads tables and views the migrations create.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Name string `yaml:"name"`
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	readYAML(t, "ops/grafana/provisioning/datasources/assay.yml", &ds)
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "ops/grafana/provisioning/dashboards/assay.yml", &prov)
	c := loadCompose(t)
	mounted := false
	for _, v := range c.Services["grafana"].Volumes {
		if strings.HasPrefix(v, "./ops/grafana/dashboards:"+prov.Providers[0].Options.Path) {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("dashboard provider path %s is not where ops/grafana/dashboards is mounted", prov.Providers[0].Options.Path)
	}

	objects := migrationObjects(t)
	code := goSource(t)
	metric := regexp.MustCompile(`assay_[a-z0-9_]+`)
	from := regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)
	files, err := filepath.Glob(filepath.Join(root, "ops/grafana/dashboards/*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title      string `json:"title"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				Targets []struct {
					Expr   string `json:"expr"`
					RawSQL string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no uid or no panels", f)
		}
		for _, p := range d.Panels {
			if _, ok := uids[p.Datasource.UID]; !ok {
				t.Errorf("%s: panel %q uses data source %q, not provisioned", f, p.Title, p.Datasource.UID)
			}
			for _, tg := range p.Targets {
				for _, m := range from.FindAllStringSubmatch(tg.RawSQL, -1) {
					if !objects[m[1]] {
						t.Errorf("%s: panel %q reads %s, which no migration creates", f, p.Title, m[1])
					}
				}
				for _, m := range metric.FindAllString(tg.Expr, -1) {
					name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
					if !bytes.Contains(code, []byte(`"`+name+`"`)) {
						t.Errorf("%s: panel %q uses %s, which no Go code registers", f, p.Title, m)
					}
				}
				if tg.Expr == "" && tg.RawSQL == "" {
					t.Errorf("%s: panel %q has an empty query", f, p.Title)
				}
			}
		}
	}
}

// migrationObjects lists the tables and views the migrations create.
func migrationObjects(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "ops/clickhouse/migrations/*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	create := regexp.MustCompile(`(?i)CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW)\s+IF\s+NOT\s+EXISTS\s+([a-z_][a-z0-9_]*)`)
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out
}
