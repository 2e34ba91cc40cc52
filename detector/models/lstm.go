package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// This file holds the two forecasters (Sequential members): a small LSTM
// and, as its baseline, a per-dimension linear autoregression. Both score a
// row by how far it lies from their forecast of it, made from the previous
// rows the detector passed to Observe.

// lstmRing is the bounded history of a forecaster: the last rows passed to
// Observe, oldest first from position Next-Len (mod capacity). Its fields
// are exported so a model's JSON holds its history too and scores the same
// after a round trip.
type lstmRing struct {
	History     []float64 `json:"history,omitempty"` // capacity × dim, clipped rows
	HistoryLen  int       `json:"history_len"`
	HistoryNext int       `json:"history_next"`
}

// push appends a clipped copy of row, dropping the oldest row when full;
// with winsorize, and lo and hi of length dim, each value is limited to
// them.
func (r *lstmRing) push(row []float64, dim, capacity int, winsorize bool, lo, hi []float64) {
	if dim <= 0 || capacity <= 0 {
		return
	}
	if len(r.History) != dim*capacity || r.HistoryNext < 0 || r.HistoryNext >= capacity ||
		r.HistoryLen < 0 || r.HistoryLen > capacity {
		r.History = make([]float64, dim*capacity)
		r.HistoryLen, r.HistoryNext = 0, 0
	}
	x := r.History[r.HistoryNext*dim : (r.HistoryNext+1)*dim]
	nnLoad(x, row)
	if winsorize && len(lo) == dim && len(hi) == dim {
		for j, v := range x {
			x[j] = min(max(v, lo[j]), hi[j])
		}
	}
	r.HistoryNext = (r.HistoryNext + 1) % capacity
	if r.HistoryLen < capacity {
		r.HistoryLen++
	}
}

// full reports whether the ring holds capacity rows (and is consistent).
func (r *lstmRing) full(dim, capacity int) bool {
	return dim > 0 && capacity > 0 && len(r.History) == dim*capacity &&
		r.HistoryLen == capacity && r.HistoryNext >= 0 && r.HistoryNext < capacity
}

// rows returns views of the held rows, oldest first, appended to dst.
// Only meaningful when full.
func (r *lstmRing) rows(dst [][]float64, dim, capacity int) [][]float64 {
	for k := 0; k < capacity; k++ {
		i := (r.HistoryNext + k) % capacity
		dst = append(dst, r.History[i*dim:(i+1)*dim:(i+1)*dim])
	}
	return dst
}

// validate checks a loaded ring against its row length and capacity: it
// is empty, or holds capacity rows of clipped values of which the last
// HistoryLen were observed.
func (r *lstmRing) validate(dim, capacity int) error {
	if len(r.History) == 0 {
		if r.HistoryLen != 0 || r.HistoryNext != 0 {
			return fmt.Errorf("history of %d rows, next %d, but no values", r.HistoryLen, r.HistoryNext)
		}
		return nil
	}
	if err := checkLen("history", r.History, dim*capacity); err != nil {
		return err
	}
	if err := checkRange("history_len", r.HistoryLen, 0, capacity); err != nil {
		return err
	}
	if err := checkRange("history_next", r.HistoryNext, 0, capacity-1); err != nil {
		return err
	}
	if r.HistoryLen < capacity && r.HistoryNext != r.HistoryLen {
		return fmt.Errorf("history of %d rows, next %d", r.HistoryLen, r.HistoryNext)
	}
	for i, v := range r.History {
		if !(math.Abs(v) <= nnClipAbs) {
			return fmt.Errorf("history[%d] is %v, stored rows are clipped to ±%g", i, v, nnClipAbs)
		}
	}
	return nil
}

// lstmCheckRange checks a forecaster's mean row and training range.
func lstmCheckRange(dim int, mean, lo, hi []float64) error {
	for _, v := range []struct {
		name string
		v    []float64
	}{{"mean", mean}, {"lo", lo}, {"hi", hi}} {
		if err := checkVector(v.name, v.v, dim); err != nil {
			return err
		}
	}
	for j := range lo {
		if lo[j] > hi[j] {
			return fmt.Errorf("training range of feature %d is [%v, %v]", j, lo[j], hi[j])
		}
	}
	return nil
}

