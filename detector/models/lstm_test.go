package models

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// lstmSeries is a synthetic multivariate series shaped like scaled traffic
// features: per dimension a mix of sinusoids (periods 30 to 120 rows), a
// share of one of three common AR(1) factors (so groups of dimensions are
// correlated) and its own AR(1) noise. Values lie mostly in [-3, 3].
func lstmSeries(n, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	periods := []float64{30, 45, 60, 90, 120}
	phase := make([]float64, len(periods))
	for i := range phase {
		phase[i] = rng.Float64() * 2 * math.Pi
	}
	type dimSpec struct {
		amp            []float64
		factor         int
		load, phi, sig float64
	}
	specs := make([]dimSpec, dim)
	for j := range specs {
		s := dimSpec{amp: make([]float64, len(periods)), factor: j % 3,
			load: 0.3 + 0.7*rng.Float64(), phi: 0.3 + 0.6*rng.Float64(), sig: 0.2 + 0.3*rng.Float64()}
		// One or two seasonal components per dimension.
		s.amp[rng.IntN(len(periods))] = 0.5 + rng.Float64()
		if rng.IntN(2) == 0 {
			s.amp[rng.IntN(len(periods))] += 0.3 + 0.5*rng.Float64()
		}
		specs[j] = s
	}
	const fphi = 0.9
	factors := make([]float64, 3)
	noise := make([]float64, dim)
	rows := make([][]float64, n)
	for t := range rows {
		for f := range factors {
			factors[f] = fphi*factors[f] + math.Sqrt(1-fphi*fphi)*rng.NormFloat64()
		}
		r := make([]float64, dim)
		for j, s := range specs {
			noise[j] = s.phi*noise[j] + s.sig*rng.NormFloat64()
			v := s.load*factors[s.factor] + noise[j]
			for p, a := range s.amp {
				if a != 0 {
					v += a * math.Sin(2*math.Pi*float64(t)/periods[p]+phase[p])
				}
			}
			r[j] = v
		}
		rows[t] = r
	}
	return rows
}

// lstmInject returns a copy of rows with spikes (one row, 3 to 6
// dimensions raised by 8 to 30) and level shifts (15 rows, 3 to 5
// dimensions raised by 5), at least 20 rows apart, and the kind of each
// row: 0 normal, 1 spike, 2 level shift.
func lstmInject(rows [][]float64, spikes, shifts int, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([][]float64, len(rows))
	for i, r := range rows {
		out[i] = slices.Clone(r)
	}
	kind := make([]int, len(rows))
	dim := len(rows[0])
	free := func(a, b int) bool {
		for i := max(a-20, 0); i < min(b+20, len(rows)); i++ {
			if kind[i] != 0 {
				return false
			}
		}
		return true
	}
	for placed := 0; placed < shifts; {
		at := 10 + rng.IntN(len(rows)-40)
		if !free(at, at+15) {
			continue
		}
		dims := rng.Perm(dim)[:3+rng.IntN(3)]
		for i := at; i < at+15; i++ {
			kind[i] = 2
			for _, j := range dims {
				out[i][j] += 5
			}
		}
		placed++
	}
	for placed := 0; placed < spikes; {
		at := 10 + rng.IntN(len(rows)-20)
		if !free(at, at+1) {
			continue
		}
		kind[at] = 1
		for _, j := range rng.Perm(dim)[:3+rng.IntN(4)] {
			out[at][j] += 8 + 22*rng.Float64()
		}
		placed++
	}
	return out, kind
}

// lstmAUC is the probability that a random positive outscores a random
// negative (ties count half).
func lstmAUC(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				s++
			case p == n:
				s += 0.5
			}
		}
	}
	return s / float64(len(pos)*len(neg))
}

// lstmQuantile returns the q-quantile (nearest rank) of xs.
func lstmQuantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// lstmSeq is what the tests need of a forecaster.
type lstmSeq interface {
	Sequential
	Forecast(dst []float64) []float64
}

// lstmRun primes f with the last rows of train, then scores and observes
// each row of test in order, as the detector does.
func lstmRun(f lstmSeq, train, test [][]float64, lookback int) []float64 {
	f.Reset()
	for _, r := range train[len(train)-lookback:] {
		f.Observe(r)
	}
	scores := make([]float64, len(test))
	for i, r := range test {
		scores[i] = f.Score(r)
		f.Observe(r)
	}
	return scores
}

