package auditor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/lineage"
)

var timeZero time.Time

// Drift is one disagreement between the replayed log and ClickHouse: the ledger tables
// (CompareLedger) or the lineage processor's chain read model (CompareLineage).
type Drift struct {
	Table   string `json:"table"`
	Key     string `json:"key"`
	Problem string `json:"problem"`
}

// CompareLedger checks that the ledger tables agree with the log about one version: its
// dataset_versions row (manifest digest, member count), its dataset_members rows (none missing,
// none extra), for every member the items row (same content hash) and labels row (same
// annotator) the replay found, and, unless g is bounded by an as-of instant, the gate's
// verdicts and the owners' overrides (compareLedgerGate). Rows are deduplicated by GROUP BY rather than FINAL, which is
// the same answer on 18.16 and current releases without relying on merge state. A version is
// immutable, so ClickHouse rows written after an --as-of instant still have to agree.
func CompareLedger(ctx context.Context, conn driver.Conn, g *lineage.Graph, ref lineage.VersionRef) ([]Drift, error) {
	v, ok := g.Versions[ref]
	if !ok {
		return nil, lineage.ErrVersionNotFound{Ref: ref, AsOf: g.AsOf}
	}
	var out []Drift
	add := func(table, key, format string, args ...any) {
		out = append(out, Drift{Table: table, Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	vkey := ref.DatasetID + "@" + ref.Version

	rows, err := conn.Query(ctx, "SELECT manifest_digest, member_count FROM dataset_versions WHERE dataset_id = ? AND version = ? GROUP BY manifest_digest, member_count", ref.DatasetID, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("query dataset_versions of %s: %w", vkey, err)
	}
	n := 0
	for rows.Next() {
		var digest string
		var count uint64
		if err := rows.Scan(&digest, &count); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan dataset_versions of %s: %w", vkey, err)
		}
		n++
		if digest != v.ManifestDigest {
			add("dataset_versions", vkey, "manifest_digest %s, log says %s", digest, v.ManifestDigest)
		}
		if int(count) != len(v.Members) {
			add("dataset_versions", vkey, "member_count %d, log says %d", count, len(v.Members))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dataset_versions of %s: %w", vkey, err)
	}
	if n == 0 {
		add("dataset_versions", vkey, "row missing")
	}

	logMembers := map[[2]string]bool{}
	itemIDs, labelIDs := []string{}, []string{}
	for _, m := range v.Members {
		logMembers[[2]string{m.ItemID, m.LabelID}] = true
		itemIDs = append(itemIDs, m.ItemID)
		labelIDs = append(labelIDs, m.LabelID)
	}
	chMembers, err := pairs(ctx, conn, "SELECT item_id, label_id FROM dataset_members WHERE dataset_id = ? AND version = ? GROUP BY item_id, label_id", ref.DatasetID, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("query dataset_members of %s: %w", vkey, err)
	}
	for m := range logMembers {
		if !chMembers[m] {
			add("dataset_members", vkey+" "+m[0]+"/"+m[1], "row missing")
		}
	}
	for m := range chMembers {
		if !logMembers[m] {
			add("dataset_members", vkey+" "+m[0]+"/"+m[1], "row not in the log")
		}
	}

	chItems, err := pairs(ctx, conn, "SELECT item_id, sha256 FROM items WHERE has(?, item_id) GROUP BY item_id, sha256", itemIDs)
	if err != nil {
		return nil, fmt.Errorf("query items of %s: %w", vkey, err)
	}
	chLabels, err := pairs(ctx, conn, "SELECT label_id, annotator_id FROM labels WHERE has(?, label_id) GROUP BY label_id, annotator_id", labelIDs)
	if err != nil {
		return nil, fmt.Errorf("query labels of %s: %w", vkey, err)
	}
	for _, m := range v.Members {
		if it, ok := g.Items[m.ItemID]; ok && !chItems[[2]string{it.ItemID, it.SHA256}] {
			add("items", m.ItemID, "no row with sha256 %s", it.SHA256)
		}
		if l, ok := g.Labels[m.LabelID]; ok && !chLabels[[2]string{l.LabelID, l.AnnotatorID}] {
			add("labels", m.LabelID, "no row with annotator %s", l.AnnotatorID)
		}
	}
	if g.AsOf == 0 { // verdicts and overrides keep coming after a version's commit
		gate, err := compareLedgerGate(ctx, conn, g.Gate(ref), ref)
		if err != nil {
			return nil, err
		}
		out = append(out, gate...)
	}
	sortDrift(out)
	return out, nil
}

// The ledger queries of compareLedgerGate (parameters: dataset, version), exported for the
// test that runs them on a current ClickHouse.
const (
	LedgerVerdictsQuery = `SELECT event_id, sequence, certified, producer FROM dataset_verdicts
WHERE dataset_id = ? AND version = ? GROUP BY event_id, sequence, certified, producer`
	LedgerOverridesQuery = `SELECT event_id, producer FROM gate_overrides
WHERE dataset_id = ? AND version = ? GROUP BY event_id, producer`
)

// compareLedgerGate checks that the ledger's dataset_verdicts and gate_overrides hold the
// version's verdicts (event id, sequence, outcome, producer the gate) and overrides (event id,
// granter) that the log holds, none missing and none extra. A verdict another producer wrote
// is extra: the ledger keeps one when it runs without principals, and the views over it
// (dataset_version_gate, kpi_training_runs_uncertified) would count it.
func compareLedgerGate(ctx context.Context, conn driver.Conn, gate lineage.Gate, ref lineage.VersionRef) ([]Drift, error) {
	vkey := ref.DatasetID + "@" + ref.Version
	var out []Drift
	rows, err := conn.Query(ctx, LedgerVerdictsQuery, ref.DatasetID, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("query dataset_verdicts of %s: %w", vkey, err)
	}
	type verdictKey struct {
		event     string
		sequence  int64
		certified bool
		producer  string
	}
	chVerdicts := map[verdictKey]bool{}
	for rows.Next() {
		var k verdictKey
		var certified uint8
		if err := rows.Scan(&k.event, &k.sequence, &certified, &k.producer); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan dataset_verdicts of %s: %w", vkey, err)
		}
		k.certified = certified == 1
		chVerdicts[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dataset_verdicts of %s: %w", vkey, err)
	}
	for _, v := range gate.Verdicts {
		k := verdictKey{v.EventID, v.Sequence, v.Certified, lineage.GateProducer}
		if !chVerdicts[k] {
			out = append(out, Drift{Table: "dataset_verdicts", Key: vkey + " " + v.EventID, Problem: fmt.Sprintf("no row of verdict %d %s", v.Sequence, v.Outcome())})
		}
		delete(chVerdicts, k)
	}
	for k := range chVerdicts {
		problem := "row not in the log"
		if k.producer != lineage.GateProducer {
			problem = fmt.Sprintf("row not in the log: verdict %d by %q, not the gate", k.sequence, k.producer)
		}
		out = append(out, Drift{Table: "dataset_verdicts", Key: vkey + " " + k.event, Problem: problem})
	}
	chOverrides, err := pairs(ctx, conn, LedgerOverridesQuery, ref.DatasetID, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("query gate_overrides of %s: %w", vkey, err)
	}
	for _, o := range gate.Overrides {
		k := [2]string{o.EventID, o.Producer}
		if !chOverrides[k] {
			out = append(out, Drift{Table: "gate_overrides", Key: vkey + " " + o.EventID, Problem: "no row of the override by " + o.Producer})
		}
		delete(chOverrides, k)
	}
	for k := range chOverrides {
		out = append(out, Drift{Table: "gate_overrides", Key: vkey + " " + k[0], Problem: "row not in the log"})
	}
	return out, nil
}

// sortDrift orders drift by table, then key.
func sortDrift(out []Drift) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Key < out[j].Key
	})
}

