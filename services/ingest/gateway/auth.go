package gateway

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
)

// Producer is an authenticated collector: its id becomes the events' producer field.
type Producer struct {
	// ID is the producer id stamped on every event it sends.
	ID string
	// Families are the families it may write. The DLQ family is never writable by callers:
	// only Assay's own components reject input.
	Families []schemas.Family
}

// Allows reports whether p may publish events of family f.
func (p *Producer) Allows(f schemas.Family) bool { return slices.Contains(p.Families, f) }

// Tokens maps SHA-256 hashes of bearer tokens to producers. Only hashes are configured, so
// the gateway's configuration, logs and memory dumps never hold a usable token.
type Tokens struct {
	byHash map[[sha256.Size]byte]*Producer
}

// Errors of Authenticate; both are answered 401.
var (
	// ErrNoCredentials: no Authorization header, or not a Bearer one.
	ErrNoCredentials = errors.New("missing bearer token (Authorization: Bearer <token>)")
	// ErrUnknownToken: a bearer token whose hash is not configured.
	ErrUnknownToken = errors.New("unknown bearer token")
)

var producerIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$`)

// ParseTokens reads token entries, one a line (or separated by ';', for the environment
// variable): "producer_id sha256hex [families]", where families is a comma-separated list
// of family names (schemas.Families, e.g. items,labels) and defaults to all of them; the DLQ
// family is never writable.
// Blank lines and lines starting with '#' are ignored. One producer may have several tokens
// (rotation); one hash may not belong to two producers.
func ParseTokens(text string) (*Tokens, error) {
	t := &Tokens{byHash: map[[sha256.Size]byte]*Producer{}}
	if err := t.add(text, "ASSAY_INGEST_TOKENS"); err != nil {
		return nil, err
	}
	return t, nil
}

// LoadTokens merges the entries of inline (the ASSAY_INGEST_TOKENS form) and of the file at
// path (when not empty). It fails when the result has no token at all.
func LoadTokens(inline, path string) (*Tokens, error) {
	t := &Tokens{byHash: map[[sha256.Size]byte]*Producer{}}
	if err := t.add(inline, "ASSAY_INGEST_TOKENS"); err != nil {
		return nil, err
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read tokens file: %w", err)
		}
		if err := t.add(string(b), path); err != nil {
			return nil, err
		}
	}
	if t.Len() == 0 {
		return nil, errors.New("no ingest tokens configured: set ASSAY_INGEST_TOKENS or -tokens-file (lines 'producer_id sha256hex'; `assay token <producer_id>` makes one)")
	}
	return t, nil
}

func (t *Tokens) add(text, origin string) error {
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ";", "\n")))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		// Never echo the line: a token pasted by mistake instead of its hash must not end up
		// in an error message, and so in logs.
		if len(f) < 2 || len(f) > 3 {
			return fmt.Errorf("%s entry %d: want 'producer_id sha256hex [families]', got %d fields", origin, line, len(f))
		}
		if !producerIDRe.MatchString(f[0]) {
			return fmt.Errorf("%s entry %d: producer id must match %s", origin, line, producerIDRe)
		}
		h := strings.ToLower(f[1])
		if !schemas.IsSHA256Hex(h) {
			return fmt.Errorf("%s entry %d (producer %s): second field must be the token's SHA-256 in hex (64 characters), not the token", origin, line, f[0])
		}
		var key [sha256.Size]byte
		_, _ = hex.Decode(key[:], []byte(h))
		p := &Producer{ID: f[0]}
		if len(f) == 3 && f[2] != "*" {
			for _, name := range strings.Split(f[2], ",") {
				fam := schemas.Family(strings.TrimSpace(name))
				if fam == schemas.FamilyDLQ || !slices.Contains(schemas.Families(), fam) {
					return fmt.Errorf("%s entry %d (producer %s): unknown or reserved family %q", origin, line, f[0], name)
				}
				p.Families = append(p.Families, fam)
			}
		} else {
			for _, fam := range schemas.Families() {
				if fam != schemas.FamilyDLQ {
					p.Families = append(p.Families, fam)
				}
			}
		}
		if other, dup := t.byHash[key]; dup {
			return fmt.Errorf("%s entry %d: the same token hash is configured for %s and %s", origin, line, other.ID, p.ID)
		}
		t.byHash[key] = p
	}
	return nil
}

// Len is the number of configured tokens.
func (t *Tokens) Len() int { return len(t.byHash) }

// Producers returns the ids of the configured producers, each once, sorted.
func (t *Tokens) Producers() []string {
	var ids []string
	for _, p := range t.byHash {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Authenticate finds the producer of an Authorization header value. The token is hashed
// before the lookup, so the map is keyed by a value an attacker cannot choose bytewise and
// lookup timing reveals nothing usable about configured tokens.
func (t *Tokens) Authenticate(authorization string) (*Producer, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, ErrNoCredentials
	}
	p, ok := t.byHash[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
	if !ok {
		return nil, ErrUnknownToken
	}
	return p, nil
}

// HashToken returns the hex SHA-256 of a token: the form the gateway is configured with.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
