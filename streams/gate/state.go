package gate

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
)

// Producer is the envelope producer of the gate's verdicts. The gate trusts only verdicts
// that carry it (see State.Apply).
const Producer = "assay-processor/gate"

// FigurePrecision is the number of decimals to which a check's figure is compared when the
// gate decides whether a verdict changed: a figure that moves less than that does not
// supersede a verdict (alpha moves with every new label of the project).
const FigurePrecision = 2

// NotInLedger is the reason of the rejection of a version none of whose members reached the
// ledger within the settle time.
const NotInLedger = "not in the ledger"

// The defaults of State's options.
const (
	DefaultSettle  = 2 * time.Minute
	DefaultRecheck = time.Minute
)

// StateOption configures a State.
type StateOption func(*State)

// SettleTimeout sets how long after its commit was recorded a version whose members are not in
// the ledger yet waits before it is rejected as not in the ledger (default DefaultSettle).
func SettleTimeout(d time.Duration) StateOption {
	return func(s *State) {
		if d > 0 {
			s.settle = d
		}
	}
}

// RecheckInterval sets how often a version that has a verdict is due again, to find figures
// that changed since (default DefaultRecheck). A version without a verdict is due at every
// call of Due.
func RecheckInterval(d time.Duration) StateOption {
	return func(s *State) {
		if d > 0 {
			s.recheck = d
		}
	}
}

// State is the gate's state over the datasets and projects topics: the targets of every
// project, every committed version with its latest verdict and override. Apply folds in the
// log; Due, Decide and Clearance read it. Apply is the only method that changes what the
// log determines, so a State rebuilt from the log equals the live one that wrote it. A State
// is not safe for concurrent use.
type State struct {
	settle, recheck time.Duration

	targets  map[string][]*schemas.QualityTargetsSet // by project, in log order
	versions map[VersionRef]*version
	projects map[string]string // dataset -> the project its latest verdict (else override) named

	// measured is when Decide last judged a version: process-local pacing, not from the log.
	measured map[VersionRef]time.Time
}

// version is what the state keeps of one dataset version.
type version struct {
	committed   bool
	commitID    string // the DatasetVersionCommitted's event id: the verdicts' causation
	correlation string
	committedAt int64 // occurred_at, epoch ms: the instant targets are resolved at
	seenAt      int64 // recorded_at (else occurred_at), epoch ms: the settle time counts from here

	verdict *verdict

	// overrides are the latest override's reason per project it names: only the one naming
	// the project of the version's verdict counts (Clearance), so an owner of one project
	// cannot clear another project's version by naming their own project in the event.
	overrides map[string]string
}

// verdict is what the state keeps of the latest verdict on a version.
type verdict struct {
	sequence  int64
	eventID   string
	projectID string
	certified bool
	reason    string
	// key is what a new verdict is compared with (see verdictKey).
	key string
}

