package router

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// Name is the processor name (registry, metrics label, consumer group).
const Name = "router"

// Producer is the envelope producer of the RoutingDecided events the router
// emits; the router recognises its own decisions on the items topic by it.
const Producer = "assay-processor/router"

// The built-in rule names recorded in RoutingDecided.Rule (tag rules use
// their configured id).
const (
	RuleNoPrelabel    = "no_prelabel"    // question has no model: human_label at ingest
	RuleLowConfidence = "low_confidence" // confidence below the question's threshold
	RuleAuditSample   = "audit_sample"   // auto-acceptable, sampled for human audit
	RuleConfident     = "confident"      // auto-accepted
	RuleLowAgreement  = "low_agreement"  // annotators disagree: expert review
	// RuleLowBoxConfidence: a box of a boxes pre-label scored below the
	// question's box score threshold.
	RuleLowBoxConfidence = "low_box_confidence"
	// RuleLowRegionAgreement: the first labels' spans or boxes agree below
	// min_region_f1 (pairwise F1): expert review.
	RuleLowRegionAgreement = "low_region_agreement"
)

// reservedRule are the built-in names a tag rule may not take, so the KPI
// queries can tell the rules apart by name.
var reservedRule = map[string]bool{
	RuleNoPrelabel: true, RuleLowConfidence: true, RuleAuditSample: true, RuleConfident: true, RuleLowAgreement: true,
	RuleLowBoxConfidence: true, RuleLowRegionAgreement: true,
}

// The decision stages: the items side decides once per item/question from
// the pre-label (or its absence); the labels side may escalate once more.
const (
	stageItems  = "prelabel"
	stageLabels = "agreement"
)

// Router is the routing processor. It consumes the items and labels topics
// and emits RoutingDecided events to the items topic, so it implements
// runtime.Emitter and runs in Kafka transactions. Build it with New.
type Router struct {
	cfg    Config
	rules  *RuleSet
	loader *Loader // nil unless built with a rules file
	m      counters
}

// Loader returns the loader of the rules file, nil when the router was
// built without one. The process's owner runs it (Loader.Run) and reloads
// on demand (Loader.Reload); the router only reads the rules it keeps in
// force.
func (r *Router) Loader() *Loader { return r.loader }

var _ runtime.Emitter = (*Router)(nil)

// Name implements runtime.Processor.
func (*Router) Name() string { return Name }

// Families implements runtime.Processor: items and labels.
func (*Router) Families() []schemas.Family {
	return []schemas.Family{schemas.FamilyItems, schemas.FamilyLabels}
}

// Tables implements runtime.Processor.
func (*Router) Tables() []runtime.Table { return Tables() }

// EmitsEvents implements runtime.Emitter.
func (*Router) EmitsEvents() bool { return true }

// NewState implements runtime.Processor. The runtime keeps one state per
// (topic, partition), rebuilt from that partition alone, and may assign
// items partition p and labels partition p to different instances, so
// the two sides keep separate states and no rule reads both.
func (r *Router) NewState(topic string, _ int32) any {
	if strings.HasSuffix(topic, schemas.FamilyLabels.Topic()) {
		return newLabelsState(r.cfg.MaxHeldRegions, &r.m)
	}
	return newItemsState(r.cfg.PendingTTL, r.cfg.MaxPending, &r.m)
}

// Apply implements runtime.Processor. It reads the rules in force once, so
// the whole record is decided by one version, which every decision records.
func (r *Router) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	rules := r.rules.Current()
	switch s := state.(type) {
	case *itemsState:
		return s.apply(rules, rec)
	case *labelsState:
		return s.apply(rules, rec)
	}
	return runtime.Output{}, fmt.Errorf("router: state %T for topic %s", state, rec.Topic)
}

func (s *itemsState) get(id string) *item {
	it := s.items[id]
	if it == nil {
		it = &item{}
		s.items[id] = it
	}
	return it
}

// RuleOwnDecisions names the refusal of a RoutingDecided that the router
// did not emit (its producer is not Producer): the router trusts its own
// decisions only, whoever else claims to have decided, with or without a
// principals registry. The runner sends such a record to the DLQ with
// cause "forbidden".
const RuleOwnDecisions = "router.own_decisions"

