package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/kpi"
)

// The figures of the structured levels (issue 21): region agreement and accuracy against gold
// regions of spans and boxes questions (GET /v1/regions), unitizing alpha of spans questions,
// and preference agreement, accuracy and position bias (GET /v1/preferences), read with the
// one read path of each, kpi.ReadRegions, kpi.ReadUnitizing and kpi.ReadPreferences.

// structuredParams are the parameters of GET /v1/regions and GET /v1/preferences: scope is a
// KPI scope, as /v1/confusion's, but without it they answer every scope the view sees.
var structuredParams = []string{"project", "question", "scope", "window"}

// RegionFigure is one (project, question, level, scope)'s figures as kpi.ReadRegions reads
// them and, for a spans question in a scope of raters (all, a cohort, a vendor), unitizing
// alpha as kpi.ReadUnitizing computes it on read from the ledger's labels.
type RegionFigure struct {
	kpi.RegionFigure
	// ThresholdDiffers is kpi.RegionFigure.ThresholdDiffers: the figures are not at the IoU
	// threshold the question's definition states.
	ThresholdDiffers bool `json:"threshold_differs"`
	// Unitizing is null where it is not computed, with the reason in UnitizingUndefined:
	// boxes, an annotator's scope, or more spans than the API computes on read
	// (Config.MaxUnitizingSpans). A computed figure that is not defined (no item labeled by
	// every rater in scope, overlapping spans) is a Result whose undefined says why.
	Unitizing          *unitizing.Result `json:"unitizing"`
	UnitizingUndefined string            `json:"unitizing_undefined,omitempty"`
}

// RegionsKPI is the body of GET /v1/regions.
type RegionsKPI struct {
	// Figures are in (project, question, level, scope) order: scope all, then annotators,
	// cohorts and vendors, each only as far as the view sees it.
	Figures []RegionFigure `json:"figures"`
	// WindowFromDay is the first UTC day of the window, as AgreementKPI's.
	WindowFromDay string `json:"window_from_day,omitempty"`
	// MaxUnitizingSpans is the bound on one unitizing read (Config.MaxUnitizingSpans).
	MaxUnitizingSpans int    `json:"max_unitizing_spans"`
	Definition        string `json:"definition"`
}

// PreferencesKPI is the body of GET /v1/preferences.
type PreferencesKPI struct {
	// Figures are kpi.ReadPreferences' in (project, question, scope) order, each only as far
	// as the view sees it; annotator scopes carry position bias and accuracy only.
	Figures       []kpi.PreferenceFigure `json:"figures"`
	WindowFromDay string                 `json:"window_from_day,omitempty"`
	Definition    string                 `json:"definition"`
}

const regionsDefinition = "region agreement per question and scope (streams/regions), merged over partitions: for each unit (item x question) and each pair of annotators who both labeled it, regions are matched one to one among same-label pairs with IoU at least iou_threshold, maximizing the total IoU (Hungarian assignment); pairwise_f1 = 2 x matched / regions of both sides, micro over unit pairs; mean_iou over matched pairs; per_label_f1; label_alpha is Krippendorff's alpha (nominal) over the labels of the regions matched at IoU at least iou_threshold whatever their labels, with its 95% interval (jackknife over matched pairs). gold: precision, recall, F1 and mean IoU against gold regions at the same threshold. Scopes: all; cohort:C and vendor:V (pairs of two of its annotators); annotator:A (pairs involving A, and A's labels against gold). The live figures are at the default IoU threshold (iou_threshold); defined_iou_threshold is the question's own, and threshold_differs says when they differ. unitizing (spans, scopes all, cohort and vendor): Krippendorff's unitizing alpha as DKPro Statistics computes it, computed on read from the ledger's labels over the items every annotator in scope labeled, each as long as its stated extent; not computed above max_unitizing_spans spans or labels of the question. A window selects units (unitizing: items) by the UTC day of their first label."

