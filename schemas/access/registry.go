package access

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/assay-data/assay/schemas"
)

// Registry is a parsed principals file: the principals by id and by the SHA-256 of each of
// their tokens. It is immutable; a reload parses a new one and swaps it into a Store.
type Registry struct {
	byHash map[[sha256.Size]byte]*Principal
	byID   map[string]*Principal
	tokens map[string]int // token hashes per principal id
	ids    []string       // sorted
}

// Errors of Authenticate. The gateway and the API answer both with 401.
var (
	// ErrNoCredentials: no token (no Authorization header, or not a Bearer one).
	ErrNoCredentials = errors.New("missing bearer token (Authorization: Bearer <token>)")
	// ErrUnknownToken: a token whose hash no principal has (never configured, or revoked).
	ErrUnknownToken = errors.New("unknown bearer token")
)

// NoToken is the hash field of a principal kept without a token: it cannot authenticate, but
// it is still known, so the processors replaying the log still attribute its past events
// (see the package documentation: revoke by replacing a hash with "-").
const NoToken = "-"

// ParseError is a principals-file line that does not parse or configure a valid principal.
type ParseError struct {
	// Origin names the file (or "principals" for text without one).
	Origin string
	// Line is the 1-based line number.
	Line int
	// Principal is the line's principal id, when it could be read.
	Principal string
	// Reason says what is wrong. It never quotes the hash field: a token pasted by mistake
	// instead of its hash must not end up in an error, and so in logs.
	Reason string
}

func (e *ParseError) Error() string {
	if e.Principal != "" {
		return fmt.Sprintf("%s line %d (principal %s): %s", e.Origin, e.Line, e.Principal, e.Reason)
	}
	return fmt.Sprintf("%s line %d: %s", e.Origin, e.Line, e.Reason)
}

// Parse reads a principals file (see the package documentation for the format). origin names
// it in errors ("" reads as "principals"). An empty text is an empty registry: Parse does not
// require any principal (Loader does).
func Parse(origin, text string) (*Registry, error) {
	if origin == "" {
		origin = "principals"
	}
	r := &Registry{byHash: map[[sha256.Size]byte]*Principal{}, byID: map[string]*Principal{}, tokens: map[string]int{}}
	firstLine := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		fail := func(id, format string, args ...any) error {
			return &ParseError{Origin: origin, Line: line, Principal: id, Reason: fmt.Sprintf(format, args...)}
		}
		f := strings.Fields(s)
		if len(f) < 3 {
			return nil, fail("", "want '<principal_id> <sha256hex|-> role=<role> projects=<p1,p2|*> [vendor=] [cohorts=] [models=] [annotators=]', got %d fields", len(f))
		}
		p, err := parseAttributes(f[0], f[2:])
		if err != nil {
			id := ""
			if idRe.MatchString(f[0]) {
				id = f[0]
			}
			return nil, fail(id, "%v", err)
		}
		hash := strings.ToLower(f[1])
		if hash != NoToken && !schemas.IsSHA256Hex(hash) {
			return nil, fail(p.ID, "the second field must be the token's SHA-256 in hex (64 characters; `assay token create` prints it) or - for none, never the token itself")
		}
		if prev, ok := r.byID[p.ID]; ok {
			if prev.Attributes() != p.Attributes() {
				return nil, fail(p.ID, "declared with another role or scope on line %d (%s); every line of a principal must agree", firstLine[p.ID], prev.Attributes())
			}
			p = prev
		} else {
			r.byID[p.ID] = p
			firstLine[p.ID] = line
			r.ids = append(r.ids, p.ID)
		}
		if hash == NoToken {
			continue
		}
		var key [sha256.Size]byte
		_, _ = hex.Decode(key[:], []byte(hash))
		if other, dup := r.byHash[key]; dup {
			if other == p {
				return nil, fail(p.ID, "the same token hash is listed twice")
			}
			return nil, fail(p.ID, "the same token hash is configured for %s too: one token is one principal", other.ID)
		}
		r.byHash[key] = p
		r.tokens[p.ID]++
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{Origin: origin, Line: line + 1, Reason: err.Error()}
	}
	slices.Sort(r.ids)
	return r, nil
}

// ReadFile parses the principals file at path.
func ReadFile(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("principals file: %w", err)
	}
	return Parse(path, string(b))
}

// parseAttributes builds and validates the principal of one line from its id and its
// key=value fields.
func parseAttributes(id string, fields []string) (*Principal, error) {
	p := &Principal{ID: id}
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("field %s: want key=value", quote(f))
		}
		if seen[k] {
			return nil, fmt.Errorf("%s= given twice", k)
		}
		seen[k] = true
		list := func() []string {
			vs := strings.Split(v, ",")
			if len(vs) > 1 || vs[0] != All {
				slices.Sort(vs)
			}
			return vs
		}
		switch k {
		case "role":
			p.Role = Role(v)
		case "projects":
			p.Projects = list()
		case "vendor":
			p.Vendor = v
			if v == "" {
				return nil, errors.New("vendor= is empty: leave it out for an in-house principal")
			}
		case "cohorts":
			p.Cohorts = list()
		case "models":
			p.Models = list()
		case "annotators":
			p.AnnotatorPrefix = v
			if v == "" {
				return nil, errors.New("annotators= is empty: leave it out")
			}
		default:
			return nil, fmt.Errorf("unknown key %s (want role, projects, vendor, cohorts, models, annotators)", quote(k))
		}
	}
	if !seen["role"] {
		return nil, errors.New("role= is required")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Authenticate returns the principal of a bearer token. The token is hashed before the
// lookup, so the map is keyed by a value an attacker cannot choose bytewise, and the lookup
// time reveals nothing usable about the configured tokens.
func (r *Registry) Authenticate(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoCredentials
	}
	p, ok := r.byHash[sha256.Sum256([]byte(token))]
	if !ok {
		return nil, ErrUnknownToken
	}
	return p, nil
}

// Principal returns the principal with id (tokens or not).
func (r *Registry) Principal(id string) (*Principal, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// Principals returns every principal, sorted by id.
func (r *Registry) Principals() []*Principal {
	out := make([]*Principal, len(r.ids))
	for i, id := range r.ids {
		out[i] = r.byID[id]
	}
	return out
}

// Len is the number of principals.
func (r *Registry) Len() int { return len(r.ids) }

// Tokens is the number of token hashes over all principals.
func (r *Registry) Tokens() int { return len(r.byHash) }

// TokensOf is the number of token hashes of principal id (0 for one kept without a token, or
// an unknown id).
func (r *Registry) TokensOf(id string) int { return r.tokens[id] }

// Store holds the registry in force and swaps it atomically on reload: readers Load it once
// per request and use that one throughout. The zero value holds nil; use NewStore.
type Store struct{ p atomic.Pointer[Registry] }

// NewStore returns a store holding r.
func NewStore(r *Registry) *Store {
	s := &Store{}
	s.p.Store(r)
	return s
}

// Load returns the registry in force.
func (s *Store) Load() *Registry { return s.p.Load() }

// Swap puts r in force and returns the previous registry.
func (s *Store) Swap(r *Registry) *Registry { return s.p.Swap(r) }