// authorize refuses, before the record changes anything, a RoutingDecided
// the router did not emit and, with an authorizer, a pre-label of an
// ingested item whose project is not in its model principal's projects.
// A pre-label of an item not ingested yet has no known project; it waits
// unchecked, as the gateway let it through.
func (s *itemsState) authorize(rec runtime.Record) error {
	switch e := rec.Event.(type) {
	case *schemas.RoutingDecided:
		if e.Producer != Producer {
			return &access.Violation{Rule: RuleOwnDecisions, Field: "producer", Reason: fmt.Sprintf(
				"the router trusts only the decisions it emitted (producer %s), not %q's", Producer, e.Producer)}
		}
	case *schemas.PreLabelProposed:
		if it := s.items[e.ItemID]; it != nil && it.ingested {
			return rec.Authorized(access.Facts{Project: it.project})
		}
	}
	return nil
}

func (s *itemsState) apply(rules *Rules, rec runtime.Record) (runtime.Output, error) {
	var out runtime.Output
	if err := s.authorize(rec); err != nil {
		return out, err
	}
	// Time first: a pre-label that has waited PendingTTL by this record's
	// time is gone before the record is looked at, even if the record is
	// its item.
	s.advance(rec)
	switch e := rec.Event.(type) {
	case *schemas.ItemIngested:
		it := s.items[e.ItemID]
		if it != nil && it.ingested {
			return out, nil // a duplicate ingest changes nothing
		}
		it = s.get(e.ItemID)
		it.ingested, it.project, it.tags = true, e.ProjectID, nil
		if len(e.EdgeCaseTags) > 0 {
			it.tags = slices.Clone(e.EdgeCaseTags)
		}
		c := causeOf(rec)
		for _, q := range rules.QuestionsWithoutPrelabel[e.ProjectID] {
			if !it.isDecided(q) {
				it.decide(q, decidedOn{})
				emit(&out, decideWithoutPrelabel(rules, c, it, e.ItemID, q))
			}
		}
		for _, pl := range s.pending.take(e.ItemID) {
			if !it.isDecided(pl.question) {
				it.decide(pl.question, pl.on)
				emit(&out, decidePrelabel(rules, pl.cause, it, e.ItemID, pl))
			}
		}
	case *schemas.PreLabelProposed:
		on := decidedOn{model: e.Model, modelVersion: e.ModelVersion, value: valueKey(e.Value), confidence: e.Confidence}
		out.Rows = append(out.Rows, prelabelRow(rec, e, on.value))
		pl := prelabel{question: e.QuestionID, on: on, boxes: boxScoresOf(e.Value, e.Confidence), cause: causeOf(rec)}
		it := s.items[e.ItemID]
		switch {
		case it != nil && it.isDecided(e.QuestionID) || s.pending.has(e.ItemID, e.QuestionID):
			// Decided once per item/question: a later model's pre-label is
			// measured (prelabel row) but does not re-route.
		case it == nil || !it.ingested:
			s.wait(e.ItemID, pl)
		default:
			it.decide(e.QuestionID, pl.on)
			emit(&out, decidePrelabel(rules, pl.cause, it, e.ItemID, pl))
		}
	case *schemas.RoutingDecided:
		// Never decide on a decision (ours; anyone else's was refused by
		// authorize): that would loop. Our own decisions, read back once
		// committed, become the routing_decisions rows, so ClickHouse holds
		// exactly the decisions the log holds (an aborted copy is never
		// read), and a replay reproduces them instead of re-deciding under
		// today's rules. Items-stage decisions also mark the question
		// decided, so a state rebuilt under newer rules still never decides
		// it twice.
		it := s.get(e.ItemID)
		stage, d := stageItems, decidedOn{}
		if isLabelsRule(e.Rule) {
			stage = stageLabels
		} else if on, ok := it.decided[e.QuestionID]; ok {
			d = on
		} else {
			it.decide(e.QuestionID, d)
		}
		audited := uint8(0)
		if e.Rule == RuleAuditSample {
			audited = 1
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableDecisions, Values: []any{
			e.ItemID, e.QuestionID, stage, string(e.Route), e.Rule, RulesVersion(e), it.project,
			d.model, d.modelVersion, d.value, d.confidence, audited,
			e.EventID, e.Trace.CausationID, dateTime(e.OccurredAt), e.OccurredAt,
			rec.Topic, uint32(rec.Partition), uint64(rec.Offset),
		}})
	}
	return out, nil
}

