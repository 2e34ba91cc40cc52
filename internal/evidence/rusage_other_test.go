//go:build !unix

package evidence

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
