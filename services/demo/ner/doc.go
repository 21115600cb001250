// Package ner generates a deterministic named-entity recognition program: the owner's
// question (QuestionDefined, level spans, CoNLL-2003's labels PER, ORG, LOC and MISC), text
// items that state their length in characters (ItemIngested.Extent), gold entities for some of
// them (GoldLabelSet), and several annotators per text marking entity spans with the noise
// annotators make:
//
//   - a missed entity (Cohort.Miss);
//   - a boundary off by one to three characters, each boundary on its own (Cohort.Jitter: a
//     title or determiner taken in, a token cut short, trailing punctuation);
//   - a wrong type, drawn from the confusions annotators actually make (Confusions: an
//     organisation named after a place marked LOC, a nationality marked ORG, ...);
//   - a span where there is no entity (Cohort.Spurious).
//
// Texts are drawn as runs of plain text and entities, entities at least seven characters
// apart, so an annotator's own spans never overlap (unitizing alpha is defined on them) and
// every span lies inside its text. Workload keeps the ground truth: every text's entities and
// every label's spans, by annotator, cohort and vendor.
package ner
