package access

import "github.com/assay-data/assay/schemas"

// writersMemory is how many labels a Writers remembers the submitter of (in two generations,
// so between this many and twice as many).
const writersMemory = 100_000

// Writers picks, for a client holding the tokens of several principals (the demo, load
// tests), which principal sends each event of a stream: the first by id that Authorize
// allows, and for a LabelRetracted the principal it picked for the label's LabelSubmitted,
// since a labeler may retract only its own labels. Services never need it: they know their
// caller. Not safe for concurrent use.
type Writers struct {
	reg       *Registry
	cur, prev map[string]*Principal // label id -> the principal that submitted it
}

// NewWriters returns a picker over the principals of r.
func NewWriters(r *Registry) *Writers {
	return &Writers{reg: r, cur: map[string]*Principal{}}
}

// Pick returns the principal that writes ev, in stream order (a label's submission must be
// picked before its retraction). When none may, the error is the *Violation of the internal
// or event-type rule, or of the last principal of the right role that was tried.
func (w *Writers) Pick(ev schemas.Event) (*Principal, error) {
	if r, ok := ev.(*schemas.LabelRetracted); ok {
		if p := w.submitter(r.LabelID); p != nil {
			return p, AuthorizeWith(p, ev, Facts{LabelProducer: p.ID})
		}
	}
	if Internal(ev.Type()) {
		return nil, violation(RuleInternal, "%s is written by Assay's own components, never a principal", ev.Type())
	}
	var last error = violation(RuleEventType, "no principal with a token may write %s", ev.Type())
	want, _ := WriterOf(ev.Type())
	for _, p := range w.reg.Principals() {
		if p.Role != want || w.reg.TokensOf(p.ID) == 0 {
			continue
		}
		if err := Authorize(p, ev); err != nil {
			last = err
			continue
		}
		if l, ok := ev.(*schemas.LabelSubmitted); ok {
			w.remember(l.LabelID, p)
		}
		return p, nil
	}
	return nil, last
}

func (w *Writers) submitter(label string) *Principal {
	if p, ok := w.cur[label]; ok {
		return p
	}
	return w.prev[label]
}

func (w *Writers) remember(label string, p *Principal) {
	if len(w.cur) >= writersMemory {
		w.prev, w.cur = w.cur, map[string]*Principal{}
	}
	w.cur[label] = p
}