// RulesVersion returns the rules version a RoutingDecided of the router
// names (its reason starts with "rules <version>: "), or "" for another
// producer's decision.
func RulesVersion(e *schemas.RoutingDecided) string {
	rest, ok := strings.CutPrefix(e.Reason, "rules ")
	if !ok || e.Producer != Producer {
		return ""
	}
	v, _, _ := strings.Cut(rest, ": ")
	return v
}

func isLabelsRule(rule string) bool {
	return rule == RuleLowAgreement || rule == RuleLowRegionAgreement
}

// decision is what one rule decided, before it becomes an event.
type decision struct {
	rules    *Rules
	cause    cause // the record that caused the decision
	stage    string
	itemID   string
	question string
	route    schemas.Route
	rule     string
	inputs   []schemas.RoutingInput
	reason   string
}

func in(name string, v float64) schemas.RoutingInput {
	return schemas.RoutingInput{Name: name, Value: v}
}

// decidePrelabel routes a pre-label of an ingested item, first matching
// rule wins: edge-case tag rules (humans always), a box scored low, low
// confidence, the audit sample, else auto-accept. A boxes pre-label is
// auto-accepted only if every box and the pre-label as a whole are
// confident (see the package doc for why the lowest score).
func decidePrelabel(rules *Rules, c cause, it *item, itemID string, pl prelabel) decision {
	conf := pl.on.confidence
	th := rules.threshold(pl.question)
	d := decision{
		rules: rules, cause: c, stage: stageItems, itemID: itemID, question: pl.question,
		inputs: []schemas.RoutingInput{in("confidence", conf), in("threshold", th)},
	}
	boxes, bth := pl.boxes.n > 0, 0.0
	if boxes {
		bth = rules.boxThreshold(pl.question)
		d.inputs = append(d.inputs, in("boxes", float64(pl.boxes.n)), in("lowest_box_score", pl.boxes.lowest), in("box_threshold", bth))
	}
	if tr, tag, ok := rules.tagRule(it.tags); ok {
		d.route, d.rule = tr.Route, tr.ID
		d.reason = fmt.Sprintf("edge-case tag %q always goes to humans", tag)
		return d
	}
	if boxes && pl.boxes.lowest < bth {
		d.route, d.rule = schemas.RouteHumanReview, RuleLowBoxConfidence
		d.reason = fmt.Sprintf("lowest box score %.4g (of %d boxes) below box threshold %.4g of question %s", pl.boxes.lowest, pl.boxes.n, bth, pl.question)
		return d
	}
	if conf < th {
		d.route, d.rule = schemas.RouteHumanReview, RuleLowConfidence
		d.reason = fmt.Sprintf("confidence %.4g below threshold %.4g of question %s", conf, th, pl.question)
		return d
	}
	if pt := rules.auditPoint(itemID); pt < rules.Audit.Rate {
		d.route, d.rule = schemas.RouteHumanReview, RuleAuditSample
		d.inputs = append(d.inputs, in("audit_point", pt), in("audit_rate", rules.Audit.Rate))
		d.reason = fmt.Sprintf("auto-acceptable (confidence %.4g >= %.4g), sampled for human audit at rate %.4g", conf, th, rules.Audit.Rate)
		return d
	}
	d.route, d.rule = schemas.RouteAutoAccept, RuleConfident
	d.reason = fmt.Sprintf("confidence %.4g at or above threshold %.4g of question %s", conf, th, pl.question)
	if boxes {
		d.reason += fmt.Sprintf(", every box scored at or above %.4g", bth)
	}
	return d
}

// decideWithoutPrelabel routes a question no model answers: to labeling by
// a human (or to whoever a tag rule names; there is nothing to review, so
// human_review becomes human_label).
func decideWithoutPrelabel(rules *Rules, c cause, it *item, itemID, q string) decision {
	d := decision{rules: rules, cause: c, stage: stageItems, itemID: itemID, question: q}
	if tr, tag, ok := rules.tagRule(it.tags); ok {
		d.route, d.rule = tr.Route, tr.ID
		if d.route == schemas.RouteHumanReview {
			d.route = schemas.RouteHumanLabel
		}
		d.reason = fmt.Sprintf("edge-case tag %q always goes to humans; no pre-label for question %s", tag, q)
		return d
	}
	d.route, d.rule = schemas.RouteHumanLabel, RuleNoPrelabel
	d.reason = fmt.Sprintf("no model pre-labels question %s of project %s", q, it.project)
	return d
}

