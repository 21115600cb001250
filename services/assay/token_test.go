package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas/access"
)

// TestTokenCreateAndList: the printed line parses and its principal is authenticated by the
// printed token; -add-to builds a principals file atomically and refuses a line that would
// break it; list shows principals and token counts, never a hash or a token.
func TestTokenCreateAndList(t *testing.T) {
	cmd := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := cmd("token", "create", "-role", "labeler", "-projects", "cats,dogs", "-vendor", "acme", "-cohorts", "crowd")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], access.TokenPrefix) || !strings.Contains(errs, "cannot be shown again") {
		t.Fatalf("create printed %q, stderr %q", out, errs)
	}
	reg, err := access.Parse("", lines[1])
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.Authenticate(lines[0])
	if err != nil || p.Role != access.RoleLabeler || p.Vendor != "acme" || !strings.HasPrefix(p.ID, "labeler-acme-") ||
		strings.Join(p.Projects, ",") != "cats,dogs" || strings.Join(p.Cohorts, ",") != "crowd" {
		t.Fatalf("the printed token authenticates as %+v (%v)", p, err)
	}

	file := filepath.Join(t.TempDir(), "principals")
	for _, args := range [][]string{
		{"-role", "owner", "-projects", "*", "-id", "me"},
		{"-role", "owner", "-projects", "*", "-id", "me"}, // a second token: rotation
		{"-role", "vendor", "-projects", "cats", "-vendor", "acme", "-id", "acme-dashboard"},
	} {
		if _, errs, code := cmd(append([]string{"token", "create", "-add-to", file}, args...)...); code != 0 {
			t.Fatalf("create %v: %d %s", args, code, errs)
		}
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("principals file %v %v", st, err)
	}
	before, _ := os.ReadFile(file)
	for name, args := range map[string][]string{
		"same id, other scope":    {"-role", "qa", "-projects", "*", "-id", "me"},
		"reserved id":             {"-role", "qa", "-projects", "*", "-id", "assay-processor/router"},
		"vendor on every project": {"-role", "vendor", "-projects", "*", "-vendor", "acme"},
		"no role":                 {"-projects", "p"},
		"models on an owner":      {"-role", "owner", "-projects", "p", "-models", "m"},
	} {
		if out, errs, code := cmd(append([]string{"token", "create", "-add-to", file}, args...)...); code == 0 || out != "" {
			t.Errorf("%s: exit %d, printed %q (%s)", name, code, out, errs)
		}
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Fatal("a refused create changed the principals file")
	}
	out, errs, code = cmd("token", "list", "-principals-file", file)
	if code != 0 {
		t.Fatalf("list: %d %s", code, errs)
	}
	for _, want := range []string{"ID", "acme-dashboard  vendor  cats", "me              owner   *", "2 principals, 3 tokens"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("list lacks %q:\n%s%s", want, out, errs)
		}
	}
	for _, l := range strings.Split(string(before), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.Contains(out, f[1]) {
			t.Errorf("list shows a token hash: %s", out)
		}
	}
	if _, errs, code := cmd("token", "bot-1"); code != 2 || !strings.Contains(errs, "want one of create, list") {
		t.Errorf("the old form: %d %s", code, errs)
	}
}
