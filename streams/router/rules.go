package router

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/assay-data/assay/schemas"
)

// Rules is one version of the routing rules, as read from the JSON rules
// file (see testdata/rules.json and README.md, "Routing"). A Rules value is
// immutable once published in a RuleSet: Apply reads it concurrently with a
// reload building the next one.
type Rules struct {
	// Version names this rule set; every decision records it, so a decision
	// can be traced to the rules that made it. Required.
	Version string `json:"version"`
	// DefaultConfidenceThreshold applies to questions without an entry in
	// Questions: a pre-label below it goes to human review.
	DefaultConfidenceThreshold float64 `json:"default_confidence_threshold"`
	// Questions holds per-question settings, by question_id.
	Questions map[string]QuestionRules `json:"questions,omitempty"`
	// QuestionsWithoutPrelabel lists, per project_id, the questions no model
	// pre-labels: they are routed to human labeling as soon as the item is
	// ingested, because no PreLabelProposed will ever come for them.
	QuestionsWithoutPrelabel map[string][]string `json:"questions_without_prelabel,omitempty"`
	// TagRules send items with certain edge-case tags to humans whatever the
	// model's confidence; the first matching rule (in file order) decides.
	TagRules []TagRule `json:"tag_rules,omitempty"`
	// Agreement escalates an item/question whose human labels disagree.
	Agreement AgreementRules `json:"agreement"`
	// Audit sends a deterministic sample of auto-acceptable pre-labels to
	// human review, so the automation's error rate stays measured.
	Audit AuditRules `json:"audit"`
}

// QuestionRules are the settings of one question. Every field is optional:
// an entry that sets only the IoU threshold of a spans question leaves its
// confidence threshold at the default rather than at zero.
type QuestionRules struct {
	// ConfidenceThreshold: a pre-label with a lower confidence goes to human
	// review. In [0, 1]; 1 sends every pre-label of the question to humans.
	// Nil: DefaultConfidenceThreshold.
	ConfidenceThreshold *float64 `json:"confidence_threshold,omitempty"`
	// BoxScoreThreshold: a boxes pre-label with a box scored lower goes to
	// human review (rule low_box_confidence). In [0, 1]. Nil: the
	// question's confidence threshold.
	BoxScoreThreshold *float64 `json:"box_score_threshold,omitempty"`
	// IoUThreshold is the IoU, in (0, 1], at or above which two annotators'
	// regions may match when the region rule compares them. Nil:
	// schemas.DefaultIoUThreshold. The router does not read the projects
	// topic, so a question whose QuestionDefined states another threshold
	// needs it here too.
	IoUThreshold *float64 `json:"iou_threshold,omitempty"`
}

// TagRule routes items carrying any of Tags (edge-case tags of
// ItemIngested) to Route, never auto_accept.
type TagRule struct {
	// ID is the rule name recorded in decisions, e.g. "safety_critical".
	ID string `json:"id"`
	// Tags are the edge-case tags that trigger the rule.
	Tags []string `json:"tags"`
	// Route is human_review or expert_review (human_label is accepted too).
	// Where there is no pre-label to review, human_review becomes
	// human_label.
	Route schemas.Route `json:"route"`
}

// AgreementRules configure the low-agreement escalation.
type AgreementRules struct {
	// MinLabels is how many annotators must have answered before agreement
	// is judged (at least 2; 0 disables the rule).
	MinLabels int `json:"min_labels"`
	// MinAgreement is the lowest acceptable share of agreeing annotator
	// pairs; below it the item/question goes to expert review.
	MinAgreement float64 `json:"min_agreement"`
	// MinRegionF1 is the lowest acceptable pairwise F1 (streams/regions)
	// between the regions of the first MinLabels labels of a spans or boxes
	// question; below it the item/question goes to expert review (rule
	// low_region_agreement). In [0, 1]; 0 turns the rule off. With it on,
	// MinLabels is at most MaxRegionLabels.
	MinRegionF1 float64 `json:"min_region_f1,omitempty"`
}

// MaxRegionLabels is the most annotators whose spans or boxes the router
// keeps for one item/question, and so the largest min_labels the region
// rule accepts: judging k first labels matches k(k-1)/2 pairs of values of
// up to schemas.MaxRegions regions each, at most 10 pairs here (see the
// package doc, "Bounded state").
const MaxRegionLabels = 5

// AuditRules configure the audit sample of auto-accepted pre-labels.
type AuditRules struct {
	// Rate is the share of auto-acceptable items sent to human review, in
	// [0, 1].
	Rate float64 `json:"rate"`
	// Salt changes which items are sampled (the sample is a hash of the
	// salt and item_id), e.g. per quarter, without breaking replay.
	Salt string `json:"salt,omitempty"`
}

