package gateway

import (
	"bytes"
	"hash/maphash"
)

// scanned is what scanEvent finds in one event's JSON.
type scanned struct {
	// typ is the value of the object's event_type member, without its quotes, when sure.
	typ []byte
	// sure says that typ is what encoding/json would read as event_type: the object has
	// exactly one top-level member whose name matches event_type as encoding/json matches
	// names (case-insensitively, after unescaping), that name is spelled exactly
	// "event_type" without escapes, and its value is a string of printable ASCII without
	// escapes (every event type's name is). Anything else (no such member, two of them,
	// another spelling, a value that is not a plain string, JSON the scanner cannot
	// follow) is left to the full decode (decodeSlow), which answers it exactly.
	sure bool
	// hash identifies the event's content for the recent-ids window: the hash of its JSON
	// as sent without the insignificant whitespace (what json.Compact makes of it), so the
	// same event re-sent (differently indented) matches and a changed one does not. It is
	// meaningful for valid JSON only (the only events that reach the window).
	hash uint64
}

// eventTypeKey is the member scanEvent looks for.
var eventTypeKey = []byte("event_type")

// hashSeed seeds the content hashes. The hashes are compared only within the process (the
// recent-ids window lives in memory), so a random seed does: it also keeps anyone from
// making two different events collide on purpose.
var hashSeed = maphash.MakeSeed()

// scanEvent reads an event's JSON (raw, trimmed, starting with '{') once, following only
// the top-level object's members (strings are skipped with bytes.IndexByte, nested objects
// and arrays by their brackets), to find its event_type and to hash its content. It does
// not check the syntax: the typed decode after it does, and any event it does not decode is
// decoded again the slow way, so the scanner only has to be right about valid JSON
// (FuzzScanEvent holds it to encoding/json's answers).
//
// The content hash (scanned.hash) is written to the hash run by run between the whitespace
// it leaves out, so nothing is copied.
func scanEvent(raw []byte) scanned {
	var (
		res     scanned
		h       maphash.Hash
		depth   int
		key     bool // at depth 1, the next string is a member name
		value   bool // at depth 1, the next token is a member's value
		matched bool // the member whose value comes next is event_type
		matches int
		unsure  bool
		run     int // start of the run of bytes not yet hashed
		i       int
	)
	h.SetSeed(hashSeed)
	// A value other than a plain string where event_type's value is expected.
	notString := func() {
		if depth == 1 && value {
			value = false
			unsure = unsure || matched
		}
	}
scan:
	for i < len(raw) {
		switch c := raw[i]; c {
		case '"':
			end := stringEnd(raw, i)
			if end < 0 {
				unsure = true
				i = len(raw)
				break scan
			}
			s := raw[i+1 : end-1]
			switch {
			case depth == 1 && key:
				key, matched = false, false
				switch {
				case bytes.IndexByte(s, '\\') >= 0:
					// An escaped name might unescape to event_type: too rare to follow here.
					unsure = true
				case len(s) == len(eventTypeKey) && bytes.EqualFold(s, eventTypeKey):
					matches++
					matched = true
					// Another spelling encoding/json matches: the full decode settles it.
					unsure = unsure || !bytes.Equal(s, eventTypeKey)
				}
			case depth == 1 && value:
				value = false
				if matched {
					if plain(s) {
						res.typ = s
					} else {
						unsure = true // escapes, or bytes encoding/json would replace
					}
				}
			}
			i = end
		case '{', '[':
			notString()
			depth++
			key = depth == 1 && c == '{'
			i++
		case '}', ']':
			depth--
			i++
			if depth == 0 {
				// The object's end: what follows is trailing data, for the decoder to refuse.
				unsure = unsure || len(bytes.TrimSpace(raw[i:])) != 0
				break scan
			}
		case ':':
			if depth == 1 {
				value = true
			}
			i++
		case ',':
			if depth == 1 {
				key = true
			}
			i++
		case ' ', '\t', '\r', '\n':
			// Insignificant whitespace (within a string it would be the string's, and
			// strings are skipped whole): the run before it is hashed, it is not.
			h.Write(raw[run:i])
			for i++; i < len(raw) && isSpace(raw[i]); i++ {
			}
			run = i
		default:
			// A number or a literal (true, false, null).
			notString()
			i++
		}
	}
	h.Write(raw[run:i])
	res.hash = h.Sum64()
	res.sure = !unsure && depth == 0 && matches == 1 && res.typ != nil
	if !res.sure {
		res.typ = nil
	}
	return res
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// stringEnd returns the offset just past the string that starts at raw[i] (a quote), or -1
// when the string does not end.
func stringEnd(raw []byte, i int) int {
	for j := i + 1; ; {
		q := bytes.IndexByte(raw[j:], '"')
		if q < 0 {
			return -1
		}
		q += j
		// The quote ends the string unless an odd number of backslashes precedes it.
		n := 0
		for k := q - 1; k > i && raw[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// plain reports whether s is printable ASCII without backslashes: a string encoding/json
// reads as it is.
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
