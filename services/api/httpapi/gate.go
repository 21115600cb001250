package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/lineage"
)

// The verdicts a dataset version stands at in GET /v1/gate and assay_api_kpi_versions.
const (
	VerdictCertified = "certified"
	VerdictRejected  = "rejected"
	// VerdictUnjudged: committed, and the gate has not judged it yet (a training run on it
	// is a run on uncertified data).
	VerdictUnjudged = "unjudged"
)

// GateVersion is one dataset version and the gate's standing verdict on it: the latest
// (highest sequence) DatasetVersionCertified or DatasetVersionRejected, every check of that
// verdict, and the owners' overrides.
type GateVersion struct {
	DatasetID string `json:"dataset_id"`
	Version   string `json:"version"`
	// ProjectID is the project whose targets judged it (the verdict's); for a version not
	// judged yet, the project asked for when its dataset holds that project's items
	// (lineage's rule), empty in a read over every project.
	ProjectID string `json:"project_id"`
	// CommittedAt is the DatasetVersionCommitted's occurred_at (epoch ms; 0 when the ledger
	// has a verdict but not the commit yet): the time whose targets judge it.
	CommittedAt int64 `json:"committed_at"`
	// Verdict is certified, rejected or unjudged.
	Verdict string `json:"verdict"`
	// Sequence numbers the verdicts on the version (0: none); Verdicts counts them.
	Sequence int64 `json:"sequence"`
	Verdicts int64 `json:"verdicts"`
	// VerdictEventID is the standing verdict's event, Supersedes the one it replaced, and
	// JudgedAt when Assay recorded it (epoch ms).
	VerdictEventID  string   `json:"verdict_event_id,omitempty"`
	Supersedes      string   `json:"supersedes,omitempty"`
	JudgedAt        int64    `json:"judged_at,omitempty"`
	TargetsVersions []string `json:"targets_versions"`
	Reason          string   `json:"reason"`
	// Checks are every target judged, in the gate's order; Failing counts those that did not
	// pass (failed or not enough data).
	Checks  []schemas.TargetCheck `json:"checks"`
	Failing int                   `json:"failing"`
	// Override is the first owner's override of the gate for the version (nil: none), and
	// Overrides counts them.
	Override  *GateOverride `json:"override"`
	Overrides int           `json:"overrides"`
	// Trainable says a training run may use it: certified, or overridden.
	Trainable bool `json:"trainable"`
	// TrainingRuns are the runs that used it; TrainingRunsUncertified those registered when
	// it was not certified (kpi_training_runs_uncertified).
	TrainingRuns            int64 `json:"training_runs"`
	TrainingRunsUncertified int64 `json:"training_runs_uncertified"`
}

// GateOverride is an owner's GateOverrideGranted.
type GateOverride struct {
	EventID string `json:"event_id"`
	// GrantedBy is the owner's principal id (the event's producer) and GrantedAt when Assay
	// recorded it (epoch ms).
	GrantedBy string `json:"granted_by"`
	GrantedAt int64  `json:"granted_at"`
	Reason    string `json:"reason"`
}

// VersionCounts count dataset versions by standing verdict.
type VersionCounts struct {
	Certified int64 `json:"certified"`
	Rejected  int64 `json:"rejected"`
	Unjudged  int64 `json:"unjudged"`
	// Overridden counts the versions, certified or not, an owner overrode the gate for.
	Overridden int64 `json:"overridden"`
}

// GateKPI is the gate in /v1/kpis: the versions by verdict, and the KPI "training runs on
// uncertified data".
type GateKPI struct {
	Versions VersionCounts `json:"versions"`
	// TrainingRuns counts the training runs that used a version of the view's projects;
	// TrainingRunsUncertified those that used one not certified when the run was registered
	// (overridden, rejected or not judged yet), TrainingRunsOverridden those of them whose
	// every such version was overridden at registration.
	TrainingRuns            int64  `json:"training_runs"`
	TrainingRunsUncertified int64  `json:"training_runs_uncertified"`
	TrainingRunsOverridden  int64  `json:"training_runs_overridden"`
	Definition              string `json:"definition"`
}

// GateAnswer is the body of GET /v1/gate: the KPI (the counts) and every version, newest
// commit first.
type GateAnswer struct {
	KPI      GateKPI       `json:"kpi"`
	Versions []GateVersion `json:"versions"`
}

