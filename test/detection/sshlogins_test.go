package detection

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
)

// TestLoginsLikeZeek reads the outcome of SSH logins in real captures
// nobody here recorded and holds it to what Zeek says of them. zeek/ssh.pcap
// is Zeek's own SSH test trace: 24 sessions of OpenSSH 3.4 to 6.7 and
// paramiko, with AES-CTR, AES-CBC, arcfour and chacha20-poly1305, and
// Zeek's ssh.log (testing/btest/Baseline/scripts.base.protocols.ssh.basic,
// 2015) gives auth_success for each SSH-2 connection; its SSH-1 sessions
// have no NEWKEYS and are left undecided, as Zeek leaves them. The two
// guessers (nmap's ssh-brute on port 902, hydra with one task) log in
// nowhere: every connection of theirs stays a guess for the brute-force
// rule.
func TestLoginsLikeZeek(t *testing.T) {
	if _, err := os.Stat(filepath.Join(sharedPcaps, "expected.json")); err != nil {
		t.Skipf("real captures not found at %s (the project's shared/ folder beside the repo): skipping", sharedPcaps)
	}
	type pair struct{ conns, logins uint32 }
	cases := []struct {
		file string
		want map[string]pair // client->server:port
	}{
		{"zeek/ssh.pcap", map[string]pair{
			"10.0.0.18->128.2.6.88:41644":     {1, 1},
			"192.168.2.1->192.168.2.158:22":   {11, 2}, // two SSH-2 logins; nine SSH-1 sessions
			"192.168.2.1->192.168.2.158:2200": {1, 1},  // paramiko's server
			"192.168.1.32->128.2.10.238:22":   {2, 1},  // one failed
			"192.168.1.32->128.2.13.133:22":   {1, 1},
			"192.168.1.31->192.168.1.32:22":   {2, 2}, // chacha20-poly1305
			"192.168.1.32->131.103.20.168:22": {3, 2}, // one failed
			"192.168.1.79->131.159.21.1:22":   {1, 0}, // failed
		}},
		{"slips/malicious-ssh-bruteforce.pcap", map[string]pair{
			"147.32.80.40->147.32.80.37:902": {66, 0},
		}},
		{"id2t/hydra-1_tasks.pcap", map[string]pair{
			"240.0.1.2->240.125.0.2:22": {61, 0},
		}},
	}
	for _, c := range cases {
		got := sshPairs(t, filepath.Join(sharedPcaps, c.file))
		for k, w := range c.want {
			if g := got[k]; g != w {
				t.Errorf("%s %s: %d logins of %d connections, want %d of %d", c.file, k, g.logins, g.conns, w.logins, w.conns)
			}
		}
		for k, g := range got {
			if _, ok := c.want[k]; !ok {
				t.Errorf("%s %s: %d logins of %d connections, not an SSH pair of the capture", c.file, k, g.logins, g.conns)
			}
		}
	}
}

// sshPairs replays a capture through the decoder and the feature stage and
// returns, for each pair whose server greeted in SSH, its completed
// connections and the logins read among them.
func sshPairs(t *testing.T, path string) map[string]struct{ conns, logins uint32 } {
	t.Helper()
	out := map[string]struct{ conns, logins uint32 }{}
	agg := features.NewAggregator(features.DefaultConfig(), "real", func(w *features.Window) {
		for _, p := range w.Behaviour.Pairs {
			if p.Key.Proto != features.ProtoTCP || p.SSH == 0 && p.Logins == 0 {
				continue
			}
			k := fmt.Sprintf("%s->%s:%d", netip.AddrFrom16(p.Key.Src).Unmap(), netip.AddrFrom16(p.Key.Dst).Unmap(), p.Key.Port)
			v := out[k]
			v.conns += p.Established
			v.logins += p.Logins
			out[k] = v
		}
	})
	if err := testpcap.AggregateFile(path, agg); err != nil {
		t.Fatal(err)
	}
	return out
}