// pairs runs a query returning two String columns and collects the distinct pairs.
func pairs(ctx context.Context, conn driver.Conn, q string, args ...any) (map[[2]string]bool, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[2]string]bool{}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out[[2]string{a, b}] = true
	}
	return out, rows.Err()
}

// CompareLineage checks that the lineage processor's chain read model, which the API and the
// dashboard read (lineage.ReadVersion), says what the replayed log says about one version: its
// commit (parent, time, manifest digest) and its members always; each member's chain, the
// training runs that used the version, the findings it fixes and the gate's word on it (every
// verdict with its checks, every override, each run's clearance at its registration) only when
// g is not bounded by an as-of instant, because events after the instant have changed those in
// ClickHouse since.
// Gold checks are the audit's own and are not compared.
func CompareLineage(ctx context.Context, conn driver.Conn, g *lineage.Graph, ref lineage.VersionRef) ([]Drift, error) {
	a, err := g.Audit(ref)
	if err != nil {
		return nil, err
	}
	want := a.VersionLineage
	vkey := ref.DatasetID + "@" + ref.Version
	got, err := lineage.ReadVersion(ctx, conn, ref)
	var nf lineage.ErrVersionNotFound
	if errors.As(err, &nf) {
		return []Drift{{Table: lineage.TableVersions, Key: vkey, Problem: "row missing"}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lineage of %s: %w", vkey, err)
	}
	var out []Drift
	add := func(table, key, format string, args ...any) {
		out = append(out, Drift{Table: table, Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	if got.Parent != want.Parent || got.CommittedAt != want.CommittedAt || got.ManifestDigest != want.ManifestDigest {
		add(lineage.TableVersions, vkey, "commit (parent %q, at %d ms, digest %s), log says (parent %q, at %d ms, digest %s)",
			got.Parent, got.CommittedAt, got.ManifestDigest, want.Parent, want.CommittedAt, want.ManifestDigest)
	}
	chains := map[[2]string]lineage.MemberChain{}
	for _, c := range got.Members {
		chains[[2]string{c.ItemID, c.LabelID}] = c
	}
	for _, w := range want.Members {
		key := [2]string{w.ItemID, w.LabelID}
		c, ok := chains[key]
		delete(chains, key)
		mkey := vkey + " " + w.ItemID + "/" + w.LabelID
		switch {
		case !ok:
			add(lineage.TableMembers, mkey, "row missing")
		case g.AsOf == 0:
			w.Gold = nil
			if p := chainDiff(c, w); p != "" {
				add("lineage chain", mkey, "%s", p)
			}
		}
	}
	for key := range chains {
		add(lineage.TableMembers, vkey+" "+key[0]+"/"+key[1], "row not in the log")
	}
	if g.AsOf == 0 {
		if !slices.Equal(got.TrainingRuns, want.TrainingRuns) {
			add(lineage.TableEdges, vkey, "training runs %v, log says %v", got.TrainingRuns, want.TrainingRuns)
		}
		if !slices.Equal(got.Fixes, want.Fixes) {
			add(lineage.TableEdges, vkey, "fixes findings %v, log says %v", got.Fixes, want.Fixes)
		}
		out = append(out, gateDrift(vkey, got.Gate, want.Gate)...)
	}
	sortDrift(out)
	return out, nil
}

// gateDrift says how ClickHouse's gate (got) differs from the log's (want): each verdict and
// override by event id, and what each training run found at its registration.
func gateDrift(vkey string, got, want lineage.Gate) []Drift {
	var out []Drift
	add := func(table, key, format string, args ...any) {
		out = append(out, Drift{Table: table, Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	verdicts := map[string]lineage.Verdict{}
	for _, v := range got.Verdicts {
		verdicts[v.EventID] = v
	}
	for _, w := range want.Verdicts {
		key := vkey + " " + w.EventID
		c, ok := verdicts[w.EventID]
		delete(verdicts, w.EventID)
		switch {
		case !ok:
			add(lineage.TableVerdicts, key, "row missing")
		case !reflect.DeepEqual(c, w):
			add(lineage.TableVerdicts, key, "%s", verdictDiff(c, w))
		}
	}
	for id := range verdicts {
		add(lineage.TableVerdicts, vkey+" "+id, "row not in the log")
	}
	overrides := map[string]lineage.Override{}
	for _, o := range got.Overrides {
		overrides[o.EventID] = o
	}
	for _, w := range want.Overrides {
		key := vkey + " " + w.EventID
		c, ok := overrides[w.EventID]
		delete(overrides, w.EventID)
		switch {
		case !ok:
			add(lineage.TableOverrides, key, "row missing")
		case c != w:
			add(lineage.TableOverrides, key, "override by %s (%q), log says by %s (%q)", c.Producer, c.Reason, w.Producer, w.Reason)
		}
	}
	for id := range overrides {
		add(lineage.TableOverrides, vkey+" "+id, "row not in the log")
	}
	if !slices.Equal(got.Runs, want.Runs) {
		add("lineage gate", vkey, "training runs at registration %+v, log says %+v", got.Runs, want.Runs)
	}
	return out
}

// chainDiff says how ClickHouse's chain c differs from the log's w, or "" when it does not.
func chainDiff(c, w lineage.MemberChain) string {
	if !slices.Equal(c.Missing, w.Missing) {
		return fmt.Sprintf("missing %q, log says %q", c.Missing, w.Missing)
	}
	for _, f := range []struct{ name, got, want string }{
		{"source", c.Source, w.Source}, {"sha256", c.SHA256, w.SHA256}, {"annotator", c.AnnotatorID, w.AnnotatorID},
		{"cohort", c.Cohort, w.Cohort}, {"vendor", c.Vendor, w.Vendor}, {"guideline", c.GuidelineVersion, w.GuidelineVersion},
		{"pre-label", c.PreLabelModel, w.PreLabelModel}, {"review", c.ReviewID, w.ReviewID}, {"reviewer", c.ReviewerID, w.ReviewerID},
		{"verdict", c.Verdict, w.Verdict},
	} {
		if f.got != f.want {
			return fmt.Sprintf("%s %q, log says %q", f.name, f.got, f.want)
		}
	}
	return ""
}

// verdictDiff says how ClickHouse's verdict c differs from the log's w (they differ).
func verdictDiff(c, w lineage.Verdict) string {
	if len(c.Checks) == len(w.Checks) {
		for i := range c.Checks {
			if !reflect.DeepEqual(c.Checks[i], w.Checks[i]) {
				return fmt.Sprintf("check %d: %s, log says %s", i+1, CheckLine(c.Checks[i]), CheckLine(w.Checks[i]))
			}
		}
	}
	return fmt.Sprintf("verdict %d %s at %d ms (%q, targets %v, supersedes %q, %d checks), log says %d %s at %d ms (%q, targets %v, supersedes %q, %d checks)",
		c.Sequence, c.Outcome(), c.OccurredAt, c.Reason, c.TargetsVersions, c.Supersedes, len(c.Checks),
		w.Sequence, w.Outcome(), w.OccurredAt, w.Reason, w.TargetsVersions, w.Supersedes, len(w.Checks))
}
