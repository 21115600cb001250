package gate

import (
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
)

func TestResolve(t *testing.T) {
	type set = *schemas.QualityTargetsSet
	tests := []struct {
		name      string
		sets      []set
		dataset   string
		at        int64
		base      string   // the base set's version, "" for none
		questions []string // the question-narrowed sets' versions, in question order
	}{
		{name: "none", dataset: dataset, at: t0},
		{name: "the project's", sets: []set{targets("p", "", "", t0)}, dataset: dataset, at: t0, base: "p"},
		{name: "effective exactly at the commit", sets: []set{targets("p", "", "", t0)}, dataset: dataset, at: t0, base: "p"},
		{name: "effective after the commit is not in force", sets: []set{targets("p", "", "", t0+1)}, dataset: dataset, at: t0},
		{name: "the latest effective wins, whatever the log order",
			sets:    []set{targets("p2", "", "", t0-10), targets("p1", "", "", t0-20)},
			dataset: dataset, at: t0, base: "p2"},
		{name: "a later target never judges an earlier commit",
			sets:    []set{targets("p1", "", "", t0-20), targets("p2", "", "", t0+10)},
			dataset: dataset, at: t0, base: "p1"},
		{name: "a tie goes to the later in the log",
			sets:    []set{targets("first", "", "", t0-10), targets("second", "", "", t0-10)},
			dataset: dataset, at: t0, base: "second"},
		{name: "the dataset's replaces the project's",
			sets:    []set{targets("p", "", "", t0-10), targets("d", dataset, "", t0-20)},
			dataset: dataset, at: t0, base: "d"},
		{name: "the dataset's not yet in force leaves the project's",
			sets:    []set{targets("p", "", "", t0-10), targets("d", dataset, "", t0+20)},
			dataset: dataset, at: t0, base: "p"},
		{name: "another dataset's is ignored",
			sets:    []set{targets("p", "", "", t0-10), targets("other", "ds-2", "", t0-5)},
			dataset: dataset, at: t0, base: "p"},
		{name: "only another dataset's: none",
			sets:    []set{targets("other", "ds-2", "", t0-5)},
			dataset: dataset, at: t0},
		{name: "question-narrowed sets, sorted by question, the dataset's over the project's",
			sets: []set{
				targets("q2-p", "", "q-2", t0-10), targets("q1-p", "", "q-1", t0-10),
				targets("q1-d", dataset, "q-1", t0-30), targets("q3-other", "ds-2", "q-3", t0-10),
				targets("p", "", "", t0-10),
			},
			dataset: dataset, at: t0, base: "p", questions: []string{"q1-d", "q2-p"}},
		{name: "the project's question-narrowed set still narrows under the dataset's base",
			sets:    []set{targets("q1-p", "", "q-1", t0-10), targets("d", dataset, "", t0-10)},
			dataset: dataset, at: t0, base: "d", questions: []string{"q1-p"}},
		{name: "only question-narrowed sets",
			sets:    []set{targets("q1-p", "", "q-1", t0-10), targets("q1-p-later", "", "q-1", t0+10)},
			dataset: dataset, at: t0, questions: []string{"q1-p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.sets, tt.dataset, tt.at)
			base := ""
			if got.Base != nil {
				base = got.Base.TargetsVersion
			}
			var qs []string
			for _, q := range got.Questions {
				qs = append(qs, q.TargetsVersion)
			}
			if base != tt.base || !slices.Equal(qs, tt.questions) {
				t.Fatalf("base %q questions %v, want %q %v", base, qs, tt.base, tt.questions)
			}
			if got.Empty() != (tt.base == "" && len(tt.questions) == 0) {
				t.Fatalf("Empty() = %v", got.Empty())
			}
			want := tt.questions
			if tt.base != "" {
				want = append([]string{tt.base}, want...)
			}
			if v := got.Versions(); !slices.Equal(v, want) {
				t.Fatalf("Versions() = %v, want %v", v, want)
			}
		})
	}
}