const preferencesDefinition = "preference figures per question and scope (streams/preference), merged over partitions: nominal is Krippendorff's alpha on the chosen response, ordinal on choice and strength together (where a strength is given), each with its 95% interval (jackknife over units), over the answers of a scope's annotators (no alpha in an annotator's scope); accuracy is the share of answers choosing the gold preference, with its Wilson interval; position_bias is the share of answers choosing the response shown first, its Wilson interval, the share expected without bias (the mean of 1/responses) and excludes_expected when the interval excludes it. Scopes: all; cohort:C and vendor:V (their annotators' answers); annotator:A. A window selects units by the UTC day of their first label."

// scopeParam reads the scope parameter of q: a KPI scope (all, cohort:<c>, vendor:<v>,
// annotator:<a>), or "" when it is not given.
func scopeParam(q url.Values) (string, error) {
	scope := q.Get("scope")
	if err := CheckID(scope); err != nil {
		return "", &ParamError{Param: "scope", Reason: err.Error()}
	}
	kind, id, _ := strings.Cut(scope, ":")
	if scope != "" && scope != kpi.ScopeAll && (id == "" || !slices.Contains([]string{"cohort", "vendor", "annotator"}, kind)) {
		return "", &ParamError{Param: "scope", Reason: fmt.Sprintf("%q is not a scope: want all, cohort:<cohort>, vendor:<vendor> or annotator:<annotator>", scope)}
	}
	return scope, nil
}

// scopeViolation refuses a scope parameter naming a party figure sc does not read (RuleParty).
func scopeViolation(sc access.ReadScope, scope, project string) error {
	return &access.Violation{Rule: RuleParty, Field: "scope",
		Reason: fmt.Sprintf("%s reads the figures of vendor %s%s; %s of project %q is not its own (not every one of its labels is the vendor's, or it has none)",
			sc.Principal().ID, sc.Vendor(), cohortList(sc), scope, project)}
}

// structuredFilter is the filter echoed by /v1/regions and /v1/preferences: scope "" is every
// scope the view sees.
type structuredFilter struct {
	Project  string `json:"project"`
	Question string `json:"question"`
	Scope    string `json:"scope"`
	Window   string `json:"window"`
}

// structuredView parses the parameters of /v1/regions and /v1/preferences and narrows them to
// sc: the project as every endpoint's (Reader.View), and a scope the view does not see is
// refused (RuleParty), as /v1/confusion refuses it.
func (s *Server) structuredView(r *http.Request, sc access.ReadScope) (View, structuredFilter, error) {
	q := r.URL.Query()
	f, err := ParseFilter(q, structuredParams...)
	if err != nil {
		return View{}, structuredFilter{}, err
	}
	question := q.Get("question")
	if err := CheckID(question); err != nil {
		return View{}, structuredFilter{}, &ParamError{Param: "question", Reason: err.Error()}
	}
	scope, err := scopeParam(q)
	if err != nil {
		return View{}, structuredFilter{}, err
	}
	v, err := s.reader.View(r.Context(), f, sc)
	if err != nil {
		return View{}, structuredFilter{}, err
	}
	if scope != "" && !v.seesScope(scope) {
		return View{}, structuredFilter{}, scopeViolation(sc, scope, v.Project)
	}
	return v, structuredFilter{Project: v.Project, Question: question, Scope: scope, Window: v.WindowText}, nil
}