func (r *lstmRing) reset() {
	clear(r.History)
	r.HistoryLen, r.HistoryNext = 0, 0
}

// lstmRange returns the per-dimension minimum and maximum of rows.
func lstmRange(rows [][]float64) (lo, hi []float64) {
	lo, hi = slices.Clone(rows[0]), slices.Clone(rows[0])
	for _, r := range rows {
		for j, v := range r {
			lo[j] = min(lo[j], v)
			hi[j] = max(hi[j], v)
		}
	}
	return lo, hi
}

// lstmMean returns the mean of rows (all of length dim).
func lstmMean(rows [][]float64, dim int) []float64 {
	m := make([]float64, dim)
	for _, r := range rows {
		for j, v := range r {
			m[j] += v
		}
	}
	for j := range m {
		m[j] /= float64(len(rows))
	}
	return m
}

// LSTMForecaster forecasts the next row from the previous Lookback rows
// with a single-layer LSTM (Hidden units, gates in the order input, forget,
// cell, output) read out by a linear layer from its last hidden state. The
// raw score of a row is the mean squared error between the forecast and
// the row.
//
// Fit trains on every window of Lookback consecutive training rows (the
// rows must be in time order) with the row that follows as target, by
// backpropagation through time and mini-batch Adam with an L2 weight
// penalty, for up to Epochs epochs (early stop on a plateau of the epoch
// loss; at most lstmMaxPasses windows in all, so large training sets get
// fewer epochs). Fit leaves the history empty.
//
// Observe appends a row to the history (a ring of Lookback rows); Reset
// clears it. Until the history holds Lookback rows (after Fit, after Reset,
// at start-up) Score falls back to the mean squared error against the mean
// training row, the best forecast without context.
//
// With Winsorize (the default) Observe limits each value it stores to the
// range seen in training, so the forecast does not chase an attack: a
// spike does not disturb the following rows' forecasts and a sustained
// shift keeps scoring high instead of becoming the new context.
//
// With Highway (off by default) the forecast also gets a learned linear
// autoregression of each dimension on its own last Lookback values
// (LSTNet's "highway"). It halves the forecast error on autocorrelated
// features, but the forecast then follows level shifts more readily, which
// lowered the detection AUC on the synthetic benchmark (see lstm_test.go).
type LSTMForecaster struct {
	Hidden       int     `json:"hidden"`
	Lookback     int     `json:"lookback"`
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	LearningRate float64 `json:"learning_rate"`
	// WeightDecay is an L2 penalty on the weights (not the biases).
	WeightDecay float64 `json:"weight_decay"`
	Winsorize   bool    `json:"winsorize"`
	Highway     bool    `json:"highway"`

	// Fitted state. Matrices are row-major out×in.
	Dim       int       `json:"dim"`
	EpochsRun int       `json:"epochs_run"`
	TrainLoss float64   `json:"train_loss"`
	Wg        []float64 `json:"wg"` // 4·Hidden × (Dim+Hidden): input, then recurrent weights
	Bg        []float64 `json:"bg"` // 4·Hidden
	Wy        []float64 `json:"wy"` // Dim × Hidden
	By        []float64 `json:"by"` // Dim
	// Skip holds the highway's lag weights, Dim × Lookback, oldest lag
	// first (empty without Highway).
	Skip []float64 `json:"skip,omitempty"`
	Mean []float64 `json:"mean"` // mean training row
	Lo   []float64 `json:"lo"`   // per-dimension training minimum
	Hi   []float64 `json:"hi"`   // per-dimension training maximum

	lstmRing
}

// lstmMaxPasses bounds the training work (windows × epochs).
const lstmMaxPasses = 20_000

// lstmMaxLookback bounds the lookback (or order) of a loaded forecaster
// (6 by default): a forecast runs over every row of it.
const lstmMaxLookback = 64

const lstmStream = 0x6c73746d2d6e6574 // "lstm-net"