// emit turns d into the RoutingDecided event. Everything is derived from
// the decision and its causing record, not the clock, so a re-read record
// yields the same event (same event_id). Its routing_decisions row is written when the
// committed event is read back (see itemsState.apply).
func emit(out *runtime.Output, d decision) {
	// The id names the decision, not the record that caused it: there is one
	// decision per item/question and stage, so if a rebuilt state ever
	// decided one again (e.g. after the agreement rule changed), the copy
	// carries the same id and collapses in routing_decisions and consumers.
	id := deterministicID(strings.Join([]string{Name, d.stage, d.itemID, d.question}, "\x00"))
	ev := &schemas.RoutingDecided{
		Envelope: schemas.Envelope{
			EventID: id, EventType: schemas.TypeRoutingDecided, OccurredAt: d.cause.at, RecordedAt: d.cause.at, Producer: Producer,
			Trace: schemas.Trace{CorrelationID: d.cause.correlationID, CausationID: d.cause.eventID},
		},
		ItemID: d.itemID, QuestionID: d.question, Route: d.route, Rule: d.rule, Inputs: d.inputs,
		Reason: fmt.Sprintf("rules %s: %s", d.rules.Version, d.reason),
	}
	out.Emit = append(out.Emit, ev)
}

func prelabelRow(rec runtime.Record, e *schemas.PreLabelProposed, value string) runtime.Row {
	return runtime.Row{Table: TablePrelabels, Values: []any{
		e.ItemID, e.QuestionID, e.Model, e.ModelVersion, value, e.Confidence,
		e.EventID, dateTime(e.OccurredAt), e.OccurredAt,
		rec.Topic, uint32(rec.Partition), uint64(rec.Offset),
	}}
}

