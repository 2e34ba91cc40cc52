//go:build !unix

package testutil

import "time"

// ProcessCPU is not measured here.
func ProcessCPU() time.Duration { return 0 }
