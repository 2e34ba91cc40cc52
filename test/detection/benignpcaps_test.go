package detection

import (
	"os"
	"path/filepath"
	"testing"
)

// benignPublic are the public captures of ordinary use (../shared/pcaps/
// README.md calls them benign), each replayed alone into a fresh exporter
// as a user would. Two span years with gaps, which the aggregator fills
// with an hour of empty windows: the warm-up must not take that silence
// for a baseline.
var benignPublic = []struct {
	file  string
	known string // why it may be named: reported, not asserted
}{
	{"chrissanders/http_espn.pcapng", ""},
	{"chrissanders/tcp_ports.pcapng", ""},
	{"chrissanders/ppa1e/dns.cap", ""},
	{"chrissanders/http_ip4and6.pcapng", ""},
	{"chrissanders/ppa1e/gnutella.pcap", "a Gnutella client finding peers: 918 SYNs to port 6346 of 81 hosts, 2% of its attempts completed, is a horizontal scan by behaviour, as a worm's would be"},
	{"lucaderi-sgr/Subito.pcap", ""},
	{"lucaderi-sgr/TicketOne.pcap", ""},
	{"lucaderi-sgr/doh_luca.pcap", ""},
	{"lucaderi-sgr/443-firefox.pcap", ""},
	{"lucaderi-sgr/instagram.pcap", ""}, // 2015 to 2019
	{"zeek/wikipedia.pcap", ""},
	{"zeek/workshop_2011_browse.pcap", ""},
	{"zeek/bro.org.pcap", ""},
	{"zeek/quic_win11_firefox_google.pcap", ""},
	{"zeek/ssh.pcap", ""}, // three years
	{"zeek/NTP_sync.pcap", ""},
	{"ndpi/reddit.pcap", ""},
	{"ndpi/googledns_android10.pcap", ""},
	{"ndpi/chrome.pcap", ""},
	{"ndpi/KakaoTalk_talk.pcap", ""},
	{"ndpi/ocs.pcap", ""},
	{"rusllang-mlqos/wireshark.pcap", ""},
	{"id2t/reference_1998.pcap", ""},
}

// TestBenignPublicCaptures replays each benign public capture into a
// detector with the default configuration, at the four alignments on the
// window grid TestPublicAttackCaptures uses: no attack is named at any.
func TestBenignPublicCaptures(t *testing.T) {
	if _, err := os.Stat(filepath.Join(sharedPcaps, "expected.json")); err != nil {
		t.Skipf("real captures not found at %s (the project's shared/ folder beside the repo): skipping", sharedPcaps)
	}
	for _, c := range benignPublic {
		for _, shift := range publicShifts {
			r := replayPublic(t, publicAttack{file: c.file}, shift)
			switch {
			case c.known != "":
				t.Logf("known: %s shifted %s named %v (%s)", c.file, shift, r.types, c.known)
			case len(r.types) > 0:
				t.Errorf("%s (benign, %d windows) shifted %s: named %v", c.file, r.windows, shift, r.types)
			}
		}
	}
}
