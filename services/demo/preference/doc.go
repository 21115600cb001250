// Package preference generates a deterministic preference program (RLHF, DPO comparisons): the
// owner's question (QuestionDefined, level preference, strength scale 3), items that are pairs
// of chat responses to one prompt, gold preferences for some of them (GoldLabelSet), and
// several annotators per pair choosing the better response and how strongly.
//
// Each pair has a truly preferred response and a true margin, 1 (slightly better) to 3 (much
// better). An annotator chooses the preferred response with a probability that grows with the
// margin (Cohort.Accuracy, one per margin) and states a strength near the margin (lower when it
// chose wrong). Each annotator sees the pair in an order of its own, drawn at random, and the
// label says which response it saw first (Preference.ShownFirst); one annotator (Bias) picks
// the first-shown response outright some of the time, so its share of first-shown choices is
// clearly above one half while everyone else's is one half up to sampling. Every label lists
// the responses in the item's own order. Workload keeps the ground truth: every pair's
// preferred response and margin, every label's choice and display order.
package preference
