//go:build !amd64

package models

// nnSIMD is off: the kernels of nn_amd64.s are for amd64 only.
var nnSIMD = false

func nnDotLanes4(w *float64, stride int, x *float64, blocks int, lanes *[16]float64) {
	panic("models: no SIMD kernels on this architecture")
}

func nnAxpyRowsAVX(dst *float64, dstStride int, src *float64, srcStride int, a *float64, rows int, n int) {
	panic("models: no SIMD kernels on this architecture")
}