type lstmEval struct {
	fit                     time.Duration
	mse, meanMSE            float64
	p99                     float64
	aucAll, aucSpike, aucLS float64
	aucSettled              float64 // negatives exclude the lookback rows after an anomaly
	spikesAboveP99          int
	spikes                  int
}

// lstmEvaluate trains f on the first 1000 rows of a 2000-row series and
// measures it on the last 1000, clean and with injected anomalies.
func lstmEvaluate(t testing.TB, f lstmSeq, lookback int, seed uint64) lstmEval {
	return lstmEvaluateN(t, f, lookback, seed, 1000)
}

// lstmEvaluateN is lstmEvaluate with ntrain training rows.
func lstmEvaluateN(t testing.TB, f lstmSeq, lookback int, seed uint64, ntrain int) lstmEval {
	const dim = 45
	rows := lstmSeries(ntrain+1000, dim, seed)
	train, test := rows[:ntrain], rows[ntrain:]
	bad, kind := lstmInject(test, 15, 5, seed+7)
	var e lstmEval
	start := time.Now()
	if err := f.Fit(train, seed); err != nil {
		t.Fatal(err)
	}
	e.fit = time.Since(start)
	mean := lstmMean(train, dim)
	clean := lstmRun(f, train, test, lookback)
	for i, s := range clean {
		e.mse += s
		e.meanMSE += nnMSE(mean, test[i])
	}
	e.mse /= float64(len(test))
	e.meanMSE /= float64(len(test))
	e.p99 = lstmQuantile(clean, 0.99)

	scores := lstmRun(f, train, bad, lookback)
	var spike, shift, anom, neg, settled []float64
	lastAnom := -1000
	for i, s := range scores {
		switch kind[i] {
		case 1:
			spike = append(spike, s)
			anom = append(anom, s)
			e.spikes++
			if s > e.p99 {
				e.spikesAboveP99++
			}
			lastAnom = i
		case 2:
			shift = append(shift, s)
			anom = append(anom, s)
			lastAnom = i
		default:
			neg = append(neg, s)
			if i-lastAnom > lookback {
				settled = append(settled, s)
			}
		}
	}
	e.aucAll = lstmAUC(anom, neg)
	e.aucSpike = lstmAUC(spike, neg)
	e.aucLS = lstmAUC(shift, neg)
	e.aucSettled = lstmAUC(anom, settled)
	return e
}

func (e lstmEval) log(t testing.TB, name string) {
	t.Logf("%-5s fit %v  held-out MSE %.4f (mean-row %.4f, ratio %.3f)  AUC all %.4f spikes %.4f shifts %.4f settled %.4f  spikes>p99 %d/%d",
		name, e.fit.Round(time.Millisecond), e.mse, e.meanMSE, e.mse/e.meanMSE, e.aucAll, e.aucSpike, e.aucLS,
		e.aucSettled, e.spikesAboveP99, e.spikes)
}

func TestLSTMForecasterSynthetic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on 1000 rows")
	}
	m := NewLSTMForecaster(16, 6)
	e := lstmEvaluate(t, m, 6, 1)
	e.log(t, "lstm")
	if e.mse > 0.7*e.meanMSE {
		t.Errorf("held-out forecast MSE %.4f not clearly below the mean-row MSE %.4f", e.mse, e.meanMSE)
	}
	if e.spikesAboveP99 != e.spikes {
		t.Errorf("%d of %d spikes scored above the p99 %.4f of normal held-out rows", e.spikesAboveP99, e.spikes, e.p99)
	}
}

func TestARForecasterSynthetic(t *testing.T) {
	m := NewARForecaster(6)
	e := lstmEvaluate(t, m, 6, 1)
	e.log(t, "ar")
	if e.mse > 0.7*e.meanMSE {
		t.Errorf("held-out forecast MSE %.4f not clearly below the mean-row MSE %.4f", e.mse, e.meanMSE)
	}
	if e.spikesAboveP99 != e.spikes {
		t.Errorf("%d of %d spikes scored above the p99 %.4f of normal held-out rows", e.spikesAboveP99, e.spikes, e.p99)
	}
}