// NewState returns an empty state.
func NewState(opts ...StateOption) *State {
	s := &State{
		settle: DefaultSettle, recheck: DefaultRecheck,
		targets: map[string][]*schemas.QualityTargetsSet{}, versions: map[VersionRef]*version{},
		projects: map[string]string{}, measured: map[VersionRef]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *State) version(ref VersionRef) *version {
	v := s.versions[ref]
	if v == nil {
		v = &version{}
		s.versions[ref] = v
	}
	return v
}

// Apply folds one event of the log into the state: QualityTargetsSet, DatasetVersionCommitted,
// DatasetVersionCertified, DatasetVersionRejected and GateOverrideGranted; anything else is
// ignored. Events must be applied in log order per key (dataset, project); the two topics may
// interleave in any order.
//
// A version's first commit counts (versions are unique within a dataset). Of its verdicts the
// one with the highest sequence counts, whatever the order they are applied in, and only
// verdicts whose producer is Producer: a verdict anyone else wrote to Kafka is ignored. The
// latest override counts. A targets set with an event id already applied is a duplicate.
func (s *State) Apply(ev schemas.Event) {
	switch e := ev.(type) {
	case *schemas.QualityTargetsSet:
		if e.ProjectID == "" {
			return
		}
		for _, t := range s.targets[e.ProjectID] {
			if t.EventID == e.EventID {
				return
			}
		}
		s.targets[e.ProjectID] = append(s.targets[e.ProjectID], e)
	case *schemas.DatasetVersionCommitted:
		v := s.version(VersionRef{e.DatasetID, e.Version})
		if v.committed {
			return
		}
		v.committed, v.commitID, v.committedAt = true, e.EventID, e.OccurredAt
		v.correlation = e.Trace.CorrelationID
		if v.correlation == "" {
			v.correlation = e.EventID
		}
		v.seenAt = e.RecordedAt
		if v.seenAt == 0 {
			v.seenAt = e.OccurredAt
		}
	case *schemas.DatasetVersionCertified:
		s.applyVerdict(e.Meta(), &e.GateVerdict, true)
	case *schemas.DatasetVersionRejected:
		s.applyVerdict(e.Meta(), &e.GateVerdict, false)
	case *schemas.GateOverrideGranted:
		v := s.version(VersionRef{e.DatasetID, e.Version})
		if v.overrides == nil {
			v.overrides = map[string]string{}
		}
		v.overrides[e.ProjectID] = e.Reason
		// The override's project is not taken as the dataset's: only the gate's verdicts
		// say which project a dataset belongs to, so an override cannot pick the project
		// of a rejection it would then clear.
	}
}

func (s *State) applyVerdict(env *schemas.Envelope, g *schemas.GateVerdict, certified bool) {
	if env.Producer != Producer {
		return
	}
	v := s.version(VersionRef{g.DatasetID, g.Version})
	if v.verdict != nil && g.Sequence <= v.verdict.sequence {
		return
	}
	v.verdict = &verdict{sequence: g.Sequence, eventID: env.EventID, projectID: g.ProjectID,
		certified: certified, reason: g.Reason, key: verdictKey(certified, g)}
	if g.ProjectID != "" {
		s.projects[g.DatasetID] = g.ProjectID
	}
}

// Targets returns the targets in force for a version of datasetID in projectID committed at
// committedAt (epoch ms), from the QualityTargetsSet events applied so far (see Resolve).
func (s *State) Targets(projectID, datasetID string, committedAt int64) Targets {
	return Resolve(s.targets[projectID], datasetID, committedAt)
}

// Committed returns the commit time (occurred_at, epoch ms) of a committed version: the
// instant its figures and targets are taken at.
func (s *State) Committed(ref VersionRef) (committedAt int64, ok bool) {
	v := s.versions[ref]
	if v == nil || !v.committed {
		return 0, false
	}
	return v.committedAt, true
}

// Pending counts the committed versions that have no verdict yet.
func (s *State) Pending() int {
	n := 0
	for _, v := range s.versions {
		if v.committed && v.verdict == nil {
			n++
		}
	}
	return n
}

// Due returns the committed versions to measure and Decide at now, sorted: every version
// without a verdict, and every version with one that Decide has not judged for the recheck
// interval (RecheckInterval), so figures that changed after a verdict reach it.
func (s *State) Due(now time.Time) []VersionRef {
	var out []VersionRef
	for ref, v := range s.versions {
		if !v.committed {
			continue
		}
		if v.verdict == nil {
			out = append(out, ref)
			continue
		}
		if at, ok := s.measured[ref]; !ok || now.Sub(at) >= s.recheck {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b VersionRef) int {
		if c := strings.Compare(a.DatasetID, b.DatasetID); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out
}

// Decide judges the committed version ref on figures f, measured at now, and returns the
// verdict to emit, if any: the first verdict on the version, or one that supersedes the
// latest when the outcome, the project, the targets versions or any check (its target,
// scope, status or figure to FigurePrecision decimals) changed. It returns false when
// nothing is to be emitted: the version is unknown, its verdict stands, or none of its
// members is in the ledger yet (f.Members == 0) and either the settle time has not passed
// since its commit was recorded or it already has a verdict (a ledger that lost rows is not
// a figure to judge). Once the settle time has passed without any member in the ledger and
// without a verdict, the verdict is a rejection with reason NotInLedger, naming the project
// the dataset's verdicts named before, or none (an empty project_id) when no project is
// known: a version that never reaches the ledger is rejected, never left pending.
//
// Decide does not record the verdict: the caller applies it (Apply) once it is committed to
// the log, so the state only ever holds what the log holds. The verdict's event id is a
// function of the dataset, the version and the sequence, so deciding again after an aborted
// transaction emits the same event.
func (s *State) Decide(ref VersionRef, f Figures, now time.Time) (schemas.Event, bool) {
	v := s.versions[ref]
	if v == nil || !v.committed {
		return nil, false
	}
	s.measured[ref] = now
	var g schemas.GateVerdict
	if f.Members == 0 {
		if v.verdict != nil || schemas.Millis(now)-v.seenAt < s.settle.Milliseconds() {
			return nil, false
		}
		project := f.ProjectID
		if project == "" {
			project = s.projects[ref.DatasetID]
		}
		g = schemas.GateVerdict{ProjectID: project, Checks: []schemas.TargetCheck{},
			Reason: fmt.Sprintf("%s: no member of the version reached the ledger within %s of its commit", NotInLedger, s.settle)}
	} else {
		g = Evaluate(s.Targets(f.ProjectID, ref.DatasetID, v.committedAt), f)
	}
	g.DatasetID, g.Version = ref.DatasetID, ref.Version
	if g.TargetsVersions == nil {
		g.TargetsVersions = []string{}
	}
	certified := Certified(g)
	g.Sequence = 1
	if last := v.verdict; last != nil {
		if last.key == verdictKey(certified, &g) {
			return nil, false
		}
		g.Sequence, g.Supersedes = last.sequence+1, last.eventID
	}
	at := schemas.Millis(now)
	env := schemas.Envelope{EventID: VerdictID(ref, g.Sequence), OccurredAt: at, RecordedAt: at, Producer: Producer,
		Trace: schemas.Trace{CorrelationID: v.correlation, CausationID: v.commitID}}
	if certified {
		env.EventType = schemas.TypeDatasetVersionCertified
		return &schemas.DatasetVersionCertified{Envelope: env, GateVerdict: g}, true
	}
	env.EventType = schemas.TypeDatasetVersionRejected
	return &schemas.DatasetVersionRejected{Envelope: env, GateVerdict: g}, true
}

// VerdictID is the event id of the verdict number sequence on ref: a UUID-shaped (version 8)
// SHA-256 of the three, so the same verdict decided twice has one id.
func VerdictID(ref VersionRef, sequence int64) string {
	h := sha256.Sum256([]byte("gate\x00" + ref.DatasetID + "\x00" + ref.Version + "\x00" + strconv.FormatInt(sequence, 10)))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// verdictKey is what decides whether a new verdict supersedes the latest: the outcome, the
// project, the targets versions, and each check's target, scope, status and figure rounded to
// FigurePrecision decimals. Evidence, intervals and wording are not part of it: they move
// with every label without changing what the verdict says. It is computed from the verdict
// alone, so a verdict read back from the log yields the key it was emitted with.
func verdictKey(certified bool, g *schemas.GateVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%t\x00%s\x00%s", certified, g.ProjectID, strings.Join(g.TargetsVersions, "\x01"))
	for _, c := range g.Checks {
		fig := "-"
		if c.Figure != nil {
			p := math.Pow10(FigurePrecision)
			fig = strconv.FormatFloat(math.Round(*c.Figure*p)/p, 'f', FigurePrecision, 64)
		}
		fmt.Fprintf(&b, "\x00%s\x01%s\x01%s\x01%s", c.Target, c.Scope, c.Status, fig)
	}
	return b.String()
}

// Clearance is what a training run on a dataset version needs to know of the gate.
type Clearance struct {
	// Known reports whether the gate has a verdict on the version.
	Known bool
	// Certified reports whether the latest verdict certifies it.
	Certified bool
	// Sequence is the latest verdict's sequence (0 without one).
	Sequence int64
	// Reason is the latest verdict's reason.
	Reason string
	// ProjectID is the project the latest verdict names (the project of the version's
	// members' items).
	ProjectID string
	// Overridden reports whether an owner of the version's project granted an override for
	// it, and OverrideReason says why. An override counts only once the gate has judged the
	// version and only when it names the verdict's project: whoever may write overrides for
	// one project cannot clear a version of another.
	Overridden     bool
	OverrideReason string
}

// Cleared reports whether a training run may use the version: it is certified, or an owner
// overrode the gate.
func (c Clearance) Cleared() bool { return c.Certified || c.Overridden }

// Clearance returns the gate's word on ref: its latest verdict and override.
func (s *State) Clearance(ref VersionRef) Clearance {
	v := s.versions[ref]
	if v == nil {
		return Clearance{}
	}
	var c Clearance
	if d := v.verdict; d != nil {
		c.Known, c.Certified, c.Sequence, c.Reason, c.ProjectID = true, d.certified, d.sequence, d.reason, d.projectID
		if reason, ok := v.overrides[d.projectID]; ok && d.projectID != "" {
			c.Overridden, c.OverrideReason = true, reason
		}
	}
	return c
}