const gateDefinition = "every committed dataset version of the project (its dataset holds the project's items, or a verdict judged it against the project's targets) with the gate's standing verdict: the latest DatasetVersionCertified or DatasetVersionRejected (dataset_version_gate), unjudged until there is one. A training run is on uncertified data when a version it used had no certifying verdict recorded when the run was registered, overridden or not (kpi_training_runs_uncertified)."

// The gate's reads. The standing verdict is the view dataset_version_gate's (migration 0040);
// its checks are that verdict's row of dataset_verdicts; the runs are
// kpi_training_runs_uncertified's. Each takes the dataset twice (” for every one).
const (
	gateCommittedQuery = `SELECT dataset_id, version, min(occurred_at_ms)
FROM dataset_versions FINAL
WHERE (? = '' OR dataset_id = ?)
GROUP BY dataset_id, version`
	gateVerdictsQuery = `SELECT dataset_id, version, project_id, toUInt8(certified), sequence, reason, targets_versions,
       verdict_event_id, verdict_at_ms, toInt64(verdicts), toUInt8(trainable)
FROM dataset_version_gate
WHERE (? = '' OR dataset_id = ?)`
	gateChecksQuery = `SELECT event_id, supersedes, check_target, check_scope, check_threshold, check_figure, check_low, check_high,
       check_evidence, check_status, check_detail
FROM dataset_verdicts FINAL
WHERE event_id IN (SELECT verdict_event_id FROM dataset_version_gate WHERE (? = '' OR dataset_id = ?))`
	gateOverridesQuery = `SELECT dataset_id, version, project_id, event_id, producer, recorded_at_ms, reason
FROM gate_overrides FINAL
WHERE (? = '' OR dataset_id = ?)
ORDER BY recorded_at_ms, event_id`
	gateRunsQuery = `SELECT run_id, dataset_id, version, toUInt8(uncertified), toUInt8(overridden_at_registration)
FROM kpi_training_runs_uncertified
WHERE (? = '' OR dataset_id = ?)`
)

type versionKey struct{ dataset, version string }

// gateRead is what one read of the gate holds: every version in sc's projects (or in
// project when it names one), and the runs that used them.
type gateRead struct {
	versions []GateVersion
	runs     map[string][]runUse
}

type runUse struct {
	ref                     versionKey
	uncertified, overridden bool
}

