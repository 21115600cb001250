// Package gate owns the quality gate: the decision, for every committed dataset version,
// whether it is certified for training against the quality targets (QualityTargetsSet) its
// project had in force when the version was committed.
//
// The package owns the types a version is judged on (VersionRef, Figures, measured by
// streams/gate/figures), the pure rules that turn targets and figures into a verdict
// (Evaluate), and the gate's state over the datasets and projects topics (State: which
// targets are in force, which versions await a verdict, which verdict to emit and when it
// supersedes an earlier one, and the clearance a training run needs). The core does no I/O.
package gate
