package access_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas/access"
)

func TestParseAndAuthenticate(t *testing.T) {
	tok1, tok2, tok3 := "secret-1", "secret-2", "secret-3"
	text := "# the demo's principals\n\n" +
		"acme  " + access.HashToken(tok1) + "  role=labeler  projects=p2,p1 vendor=acme cohorts=crowd\n" +
		"  # rotation: a second token, attributes in another order\n" +
		"acme " + strings.ToUpper(access.HashToken(tok2)) + " cohorts=crowd vendor=acme projects=p1,p2 role=labeler\n" +
		"owner " + access.HashToken(tok3) + " role=owner projects=*\n" +
		"gone - role=collector projects=p1\n"
	r, err := access.Parse("principals.txt", text)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || r.Tokens() != 3 || r.TokensOf("acme") != 2 || r.TokensOf("gone") != 0 {
		t.Fatalf("len %d tokens %d acme %d gone %d", r.Len(), r.Tokens(), r.TokensOf("acme"), r.TokensOf("gone"))
	}
	p1, err := r.Authenticate(tok1)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := r.Authenticate(tok2)
	if err != nil || p2 != p1 {
		t.Fatalf("the rotated token is another principal: %v %v", p2, err)
	}
	if got := p1.Attributes(); got != "role=labeler projects=p1,p2 vendor=acme cohorts=crowd" {
		t.Fatalf("attributes %q", got)
	}
	if _, err := r.Authenticate("secret-4"); !errors.Is(err, access.ErrUnknownToken) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := r.Authenticate(""); !errors.Is(err, access.ErrNoCredentials) {
		t.Fatalf("no token: %v", err)
	}
	if g, ok := r.Principal("gone"); !ok || g.Role != access.RoleCollector {
		t.Fatal("a principal without a token is still known by id")
	}
	var ids []string
	for _, p := range r.Principals() {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "acme,gone,owner" {
		t.Fatalf("principals %v", ids)
	}
	// The line a principal renders parses back to the same principal.
	back, err := access.Parse("", p1.Line(access.HashToken("x")))
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := back.Principal("acme"); q.Attributes() != p1.Attributes() {
		t.Fatalf("round trip: %q", q.Attributes())
	}
}

// TestParseErrors: each malformed line is refused with its line number, and no error ever
// repeats the hash field (a token pasted in its place must not reach the logs).
func TestParseErrors(t *testing.T) {
	h := access.HashToken("t")
	for _, tt := range []struct {
		name, text, want string
	}{
		{"too few fields", "a " + h, "line 1: want"},
		{"not a hash", "a my-secret-token role=owner projects=p", "line 1 (principal a): the second field must be the token's SHA-256"},
		{"reserved id", "assay-processor/router " + h + " role=qa projects=p", "is reserved"},
		{"reserved id, any case", "Assay-Ingest " + h + " role=qa projects=p", "is reserved"},
		{"bad id", "-x " + h + " role=qa projects=p", "must match"},
		{"no role", "a " + h + " projects=p", "role= is required"},
		{"unknown role", "a " + h + " role=admin projects=p", `role "admin" is not one of`},
		{"unknown key", "a " + h + " role=qa projects=p team=x", `unknown key "team"`},
		{"key twice", "a " + h + " role=qa projects=p projects=q", "projects= given twice"},
		{"not key=value", "a " + h + " role=qa projects=p stray", `field "stray": want key=value`},
		{"no projects", "a " + h + " role=qa", "projects= is required"},
		{"empty project", "a " + h + " role=qa projects=p,,q", "is empty"},
		{"project twice", "a " + h + " role=qa projects=p,p", `names "p" twice`},
		{"star with others", "a " + h + " role=qa projects=*,p", "stands alone"},
		{"vendor reading every project", "a " + h + " role=vendor vendor=acme projects=*", "projects=* is for internal roles only"},
		{"vendor labeler on every project", "a " + h + " role=labeler vendor=acme projects=*", "projects=* is for internal roles only"},
		{"vendor without vendor", "a " + h + " role=vendor projects=p", "vendor= is required for role vendor"},
		{"vendor on an owner", "a " + h + " role=owner projects=p vendor=acme", "vendor= does not apply to role owner"},
		{"cohorts on a collector", "a " + h + " role=collector projects=p cohorts=c", "cohorts= does not apply"},
		{"model without models", "a " + h + " role=model projects=p", "models= is required"},
		{"models on a qa", "a " + h + " role=qa projects=p models=m", "models= does not apply"},
		{"annotators on a vendor", "a " + h + " role=vendor projects=p vendor=v annotators=x", "annotators= does not apply"},
		{"cohorts=*", "a " + h + " role=labeler projects=p cohorts=*", "cohorts=* is not allowed"},
		{"empty vendor", "a " + h + " role=labeler projects=p vendor=", "vendor= is empty"},
		{"principal redeclared", "# c\na " + h + " role=qa projects=p\na " + access.HashToken("u") + " role=qa projects=q", "line 3 (principal a): declared with another role or scope on line 2"},
		{"hash of two principals", "a " + h + " role=qa projects=p\nb " + strings.ToUpper(h) + " role=owner projects=p", "line 2 (principal b): the same token hash is configured for a too"},
		{"hash twice", "a " + h + " role=qa projects=p\na " + h + " role=qa projects=p", "line 2 (principal a): the same token hash is listed twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := access.Parse("f.txt", tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "f.txt line ") {
				t.Fatalf("err = %v, want one starting with the file and line, containing %q", err, tt.want)
			}
			var pe *access.ParseError
			if !errors.As(err, &pe) || pe.Line == 0 {
				t.Fatalf("not a *ParseError with a line: %#v", err)
			}
			if strings.Contains(err.Error(), "my-secret-token") || strings.Contains(strings.ToLower(err.Error()), h) {
				t.Fatalf("the error repeats the hash field: %v", err)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	a, err := access.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := access.NewToken()
	if a == b || !strings.HasPrefix(a, access.TokenPrefix) || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if access.HashToken("test") != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Fatal("HashToken is not hex SHA-256")
	}
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "Bearer  ": "", "": ""} {
		got, ok := access.BearerToken(header)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v", header, got, ok)
		}
	}
}