// NewLSTMForecaster returns an untrained LSTM forecaster with the given
// hidden width and lookback (16 and 6 when zero or negative).
func NewLSTMForecaster(hidden, lookback int) *LSTMForecaster {
	if hidden <= 0 {
		hidden = 16
	}
	if lookback <= 0 {
		lookback = 6
	}
	return &LSTMForecaster{Hidden: hidden, Lookback: lookback, Epochs: 30, Batch: 16,
		LearningRate: 5e-3, WeightDecay: 1e-3, Winsorize: true}
}

// Name implements Model.
func (m *LSTMForecaster) Name() string { return "lstm" }

// lstmTape records one window's forward pass for backpropagation.
type lstmTape struct {
	xh   [][]float64 // per step: input row, then previous hidden state
	gate [][]float64 // per step: activated i, f, g, o
	c, h [][]float64 // per step + 1: cell and hidden state (index 0: zeros)
	tc   [][]float64 // per step: tanh(c)
	y    []float64   // forecast
	dz   []float64
	dh   []float64
	dhp  []float64
	dc   []float64
	dy   []float64
}

func (m *LSTMForecaster) newTape() *lstmTape {
	L, H, D := m.Lookback, m.Hidden, m.Dim
	t := &lstmTape{y: make([]float64, D), dz: make([]float64, 4*H), dh: make([]float64, H),
		dhp: make([]float64, H), dc: make([]float64, H), dy: make([]float64, D)}
	t.xh = make([][]float64, L)
	t.gate = make([][]float64, L)
	t.tc = make([][]float64, L)
	t.c = make([][]float64, L+1)
	t.h = make([][]float64, L+1)
	for k := 0; k < L; k++ {
		t.xh[k] = make([]float64, D+H)
		t.gate[k] = make([]float64, 4*H)
		t.tc[k] = make([]float64, H)
	}
	for k := 0; k <= L; k++ {
		t.c[k] = make([]float64, H)
		t.h[k] = make([]float64, H)
	}
	return t
}

// forward runs the LSTM over win (Lookback rows) and leaves the forecast
// in t.y.
func (m *LSTMForecaster) forward(t *lstmTape, win [][]float64) {
	H, D := m.Hidden, m.Dim
	for k, x := range win {
		xh := t.xh[k]
		copy(xh[:D], x)
		copy(xh[D:], t.h[k])
		z := t.gate[k]
		nnAffine(z, m.Wg, m.Bg, xh)
		cp, cn, hn, tc := t.c[k], t.c[k+1], t.h[k+1], t.tc[k]
		for j := 0; j < H; j++ {
			i := nnSigmoid(z[j])
			f := nnSigmoid(z[H+j])
			g := math.Tanh(z[2*H+j])
			o := nnSigmoid(z[3*H+j])
			z[j], z[H+j], z[2*H+j], z[3*H+j] = i, f, g, o
			c := f*cp[j] + i*g
			cn[j] = c
			tc[j] = math.Tanh(c)
			hn[j] = o * tc[j]
		}
	}
	nnAffine(t.y, m.Wy, m.By, t.h[len(win)])
	m.addSkip(t.y, win)
}

// backward accumulates the gradients of the loss whose derivative with
// respect to the forecast is t.dy, after forward on the same window.
func (m *LSTMForecaster) backward(t *lstmTape, gWg, gBg, gWy, gBy, gSkip []float64) {
	H, D, L := m.Hidden, m.Dim, m.Lookback
	W := D + H
	if len(gSkip) == D*L {
		for k := 0; k < L; k++ {
			x := t.xh[k][:D]
			for j, v := range x {
				gSkip[j*L+k] += t.dy[j] * v
			}
		}
	}
	nnAffineBack(t.dh, gWy, gBy, m.Wy, t.h[L], t.dy)
	clear(t.dc)
	for k := L - 1; k >= 0; k-- {
		gt, tc, cp := t.gate[k], t.tc[k], t.c[k]
		dz := t.dz
		for j := 0; j < H; j++ {
			i, f, g, o := gt[j], gt[H+j], gt[2*H+j], gt[3*H+j]
			do := t.dh[j] * tc[j]
			dc := t.dc[j] + t.dh[j]*o*(1-tc[j]*tc[j])
			di, dg, df := dc*g, dc*i, dc*cp[j]
			t.dc[j] = dc * f
			dz[j] = di * i * (1 - i)
			dz[H+j] = df * f * (1 - f)
			dz[2*H+j] = dg * (1 - g*g)
			dz[3*H+j] = do * o * (1 - o)
		}
		for r, gz := range dz {
			gBg[r] += gz
		}
		// gWg += dz ⊗ xh: a third of the training's time.
		nnAxpyRows(gWg, W, t.xh[k], 0, dz, W)
		clear(t.dhp)
		if k > 0 {
			nnAxpyRows(t.dhp, 0, m.Wg[D:], W, dz, H)
		}
		t.dh, t.dhp = t.dhp, t.dh
	}
}

