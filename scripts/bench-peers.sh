#!/usr/bin/env bash
# Compares the exporter's replay with argus, tshark and tcpdump on one large
# capture: each tool reads the same file RUNS times (default 5), the order of
# the tools rotating every round, and the script prints the medians of wall
# time and peak RSS (GNU time) and the exporter's speed against each peer.
#
#   RUNS=5        runs of each tool
#   PCAP=FILE     capture to read (default: about 2.1 million packets of mixed
#                 traffic from netanomaly_synth, 1.7 GB, in a temporary folder)
#   PEERS="argus tshark tcpdump"   peers to run (tshark takes most of the time)
#
# It installs nothing: it names the Debian package of any missing tool. On 2
# vCPUs it takes 4.5 minutes in a quiet phase, up to 10 on a busy machine;
# tshark is most of it (2.7 GB peak RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
PATH=$PATH:/usr/sbin:/sbin

runs=${RUNS:-5}
peers=${PEERS:-argus tshark tcpdump}
case $runs in '' | *[!0-9]* | 0) echo "bench-peers: RUNS must be a positive integer, not '$runs'" >&2; exit 2 ;; esac

missing=0
need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "bench-peers: needs $1 (Debian package $2: apt-get install $2)" >&2
		missing=1
	fi
}
need go golang-go
[ -x /usr/bin/time ] || { echo "bench-peers: needs GNU time as /usr/bin/time (Debian package time: apt-get install time)" >&2; missing=1; }
for p in $peers; do
	case $p in
	argus) need argus argus-server ;; # argus-client has ra, not argus
	tshark) need tshark tshark ;;
	tcpdump) need tcpdump tcpdump ;;
	*) echo "bench-peers: unknown peer '$p' (known: argus tshark tcpdump)" >&2; exit 2 ;;
	esac
done
[ "$missing" = 0 ] || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/netanomaly_exporter" ./cmd/netanomaly_exporter
pcap=${PCAP:-}
if [ -z "$pcap" ]; then
	# Two hours of a 50-client network at 285 packets/s (web, TLS, QUIC, DNS,
	# SSH, mail, file shares, NTP...) with five attacks; the same every time.
	pcap=$tmp/bench.pcap
	go run ./cmd/netanomaly_synth --seed=1 --duration=2h --background.rate=285 \
		--attack=port_scan@20m+60s --attack=brute_force@40m+2m:ssh \
		--attack=syn_flood@60m+60s/1000 --attack=dns_amplification@80m+60s/500 \
		--attack=slowloris@100m+3m --output="$pcap" >/dev/null 2>"$tmp/stderr" ||
		{ cat "$tmp/stderr" >&2; exit 1; }
fi
[ -r "$pcap" ] || { echo "bench-peers: cannot read $pcap" >&2; exit 1; }
cat "$pcap" >/dev/null # into the page cache: every run reads from memory

# Each tool does its usual whole job on the file and writes its usual output;
# GNU time measures the tool itself, not a shell around it.
run_tool() {
	local timed=(/usr/bin/time -f '%e %M' -o "$tmp/time")
	case $1 in
	exporter) "${timed[@]}" "$tmp/netanomaly_exporter" replay --capture.pcap="$pcap" >"$tmp/metrics" ;;
	exporter-nodetector) "${timed[@]}" "$tmp/netanomaly_exporter" replay --no-detector.enable --capture.pcap="$pcap" >"$tmp/metrics" ;;
	# -X: argus's defaults, not /etc/argus.conf (which adds /var/log/argus).
	argus) "${timed[@]}" argus -X -r "$pcap" -w "$tmp/flows.argus" && rm -f "$tmp/flows.argus" ;;
	tshark) "${timed[@]}" tshark -n -q -z io,phs -r "$pcap" >"$tmp/phs" ;;
	tcpdump) "${timed[@]}" tcpdump -nr "$pcap" >/dev/null ;;
	esac
}

