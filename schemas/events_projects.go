package schemas

import "strings"

// The event type of the projects family (topic assay.projects.v1, keyed by
// project_id): facts about a labeling project as a whole, in order per
// project. Item-keyed families cannot carry them: a project has no item, and
// a project id used as the key of an item topic would share the key space
// (and the partition state) of the items.
const TypeGuidelineReleased EventType = "GuidelineReleased"

// GuidelineReleased records a version of a project's annotation guideline,
// the document annotators follow: LabelSubmitted.GuidelineVersion names one
// of these versions, so labels, agreement and rework can be read against the
// text in force, and an audit can prove which text that was (sha256). It is
// released when it occurred (occurred_at).
type GuidelineReleased struct {
	Envelope
	// ProjectID is the project (partition key).
	ProjectID string `json:"project_id"`
	// GuidelineVersion names the version, as labels reference it; unique
	// within the project.
	GuidelineVersion string `json:"guideline_version"`
	// Supersedes is the version this one replaces; empty for the first.
	Supersedes string `json:"supersedes,omitempty"`
	// URI locates the document.
	URI string `json:"uri"`
	// SHA256 is the document's hash, 64 lowercase hex characters.
	SHA256 string `json:"sha256"`
	// Summary says what changed; optional.
	Summary string `json:"summary,omitempty"`
}

// Type implements Event.
func (*GuidelineReleased) Type() EventType { return TypeGuidelineReleased }

// Family implements Event.
func (*GuidelineReleased) Family() Family { return FamilyProjects }

// Key implements Event: project_id.
func (e *GuidelineReleased) Key() string { return e.ProjectID }

// The example releases the guideline its subject's label follows, g-<N+2>.
var _ = describe(func(s Subject) *GuidelineReleased {
	return &GuidelineReleased{Envelope: s.envelope("guideline", 14), ProjectID: exampleProject, GuidelineVersion: "g-" + s.number(2),
		Supersedes: "g-" + s.number(1), URI: "s3://guidelines/" + exampleProject + "/g-" + s.number(2) + ".pdf",
		SHA256: strings.Repeat("cd", 32), Summary: "a truck with its trailer is one vehicle"}
})

// Validate implements Event: sha256 must be 64 lowercase hex characters, and
// a version does not supersede itself.
func (e *GuidelineReleased) Validate() error {
	var c check
	c.envelope(e)
	c.required("project_id", e.ProjectID)
	c.required("guideline_version", e.GuidelineVersion)
	c.predecessor("supersedes", e.Supersedes, "guideline_version", e.GuidelineVersion)
	c.required("uri", e.URI)
	c.sha256("sha256", e.SHA256)
	return c.err
}