// Fit implements Model. The rows must be in time order; at least
// Lookback+2 are needed.
func (m *LSTMForecaster) Fit(rows [][]float64, seed uint64) error {
	data, dim, err := nnRows(rows)
	if err != nil {
		return err
	}
	if m.Hidden <= 0 || m.Lookback <= 0 {
		return errors.New("models: lstm needs positive hidden width and lookback")
	}
	L, H := m.Lookback, m.Hidden
	if len(data) < L+2 {
		return fmt.Errorf("models: lstm needs at least %d rows, got %d", L+2, len(data))
	}
	epochs, batch, lr := m.Epochs, m.Batch, m.LearningRate
	if epochs <= 0 {
		epochs = 30
	}
	if batch <= 0 {
		batch = 16
	}
	if lr <= 0 {
		lr = 5e-3
	}
	nwin := len(data) - L
	if mx := (lstmMaxPasses + nwin - 1) / nwin; epochs > mx {
		epochs = mx
	}
	m.Dim = dim
	m.Mean = lstmMean(data, dim)
	m.Lo, m.Hi = lstmRange(data)
	m.lstmRing = lstmRing{}

	nskip := 0
	if m.Highway {
		nskip = dim * L
	}
	sizes := []int{4 * H * (dim + H), 4 * H, dim * H, dim, nskip}
	total := 0
	for _, n := range sizes {
		total += n
	}
	params := make([]float64, total)
	grads := make([]float64, total)
	p := nnSplit(params, sizes...)
	g := nnSplit(grads, sizes...)
	m.Wg, m.Bg, m.Wy, m.By, m.Skip = p[0], p[1], p[2], p[3], p[4]
	gWg, gBg, gWy, gBy, gSkip := g[0], g[1], g[2], g[3], g[4]
	if nskip == 0 {
		m.Skip = nil
	}

	rng := nnRand(seed, lstmStream)
	nnXavier(m.Wg, dim+H, H, rng) // per gate fan-out H
	nnXavier(m.Wy, H, dim, rng)
	for j := 0; j < H; j++ {
		m.Bg[H+j] = 1 // forget gate open at first
	}
	copy(m.By, m.Mean)

	opt := nnNewAdam(total, lr, 5)
	plateau := nnNewPlateau(10, 1e-3)
	order := make([]int, nwin)
	for i := range order {
		order[i] = i
	}
	t := m.newTape()
	m.EpochsRun = 0
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		loss := 0.0
		for b0 := 0; b0 < len(order); b0 += batch {
			b1 := min(b0+batch, len(order))
			clear(grads)
			kf := 2 / float64(dim*(b1-b0))
			for _, s := range order[b0:b1] {
				m.forward(t, data[s:s+L])
				target := data[s+L]
				for j, yv := range t.y {
					d := yv - target[j]
					loss += d * d
					t.dy[j] = kf * d
				}
				m.backward(t, gWg, gBg, gWy, gBy, gSkip)
			}
			if wd := m.WeightDecay; wd > 0 {
				for i, v := range m.Wg {
					gWg[i] += wd * v
				}
				for i, v := range m.Wy {
					gWy[i] += wd * v
				}
			}
			opt.step(params, grads)
		}
		m.EpochsRun = ep + 1
		m.TrainLoss = nnFinite(loss / float64(nwin*dim))
		if plateau.stop(m.TrainLoss) {
			break
		}
	}
	return nil
}

