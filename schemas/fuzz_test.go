package schemas_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/schemas"
)

// FuzzDecode: whatever the bytes, Decode returns an event or an error and
// never panics; a decoded event re-encodes (when valid) and decodes to the
// same type. Seeds are the golden files.
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=60s ./schemas/
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bin"))
	legacy, _ := filepath.Glob(filepath.Join("testdata", "legacy-fingerprint", "*.bin"))
	files = append(files, legacy...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xC3, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := schemas.Decode(b)
		typ, _, terr := schemas.TypeOf(b)
		if err != nil {
			if ev != nil {
				t.Fatalf("Decode returned both an event and %v", err)
			}
			return
		}
		if terr != nil || typ != ev.Type() {
			t.Fatalf("Decode gave %s, TypeOf %s, %v", ev.Type(), typ, terr)
		}
		if ev.Validate() != nil {
			return // decodable but invalid: Encode refuses it, by design
		}
		out, err := schemas.Encode(ev)
		if err != nil {
			t.Fatalf("valid decoded event does not encode: %v", err)
		}
		again, err := schemas.Decode(out)
		if err != nil || again.Type() != ev.Type() {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
