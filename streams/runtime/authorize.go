package runtime

import (
	"errors"
	"fmt"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
)

// Authorizer decides whether the producer of an event read from the log may
// have written it (see schemas/access): the processors' half of the write
// rules, for events that reached Kafka without the gateway. A refusal is an
// error wrapping an *access.Violation. *access.Registry implements it;
// Principals adapts the *access.Store an access.Loader reloads.
type Authorizer interface {
	// Check decides on ev with the facts the caller knows (access.Facts);
	// facts left empty are not checked.
	Check(ev schemas.Event, f access.Facts) error
}

// snapshotter is an Authorizer over a registry that may be swapped: the
// engine judges each record by one snapshot, so its check before Apply and
// the checks Apply completes (Record.Authorize) agree.
type snapshotter interface {
	snapshot() Authorizer
}

// Principals returns an Authorizer that judges by the registry in force in s.
// Each record is judged by the registry in force when its check starts, its
// deferred checks (Record.Authorize) included, even if s is swapped
// meanwhile.
func Principals(s *access.Store) Authorizer { return storeAuthorizer{s} }

type storeAuthorizer struct{ s *access.Store }

func (a storeAuthorizer) Check(ev schemas.Event, f access.Facts) error {
	return a.s.Load().Check(ev, f)
}

func (a storeAuthorizer) snapshot() Authorizer { return a.s.Load() }

// WithAuthorizer makes the runner (or Replay) check every decoded record's
// event with a before Apply (with empty access.Facts: the rules that need
// no state), and hands Apply the means to complete the check with the facts
// its state knows (Record.Authorize, Record.Authorized). A refused record is
// poison with cause "forbidden": it goes to the DLQ with the rule and the
// reason, is counted in assay_processor_dlq_records_total{cause="forbidden"},
// and changes no state and writes no row. Nil (the default): no authorizer;
// the rules that need no registry (Record.Authorized) still apply.
func WithAuthorizer(a Authorizer) Option { return func(o *options) { o.auth = a } }

// authorize checks rec's event without facts and, when it passes, gives rec
// its Authorize hook. It returns the refusal, if any.
func (e *engine) authorize(rec *Record) error {
	a := e.o.auth
	if a == nil {
		return nil
	}
	if s, ok := a.(snapshotter); ok {
		a = s.snapshot()
	}
	ev := rec.Event
	if err := a.Check(ev, access.Facts{}); err != nil {
		return err
	}
	rec.Authorize = func(f access.Facts) error { return a.Check(ev, f) }
	return nil
}

// Authorized completes the authorization of the record's event with the
// facts the processor's state knows, and is what Apply calls (it returns the
// error, leaving its state unchanged, and the runner sends the record to the
// DLQ with cause "forbidden"):
//
//   - a LabelRetracted whose f.LabelProducer (the producer of the label it
//     retracts) is not the retraction's own producer is refused
//     [labeler.own_labels], with or without an authorizer: the rule needs no
//     registry, only the state that remembers who submitted the label;
//   - then, when the runner has an authorizer (Record.Authorize is set), the
//     event is judged again with f, which checks the rules the runner could
//     not check before Apply (access.Deferred): the project of an event that
//     names none (f.Project) and the label's producer.
//
// Facts left empty are not checked. A refusal wraps an *access.Violation.
func (r Record) Authorized(f access.Facts) error {
	if rt, ok := r.Event.(*schemas.LabelRetracted); ok && f.LabelProducer != "" && f.LabelProducer != rt.Producer {
		return &access.Violation{
			Rule:  access.RuleOwnLabels,
			Field: "label_id",
			Reason: fmt.Sprintf("%s may retract only its own labels; label %s was submitted by another producer",
				rt.Producer, rt.LabelID),
		}
	}
	if r.Authorize == nil {
		return nil
	}
	return r.Authorize(f)
}

// forbidden reports whether err is a refusal by the write rules.
func forbidden(err error) (*access.Violation, bool) {
	var v *access.Violation
	ok := errors.As(err, &v)
	return v, ok
}
