package detector

import (
	"math"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// rowsWith returns n vectors whose feature j takes vals[i] in row i
// (other features zero).
func rowsWith(cols map[features.Index][]float64) []features.Vector {
	n := 0
	for _, v := range cols {
		n = len(v)
	}
	rows := make([]features.Vector, n)
	for j, v := range cols {
		for i := range v {
			rows[i][j] = v[i]
		}
	}
	return rows
}

func TestScalerKnownData(t *testing.T) {
	e := math.Expm1
	const (
		pos   = features.PacketsPerSecond
		cnst  = features.TCPSyn
		zero  = features.Fragments
		signd = features.InterarrivalMean // any column: the scaler must take negative values too
		even  = features.UniqueSources
	)
	rows := rowsWith(map[features.Index][]float64{
		pos:   {e(1), e(10), e(3), e(4), e(2)}, // log1p: 1,10,3,4,2 → median 3, |dev| 2,7,0,1,1 → MAD 1
		cnst:  {7, 7, 7, 7, 7},
		zero:  {0, 0, 0, 0, 0},
		signd: {-e(2), -e(1), 0, e(1), e(2)}, // -2..2 → median 0, MAD 1
	})
	// An even count of rows takes the mean of the middle two.
	rows4 := rowsWith(map[features.Index][]float64{even: {e(1), e(2), e(4), e(8)}})

	s, err := FitScaler(rows)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if !near(got, want, 1e-12) {
			t.Errorf("%s = %.15g, want %.15g", name, got, want)
		}
	}
	check("median(pos)", s.Median[pos], 3)
	check("scale(pos)", s.Scale[pos], 1.4826)
	check("median(const)", s.Median[cnst], math.Log(8))
	check("scale(const)", s.Scale[cnst], minScale)
	check("median(zero)", s.Median[zero], 0)
	check("scale(zero)", s.Scale[zero], minScale)
	check("median(signed)", s.Median[signd], 0)
	check("scale(signed)", s.Scale[signd], 1.4826)
	check("typical(pos)", s.Typical(int(pos)), e(3))
	check("typical(const)", s.Typical(int(cnst)), 7)
	check("typical(signed)", s.Typical(int(signd)), 0)

	s4, err := FitScaler(rows4)
	if err != nil {
		t.Fatal(err)
	}
	check("median(even)", s4.Median[even], 3)        // (2+4)/2
	check("scale(even)", s4.Scale[even], 1.4826*1.5) // |dev| 2,1,1,5

	// z-scores of known values.
	check("Z(pos, e(3)+)", s.Z(int(pos), e(3+1.4826)), 1)
	check("Z(pos, median)", s.Z(int(pos), e(3)), 0)
	check("Z(signed, -e(1.4826))", s.Z(int(signd), -e(1.4826)), -1)
	// The floor makes a never-moving feature's first packets finite and
	// moderate: 0 to 1 is z 2.77, 0 to 100 is z 18.5.
	check("Z(zero, 1)", s.Z(int(zero), 1), math.Log(2)/minScale)
	check("Z(zero, 100)", s.Z(int(zero), 100), math.Log(101)/minScale)
	check("Z(zero, 0)", s.Z(int(zero), 0), 0)

	if _, err := FitScaler(nil); err == nil {
		t.Error("FitScaler(nil) succeeded")
	}
}

func TestScalerClipAndTransform(t *testing.T) {
	s, err := FitScaler(vectors(newGen(1).benignN(100)))
	if err != nil {
		t.Fatal(err)
	}
	for j := range int(features.NumFeatures) {
		for _, v := range []float64{1e300, math.MaxFloat64, math.Inf(1)} {
			if z := s.Z(j, v); z != zClip {
				t.Errorf("%s: Z(%g) = %g, want %d", features.Schema[j].Name, v, z, zClip)
			}
		}
		for _, v := range []float64{-1e300, math.Inf(-1)} {
			if z := s.Z(j, v); z != -zClip {
				t.Errorf("%s: Z(%g) = %g, want -%d", features.Schema[j].Name, v, z, zClip)
			}
		}
	}
	var v features.Vector
	for j := range v {
		v[j] = 1e200
	}
	v[features.PacketsPerSecond] = s.Typical(int(features.PacketsPerSecond))
	dst := make([]float64, features.NumFeatures)
	out := s.Transform(&v, dst)
	if &out[0] != &dst[0] {
		t.Error("Transform did not write into dst")
	}
	for j, z := range out {
		want := float64(zClip)
		if features.Index(j) == features.PacketsPerSecond {
			want = 0
		}
		if !near(z, want, 1e-9) {
			t.Errorf("Transform[%s] = %g, want %g", features.Schema[j].Name, z, want)
		}
	}
	if got := s.Transform(&v, nil); len(got) != int(features.NumFeatures) {
		t.Errorf("Transform(nil) has %d values", len(got))
	}
}

func TestScalerExpected(t *testing.T) {
	s, err := FitScaler(vectors(newGen(3).benignN(360)))
	if err != nil {
		t.Fatal(err)
	}
	for j := range int(features.NumFeatures) {
		name := features.Schema[j].Name
		typ := s.Typical(j)
		for _, k := range []float64{0.5, 3, 4} {
			lo, hi := s.Expected(j, k)
			if !(lo <= typ && typ <= hi) || lo < 0 || math.IsNaN(lo) || math.IsNaN(hi) {
				t.Errorf("%s: Expected(%g) = [%g, %g] does not bracket the median %g", name, k, lo, hi, typ)
			}
			if lo >= hi {
				t.Errorf("%s: Expected(%g) = [%g, %g] is empty", name, k, lo, hi)
			}
			// The range ends are where the z-score reaches ±k (unless the
			// low end was cut at zero).
			if z := s.Z(j, hi); !near(z, k, 1e-6) {
				t.Errorf("%s: Z(expected high %g) = %g, want %g", name, hi, z, k)
			}
			if z := s.Z(j, lo); lo > 0 && !near(z, -k, 1e-6) {
				t.Errorf("%s: Z(expected low %g) = %g, want %g", name, lo, z, -k)
			}
		}
	}
	// Realistic numbers: about 300 packets per second.
	if typ := s.Typical(int(features.PacketsPerSecond)); typ < 250 || typ > 350 {
		t.Errorf("typical packets per second %g, want about 300", typ)
	}
}
