package schemas_test

import (
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

func BenchmarkEncode(b *testing.B) {
	ev := schematest.Example(schemas.TypeLabelSubmitted)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = schemas.Append(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecode(b *testing.B) {
	msg, err := schemas.Encode(schematest.Example(schemas.TypeLabelSubmitted))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schemas.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTypeOf(b *testing.B) {
	msg, _ := schemas.Encode(schematest.Example(schemas.TypeLabelSubmitted))
	for b.Loop() {
		if _, _, err := schemas.TypeOf(msg); err != nil {
			b.Fatal(err)
		}
	}
}