// ParseRules reads and validates a rules document. Unknown fields and
// trailing data are errors, so a typo cannot silently disable a rule.
func ParseRules(data []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("parse rules JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse rules JSON: trailing data after the rules object")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks every field and returns all problems at once, so an
// operator fixes a rules file in one round.
func (r *Rules) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	unit := func(name string, x float64) {
		if math.IsNaN(x) || x < 0 || x > 1 {
			bad("%s must be in [0, 1], got %v", name, x)
		}
	}
	if r.Version == "" {
		bad("version is required")
	} else if strings.ContainsFunc(r.Version, func(c rune) bool { return c == ':' || unicode.IsSpace(c) }) {
		// Decisions carry the version as "rules <version>: <why>".
		bad("version %q must not contain a colon or white space", r.Version)
	}
	unit("default_confidence_threshold", r.DefaultConfidenceThreshold)
	for _, q := range slices.Sorted(maps.Keys(r.Questions)) {
		qr := r.Questions[q]
		if q == "" {
			bad("questions: empty question id")
		}
		if qr.ConfidenceThreshold != nil {
			unit(fmt.Sprintf("questions[%q].confidence_threshold", q), *qr.ConfidenceThreshold)
		}
		if qr.BoxScoreThreshold != nil {
			unit(fmt.Sprintf("questions[%q].box_score_threshold", q), *qr.BoxScoreThreshold)
		}
		if t := qr.IoUThreshold; t != nil && !(*t > 0 && *t <= 1) {
			bad("questions[%q].iou_threshold must be in (0, 1], got %v", q, *t)
		}
	}
	for p, qs := range r.QuestionsWithoutPrelabel {
		if p == "" {
			bad("questions_without_prelabel: empty project id")
		}
		for i, q := range qs {
			if q == "" {
				bad("questions_without_prelabel[%q][%d]: empty question id", p, i)
			}
			if slices.Index(qs, q) != i {
				bad("questions_without_prelabel[%q]: question %q listed twice", p, q)
			}
		}
	}
	ids := map[string]bool{}
	for i, tr := range r.TagRules {
		switch {
		case tr.ID == "":
			bad("tag_rules[%d].id is required", i)
		case ids[tr.ID]:
			bad("tag_rules[%d].id %q is used twice", i, tr.ID)
		case reservedRule[tr.ID]:
			bad("tag_rules[%d].id %q is a built-in rule name", i, tr.ID)
		}
		ids[tr.ID] = true
		if len(tr.Tags) == 0 {
			bad("tag_rules[%d] (%s) needs at least one tag", i, tr.ID)
		}
		if !tr.Route.Valid() || tr.Route == schemas.RouteAutoAccept {
			bad("tag_rules[%d] (%s).route must be human_label, human_review or expert_review, got %q", i, tr.ID, tr.Route)
		}
	}
	if r.Agreement.MinLabels == 1 || r.Agreement.MinLabels < 0 {
		bad("agreement.min_labels must be 0 (off) or at least 2, got %d", r.Agreement.MinLabels)
	}
	unit("agreement.min_agreement", r.Agreement.MinAgreement)
	unit("agreement.min_region_f1", r.Agreement.MinRegionF1)
	if r.Agreement.MinRegionF1 > 0 && r.Agreement.MinLabels > MaxRegionLabels {
		bad("agreement.min_labels must be at most %d when agreement.min_region_f1 is set (the region rule keeps and matches the regions of the first min_labels labels), got %d",
			MaxRegionLabels, r.Agreement.MinLabels)
	}
	unit("audit.rate", r.Audit.Rate)
	if len(errs) > 0 {
		return fmt.Errorf("invalid rules (version %q): %w", r.Version, errors.Join(errs...))
	}
	return nil
}

// threshold is the confidence threshold of question q.
func (r *Rules) threshold(q string) float64 {
	if t := r.Questions[q].ConfidenceThreshold; t != nil {
		return *t
	}
	return r.DefaultConfidenceThreshold
}

// boxThreshold is the box score threshold of question q.
func (r *Rules) boxThreshold(q string) float64 {
	if t := r.Questions[q].BoxScoreThreshold; t != nil {
		return *t
	}
	return r.threshold(q)
}

// iou is the IoU threshold the region rule matches question q's regions at.
func (r *Rules) iou(q string) float64 {
	if t := r.Questions[q].IoUThreshold; t != nil {
		return *t
	}
	return schemas.DefaultIoUThreshold
}

// tagRule returns the first tag rule matching one of tags.
func (r *Rules) tagRule(tags []string) (TagRule, string, bool) {
	for _, tr := range r.TagRules {
		for _, t := range tr.Tags {
			if slices.Contains(tags, t) {
				return tr, t, true
			}
		}
	}
	return TagRule{}, "", false
}

// auditPoint maps item_id to [0, 1) by hash, so the audit sample is a pure
// function of the item: a replay, another instance or a restart samples
// exactly the same items, and all questions of an audited item go together.
func (r *Rules) auditPoint(itemID string) float64 {
	h := sha256.Sum256([]byte(r.Audit.Salt + "\x00" + itemID))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// DefaultRules are used when no rules file is configured: nothing is
// auto-accepted below 0.9 confidence (nor with a box scored below it), no
// tag rules, agreement below 0.5 between at least two annotators escalates
// (for spans and boxes: pairwise F1 below 0.5 between the first two), 5%
// audit.
func DefaultRules() *Rules {
	return &Rules{
		Version:                    "builtin-default",
		DefaultConfidenceThreshold: 0.9,
		Agreement:                  AgreementRules{MinLabels: 2, MinAgreement: 0.5, MinRegionF1: 0.5},
		Audit:                      AuditRules{Rate: 0.05},
	}
}

// RuleSet is the rules currently in force, swapped atomically by a reload
// while the processor reads it: Apply takes one snapshot per record, so a
// record is decided by exactly one version, which the decision records.
type RuleSet struct {
	p atomic.Pointer[Rules]
}

// NewRuleSet returns a RuleSet holding r, which must be valid.
func NewRuleSet(r *Rules) *RuleSet {
	s := &RuleSet{}
	s.p.Store(r)
	return s
}

// Current returns the rules in force.
func (s *RuleSet) Current() *Rules { return s.p.Load() }

// Swap validates r and puts it in force, returning an error (and keeping
// the current rules) when r is invalid.
func (s *RuleSet) Swap(r *Rules) error {
	if r == nil {
		return errors.New("swap rules: nil rules")
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("swap rules: %w", err)
	}
	s.p.Store(r)
	return nil
}