// regions answers GET /v1/regions.
func (s *Server) regions(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, f, err := s.structuredView(r, sc)
	if err != nil {
		return err
	}
	out, err := s.reader.Regions(r.Context(), v, f.Question, f.Scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": f, "regions": out})
	return nil
}

// preferences answers GET /v1/preferences.
func (s *Server) preferences(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, f, err := s.structuredView(r, sc)
	if err != nil {
		return err
	}
	out, err := s.reader.Preferences(r.Context(), v, f.Question, f.Scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": f, "preferences": out})
	return nil
}

// window returns the start of v's window and its first UTC day (zero and "" for all time):
// the region and preference tables keep their figures per UTC day of a unit's first label,
// so every window starting on one day reads the same figures.
func (r *Reader) window(v View) (time.Time, string) {
	if v.Window <= 0 {
		return time.Time{}, ""
	}
	from := r.now().Add(-v.Window)
	return from, from.UTC().Format(time.DateOnly)
}

// regionFigures reads every scope's region figures of project (every project when "") and
// question (every question when ""), from day on, once per figure cache interval.
func (r *Reader) regionFigures(ctx context.Context, project, question string, from time.Time, day string) ([]kpi.RegionFigure, error) {
	return r.regionCache.get(ctx, cacheKey(project, question, day), func(ctx context.Context) ([]kpi.RegionFigure, error) {
		return kpi.ReadRegions(ctx, r.conn, kpi.RegionFilter{Project: project, Question: question, From: from})
	})
}

// preferenceFigures is regionFigures' for kpi.ReadPreferences.
func (r *Reader) preferenceFigures(ctx context.Context, project, question string, from time.Time, day string) ([]kpi.PreferenceFigure, error) {
	return r.preferenceCache.get(ctx, cacheKey(project, question, day), func(ctx context.Context) ([]kpi.PreferenceFigure, error) {
		return kpi.ReadPreferences(ctx, r.conn, kpi.PreferenceFilter{Project: project, Question: question, From: from})
	})
}

func cacheKey(parts ...string) string { return strings.Join(parts, "\x00") }

// unitizingFigure is unitizing alpha as computed on read, or why it was not.
type unitizingFigure struct {
	result    *unitizing.Result
	undefined string
}

// unitizingOf computes unitizing alpha of a spans question in scope (all, a cohort, a vendor)
// from day on, once per figure cache interval; a question of more spans or labels than
// r.maxSpans is not computed, and says so with the bound.
func (r *Reader) unitizingOf(ctx context.Context, project, question, scope string, from time.Time, day string) (unitizingFigure, error) {
	return r.unitizingCache.get(ctx, cacheKey(project, question, scope, day), func(ctx context.Context) (unitizingFigure, error) {
		res, err := kpi.ReadUnitizing(ctx, r.conn, kpi.UnitizingFilter{Project: project, Question: question, Scope: scope, From: from, MaxSpans: r.maxSpans})
		switch {
		case errors.Is(err, kpi.ErrTooManySpans):
			return unitizingFigure{undefined: fmt.Sprintf("too many spans to compute on read (the API computes unitizing alpha over at most %d spans or labels of a question, -max-unitizing-spans): %v", r.maxSpans, err)}, nil
		case err != nil:
			return unitizingFigure{}, err
		}
		return unitizingFigure{result: &res}, nil
	})
}

// Regions reads the region figures of v's project (every project's in a view of every
// project without one): of question ("" every question), in scope ("" every scope), each
// only as far as v sees it, with unitizing alpha for the spans questions' scopes of raters.
func (r *Reader) Regions(ctx context.Context, v View, question, scope string) (*RegionsKPI, error) {
	from, day := r.window(v)
	figs, err := r.regionFigures(ctx, v.Project, question, from, day)
	if err != nil {
		return nil, err
	}
	out := &RegionsKPI{Figures: []RegionFigure{}, WindowFromDay: day, MaxUnitizingSpans: r.maxSpans, Definition: regionsDefinition}
	for _, f := range figs {
		if (scope != "" && f.Scope != scope) || !v.seesScope(f.Scope) {
			continue
		}
		fig := RegionFigure{RegionFigure: f, ThresholdDiffers: f.ThresholdDiffers()}
		switch {
		case f.Level != string(schemas.LevelSpans):
			fig.UnitizingUndefined = "unitizing alpha is a figure of spans"
		case strings.HasPrefix(f.Scope, "annotator:"):
			fig.UnitizingUndefined = "unitizing alpha compares raters: no annotator scope"
		default:
			u, err := r.unitizingOf(ctx, f.ProjectID, f.QuestionID, f.Scope, from, day)
			if err != nil {
				return nil, fmt.Errorf("unitizing alpha of %s/%s in scope %s: %w", f.ProjectID, f.QuestionID, f.Scope, err)
			}
			fig.UnitizingUndefined = u.undefined
			if u.result != nil {
				res := v.redactUnitizing(*u.result)
				fig.Unitizing = &res
			}
		}
		out.Figures = append(out.Figures, fig)
	}
	return out, nil
}

// Preferences reads the preference figures of v's project of question ("" every question) in
// scope ("" every scope), each only as far as v sees it.
func (r *Reader) Preferences(ctx context.Context, v View, question, scope string) (*PreferencesKPI, error) {
	from, day := r.window(v)
	figs, err := r.preferenceFigures(ctx, v.Project, question, from, day)
	if err != nil {
		return nil, err
	}
	out := &PreferencesKPI{Figures: []kpi.PreferenceFigure{}, WindowFromDay: day, Definition: preferencesDefinition}
	for _, f := range figs {
		if (scope == "" || f.Scope == scope) && v.seesScope(f.Scope) {
			out.Figures = append(out.Figures, f)
		}
	}
	return out, nil
}

// RegionQuestions is the regions section of /v1/kpis: every region question's figures in the
// view's scope (all, or the cohort filter's), beside alpha. Unitizing alpha, computed on read,
// and the other scopes are in /v1/regions.
type RegionQuestions struct {
	Scope     string             `json:"scope"`
	Questions []kpi.RegionFigure `json:"questions"`
}

// PreferenceQuestions is the preferences section of /v1/kpis, as RegionQuestions.
type PreferenceQuestions struct {
	Scope     string                 `json:"scope"`
	Questions []kpi.PreferenceFigure `json:"questions"`
}

// RegionHeadline reads the figures of v's region questions in v's scope (the filter's cohort,
// which Reader.View let the view read), from the read /v1/regions shares.
func (r *Reader) RegionHeadline(ctx context.Context, v View) (*RegionQuestions, error) {
	from, day := r.window(v)
	figs, err := r.regionFigures(ctx, v.Project, "", from, day)
	if err != nil {
		return nil, err
	}
	out := &RegionQuestions{Scope: scope(v.Filter), Questions: []kpi.RegionFigure{}}
	for _, f := range figs {
		if f.Scope == out.Scope {
			out.Questions = append(out.Questions, f)
		}
	}
	return out, nil
}

// PreferenceHeadline is RegionHeadline's for the preference questions.
func (r *Reader) PreferenceHeadline(ctx context.Context, v View) (*PreferenceQuestions, error) {
	from, day := r.window(v)
	figs, err := r.preferenceFigures(ctx, v.Project, "", from, day)
	if err != nil {
		return nil, err
	}
	out := &PreferenceQuestions{Scope: scope(v.Filter), Questions: []kpi.PreferenceFigure{}}
	for _, f := range figs {
		if f.Scope == out.Scope {
			out.Questions = append(out.Questions, f)
		}
	}
	return out, nil
}

// redactUnitizing returns res as v may read it. unitizing alpha over every label of a scope is
// a figure of that scope, but where one rater's spans overlap (which leaves it undefined) the
// result names the rater and the item: a partial view (a vendor's) keeps those of its own
// annotators, and of another party's keeps the spans but not who or where, in the list and in
// the reasons that quote them. res is a cached value: it is copied, never changed.
func (v View) redactUnitizing(res unitizing.Result) unitizing.Result {
	if v.scope.Full() || len(res.Overlaps) == 0 {
		return res
	}
	var quoted []string
	res.Overlaps = slices.Clone(res.Overlaps)
	for i, o := range res.Overlaps {
		if v.seesAnnotator(o.Rater) {
			continue
		}
		quoted = append(quoted, fmt.Sprintf("rater %q", o.Rater), fmt.Sprintf("item %q", o.Item))
		res.Overlaps[i].Rater, res.Overlaps[i].Item = "", ""
	}
	if len(quoted) == 0 {
		return res
	}
	scrub := func(reason string) string {
		for _, q := range quoted {
			if strings.Contains(reason, q) {
				return "the spans of one label by one rater (not of your party) overlap on an item; unitizing alpha is defined for flat spans only"
			}
		}
		return reason
	}
	res.Undefined = scrub(res.Undefined)
	res.Categories = slices.Clone(res.Categories)
	for i := range res.Categories {
		res.Categories[i].Undefined = scrub(res.Categories[i].Undefined)
	}
	return res
}
