package lineage

import (
	"crypto/sha256"
	"embed"
	"fmt"
	"sort"
	"time"
)

// OpenLineage constants: the spec version the events claim and the producer URI. The schema
// URL is a JSON pointer into that version's OpenLineage.json, which keeps its definitions under
// "$defs" (the pointer "#/definitions/RunEvent" names nothing there).
const (
	OpenLineageSchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	OpenLineageProducer  = "https://github.com/assay-data/assay/streams/lineage"
)

// The custom facets' schemas, published in this repository (facets/) so that each facet's
// _schemaURL resolves to a real definition, as the spec asks of custom facets. The URLs name the
// main branch on GitHub; FacetSchemas holds the same files for tests and tools offline.
const (
	facetSchemaBase = "https://raw.githubusercontent.com/assay-data/assay/main/streams/lineage/facets/"
	// DatasetVersionFacetSchemaURL is the _schemaURL of the "assay" facet of a dataset version.
	DatasetVersionFacetSchemaURL = facetSchemaBase + "AssayDatasetVersionFacet.json#/$defs/AssayDatasetVersionFacet"
	// RemediationFacetSchemaURL is the _schemaURL of the "assay" run facet of a remediation.
	RemediationFacetSchemaURL = facetSchemaBase + "AssayRemediationFacet.json#/$defs/AssayRemediationFacet"
)

// FacetSchemas are the JSON Schemas (draft 2020-12) of the custom facets, by file name.
//
//go:embed facets/*.json
var FacetSchemas embed.FS

// OLDataset is an OpenLineage input or output dataset.
type OLDataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// OLJob names an OpenLineage job.
type OLJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// OLRun is an OpenLineage run: a UUID and facets.
type OLRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// OLRunEvent is one OpenLineage RunEvent (a COMPLETE event: the log records facts that happened).
type OLRunEvent struct {
	EventType string      `json:"eventType"`
	EventTime string      `json:"eventTime"`
	Run       OLRun       `json:"run"`
	Job       OLJob       `json:"job"`
	Inputs    []OLDataset `json:"inputs"`
	Outputs   []OLDataset `json:"outputs"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
}

// olUUID derives a stable RFC 4122 version-5-shaped UUID from a name (SHA-256 truncated, so
// not a standard v5 value, but deterministic): re-exporting the same log gives the same run ids,
// which OpenLineage consumers use to merge events.
func olUUID(name string) string {
	h := sha256.Sum256([]byte("assay:" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func olTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

// OpenLineage maps the graph to OpenLineage RunEvents in namespace ns, ordered by event time:
//
//   - every dataset version is the output of a run of job "dataset_commit/<dataset>" whose
//     input is the parent version (facet "assay" carries the member count and Merkle root,
//     and, once the gate judged the version or an owner overrode it, "gate": the verdict in
//     force as the graph knows it, its failing checks and the number of overrides);
//   - every training run is a run of job "training/<model>" with its dataset versions as inputs;
//   - every shipped remediation is a run of job "remediation/<finding>" with the versions the
//     finding implicates as inputs and the fixing version as output.
//
// Items and labels stay out: OpenLineage's unit is the dataset, and the per-member chain is
// what the audit report is for.
func (g *Graph) OpenLineage(ns string) []OLRunEvent {
	ds := func(ref VersionRef) OLDataset {
		return OLDataset{Namespace: ns, Name: ref.DatasetID + "@" + ref.Version}
	}
	var out []OLRunEvent
	ev := func(at int64, runName, job string, in, outs []OLDataset, facets map[string]any) {
		if in == nil {
			in = []OLDataset{}
		}
		if outs == nil {
			outs = []OLDataset{}
		}
		out = append(out, OLRunEvent{EventType: "COMPLETE", EventTime: olTime(at), Run: OLRun{RunID: olUUID(runName), Facets: facets},
			Job: OLJob{Namespace: ns, Name: job}, Inputs: in, Outputs: outs, Producer: OpenLineageProducer, SchemaURL: OpenLineageSchemaURL})
	}
	for ref, v := range g.Versions {
		var in []OLDataset
		if v.Parent != "" {
			in = append(in, ds(VersionRef{DatasetID: ref.DatasetID, Version: v.Parent}))
		}
		o := ds(ref)
		a, _ := g.Audit(ref)
		facet := map[string]any{
			"_producer": OpenLineageProducer, "_schemaURL": DatasetVersionFacetSchemaURL,
			"members": len(v.Members), "merkleRoot": a.MerkleRoot, "manifestDigest": v.ManifestDigest,
			"complete": a.Complete, "cohorts": a.Cohorts,
		}
		if gate := gateFacet(a.Gate); gate != nil {
			facet["gate"] = gate
		}
		o.Facets = map[string]any{"assay": facet}
		ev(v.OccurredAt, "commit:"+ref.DatasetID+"@"+ref.Version, "dataset_commit/"+ref.DatasetID, in, []OLDataset{o}, nil)
	}
	for id, r := range g.Runs {
		var in []OLDataset
		for _, ref := range r.Versions {
			in = append(in, ds(ref))
		}
		ev(r.OccurredAt, "training:"+id, "training/"+r.Model, in, nil, nil)
	}
	for id, f := range g.Findings {
		if f.ShippedAt == 0 || f.EventID == "" {
			continue
		}
		im, err := g.Impact(id, f.ShippedAt)
		if err != nil {
			continue
		}
		var in []OLDataset
		for _, name := range im.Versions {
			in = append(in, OLDataset{Namespace: ns, Name: name})
		}
		ev(f.ShippedAt, "remediation:"+id, "remediation/"+id, in, []OLDataset{ds(f.Fix)}, map[string]any{"assay": map[string]any{
			"_producer": OpenLineageProducer, "_schemaURL": RemediationFacetSchemaURL,
			"findingId": id, "severity": string(f.Severity), "trainingRunId": f.TrainingRunID, "remediationMs": im.RemediationMS,
		}})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].EventTime != out[j].EventTime {
			return out[i].EventTime < out[j].EventTime
		}
		return out[i].Job.Name < out[j].Job.Name
	})
	return out
}

// gateFacet is the "gate" part of a dataset version's facet: the verdict in force, the checks
// it did not pass (target, or target[scope]) and how many overrides owners granted; nil when
// the gate never judged the version and no one overrode it.
func gateFacet(g Gate) map[string]any {
	if len(g.Verdicts) == 0 && len(g.Overrides) == 0 {
		return nil
	}
	out := map[string]any{"verdict": g.Status(), "sequence": int64(0), "overrides": len(g.Overrides)}
	if v, ok := g.Latest(); ok {
		failing := []string{}
		for _, c := range v.Failing() {
			name := c.Target
			if c.Scope != "" {
				name += "[" + c.Scope + "]"
			}
			failing = append(failing, name)
		}
		out["sequence"], out["reason"], out["failingChecks"] = v.Sequence, v.Reason, failing
	}
	return out
}
