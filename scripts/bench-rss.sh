#!/usr/bin/env bash
# Replays 5 million packets from random sources (every packet a new source
# and a new flow) and prints the exporter's peak resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${PACKETS:-5000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/netanomaly_exporter" ./cmd/netanomaly_exporter
go run ./cmd/netanomaly_synth flood --packets="$n" --output="$tmp/flood.pcap" 2>"$tmp/stderr" ||
	{ cat "$tmp/stderr" >&2; exit 1; }
start=$(date +%s.%N)
command -v /usr/bin/time >/dev/null || { echo 'needs GNU time: apt-get install time' >&2; exit 1; }
/usr/bin/time -f '%M' -o "$tmp/rss" "$tmp/netanomaly_exporter" replay --capture.pcap="$tmp/flood.pcap" >"$tmp/metrics"
end=$(date +%s.%N)
pkts=$(awk '/^netanomaly_capture_packets_received_total/ {printf "%d", $2}' "$tmp/metrics")
awk -v rss="$(cat "$tmp/rss")" -v pkts="$pkts" -v s="$start" -v e="$end" 'BEGIN {
	printf "packets replayed: %d\n", pkts
	printf "peak RSS: %.1f MiB\n", rss / 1024
	printf "wall time: %.2f s, %.2f M packets/s (capture+decode and features run on two cores)\n", e - s, pkts / (e - s) / 1e6
}'