// BenchmarkForecasterComparison measures the forecasters side by side on
// three synthetic series (go test -run '^$' -bench ForecasterComparison
// ./detector/models): held-out MSE against the mean row's, and how well
// the score ranks injected anomalies (AUC), the numbers the LSTM member
// was chosen by.
func BenchmarkForecasterComparison(b *testing.B) {
	variants := []struct {
		name string
		make func() lstmSeq
	}{
		{"lstm", func() lstmSeq { return NewLSTMForecaster(16, 6) }},
		{"lstm-raw", func() lstmSeq { m := NewLSTMForecaster(16, 6); m.Winsorize = false; return m }},
		{"lstm+hw", func() lstmSeq { m := NewLSTMForecaster(16, 6); m.Highway = true; return m }},
		{"ar", func() lstmSeq { return NewARForecaster(6) }},
		{"ar-raw", func() lstmSeq { m := NewARForecaster(6); m.Winsorize = false; return m }},
	}
	for _, ntrain := range []int{1000, 360} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("train=%d/%s", ntrain, v.name), func(b *testing.B) {
				var sum lstmEval
				n := 0
				for b.Loop() {
					for seed := uint64(1); seed <= 3; seed++ {
						e := lstmEvaluateN(b, v.make(), 6, seed, ntrain)
						sum.mse += e.mse
						sum.meanMSE += e.meanMSE
						sum.aucAll += e.aucAll
						sum.aucSpike += e.aucSpike
						sum.aucLS += e.aucLS
						n++
					}
				}
				k := float64(n)
				b.ReportMetric(sum.mse/sum.meanMSE, "mse/mean-row-mse")
				b.ReportMetric(sum.aucAll/k, "auc-all")
				b.ReportMetric(sum.aucSpike/k, "auc-spikes")
				b.ReportMetric(sum.aucLS/k, "auc-shifts")
			})
		}
	}
}

func TestForecastersHistory(t *testing.T) {
	rows := lstmSeries(200, 45, 4)
	for _, m := range []lstmSeq{NewLSTMForecaster(8, 4), NewARForecaster(4)} {
		if err := m.Fit(rows, 1); err != nil {
			t.Fatal(err)
		}
		mean := lstmMean(rows, 45)
		// Without full history: the mean training row is the forecast.
		for i := 0; i < 4; i++ {
			if got, want := m.Score(rows[i]), nnMSE(rows[i], mean); got != want {
				t.Fatalf("%s: with %d rows of history scored %v, want the mean-row MSE %v", m.Name(), i, got, want)
			}
			m.Observe(rows[i])
		}
		f := m.Forecast(nil)
		if reflect.DeepEqual(f, mean) {
			t.Fatalf("%s: forecast with full history is the mean row", m.Name())
		}
		// Score does not change the model.
		before, _ := json.Marshal(m)
		s1 := m.Score(rows[4])
		after, _ := json.Marshal(m)
		if string(before) != string(after) || m.Score(rows[4]) != s1 {
			t.Fatalf("%s: Score changed the model", m.Name())
		}
		if s1 != nnMSE(f, rows[4]) {
			t.Fatalf("%s: score %v is not the forecast's MSE %v", m.Name(), s1, nnMSE(f, rows[4]))
		}
		// The ring keeps the last rows only: observing the same last rows
		// after more history gives the same forecast.
		for _, r := range rows[10:30] {
			m.Observe(r)
		}
		for _, r := range rows[:4] {
			m.Observe(r)
		}
		if !reflect.DeepEqual(nnBits(m.Forecast(nil)), nnBits(f)) {
			t.Fatalf("%s: forecast depends on rows older than the lookback", m.Name())
		}
		m.Reset()
		if got := m.Score(rows[5]); got != nnMSE(rows[5], mean) {
			t.Fatalf("%s: after Reset scored %v, want the mean-row MSE", m.Name(), got)
		}
	}
}

func TestForecastersWinsorize(t *testing.T) {
	rows := lstmSeries(300, 45, 5)
	for _, m := range []lstmSeq{NewLSTMForecaster(8, 4), NewARForecaster(4)} {
		if err := m.Fit(rows, 1); err != nil {
			t.Fatal(err)
		}
		// A huge spike in the history moves the forecast no further than
		// the largest training values would.
		hot := slices.Repeat([]float64{1e6}, 45)
		top := make([]float64, 45)
		for j := range top {
			top[j] = -1e9
			for _, r := range rows {
				top[j] = max(top[j], r[j])
			}
		}
		for _, r := range rows[:3] {
			m.Observe(r)
		}
		m.Observe(hot)
		a := m.Forecast(nil)
		m.Reset()
		for _, r := range rows[:3] {
			m.Observe(r)
		}
		m.Observe(top)
		if b := m.Forecast(nil); !reflect.DeepEqual(nnBits(a), nnBits(b)) {
			t.Errorf("%s: a spike moved the forecast beyond the training range", m.Name())
		}
	}
}

