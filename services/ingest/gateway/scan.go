package gateway

import (
	"bytes"
	"hash/maphash"
)

// eventTypeKey is the member firstEventType looks for.
var eventTypeKey = []byte("event_type")

// hashSeed seeds the content hashes (contentHash). The hashes are compared only within the
// process (the recent-ids window lives in memory), so a random seed does: it also keeps
// anyone from making two different events collide on purpose.
var hashSeed = maphash.MakeSeed()

// firstEventType finds the value of the first member of an event's top-level object (raw,
// trimmed, starting with '{') named exactly "event_type", without escapes, when that value
// is a string of printable ASCII without escapes (as every event type's name is): the type
// to decode the event as. It reads no further than that member, skipping the values before
// it (strings with bytes.IndexByte, nested objects and arrays by their brackets), and does
// not check the syntax. It is only a guess: the fast decoder that follows accepts an event
// only if every member name is exactly one of its type's fields, given once, so that this
// member is the event_type encoding/json reads; anything else is decoded the reference way.
func firstEventType(raw []byte) ([]byte, bool) {
	depth := 0
	key := false   // at depth 1, the next string is a member name
	value := false // at depth 1, the next token is the value of event_type
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case '"':
			end := stringEnd(raw, i)
			if end < 0 {
				return nil, false
			}
			s := raw[i+1 : end-1]
			switch {
			case value:
				if plain(s) {
					return s, true
				}
				return nil, false
			case depth == 1 && key:
				key = false
				value = bytes.Equal(s, eventTypeKey)
			}
			i = end
		case '{', '[':
			if value {
				return nil, false
			}
			depth++
			key = depth == 1 && c == '{'
			i++
		case '}', ']':
			if depth--; depth <= 0 {
				return nil, false
			}
			i++
		case ',':
			key = depth == 1
			i++
		case ' ', '\t', '\r', '\n', ':':
			i++
		default:
			// A number or a literal (true, false, null).
			if value {
				return nil, false
			}
			i++
		}
	}
	return nil, false
}

// contentHash identifies an event's content for the recent-ids window: the hash of its JSON
// as sent without the insignificant whitespace (what json.Compact makes of it), so the same
// event re-sent (differently indented) matches and a changed one does not. The runs between
// whitespace are written to the hash as they are found, so nothing is copied. It is
// meaningful for valid JSON only (the only events that reach the window); the fast decoder
// computes the same hash as it reads an event.
func contentHash(raw []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	run := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '"':
			// Whitespace within a string is the string's.
			if i = stringEnd(raw, i); i < 0 {
				i = len(raw)
			}
		case ' ', '\t', '\r', '\n':
			h.Write(raw[run:i])
			for i++; i < len(raw) && isSpace(raw[i]); i++ {
			}
			run = i
		default:
			i++
		}
	}
	h.Write(raw[run:])
	return h.Sum64()
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
