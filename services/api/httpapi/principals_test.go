package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assay-data/assay/schemas/access"
)

// The projects of the access tests (access_stack_test.go): vendors acme and globex label in
// rbacProject beside an in-house cohort; rbacOther is a project neither acme nor the
// one-project analyst reads.
const (
	rbacProject = "proj-rbac"
	rbacOther   = "proj-rbac-other"
)

// testPrincipals are the principals every API of this package's tests knows, one per role
// (and the scopes the access tests need): id and attributes, a fresh token each per test
// binary (testToken). The other tests read as testAnalyst.
var testPrincipals = []struct{ id, attrs string }{
	{"test-analyst", "role=analyst projects=*"},
	{"test-owner", "role=owner projects=*"},
	{"test-qa", "role=qa projects=*"},
	{"test-collector", "role=collector projects=*"},
	{"test-labeler", "role=labeler projects=" + rbacProject + " vendor=acme cohorts=crowd"},
	{"test-model", "role=model projects=* models=*"},
	{"test-analyst-rbac", "role=analyst projects=" + rbacProject},
	{"test-vendor-acme", "role=vendor projects=" + rbacProject + " vendor=acme"},
	{"test-vendor-globex", "role=vendor projects=" + rbacProject + "," + rbacOther + " vendor=globex"},
	{"test-vendor-acme-crowd", "role=vendor projects=" + rbacProject + " vendor=acme cohorts=crowd"},
	{"test-vendor-acme-gov", "role=vendor projects=" + govProject + " vendor=acme"},
	{"test-analyst-strc", "role=analyst projects=" + strings.Join(strcProjects, ",")},
	{"test-vendor-acme-strc", "role=vendor projects=" + strings.Join(strcProjects, ",") + " vendor=acme"},
	{"test-vendor-lexica-strc", "role=vendor projects=" + strcNER + " vendor=lexica"},
}

const testAnalyst = "test-analyst"

var (
	tokensOnce sync.Once
	tokens     map[string]string
	registry   *access.Registry
	tokensErr  error
)

// makeTokens gives every test principal a token and builds their registry, once.
func makeTokens() {
	tokens = map[string]string{}
	var lines strings.Builder
	for _, p := range testPrincipals {
		tok, err := access.NewToken()
		if err != nil {
			tokensErr = err
			return
		}
		tokens[p.id] = tok
		lines.WriteString(p.id + " " + access.HashToken(tok) + " " + p.attrs + "\n")
	}
	registry, tokensErr = access.Parse("test principals", lines.String())
}

// testToken is the token of a test principal.
func testToken(t testing.TB, id string) string {
	t.Helper()
	tokensOnce.Do(makeTokens)
	if tokensErr != nil {
		t.Fatal(tokensErr)
	}
	tok, ok := tokens[id]
	if !ok {
		t.Fatalf("no test principal %q", id)
	}
	return tok
}

// testStore is a store holding the test principals, for an API of a test.
func testStore(t testing.TB) *access.Store {
	t.Helper()
	testToken(t, testAnalyst)
	return access.NewStore(registry)
}

// registryWithout is the test principals' registry without the lines of ids: their tokens
// revoked.
func registryWithout(t testing.TB, ids ...string) *access.Registry {
	t.Helper()
	testToken(t, testAnalyst)
	var lines strings.Builder
	for _, p := range testPrincipals {
		if !slices.Contains(ids, p.id) {
			lines.WriteString(p.id + " " + access.HashToken(tokens[p.id]) + " " + p.attrs + "\n")
		}
	}
	r, err := access.Parse("test principals", lines.String())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// authorize sets the request's bearer token to the test principal id's ("" leaves it unset).
func authorize(t testing.TB, req *http.Request, id string) {
	t.Helper()
	if id != "" {
		req.Header.Set("Authorization", "Bearer "+testToken(t, id))
	}
}