// fitted reports whether the weights are present and consistently sized.
func (m *LSTMForecaster) fitted() bool {
	D, H := m.Dim, m.Hidden
	return D > 0 && H > 0 && m.Lookback > 0 && len(m.Wg) == 4*H*(D+H) && len(m.Bg) == 4*H &&
		len(m.Wy) == D*H && len(m.By) == D && len(m.Mean) == D &&
		len(m.Lo) == D && len(m.Hi) == D && (len(m.Skip) == 0 || len(m.Skip) == D*m.Lookback)
}

// Validate implements Model.
func (m *LSTMForecaster) Validate(dim int) error {
	if err := checkDim(m.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("hidden", m.Hidden, 1, nnMaxWidth); err != nil {
		return err
	}
	if err := checkRange("lookback", m.Lookback, 1, lstmMaxLookback); err != nil {
		return err
	}
	D, H := m.Dim, m.Hidden
	for _, l := range []struct {
		name string
		v    []float64
		n    int
	}{{"wg", m.Wg, 4 * H * (D + H)}, {"bg", m.Bg, 4 * H}, {"wy", m.Wy, D * H}, {"by", m.By, D}} {
		if err := checkVector(l.name, l.v, l.n); err != nil {
			return err
		}
	}
	if len(m.Skip) > 0 {
		if err := checkVector("skip", m.Skip, D*m.Lookback); err != nil {
			return err
		}
	}
	if !finite(m.TrainLoss) {
		return fmt.Errorf("train_loss %v", m.TrainLoss)
	}
	if err := lstmCheckRange(D, m.Mean, m.Lo, m.Hi); err != nil {
		return err
	}
	return m.lstmRing.validate(D, m.Lookback)
}

// Forecast appends the model's forecast of the next row to dst: the LSTM's
// when the history is full, else the mean training row (nothing for an
// unfitted model).
func (m *LSTMForecaster) Forecast(dst []float64) []float64 {
	if !m.fitted() {
		return dst
	}
	if !m.full(m.Dim, m.Lookback) {
		return append(dst, m.Mean...)
	}
	D, H := m.Dim, m.Hidden
	n := len(dst)
	dst = append(dst, make([]float64, D)...)
	y := dst[n:]
	buf := make([]float64, D+H+4*H+2*H)
	xh, z, c := buf[:D+H], buf[D+H:D+5*H], buf[D+5*H:D+6*H]
	h := xh[D:] // the hidden state lives after the input in xh
	var views [lstmMaxViews][]float64
	win := m.rows(views[:0], D, m.Lookback)
	for _, x := range win {
		copy(xh[:D], x)
		nnAffine(z, m.Wg, m.Bg, xh)
		for j := 0; j < H; j++ {
			i := nnSigmoid(z[j])
			f := nnSigmoid(z[H+j])
			g := math.Tanh(z[2*H+j])
			o := nnSigmoid(z[3*H+j])
			c[j] = f*c[j] + i*g
			h[j] = o * math.Tanh(c[j])
		}
	}
	nnAffine(y, m.Wy, m.By, h)
	m.addSkip(y, win)
	return dst
}

// lstmMaxViews sizes the on-stack window of Forecast (longer lookbacks
// spill to the heap).
const lstmMaxViews = 16

// addSkip adds the linear highway's contribution to the forecast y.
func (m *LSTMForecaster) addSkip(y []float64, win [][]float64) {
	L := len(win)
	if len(m.Skip) != len(y)*L {
		return
	}
	for k, x := range win {
		for j, v := range x {
			y[j] += m.Skip[j*L+k] * v
		}
	}
}

// Score implements Model: the mean squared error between the clipped row
// and the forecast (see Forecast). An unfitted model scores 0.
func (m *LSTMForecaster) Score(row []float64) float64 {
	if !m.fitted() {
		return 0
	}
	x := make([]float64, 2*m.Dim)
	nnLoad(x[:m.Dim], row)
	f := m.Forecast(x[m.Dim:m.Dim])
	return nnFinite(nnMSE(f, x[:m.Dim]))
}

// Observe implements Sequential.
func (m *LSTMForecaster) Observe(row []float64) {
	m.push(row, m.Dim, m.Lookback, m.Winsorize, m.Lo, m.Hi)
}

// Reset implements Sequential.
func (m *LSTMForecaster) Reset() { m.reset() }
