package mixin

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// TestDetectorAssumptions keeps what the rules assume about the detector
// equal to its code: the attack types, the threat level names, and the
// warm-up and retrain intervals behind NetAnomalyModelUntrained and
// NetAnomalyModelStale.
func TestDetectorAssumptions(t *testing.T) {
	var types []string
	for _, a := range AttackTypes {
		types = append(types, a.Type)
		if a.Recommendation() == "" {
			t.Errorf("detector.Recommendations has nothing for %s", a.Type)
		}
	}
	if strings.Join(types, " ") != strings.Join(detector.AttackTypes, " ") {
		t.Errorf("AttackTypes %v, detector.AttackTypes %v", types, detector.AttackTypes)
	}
	if got := strings.Join(detector.ThreatNames, " "); got != "none low medium high" {
		t.Errorf("detector.ThreatNames = %q; the threat_level annotation names levels none low medium high", got)
	}
	if !strings.Contains(threatText, "ge $t 3.0 }}high") {
		t.Error("threat_level template does not name level 3 high")
	}

	window := features.DefaultConfig().Window
	cfg := detector.DefaultConfig()
	warmup := time.Duration(cfg.Warmup) * window
	retrain := time.Duration(cfg.RetrainEvery) * window
	for _, r := range allRules(t) {
		switch r.Alert {
		case "NetAnomalyModelUntrained":
			d, err := time.ParseDuration(r.For)
			if err != nil || d < warmup+30*time.Minute {
				t.Errorf("%s: for: %s, want at least the warm-up (%s) plus a margin", r, r.For, warmup)
			}
		case "NetAnomalyModelStale":
			m := regexp.MustCompile(`> (\d+) \* 3600`).FindStringSubmatch(r.Expr)
			if m == nil {
				t.Fatalf("%s: no '> N * 3600' threshold in %q", r, r.Expr)
			}
			hours, _ := strconv.Atoi(m[1])
			if got := time.Duration(hours) * time.Hour; got != 2*retrain {
				t.Errorf("%s: threshold %s, want twice the retrain interval (%s)", r, got, 2*retrain)
			}
		}
	}
}
