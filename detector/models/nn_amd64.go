package models

import "golang.org/x/sys/cpu"

// nnSIMD turns on the AVX kernels of nn_amd64.s where the processor and
// the OS have AVX. They give the scalar code's results to the bit; a test
// turns them off to compare.
var nnSIMD = cpu.X86.HasAVX

//go:noescape
func nnDotLanes4(w *float64, stride int, x *float64, blocks int, lanes *[16]float64)

//go:noescape
func nnAxpyRowsAVX(dst *float64, dstStride int, src *float64, srcStride int, a *float64, rows int, n int)