// readGate reads the gate's standing on every version of dataset ("" for every dataset) that
// is project's (every project's when project is ""; else lineage's rule for the versions not
// judged yet, the verdict's project for the others), with their checks when checks is set.
func (r *Reader) readGate(ctx context.Context, project, dataset string, checks bool) (*gateRead, error) {
	byKey := map[versionKey]*GateVersion{}
	get := func(k versionKey) *GateVersion {
		v := byKey[k]
		if v == nil {
			v = &GateVersion{DatasetID: k.dataset, Version: k.version, Verdict: VerdictUnjudged, TargetsVersions: []string{}, Checks: []schemas.TargetCheck{}}
			byKey[k] = v
		}
		return v
	}
	rows, err := r.conn.Query(ctx, gateCommittedQuery, dataset, dataset)
	if err != nil {
		return nil, fmt.Errorf("query committed versions: %w", err)
	}
	for rows.Next() {
		var k versionKey
		var at int64
		if err := rows.Scan(&k.dataset, &k.version, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan committed versions: %w", err)
		}
		get(k).CommittedAt = at
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read committed versions: %w", err)
	}

	rows, err = r.conn.Query(ctx, gateVerdictsQuery, dataset, dataset)
	if err != nil {
		return nil, fmt.Errorf("query verdicts: %w", err)
	}
	byEvent := map[string]*GateVersion{}
	for rows.Next() {
		var (
			k                    versionKey
			project              string
			certified, trainable uint8
			v                    GateVersion
		)
		if err := rows.Scan(&k.dataset, &k.version, &project, &certified, &v.Sequence, &v.Reason, &v.TargetsVersions,
			&v.VerdictEventID, &v.JudgedAt, &v.Verdicts, &trainable); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan verdicts: %w", err)
		}
		g := get(k)
		g.ProjectID, g.Sequence, g.Reason, g.VerdictEventID, g.JudgedAt, g.Verdicts = project, v.Sequence, v.Reason, v.VerdictEventID, v.JudgedAt, v.Verdicts
		g.TargetsVersions = nonNil(v.TargetsVersions)
		g.Verdict, g.Trainable = VerdictRejected, trainable == 1
		if certified == 1 {
			g.Verdict = VerdictCertified
		}
		byEvent[g.VerdictEventID] = g
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}

	if checks && len(byEvent) > 0 {
		if err := r.readChecks(ctx, dataset, byEvent); err != nil {
			return nil, err
		}
	}

	rows, err = r.conn.Query(ctx, gateOverridesQuery, dataset, dataset)
	if err != nil {
		return nil, fmt.Errorf("query gate overrides: %w", err)
	}
	for rows.Next() {
		var k versionKey
		var o GateOverride
		var overrideProject string
		if err := rows.Scan(&k.dataset, &k.version, &overrideProject, &o.EventID, &o.GrantedBy, &o.GrantedAt, &o.Reason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan gate overrides: %w", err)
		}
		g := get(k)
		// Only an override naming the project of the verdict counts, as the gate's
		// Clearance (which the gateway applies) and dataset_version_gate have it: an owner
		// of another project cannot make the version trainable by naming their own.
		if g.ProjectID == "" || overrideProject != g.ProjectID {
			continue
		}
		if g.Override == nil {
			g.Override = &o
		}
		g.Overrides++
		g.Trainable = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read gate overrides: %w", err)
	}

	out := &gateRead{runs: map[string][]runUse{}}
	rows, err = r.conn.Query(ctx, gateRunsQuery, dataset, dataset)
	if err != nil {
		return nil, fmt.Errorf("query training runs on uncertified data: %w", err)
	}
	for rows.Next() {
		var run string
		var u runUse
		var uncertified, overridden uint8
		if err := rows.Scan(&run, &u.ref.dataset, &u.ref.version, &uncertified, &overridden); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan training runs on uncertified data: %w", err)
		}
		u.uncertified, u.overridden = uncertified == 1, overridden == 1
		out.runs[run] = append(out.runs[run], u)
		g := get(u.ref)
		g.TrainingRuns++
		if u.uncertified {
			g.TrainingRunsUncertified++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read training runs on uncertified data: %w", err)
	}

	// The project of a version not judged yet: the project whose items its dataset holds.
	var ours map[string]bool
	if project != "" {
		ours = map[string]bool{}
		if err := r.each(ctx, lineage.ProjectDatasetsQuery, []any{project}, func(v []string) { ours[v[0]] = true }, 1); err != nil {
			return nil, fmt.Errorf("datasets of project %q: %w", project, err)
		}
	}
	for _, g := range byKey {
		if g.ProjectID == "" && ours[g.DatasetID] {
			g.ProjectID = project
		}
		if project == "" || g.ProjectID == project {
			g.Failing = 0
			for _, c := range g.Checks {
				if c.Status != schemas.CheckPass {
					g.Failing++
				}
			}
			out.versions = append(out.versions, *g)
		}
	}
	slices.SortFunc(out.versions, func(a, b GateVersion) int {
		return cmp.Or(cmp.Compare(b.CommittedAt, a.CommittedAt), cmp.Compare(a.DatasetID, b.DatasetID), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// readChecks fills the checks of the standing verdicts byEvent (by verdict event id).
func (r *Reader) readChecks(ctx context.Context, dataset string, byEvent map[string]*GateVersion) error {
	rows, err := r.conn.Query(ctx, gateChecksQuery, dataset, dataset)
	if err != nil {
		return fmt.Errorf("query verdict checks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, supersedes                     string
			targets, scopes, statuses, details []string
			thresholds                         []float64
			figures, lows, highs               []*float64
			evidence                           []int64
		)
		if err := rows.Scan(&id, &supersedes, &targets, &scopes, &thresholds, &figures, &lows, &highs, &evidence, &statuses, &details); err != nil {
			return fmt.Errorf("scan verdict checks: %w", err)
		}
		g, ok := byEvent[id]
		if !ok {
			continue
		}
		g.Supersedes = supersedes
		g.Checks = make([]schemas.TargetCheck, 0, len(targets))
		for i := range targets {
			c := schemas.TargetCheck{Target: targets[i]}
			if i < len(scopes) {
				c.Scope = scopes[i]
			}
			if i < len(thresholds) {
				c.Threshold = thresholds[i]
			}
			if i < len(figures) {
				c.Figure = figures[i]
			}
			if i < len(lows) {
				c.Low = lows[i]
			}
			if i < len(highs) {
				c.High = highs[i]
			}
			if i < len(evidence) {
				c.Evidence = evidence[i]
			}
			if i < len(statuses) {
				c.Status = schemas.CheckStatus(statuses[i])
			}
			if i < len(details) {
				c.Detail = details[i]
			}
			g.Checks = append(g.Checks, c)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read verdict checks: %w", err)
	}
	return nil
}

// kpi counts the versions of g by verdict and its runs: a run counts for the view when it
// used one of g's versions, as uncertified when any version it used was uncertified at its
// registration, as overridden when every such one was overridden by then.
func (g *gateRead) kpi() GateKPI {
	out := GateKPI{Definition: gateDefinition}
	ours := map[versionKey]bool{}
	for _, v := range g.versions {
		ours[versionKey{v.DatasetID, v.Version}] = true
		switch v.Verdict {
		case VerdictCertified:
			out.Versions.Certified++
		case VerdictRejected:
			out.Versions.Rejected++
		default:
			out.Versions.Unjudged++
		}
		if v.Overrides > 0 {
			out.Versions.Overridden++
		}
	}
	for _, uses := range g.runs {
		used, uncertified, overridden := false, false, true
		for _, u := range uses {
			used = used || ours[u.ref]
			if u.uncertified {
				uncertified = true
				overridden = overridden && u.overridden
			}
		}
		if !used {
			continue
		}
		out.TrainingRuns++
		if uncertified {
			out.TrainingRunsUncertified++
			if overridden {
				out.TrainingRunsOverridden++
			}
		}
	}
	return out
}

// Gate reads the gate's KPI for v's project (every project's in a view of every project
// without one): the section "gate" of /v1/kpis.
func (r *Reader) Gate(ctx context.Context, v View) (*GateKPI, error) {
	g, err := r.readGate(ctx, v.Project, "", false)
	if err != nil {
		return nil, err
	}
	k := g.kpi()
	return &k, nil
}

// GateVersions reads every version of v's project (of v's dataset, when it names one) with
// its standing verdict and checks: the body of GET /v1/gate.
func (r *Reader) GateVersions(ctx context.Context, v View) (*GateAnswer, error) {
	g, err := r.readGate(ctx, v.Project, v.Dataset, true)
	if err != nil {
		return nil, err
	}
	out := &GateAnswer{KPI: g.kpi(), Versions: g.versions}
	if out.Versions == nil {
		out.Versions = []GateVersion{}
	}
	return out, nil
}

// GateVersion reads one version's standing as sc may see it: a scope that is not every
// project reads the versions of its projects only (access.RuleProject otherwise, whether the
// version exists or not; a version of one of its datasets is its). errNotFound when it was
// neither committed nor judged.
func (r *Reader) GateVersion(ctx context.Context, sc access.ReadScope, dataset, version string) (*GateVersion, error) {
	projects, all := sc.Projects()
	if all {
		projects = []string{""}
	}
	for _, p := range projects {
		g, err := r.readGate(ctx, p, dataset, true)
		if err != nil {
			return nil, err
		}
		for _, v := range g.versions {
			if v.Version == version {
				return &v, nil
			}
		}
	}
	if !all {
		ok, err := r.datasetIn(ctx, dataset, projects)
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, fmt.Errorf("dataset %q version %q: %w", dataset, version, errNotFound)
		}
		// Refused whether it exists or not: a principal learns nothing of other projects'
		// datasets.
		return nil, &access.Violation{Rule: access.RuleProject, Field: "dataset",
			Reason: fmt.Sprintf("%s reads projects %s; %s@%s is not a version of theirs", sc.Principal().ID, strings.Join(projects, ","), dataset, version)}
	}
	return nil, fmt.Errorf("dataset %q version %q: %w", dataset, version, errNotFound)
}
