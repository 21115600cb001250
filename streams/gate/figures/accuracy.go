package figures

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
)

// stated orders two statements of one fact the way streams/lineage does: by occurred_at, then
// event id. Copies of one event (a replayed batch, a client duplicate not yet collapsed by a
// merge) are equal, so they never change which statement is the latest.
type stated struct {
	at    int64
	event string
}

func (s stated) after(o stated) bool {
	return s.at > o.at || (s.at == o.at && s.event > o.event)
}

// goldRow is one GoldLabelSet of a gold item of the project (ledger table gold_labels).
type goldRow struct {
	item, question string
	stated
	value schemas.LabelValue
}

// labelRow is one LabelSubmitted of the project on a gold item (ledger table labels).
type labelRow struct {
	label, item, question string
	stated
	value schemas.LabelValue
}

// reviewRow is one ReviewCompleted of such a label (ledger table reviews); corrected is set
// for the verdict correct.
type reviewRow struct {
	label string
	stated
	verdict   schemas.Verdict
	corrected schemas.LabelValue
}

// itemQuestion addresses one gold answer and the label that stands for it.
type itemQuestion struct{ item, question string }

// finalAfterReview counts, per question, the gold items whose standing label equals the latest
// gold value (Correct) among the gold items that have a standing label (Total): the accuracy
// of denominator final_after_review, one label per (gold item, question). members maps the
// version's member items on gold items to their member labels; retracted holds the labels
// with an accepted LabelRetracted.
//
// The label that stands for (item, question) is the version's member label of the item when
// it answers the question, and otherwise the item's latest label for the question (by
// occurred_at, then event id) that is not retracted and whose latest review did not reject
// it. Its value after review is the latest review's corrected value when that review
// corrected it, else the submitted value (an unreviewed label stands as submitted). A member
// label that is retracted or rejected stands for nothing: the version holds that label and no
// other. A label's latest statement is its submission (a label id submitted twice keeps the
// later one, as lineage does). Values compare in the accuracy KPI's canonical form (level,
// then category, rank, number or set).
func finalAfterReview(gold []goldRow, labels []labelRow, reviews []reviewRow, retracted map[string]bool, members map[string][]string) (map[string]score, error) {
	latestGold := map[itemQuestion]goldRow{}
	for _, g := range gold {
		if g.value.Level.Regional() || g.value.Level == schemas.LevelPreference {
			// Accuracy against gold regions and preferences is kpi_regions' and
			// kpi_preference's (precision, recall, F1; the choice), not a gate target:
			// the accuracy target judges the value levels, as the accuracy KPI does.
			continue
		}
		k := itemQuestion{g.item, g.question}
		if old, ok := latestGold[k]; !ok || g.after(old.stated) {
			latestGold[k] = g
		}
	}
	latestLabel := map[string]labelRow{}
	for _, l := range labels {
		if old, ok := latestLabel[l.label]; !ok || l.after(old.stated) {
			latestLabel[l.label] = l
		}
	}
	latestReview := map[string]reviewRow{}
	for _, r := range reviews {
		if old, ok := latestReview[r.label]; !ok || r.after(old.stated) {
			latestReview[r.label] = r
		}
	}
	// standing returns a label's value after review, or false when it does not stand.
	standing := func(l labelRow) (schemas.LabelValue, bool) {
		if retracted[l.label] {
			return schemas.LabelValue{}, false
		}
		r, ok := latestReview[l.label]
		switch {
		case !ok:
			return l.value, true
		case r.verdict == schemas.VerdictReject:
			return schemas.LabelValue{}, false
		case r.verdict == schemas.VerdictCorrect:
			return r.corrected, true
		}
		return l.value, true
	}
	type pick struct {
		label  labelRow
		member bool
	}
	picked := map[itemQuestion]pick{}
	// Sorted so that the outcome cannot depend on map order, even for two member labels
	// answering one question (the later one by statement wins, as for non-members).
	for _, id := range sortedKeys(latestLabel) {
		l := latestLabel[id]
		k := itemQuestion{l.item, l.question}
		if _, ok := latestGold[k]; !ok {
			continue
		}
		member := slices.Contains(members[l.item], l.label)
		if !member {
			if _, ok := standing(l); !ok {
				continue
			}
		}
		old, ok := picked[k]
		switch {
		case !ok, member && !old.member, member == old.member && l.after(old.label.stated):
			picked[k] = pick{label: l, member: member}
		}
	}
	out := map[string]score{}
	for k, p := range picked {
		v, ok := standing(p.label)
		if !ok {
			continue // a member label that does not stand
		}
		g := latestGold[k]
		equal, err := sameAnswer(v, g.value)
		if err != nil {
			return nil, fmt.Errorf("label %s against gold of %s/%s: %w", p.label.label, k.item, k.question, err)
		}
		s := out[k.question]
		s.total++
		if equal {
			s.correct++
		}
		out[k.question] = s
	}
	return out, nil
}

// score is a correct/total pair.
type score struct{ correct, total int64 }

// sameAnswer reports whether two values are the same answer: the same level and the same
// canonical value, the comparison the accuracy KPI makes (streams/kpi).
func sameAnswer(a, b schemas.LabelValue) (bool, error) {
	if a.Level != b.Level {
		return false, nil
	}
	ca, err := canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := canonical(b)
	if err != nil {
		return false, err
	}
	return ca == cb, nil
}

// canonical is streams/kpi's canonical form of a value (unexported there): the category for
// nominal, the rank for ordinal, the shortest round-tripping number for interval and ratio,
// the sorted de-duplicated set for multi-label.
func canonical(v schemas.LabelValue) (agreement.Value, error) {
	switch v.Level {
	case schemas.LevelNominal:
		return agreement.Category(v.Category), nil
	case schemas.LevelOrdinal:
		if v.Rank == nil {
			return "", fmt.Errorf("ordinal value %q has no rank", v.Category)
		}
		return agreement.Rank(int(*v.Rank)), nil
	case schemas.LevelInterval, schemas.LevelRatio:
		if v.Number == nil {
			return "", fmt.Errorf("%s value has no number", v.Level)
		}
		return agreement.Number(*v.Number), nil
	case schemas.LevelMultiLabel:
		return agreement.Set(v.Categories...), nil
	}
	return "", fmt.Errorf("unknown level of measurement %q", v.Level)
}

// sortedKeys returns m's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
