package gateway

import (
	"bytes"
)

// scanned is what scanEvent finds in one event's JSON.
type scanned struct {
	// typ is the value of the object's event_type member, without its quotes, when sure.
	typ []byte
	// sure says that typ is what encoding/json would read as event_type: the object has
	// exactly one top-level member whose name matches event_type as encoding/json matches
	// names (case-insensitively, after unescaping), that name is spelled exactly
	// "event_type" without escapes, and its value is a string of printable ASCII without
	// escapes (every event type's name is). Anything
	// else (no such member, two of them, another spelling, a value that is not a plain
	// string, JSON the scanner cannot follow) is left to the full decode (decodeSlow),
	// which answers it exactly.
	sure bool
}

// eventTypeKey is the member scanEvent looks for.
var eventTypeKey = []byte("event_type")

// scanEvent finds the event_type of an event's JSON (raw, trimmed, starting with '{') in one
// pass that follows only the top-level object's members: strings are skipped with
// bytes.IndexByte and nested objects and arrays by their brackets. It does not check the
// syntax: the typed decode after it does, and any event it does not decode is decoded
// again the slow way, so the scanner only has to be right about valid JSON
// (FuzzScanEvent holds it to encoding/json's answer).
func scanEvent(raw []byte) scanned {
	var (
		res     scanned
		depth   int
		key     bool // at depth 1, the next string is a member name
		value   bool // at depth 1, the next token is a member's value
		matched bool // the member whose value comes next is event_type
		matches int
	)
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case '"':
			end := stringEnd(raw, i)
			if end < 0 {
				return scanned{}
			}
			s := raw[i+1 : end-1]
			switch {
			case depth == 1 && key:
				key, matched = false, false
				switch {
				case bytes.IndexByte(s, '\\') >= 0:
					// An escaped name might unescape to event_type: too rare to follow here.
					return scanned{}
				case len(s) == len(eventTypeKey) && bytes.EqualFold(s, eventTypeKey):
					matches++
					matched = true
					if !bytes.Equal(s, eventTypeKey) {
						return scanned{} // another spelling: the full decode settles it
					}
				}
			case depth == 1 && value:
				value = false
				if matched {
					if !plain(s) {
						return scanned{} // escapes, or bytes encoding/json would replace
					}
					res.typ = s
				}
			}
			i = end
		case '{', '[':
			if depth == 1 && value {
				value = false
				if matched {
					return scanned{} // event_type is not a string
				}
			}
			depth++
			key = depth == 1 && c == '{'
			i++
		case '}', ']':
			depth--
			if depth == 0 {
				res.sure = matches == 1 && res.typ != nil && len(bytes.TrimSpace(raw[i+1:])) == 0
				return res
			}
			i++
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
			i++
		default:
			// A number or a literal (true, false, null).
			if depth == 1 && value {
				value = false
				if matched {
					return scanned{} // event_type is not a string
				}
			}
			i++
		}
	}
	return scanned{}
}

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