read -ra tools <<<"exporter exporter-nodetector $peers"
n=${#tools[@]}
echo "bench-peers: $(basename "$pcap"), $(du -h "$pcap" | cut -f1); $runs runs of ${tools[*]}"
echo "$(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go version | cut -d' ' -f3)"
for p in $peers; do
	case $p in
	argus) argus -h 2>&1 | grep -m1 'Argus Version' || true ;;
	tshark) tshark --version 2>/dev/null | head -1 ;;
	tcpdump) tcpdump --version 2>&1 | head -1 ;;
	esac
done

: >"$tmp/results"
for ((r = 0; r < runs; r++)); do
	printf 'round %d/%d:' $((r + 1)) "$runs"
	for ((i = 0; i < n; i++)); do
		t=${tools[(i + r) % n]}
		if ! run_tool "$t" 2>"$tmp/stderr"; then
			echo "bench-peers: $t failed on $pcap:" >&2
			cat "$tmp/stderr" >&2
			exit 1
		fi
		read -r wall rss <"$tmp/time"
		echo "$t $wall $rss" >>"$tmp/results"
		printf ' %s %ss' "$t" "$wall"
		if [ "$t" = exporter ] && [ ! -s "$tmp/packets" ]; then
			awk '/^netanomaly_capture_packets_received_total/ {s += $2} END {printf "%d\n", s}' "$tmp/metrics" >"$tmp/packets"
		fi
		if [ "$t" = tshark ] && [ ! -s "$tmp/frames" ]; then
			awk '$1 == "eth" {sub("frames:", "", $2); print $2; exit}' "$tmp/phs" >"$tmp/frames"
		fi
	done
	echo
done

packets=$(cat "$tmp/packets")
if [ -s "$tmp/frames" ] && [ "$(cat "$tmp/frames")" != "$packets" ]; then
	echo "bench-peers: warning: the exporter counted $packets packets, tshark $(cat "$tmp/frames") Ethernet frames" >&2
fi

# Medians, then the table and the exporter's speed against each peer
# (a peer's median wall time over the exporter's).
echo
awk -v packets="$packets" -v order="${tools[*]}" '
function median(a, k,    i, j, t) {
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
}
{ k = ++cnt[$1]; w[$1, k] = $2; m[$1, k] = $3 }
END {
	nt = split(order, tool, " ")
	printf "%d packets, medians of %d runs\n\n", packets, cnt[tool[1]]
	printf "| %-19s | %8s | %13s | %10s | %13s |\n", "tool", "wall s", "wall min-max", "packets/s", "peak RSS MiB"
	printf "| %-19s | %8s | %13s | %10s | %13s |\n", "---", "---:", "---:", "---:", "---:"
	for (i = 1; i <= nt; i++) {
		t = tool[i]; k = cnt[t]
		delete a; for (j = 1; j <= k; j++) a[j] = w[t, j] + 0
		wall[t] = median(a, k); lo = a[1]; hi = a[k]
		if (wall[t] < 0.01) wall[t] = 0.01 # GNU time rounds to 10 ms
		delete a; for (j = 1; j <= k; j++) a[j] = m[t, j] + 0
		rss = median(a, k)
		printf "| %-19s | %8.2f | %6.2f-%-6.2f | %10s | %13.1f |\n", t, wall[t], lo, hi, rate(packets / wall[t]), rss / 1024
	}
	print ""
	print "the exporter against each peer (the peer\47s median wall time over the exporter\47s):"
	target["argus"] = 7; target["tshark"] = 25
	for (i = 1; i <= 2; i++) {
		e = tool[i]; s = e ":"
		for (j = 3; j <= nt; j++) {
			p = tool[j]; x = wall[p] / wall[e]
			s = s sprintf(" %.1fx %s", x, p)
			if (p in target) s = s sprintf(" (target %dx: %s)", target[p], x >= target[p] ? "met" : "not met")
			if (j < nt) s = s ","
		}
		print s
	}
}
function rate(x) { return x >= 1e6 ? sprintf("%.2f M", x / 1e6) : sprintf("%.0f k", x / 1e3) }
' "$tmp/results"
