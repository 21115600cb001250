package access_test

import (
	"testing"

	"github.com/assay-data/assay/schemas/access"
)

func TestReadScopes(t *testing.T) {
	r := registry(t, principals+`
crowd-dash  cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc role=vendor projects=proj-1,proj-2 vendor=vendor-x cohorts=cohort-a
all-analyst dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd role=analyst projects=*
`)
	scope := func(id string) (access.ReadScope, error) {
		p, ok := r.Principal(id)
		if !ok {
			t.Fatalf("no principal %s", id)
		}
		return p.ReadScope()
	}
	for _, id := range []string{"collector-1", "labeler-1", "model-1"} {
		if _, err := scope(id); ruleOf(err) != access.RuleRead {
			t.Errorf("%s reads: %v", id, err)
		}
	}
	if _, err := (*access.Principal)(nil).ReadScope(); ruleOf(err) != access.RuleUnknownPrincipal {
		t.Errorf("nil principal: %v", err)
	}
	type party struct{ vendor, cohort string }
	for _, tt := range []struct {
		id       string
		full     bool
		projects map[string]bool
		parties  map[party]bool
	}{
		{"analyst-1", true, map[string]bool{"proj-1": true, "proj-2": false},
			map[party]bool{{"vendor-x", "cohort-a"}: true, {"vendor-y", "c"}: true, {"", "experts"}: true}},
		{"owner-1", true, map[string]bool{"proj-1": true, "proj-2": false}, map[party]bool{{"vendor-y", "c"}: true}},
		{"qa-1", true, map[string]bool{"proj-1": true}, map[party]bool{{"", "experts"}: true}},
		{"all-analyst", true, map[string]bool{"proj-1": true, "anything": true}, map[party]bool{{"vendor-y", "c"}: true}},
		{"vendor-1", false, map[string]bool{"proj-1": true, "proj-2": false},
			map[party]bool{{"vendor-x", "cohort-a"}: true, {"vendor-x", "cohort-b"}: true, {"vendor-y", "cohort-a"}: false, {"", "experts"}: false, {"", ""}: false}},
		{"crowd-dash", false, map[string]bool{"proj-1": true, "proj-2": true, "proj-3": false},
			map[party]bool{{"vendor-x", "cohort-a"}: true, {"vendor-x", "cohort-b"}: false, {"vendor-y", "cohort-a"}: false}},
	} {
		s, err := scope(tt.id)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if s.Full() != tt.full || s.Principal().ID != tt.id {
			t.Errorf("%s: full %v", tt.id, s.Full())
		}
		if !tt.full && s.Vendor() != "vendor-x" || tt.full && s.Vendor() != "" {
			t.Errorf("%s: vendor %q", tt.id, s.Vendor())
		}
		for p, want := range tt.projects {
			if s.SeesProject(p) != want {
				t.Errorf("%s sees project %s: %v", tt.id, p, !want)
			}
		}
		for pa, want := range tt.parties {
			if s.SeesParty(pa.vendor, pa.cohort) != want {
				t.Errorf("%s sees party %v: %v", tt.id, pa, !want)
			}
		}
	}
	if ps, all := func() ([]string, bool) { s, _ := scope("crowd-dash"); return s.Projects() }(); all || len(ps) != 2 {
		t.Errorf("projects %v %v", ps, all)
	}
	if _, all := func() ([]string, bool) { s, _ := scope("all-analyst"); return s.Projects() }(); !all {
		t.Error("analyst of * does not see every project")
	}
	var zero access.ReadScope
	if zero.SeesProject("proj-1") || zero.SeesParty("vendor-x", "") {
		t.Error("the zero scope sees something")
	}
}
