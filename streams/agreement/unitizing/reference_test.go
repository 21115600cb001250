package unitizing_test

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/agreement/unitizing/unitizingtest"
)

// literal computes one label's D_o and D_e exactly as Krippendorff (1995; 2004) writes them,
// with none of Alpha's rearrangements: every rater's continuum cut into sections (units of the
// label and the gaps between them), δ² summed over every ordered pair of sections of two
// different raters, and D_e's sum over every unit and every gap. It is the reference Alpha's
// sweep and sorted-gap walk are held to (TestAlphaMatchesLiteralDefinition).
func literal(units [][][2]int64, L int64) (dO, dE *big.Rat) {
	type section struct {
		b, l int64
		unit bool
	}
	R := int64(len(units))
	secs := make([][]section, R)
	for r, us := range units {
		pos := int64(0)
		for _, u := range us {
			if u[0] > pos {
				secs[r] = append(secs[r], section{pos, u[0] - pos, false})
			}
			secs[r] = append(secs[r], section{u[0], u[1] - u[0], true})
			pos = u[1]
		}
		if pos < L {
			secs[r] = append(secs[r], section{pos, L - pos, false})
		}
	}
	delta := func(g, h section) int64 {
		d := g.b - h.b
		switch {
		case g.unit && h.unit && -g.l < d && d < h.l:
			e := g.b + g.l - h.b - h.l
			return d*d + e*e
		case g.unit && !h.unit && h.l-g.l >= d && d >= 0:
			return g.l * g.l
		case !g.unit && h.unit && h.l-g.l <= d && d <= 0:
			return h.l * h.l
		}
		return 0
	}
	sumO := new(big.Int)
	for i := range secs {
		for j := range secs {
			if i == j {
				continue
			}
			for _, g := range secs[i] {
				for _, h := range secs[j] {
					sumO.Add(sumO, big.NewInt(delta(g, h)))
				}
			}
		}
	}
	dO = new(big.Rat).SetFrac(sumO, big.NewInt(R*(R-1)*L*L))

	var N int64
	for _, ss := range secs {
		for _, s := range ss {
			if s.unit {
				N++
			}
		}
	}
	num, sq := new(big.Rat), new(big.Int)
	for _, ss := range secs {
		for _, u := range ss {
			if !u.unit {
				continue
			}
			l := u.l
			num.Add(num, big.NewRat((N-1)*(2*l*l*l-3*l*l+l), 3))
			for _, gs := range secs {
				for _, g := range gs {
					if !g.unit && g.l >= l {
						num.Add(num, new(big.Rat).SetInt64(l*l*(g.l-l+1)))
					}
				}
			}
			sq.Add(sq, big.NewInt(l*(l-1)))
		}
	}
	den := new(big.Int).Sub(big.NewInt(R*L*(R*L-1)), sq)
	dE = new(big.Rat).Mul(num, big.NewRat(2, L))
	dE.Quo(dE, new(big.Rat).SetInt(den))
	return dO, dE
}

// literalStudy lays s out end to end itself and returns, per label, each rater's units sorted,
// and the continuum's length.
func literalStudy(s unitizing.Study) (map[string][][][2]int64, int64) {
	out := map[string][][][2]int64{}
	var off int64
	for _, it := range s.Items {
		for r, spans := range it.Spans {
			for _, sp := range spans {
				if out[sp.Label] == nil {
					out[sp.Label] = make([][][2]int64, len(s.Raters))
				}
				out[sp.Label][r] = append(out[sp.Label][r], [2]int64{off + sp.Start, off + sp.End})
			}
		}
		off += it.Length
	}
	for _, byRater := range out {
		for _, us := range byRater {
			slices.SortFunc(us, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		}
	}
	return out, off
}

// TestOverlapShiftIdentity checks the identity the package doc rests D_e's first term on: two
// units of lengths a and b, slid past each other over every shift at which they share a
// position, have Σ δ² = f(a) + f(b), f(l) = (2l³ − 3l² + l)/3.
func TestOverlapShiftIdentity(t *testing.T) {
	f := func(l int64) int64 { return (2*l*l*l - 3*l*l + l) / 3 }
	for a := int64(1); a <= 30; a++ {
		for b := int64(1); b <= 30; b++ {
			var sum int64
			for d := -a + 1; d < b; d++ { // unit a begins d after unit b
				e := d + a - b
				sum += d*d + e*e
			}
			if sum != f(a)+f(b) {
				t.Fatalf("a=%d b=%d: Σ δ² = %d, f(a)+f(b) = %d", a, b, sum, f(a)+f(b))
			}
		}
	}
}

// TestAlphaMatchesLiteralDefinition: on 500 seeded random studies (2-5 raters, several items,
// labels and gaps), every label's D_o and D_e from Alpha equal, as exact rationals rounded
// once, those of the literal definition, and so do alphas. ops/dkpro holds the same kind of
// studies to DKPro Statistics.
func TestAlphaMatchesLiteralDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1995, 2004))
	defined := 0
	for n := range 500 {
		s := unitizingtest.RandomStudy(rng)
		res, err := unitizing.Alpha(s)
		if err != nil {
			t.Fatalf("study %d: %v", n, err)
		}
		byLabel, L := literalStudy(s)
		if len(res.Categories) != len(byLabel) || res.Length != L {
			t.Fatalf("study %d: %d categories over %d, the literal study has %d over %d", n, len(res.Categories), res.Length, len(byLabel), L)
		}
		sumO, sumE := new(big.Rat), new(big.Rat)
		for _, c := range res.Categories {
			dO, dE := literal(byLabel[c.Label], L)
			sumO.Add(sumO, dO)
			sumE.Add(sumE, dE)
			if c.Observed == nil || c.Expected == nil {
				t.Fatalf("study %d, %s: not computed: %s", n, c.Label, c.Undefined)
			}
			if want := ratFloat(dO); *c.Observed != want {
				t.Errorf("study %d, %s: D_o %v, literal %v", n, c.Label, *c.Observed, want)
			}
			if want := ratFloat(dE); *c.Expected != want {
				t.Errorf("study %d, %s: D_e %v, literal %v", n, c.Label, *c.Expected, want)
			}
			if dE.Sign() != 0 {
				if want := ratFloat(new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Quo(dO, dE))); c.Alpha == nil || *c.Alpha != want {
					t.Errorf("study %d, %s: alpha %v, literal %v", n, c.Label, c.Alpha, want)
				}
			}
		}
		if sumE.Sign() != 0 {
			defined++
			if want := ratFloat(new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Quo(sumO, sumE))); res.Alpha == nil || *res.Alpha != want {
				t.Errorf("study %d: alpha %v, literal %v (%s)", n, res.Alpha, want, res.Undefined)
			}
		}
	}
	if defined < 400 {
		t.Errorf("only %d of 500 random studies have a defined alpha", defined)
	}
}

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}
