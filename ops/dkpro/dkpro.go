package dkpro

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// EnvClasspath names the environment variable holding the Java classpath with DKPro
// Statistics' agreement module.
const EnvClasspath = "ASSAY_DKPRO_CLASSPATH"

// Classpath returns $ASSAY_DKPRO_CLASSPATH, after checking that java is on PATH. Without either
// it skips t, or fails it under ASSAY_INTEGRATION=1, so CI can never pass by skipping (as
// ops/avro does for Apache Avro).
func Classpath(t testing.TB) string {
	t.Helper()
	return testenv.JavaClasspath(t, EnvClasspath, "ops/dkpro/setup.sh", "DKPro Statistics")
}

// Unit is one UnitizingAnnotationStudy.addUnit(Offset, Length, Rater, Category).
type Unit struct {
	Offset, Length int64
	Rater          int
	Category       string
}

// Study is one UnitizingAnnotationStudy(Raters, Begin, Length) and its units, as DKPro takes
// it; ID names it in the answer.
type Study struct {
	ID            string
	Raters        int
	Begin, Length int64
	Units         []Unit
}

// Layout is s as DKPro takes it, laid out here on its own terms (not by the package under
// test): the continuum begins at 0, item k at the sum of the lengths before it, each span a
// unit at that offset plus its start, rater indexes as in s.Raters.
func Layout(id string, s unitizing.Study) Study {
	out := Study{ID: id, Raters: len(s.Raters)}
	for _, it := range s.Items {
		for r, spans := range it.Spans {
			for _, sp := range spans {
				out.Units = append(out.Units, Unit{Offset: out.Length + sp.Start, Length: sp.End - sp.Start, Rater: r, Category: sp.Label})
			}
		}
		out.Length += it.Length
	}
	return out
}

// Figures are alpha and the disagreements it compares, as DKPro computes them (NaN and
// infinities included: DKPro returns them where Assay says "not defined").
type Figures struct {
	Alpha, Observed, Expected float64
}

// Answer is DKPro's answer for one study: calculateAgreement() and the overall disagreements,
// and per category calculateCategoryAgreement(c) and its disagreements; or the exception the
// computation threw (Error).
type Answer struct {
	Figures
	Categories map[string]Figures
	Error      string
}

// Verdict is Check.java's answer for a batch of studies.
type Verdict struct {
	// Version is the dkpro-statistics-agreement version that answered.
	Version string
	Studies map[string]Answer
}

// Run hands studies to Check.java (DKPro Statistics, one JVM for the batch) and returns its
// answers; it fails t only when the checker cannot run or answers out of protocol, and skips t
// as Classpath does.
func Run(t testing.TB, studies []Study) Verdict {
	t.Helper()
	cp := Classpath(t)
	var in bytes.Buffer
	for _, s := range studies {
		fmt.Fprintf(&in, "study\t%s\t%d\t%d\t%d\n", field(t, s.ID), s.Raters, s.Begin, s.Length)
		for _, u := range s.Units {
			fmt.Fprintf(&in, "unit\t%d\t%d\t%d\t%s\n", u.Offset, u.Length, u.Rater, field(t, u.Category))
		}
	}
	src := filepath.Join(testenv.RepoRoot(t), "ops", "dkpro", "Check.java")
	// A bound, so that a study that sent DKPro's section walk into a loop fails the test instead
	// of holding make test until its own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", cp, src)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("DKPro Statistics check: %v\n%s", err, stderr.String())
	}
	v := Verdict{Studies: map[string]Answer{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		bad := func() {
			t.Fatalf("DKPro Statistics check answered out of protocol: %q\n%s", sc.Text(), stderr.String())
		}
		switch {
		case f[0] == "version" && len(f) == 2:
			v.Version = f[1]
		case f[0] == "study" && len(f) == 5:
			v.Studies[f[1]] = Answer{Figures: figures(t, f[2:]), Categories: map[string]Figures{}}
		case f[0] == "category" && len(f) == 6:
			a, ok := v.Studies[f[1]]
			if !ok {
				bad()
			}
			a.Categories[f[2]] = figures(t, f[3:])
		case f[0] == "error" && len(f) == 3:
			v.Studies[f[1]] = Answer{Error: f[2]}
		default:
			bad()
		}
	}
	if v.Version == "" || len(v.Studies) != len(studies) {
		t.Fatalf("DKPro Statistics check answered for %d of %d studies (version %q; ids must be unique)\n%s",
			len(v.Studies), len(studies), v.Version, stderr.String())
	}
	return v
}

// field refuses text the line protocol cannot carry.
func field(t testing.TB, s string) string {
	t.Helper()
	if s == "" || strings.ContainsAny(s, "\t\n\r") {
		t.Fatalf("DKPro Statistics check: %q cannot be an id or a category (empty, or a tab or newline in it)", s)
	}
	return s
}

// figures parses alpha, D_o and D_e as Java's Double.toString wrote them.
func figures(t testing.TB, f []string) Figures {
	t.Helper()
	var x [3]float64
	for i, s := range f {
		var err error
		if x[i], err = strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("DKPro Statistics check: figure %q: %v", s, err)
		}
	}
	return Figures{Alpha: x[0], Observed: x[1], Expected: x[2]}
}