func TestForecastersDeterministicAndJSON(t *testing.T) {
	rows := lstmSeries(300, 45, 6)
	newLSTM := func() lstmSeq { m := NewLSTMForecaster(8, 6); m.Epochs = 5; return m }
	newHW := func() lstmSeq { m := NewLSTMForecaster(8, 6); m.Epochs = 5; m.Highway = true; return m }
	newAR := func() lstmSeq { return NewARForecaster(6) }
	for _, mk := range []func() lstmSeq{newLSTM, newHW, newAR} {
		a, b, c := mk(), mk(), mk()
		for _, x := range []struct {
			m    lstmSeq
			seed uint64
		}{{a, 1}, {b, 1}, {c, 2}} {
			if err := x.m.Fit(rows, x.seed); err != nil {
				t.Fatal(err)
			}
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		jc, _ := json.Marshal(c)
		if string(ja) != string(jb) {
			t.Errorf("%s: two fits with one seed differ", a.Name())
		}
		if a.Name() != "ar" && string(ja) == string(jc) {
			t.Errorf("%s: fits with different seeds are identical", a.Name())
		}
		// Round trip in mid-stream: the history travels with the model.
		for _, r := range rows[:8] {
			a.Observe(r)
		}
		js, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		d := mk()
		if err := json.Unmarshal(js, d); err != nil {
			t.Fatal(err)
		}
		test := append(lstmSeries(40, 45, 7), nnOddRows(45)...)
		var sa, sd []float64
		for _, r := range test {
			sa = append(sa, a.Score(r))
			sd = append(sd, d.Score(r))
			a.Observe(r)
			d.Observe(r)
		}
		if !reflect.DeepEqual(nnBits(sa), nnBits(sd)) {
			t.Errorf("%s: scores differ after a JSON round trip", a.Name())
		}
		j2, _ := json.Marshal(d)
		j1, _ := json.Marshal(a)
		if string(j1) != string(j2) {
			t.Errorf("%s: JSON differs after a round trip", a.Name())
		}
		t.Logf("%s: JSON size %d bytes", a.Name(), len(js))
	}
}

func TestForecastersErrorsAndOddInputs(t *testing.T) {
	for _, m := range []lstmSeq{NewLSTMForecaster(0, 0), NewARForecaster(0)} {
		for name, rows := range map[string][][]float64{
			"nil":       nil,
			"empty":     {},
			"no dim":    {{}, {}},
			"ragged":    {{1, 2}, {1}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}},
			"too short": lstmSeries(7, 3, 1),
		} {
			if err := m.Fit(rows, 1); err == nil {
				t.Errorf("%s: Fit(%s) returned no error", m.Name(), name)
			}
		}
		if s := m.Score([]float64{1}); s != 0 {
			t.Errorf("%s: unfitted model scored %v", m.Name(), s)
		}
		m.Observe([]float64{1}) // no panic when unfitted
		for _, v := range []float64{0, -2} {
			rows := make([][]float64, 60)
			for i := range rows {
				rows[i] = slices.Repeat([]float64{v}, 45)
			}
			rows = append(rows, nnOddRows(45)[:3]...)
			if err := m.Fit(rows, 1); err != nil {
				t.Fatal(err)
			}
			for i, r := range append(rows, nnOddRows(45)...) {
				s := m.Score(r)
				m.Observe(r)
				if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
					t.Fatalf("%s: constant %v: row %d scored %v", m.Name(), v, i, s)
				}
			}
		}
	}
}

func lstmBenchFit(b *testing.B, mk func() lstmSeq) {
	rows := lstmSeries(360, 45, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := mk().Fit(rows, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func lstmBenchScore(b *testing.B, m lstmSeq) {
	rows := lstmSeries(400, 45, 1)
	if err := m.Fit(rows[:360], 1); err != nil {
		b.Fatal(err)
	}
	for _, r := range rows[354:360] {
		m.Observe(r)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Score(rows[360+i%40])
		i++
	}
	js, _ := json.Marshal(m)
	b.ReportMetric(float64(len(js)), "json-bytes")
}

func BenchmarkLSTMFit360(b *testing.B) {
	lstmBenchFit(b, func() lstmSeq { return NewLSTMForecaster(16, 6) })
}

func BenchmarkLSTMScore(b *testing.B) { lstmBenchScore(b, NewLSTMForecaster(16, 6)) }

func BenchmarkARFit360(b *testing.B) {
	lstmBenchFit(b, func() lstmSeq { return NewARForecaster(6) })
}

func BenchmarkARScore(b *testing.B) { lstmBenchScore(b, NewARForecaster(6)) }
