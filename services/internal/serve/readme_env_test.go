package serve

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// envOnly are the variables README documents that are deliberately not flags, and who reads
// them. Every other name in README's environment tables must be a variable some binary derives
// for one of its flags (config.ParseFlags), and for the flag the table names.
var envOnly = map[string]string{
	"ASSAY_CLICKHOUSE_PASSWORD": "secret: read by the mains of api, processor and assay (config.EnvClickHousePassword)",
	"ASSAY_INGEST_TOKEN":        "secret: read by assay emit and assay demo",
}

// binaries builds the four services' binaries into a temporary directory.
func binaries(t *testing.T) (root, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds every service binary")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./services/api", "./services/ingest", "./services/processor", "./services/assay")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return root, dir
}

// helpOf runs a binary with args and returns everything it printed (its -h output).
func helpOf(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, _ := cmd.CombinedOutput() // -h exits non-zero
	return string(out)
}

var (
	flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	envList  = regexp.MustCompile(`\(env ([A-Z0-9_]+(?:, [A-Z0-9_]+)*)\)`)
)

// envFlags maps every variable named in help to the flags it sets ("ingest -addr").
func envFlags(into map[string][]string, program, help string) {
	starts := flagLine.FindAllStringSubmatchIndex(help, -1)
	for i, s := range starts {
		end := len(help)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		name := help[s[2]:s[3]]
		m := envList.FindStringSubmatch(help[s[0]:end])
		if m == nil {
			continue
		}
		for _, v := range strings.Split(m[1], ", ") {
			into[v] = append(into[v], program+" -"+name)
		}
	}
}

// allEnvFlags runs -h on every binary and every assay subcommand.
func allEnvFlags(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, svc := range []string{"api", "ingest", "processor"} {
		envFlags(out, svc, helpOf(t, filepath.Join(dir, svc), "-h"))
	}
	assay := filepath.Join(dir, "assay")
	cmds := regexp.MustCompile(`(?m)^  ([a-z]+) `).FindAllStringSubmatch(helpOf(t, assay, "help"), -1)
	if len(cmds) < 5 {
		t.Fatalf("assay help lists %d commands", len(cmds))
	}
	for _, c := range cmds {
		help := helpOf(t, assay, c[1], "-h")
		if m := regexp.MustCompile(`want one of ([a-z, ]+)`).FindStringSubmatch(help); m != nil {
			for _, sub := range strings.Split(m[1], ", ") {
				envFlags(out, "assay "+c[1]+" "+sub, helpOf(t, assay, c[1], sub, "-h"))
			}
			continue
		}
		envFlags(out, "assay "+c[1], help)
	}
	return out
}

// readmeRow is one documented variable and the flag its table names for it ("" for none,
// or a table without a flag column: any flag will do).
type readmeRow struct {
	env, flag string
	noFlag    bool
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeEnv returns the variables of every README table whose first column is "environment".
func readmeEnv(t *testing.T, root string) []readmeRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []readmeRow
	flagCol := -1
	inTable := false
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !inTable {
			inTable, flagCol = true, -1
			if cells[0] != "environment" {
				inTable = false
				continue
			}
			for i, c := range cells {
				if c == "flag" {
					flagCol = i
				}
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") || cells[0] == "environment" {
			continue
		}
		envs := strings.Split(cells[0], " / ")
		var flags []string
		if flagCol >= 0 {
			flags = strings.Split(cells[flagCol], " / ")
		}
		for i, e := range envs {
			m := backticked.FindStringSubmatch(e)
			if m == nil {
				t.Errorf("README row %q: no variable in %q", line, e)
				continue
			}
			r := readmeRow{env: m[1]}
			if flagCol >= 0 {
				f := flags[min(i, len(flags)-1)]
				if fm := regexp.MustCompile("`-([a-z0-9*-]+)`").FindStringSubmatch(f); fm != nil {
					r.flag = fm[1]
				} else {
					r.noFlag = true
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func TestBinariesConfiguration(t *testing.T) {
	root, dir := binaries(t)
	t.Run("README environment", func(t *testing.T) { testREADMEEnvironment(t, root, dir) })
	t.Run("unparsable value", func(t *testing.T) { testUnparsableEnvironment(t, dir) })
}

// testREADMEEnvironment: every environment variable of README's configuration tables still
// configures what the table says: it is derived for the flag the table names by some binary's
// config.ParseFlags (as its -h shows), or it is one of the few env-only names, each read by a
// main.
func testREADMEEnvironment(t *testing.T, root, dir string) {
	vars := allEnvFlags(t, dir)
	for _, want := range []string{"ASSAY_INGEST_HTTP_READ_TIMEOUT", "ASSAY_HTTP_MAX_CONNS", "ASSAY_API_HTTP_WRITE_TIMEOUT"} {
		if len(vars[want]) == 0 {
			t.Errorf("no binary reads %s", want)
		}
	}
	rows := readmeEnv(t, root)
	if len(rows) < 30 {
		t.Fatalf("found %d documented variables in README; the table parser is lost", len(rows))
	}
	for _, r := range rows {
		if why, ok := envOnly[r.env]; ok {
			if r.flag != "" {
				t.Errorf("%s is env-only (%s) but README gives it the flag -%s", r.env, why, r.flag)
			}
			continue
		}
		if r.noFlag {
			t.Errorf("README gives %s no flag, and it is not one of the env-only names", r.env)
			continue
		}
		var users []string
		if prefix, ok := strings.CutSuffix(r.env, "*"); ok {
			for v, fl := range vars {
				if strings.HasPrefix(v, prefix) {
					users = append(users, fl...)
				}
			}
		} else {
			users = vars[r.env]
		}
		if len(users) == 0 {
			t.Errorf("README documents %s, but no binary derives it for a flag", r.env)
			continue
		}
		if r.flag == "" {
			continue
		}
		flagPrefix, wild := strings.CutSuffix(r.flag, "*")
		found := false
		for _, u := range users {
			name := u[strings.LastIndex(u, " -")+2:]
			found = found || name == r.flag || wild && strings.HasPrefix(name, flagPrefix)
		}
		if !found {
			t.Errorf("README says %s sets -%s; it sets %v", r.env, r.flag, users)
		}
	}
}

// testUnparsableEnvironment: ASSAY_INGEST_MAX_EVENTS=50k used to become the default
// silently; now the gateway refuses to start, naming the variable.
func testUnparsableEnvironment(t *testing.T, dir string) {
	cmd := exec.Command(filepath.Join(dir, "ingest"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ASSAY_INGEST_MAX_EVENTS=50k"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("ingest with ASSAY_INGEST_MAX_EVENTS=50k: %v, want a non-zero exit", err)
	}
	if !strings.Contains(stderr.String(), "ASSAY_INGEST_MAX_EVENTS") {
		t.Fatalf("stderr does not name the variable: %s", stderr.String())
	}
}