func (s *labelsState) apply(rules *Rules, rec runtime.Record) (runtime.Output, error) {
	var out runtime.Output
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		// Refused before anything changes: the gateway refuses such a value,
		// and the region rule would match it at a cost without a bound.
		if n := len(e.Value.Spans) + len(e.Value.Boxes); n > schemas.MaxRegions {
			return out, fmt.Errorf("router: label %s holds %d regions, more than the %d a value may hold", e.LabelID, n, schemas.MaxRegions)
		}
		if kindOf(e.Value) != regionNone {
			if err := regions.CheckThreshold(rules.iou(e.QuestionID)); err != nil {
				return out, fmt.Errorf("router: question %s: %w", e.QuestionID, err) // Validate refuses it
			}
		}
		var model, version string
		if e.PreLabel != nil {
			model, version = e.PreLabel.Model, e.PreLabel.ModelVersion
		}
		key := valueKey(e.Value)
		out.Rows = append(out.Rows, runtime.Row{Table: TableLabels, Values: []any{
			e.ItemID, e.QuestionID, e.ProjectID, e.LabelID, e.AnnotatorID, key, model, version,
			e.EventID, dateTime(e.OccurredAt), e.OccurredAt,
			rec.Topic, uint32(rec.Partition), uint64(rec.Offset),
		}})
		li := s.items[e.ItemID]
		if li == nil {
			li = newLabelItem()
			s.items[e.ItemID] = li
		}
		// Who submitted the label, for its retraction: the first
		// submission of a label id is the label (as in the KPI processors).
		lid := digestOf(e.LabelID)
		if li.producers[lid] == (name{}) {
			li.producers[lid] = unique.Make(e.Producer)
		}
		ql := li.questions[e.QuestionID]
		if ql == nil {
			ql = &questionLabels{byAnnotator: map[name]annotatorLabel{}, kind: kindOf(e.Value)}
			li.questions[e.QuestionID] = ql
		}
		if ql.escalated || ql.judged {
			return out, nil // judged once: later labels change nothing
		}
		if ql.kind != regionNone {
			return out, s.regionLabel(&out, rules, rec, e, li, ql, lid, key)
		}
		annotator := unique.Make(e.AnnotatorID)
		if old, ok := ql.byAnnotator[annotator]; ok {
			delete(li.labels, old.label)
		}
		ql.byAnnotator[annotator] = annotatorLabel{label: lid, value: unique.Make(key)}
		li.labels[lid] = ql
		if rules.Agreement.MinLabels < 2 || len(ql.byAnnotator) < rules.Agreement.MinLabels {
			return out, nil
		}
		agree := agreement(ql.byAnnotator)
		if agree >= rules.Agreement.MinAgreement {
			return out, nil
		}
		n := len(ql.byAnnotator)
		// The escalation stands (a retraction cannot undo it and later
		// labels change nothing), so the answers are no longer needed.
		s.drop(li, ql)
		ql.escalated = true
		emit(&out, decision{
			rules: rules, cause: causeOf(rec), stage: stageLabels, itemID: e.ItemID, question: e.QuestionID,
			route: schemas.RouteExpertReview, rule: RuleLowAgreement,
			inputs: []schemas.RoutingInput{in("annotators", float64(n)), in("agreement", agree), in("min_agreement", rules.Agreement.MinAgreement)},
			reason: fmt.Sprintf("%d annotators agree on %.0f%% of pairs, below %.0f%%", n, 100*agree, 100*rules.Agreement.MinAgreement),
		})
	case *schemas.LabelRetracted:
		// Only the label's producer retracts it (access rule
		// labeler.own_labels): a refused retraction writes no
		// routing_label_retractions row, which would move the accepted
		// labels of the routing KPIs.
		if err := rec.Authorized(access.Facts{LabelProducer: s.producerOf(e.ItemID, e.LabelID)}); err != nil {
			return out, err
		}
		s.retracted(e.ItemID, e.LabelID)
		out.Rows = append(out.Rows, runtime.Row{Table: TableRetractions, Values: []any{
			e.ItemID, e.LabelID, e.EventID, dateTime(e.OccurredAt), e.OccurredAt,
			rec.Topic, uint32(rec.Partition), uint64(rec.Offset),
		}})
		li := s.items[e.ItemID]
		if li == nil {
			return out, nil
		}
		lid := digestOf(e.LabelID)
		ql, ok := li.labels[lid]
		if !ok {
			return out, nil
		}
		delete(li.labels, lid)
		for a, l := range ql.byAnnotator {
			if l.label == lid {
				delete(ql.byAnnotator, a)
				s.unheld(ql, l, len(ql.byAnnotator))
			}
		}
	}
	return out, nil
}

// regionLabel applies a label of a region question not judged yet: it
// holds the annotator's regions (at most MaxRegionLabels annotators' a
// question) and, once MinLabels annotators have answered, judges their
// pairwise F1, once, and forgets the regions. Then it keeps the partition
// within its budget of held regions.
func (s *labelsState) regionLabel(out *runtime.Output, rules *Rules, rec runtime.Record, e *schemas.LabelSubmitted,
	li *labelItem, ql *questionLabels, lid labelID, key string) error {
	defer s.evict()
	if kindOf(e.Value) != ql.kind {
		// The gateway keeps one level a question; should another reach it
		// anyway, it is not compared with regions it cannot match.
		return nil
	}
	annotator := unique.Make(e.AnnotatorID)
	old, relabel := ql.byAnnotator[annotator]
	if !relabel && len(ql.byAnnotator) >= MaxRegionLabels {
		return nil // the first labels are all held already
	}
	if relabel && li.labels[old.label] == ql {
		delete(li.labels, old.label)
	}
	s.hold(e.ItemID, e.QuestionID, li, ql, annotator, annotatorLabel{label: lid, value: unique.Make(key), regions: heldOf(e.Value)})
	ag := rules.Agreement
	if ag.MinLabels < 2 || ag.MinRegionF1 <= 0 || len(ql.byAnnotator) < ag.MinLabels {
		return nil
	}
	t := rules.iou(e.QuestionID)
	n, drawn := len(ql.byAnnotator), 0
	for _, l := range ql.byAnnotator {
		drawn += l.regions.len()
	}
	c, err := regionCounts(ql.byAnnotator, ql.kind, t)
	if err != nil {
		return err // not reached: apply checked the threshold and the sizes
	}
	s.drop(li, ql)
	ql.judged = true
	f1, err := c.F1()
	if err != nil || f1 >= ag.MinRegionF1 {
		// No region at all (F1 undefined): nothing to disagree about.
		return nil
	}
	ql.escalated = true
	emit(out, decision{
		rules: rules, cause: causeOf(rec), stage: stageLabels, itemID: e.ItemID, question: e.QuestionID,
		route: schemas.RouteExpertReview, rule: RuleLowRegionAgreement,
		inputs: []schemas.RoutingInput{in("annotators", float64(n)), in("regions", float64(drawn)), in("f1", f1),
			in("matched", float64(c.Matched)), in("pair_regions", float64(c.RegionsA+c.RegionsB)),
			in("iou_threshold", t), in("min_region_f1", ag.MinRegionF1)},
		reason: fmt.Sprintf("the first %d annotators' %d regions agree at pairwise F1 %.3g (%d matched pairs of %d paired regions at IoU >= %.3g), below %.3g",
			n, drawn, f1, c.Matched, c.RegionsA+c.RegionsB, t, ag.MinRegionF1),
	})
	return nil
}

