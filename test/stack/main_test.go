package stack

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

// TestMain removes the exporter binary the tests built.
func TestMain(m *testing.M) { stacktest.Main(m) }