// regionCounts is the unit's region agreement tally, the same-label
// matching of every pair of answers at IoU threshold t, summed over the
// pairs (streams/regions' CompareUnitSpans and CompareUnitBoxes: the one
// definition). F1 = 2·Matched / (RegionsA + RegionsB).
func regionCounts(answers map[name]annotatorLabel, kind regionKind, t float64) (regions.Counts, error) {
	var a regions.Agreement
	var err error
	switch kind {
	case regionSpans:
		v := make(map[string][]regions.Span, len(answers))
		for ann, l := range answers {
			v[ann.Value()] = l.regions.spans
		}
		a, err = regions.CompareUnitSpans(v, t)
	case regionBoxes:
		v := make(map[string][]regions.Box, len(answers))
		for ann, l := range answers {
			v[ann.Value()] = l.regions.boxes
		}
		a, err = regions.CompareUnitBoxes(v, t)
	}
	if err != nil {
		return regions.Counts{}, fmt.Errorf("router: region agreement: %w", err)
	}
	return a.Counts, nil
}

// agreement is the share of annotator pairs that gave the same answer
// (percent agreement of the unit; the KPI processors compute the chance-
// corrected figures, routing needs a per-item signal).
func agreement(labels map[name]annotatorLabel) float64 {
	counts := map[name]int{}
	for _, l := range labels {
		counts[l.value]++
	}
	n := len(labels)
	pairs := n * (n - 1) / 2
	if pairs == 0 {
		return 1
	}
	agree := 0
	for _, c := range counts {
		agree += c * (c - 1) / 2
	}
	return float64(agree) / float64(pairs)
}

// valueKey renders a label value canonically, so equal answers compare
// equal as strings (in state and in ClickHouse): multi-label sets sorted,
// numbers in their shortest exact form.
func valueKey(v schemas.LabelValue) string {
	switch v.Level {
	case schemas.LevelOrdinal:
		r := int32(-1)
		if v.Rank != nil {
			r = *v.Rank
		}
		return fmt.Sprintf("ordinal:%s#%d", v.Category, r)
	case schemas.LevelInterval, schemas.LevelRatio:
		x := 0.0
		if v.Number != nil {
			x = *v.Number
		}
		return string(v.Level) + ":" + strconv.FormatFloat(x, 'g', -1, 64)
	case schemas.LevelMultiLabel:
		c := slices.Clone(v.Categories)
		slices.Sort(c)
		return "multi_label:{" + strings.Join(slices.Compact(c), ",") + "}"
	}
	return string(v.Level) + ":" + v.Category
}

// deterministicID is a UUID-shaped (version 8) SHA-256 of s: the event id
// of a decision is a function of the record that caused it, so a replay
// emits the same id and consumers can deduplicate on it.
func deterministicID(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// maxDateTimeMillis is the last instant a ClickHouse DateTime holds.
const maxDateTimeMillis = int64(^uint32(0)) * 1000

// dateTime converts epoch milliseconds to a DateTime value, clamped to the
// DateTime range (the exact value is in the _ms column beside it).
func dateTime(ms int64) time.Time {
	ms = min(max(ms, 0), maxDateTimeMillis)
	return time.UnixMilli(ms).UTC()
}
