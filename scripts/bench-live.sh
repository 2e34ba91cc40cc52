#!/usr/bin/env bash
# Live capture benchmark: the exporter captures on one end of a veth pair in
# network namespace B while namespace A sends into the other end, first a
# replay of a real capture with tcpreplay (one packet per system call, tops
# out near 300 k packets/s here), then frames from scripts/sendflood
# (sendmmsg on an AF_PACKET socket) for higher rates. For each capture
# method, with the detector on and off, and each rung of a ladder of offered
# rates it prints: the rate the sender achieved, the packets the exporter
# counted and dropped, and the exporter's CPU time per packet (utime+stime
# from /proc/PID/stat); then the highest rate each setting keeps at no more
# than 0.1% lost.
#
# Needs root, iproute2, curl, GNU time and tcpreplay (apt-get install
# tcpreplay; without it the replay rungs are skipped). About 7 minutes with
# the defaults. Everything below can be set in the environment:
#
#   METHODS="afpacket pcap"   DETECTOR="on off"   SECONDS_PER_RUNG=10
#   REPLAY_RATES="50000 150000 top"  (tcpreplay --pps; top = --topspeed)
#   FLOOD_RATES="200000 300000 400000 top"  (sendflood -pps; top = 0)
#   TOP_PACKETS=20000000  (most packets of a "top" rung, which also stops
#                          after SECONDS_PER_RUNG)
#   CAPTURE=test/corpus/testdata/benign-busy-hour.pcap.gz   PORT=19957
#   EXPORTER_FLAGS=""     (more flags for the exporter, e.g. --capture.buffer-size=64MiB)
#
# A rung lasts SECONDS_PER_RUNG, a window's length (10 s), so that every
# rung includes a window close, and longer than the exporter's buffers (the
# kernel ring, 32 MiB, and a queue of 64 batches of 256 packets between
# capture and features) can hide a rate it does not keep up with. Lost =
# sent - counted (netanomaly_packets_total), whichever stage lost it; CPU
# per packet is over the packets the exporter read (received - kernel
# drops). sendflood's frames carry other hosts' MACs, as on a mirror port,
# so the receiving kernel drops them after the capture taps without an IP
# route lookup. The kernel's copy into the exporter's ring runs in the
# sender's context (a veth delivers in the sender's softirq): it is in the
# sender's CPU column, not the exporter's.
set -euo pipefail
cd "$(dirname "$0")/.."

methods=${METHODS:-afpacket pcap}
detector=${DETECTOR:-on off}
secs=${SECONDS_PER_RUNG:-10}
replay_rates=${REPLAY_RATES:-50000 150000 top}
flood_rates=${FLOOD_RATES:-200000 300000 400000 top}
top_packets=${TOP_PACKETS:-20000000}
capture=${CAPTURE:-test/corpus/testdata/benign-busy-hour.pcap.gz}
port=${PORT:-19957}
extra=${EXPORTER_FLAGS:-}

[ "$(id -u)" = 0 ] || { echo 'bench-live: needs root (network namespaces)' >&2; exit 1; }
for c in ip curl /usr/bin/time timeout; do
	command -v "$c" >/dev/null || { echo "bench-live: needs $c" >&2; exit 1; }
done
have_tcpreplay=1
command -v tcpreplay >/dev/null || { have_tcpreplay=0; echo 'bench-live: tcpreplay not installed (apt-get install tcpreplay): replay rungs skipped' >&2; }

nsa=nabench$$a
nsb=nabench$$b
tmp=$(mktemp -d)
exporter=
cleanup() {
	if [ -n "$exporter" ]; then kill "$exporter" 2>/dev/null || true; fi
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/x" ./cmd/netanomaly_exporter
go build -o "$tmp/sendflood" ./scripts/sendflood
if [ "$have_tcpreplay" = 1 ]; then
	case $capture in
	*.gz) gzip -dc "$capture" >"$tmp/replay.pcap" ;;
	*) cp "$capture" "$tmp/replay.pcap" ;;
	esac
fi

# Two namespaces, a veth between them, no addresses and no route out; IPv6
# off so neither end sends router or neighbour solicitations into the count.
ip netns add "$nsa"
ip netns add "$nsb"
ip link add a0 netns "$nsa" type veth peer name b0 netns "$nsb"
for ns in "$nsa" "$nsb"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$nsa" link set a0 up
ip -n "$nsb" link set b0 up

clk=$(getconf CLK_TCK)

scrape() {
	ip netns exec "$nsb" curl -sf --max-time 5 "http://127.0.0.1:$port/metrics"
}

# metric FILE NAME [LABEL]: the sum of NAME's series (with LABEL, e.g.
# stage="kernel", only those that have it).
metric() {
	awk -v name="$2" -v label="${3:-}" '
		$1 == name || index($1, name "{") == 1 { if (label == "" || index($1, label)) s += $NF }
		END { printf "%.0f\n", s }' "$1"
}

# cpu_ticks PID: utime+stime in clock ticks (fields 14 and 15 of stat; the
# command name, field 2, is cut off first as it may hold spaces).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat")
	s=${s##*) }
	awk '{ print $12 + $13 }' <<<"$s"
}

b0_stat() {
	ip netns exec "$nsb" cat "/sys/class/net/b0/statistics/$1"
}

# settle FILE: scrape into FILE once the counters stop moving (the exporter
# renders them about once a second, so two scrapes are 1.1 s apart).
settle() {
	local prev=-1 cur i
	for i in $(seq 1 10); do
		sleep 1.1
		scrape >"$1"
		cur="$(metric "$1" netanomaly_capture_packets_received_total) $(metric "$1" netanomaly_packets_total)"
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
	done
	echo "bench-live: counters still moving after $i scrapes" >&2
}

# delta NAME [LABEL]: how much a counter grew over the rung.
delta() {
	echo $(($(metric "$tmp/after" "$@") - $(metric "$tmp/before" "$@")))
}

start_exporter() { # method detector
	local flags=(serve --capture.interface=b0 --capture.method="$1" --web.listen-address="127.0.0.1:$port")
	[ "$2" = off ] && flags+=(--no-detector.enable)
	# shellcheck disable=SC2206 # EXPORTER_FLAGS is a list of flags
	flags+=($extra)
	ip netns exec "$nsb" "$tmp/x" "${flags[@]}" >"$tmp/exporter.log" 2>&1 &
	exporter=$!
	local i
	for i in $(seq 1 60); do
		if scrape >"$tmp/m" 2>/dev/null && grep -q '^netanomaly_capture_state{.*state="capturing".* 1$' "$tmp/m"; then
			return 0
		fi
		kill -0 "$exporter" 2>/dev/null || break
		sleep 0.5
	done
	echo "bench-live: the exporter did not start capturing ($1, detector $2):" >&2
	cat "$tmp/exporter.log" >&2
	exit 1
}

stop_exporter() {
	local i
	kill "$exporter" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$exporter" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 "$exporter" 2>/dev/null || true
	wait "$exporter" 2>/dev/null || true
	exporter=
}

# send SENDER RATE: sends into a0 and leaves "sent seconds cpu" in
# $tmp/sent: the packets the sender got out, in how long, and its CPU
# seconds. A rung is bounded in packets (RATE x SECONDS_PER_RUNG, or
# TOP_PACKETS) and in time (a "top" rung stops after SECONDS_PER_RUNG).
send() {
	local n limit=$((secs * 4 + 30)) stop
	if [ "$2" = top ]; then n=$top_packets stop=$secs; else n=$(($2 * secs)) stop=$limit; fi
	case $1 in
	tcpreplay)
		local rate=(--pps="$2")
		[ "$2" = top ] && rate=(--topspeed)
		/usr/bin/time -f '%U %S' -o "$tmp/sender.time" timeout -k 5 "$((limit + 30))" \
			ip netns exec "$nsa" tcpreplay --intf1=a0 --preload-pcap --loop=0 --limit="$n" --duration="$stop" "${rate[@]}" "$tmp/replay.pcap" >"$tmp/sender.out" 2>&1 || true
		awk -v cpu="$(awk '{ print $1 + $2 }' "$tmp/sender.time")" '
			/Actual:/ { for (i = 1; i <= NF; i++) { if ($i == "packets") p = $(i - 1); if ($i == "seconds") s = $(i - 1) } }
			/Failed packets:/ { f = $3 }
			END { if (p != "") printf "%d %s %s\n", p - f, s, cpu }' "$tmp/sender.out" >"$tmp/sent"
		;;
	sendflood)
		local pps=$2
		[ "$2" = top ] && pps=0
		timeout -k 5 "$((limit + 30))" ip netns exec "$nsa" "$tmp/sendflood" -i a0 -dst-mac 02:00:00:00:00:02 \
			-n "$n" -pps "$pps" -timeout "${stop}s" >"$tmp/sender.out" 2>&1 || true
		sed -n 's/^sent=\([0-9]*\) seconds=\([0-9.]*\) pps=[0-9]* cpu=\([0-9.]*\)$/\1 \2 \3/p' "$tmp/sender.out" >"$tmp/sent"
		;;
	esac
	if ! [ -s "$tmp/sent" ]; then
		echo "bench-live: $1 at $2 sent nothing:" >&2
		cat "$tmp/sender.out" >&2
		exit 1
	fi
}

echo "# $(date -u +%Y-%m-%d) $(uname -r), $(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "# $secs s per rung; $(uptime | sed 's/.*load/load/')"
summary=()
for m in $methods; do
	for d in $detector; do
		start_exporter "$m" "$d"
		# Idle cost: what the exporter burns with no traffic (scrape
		# rendering, window closes), to tell it from the per-packet cost.
		t0=$(cpu_ticks "$exporter")
		sleep 5
		idle=$(awk -v a="$t0" -v b="$(cpu_ticks "$exporter")" -v k="$clk" 'BEGIN { printf "%.1f", (b - a) / k / 5 * 1000 }')
		echo
		echo "## $m, detector $d (idle: $idle ms of CPU per second)"
		echo
		echo '| sender | offered pps | sent pps | sent | received | counted | lost % | kernel drops | queue drops | veth drops | exporter CPU ns/packet | net of idle | sender CPU ns/packet |'
		echo '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
		: >"$tmp/rungs"
		for sender in tcpreplay sendflood; do
			if [ "$sender" = tcpreplay ]; then
				[ "$have_tcpreplay" = 1 ] || continue
				rates=$replay_rates
			else
				rates=$flood_rates
			fi
			for r in $rates; do
				scrape >"$tmp/before"
				vd0=$(b0_stat rx_dropped)
				c0=$(cpu_ticks "$exporter")
				w0=$(date +%s.%N)
				send "$sender" "$r"
				settle "$tmp/after"
				c1=$(cpu_ticks "$exporter")
				w1=$(date +%s.%N)
				vd1=$(b0_stat rx_dropped)
				read -r sent sent_secs sender_cpu <"$tmp/sent"
				row=$(awk -v sender="$sender" -v r="$r" -v sent="$sent" -v ss="$sent_secs" \
					-v rcv="$(delta netanomaly_capture_packets_received_total)" \
					-v cnt="$(delta netanomaly_packets_total)" \
					-v kd="$(delta netanomaly_capture_packets_dropped_total 'stage="kernel"')" \
					-v qd="$(delta netanomaly_capture_packets_dropped_total 'stage="queue"')" \
					-v vd="$((vd1 - vd0))" -v cpu="$((c1 - c0))" -v k="$clk" -v idle="$idle" -v w0="$w0" -v w1="$w1" \
					-v scpu="$sender_cpu" 'BEGIN {
						lost = sent > 0 ? (sent - cnt) / sent * 100 : 0
						# Per packet the exporter read from the kernel
						# (its queue drops were read and decoded).
						read = rcv - kd
						ns = read > 0 ? cpu / k / read * 1e9 : 0
						net = read > 0 ? (cpu / k - idle / 1000 * (w1 - w0)) / read * 1e9 : 0
						printf "%s|%s|%.0f|%d|%d|%d|%.3f|%d|%d|%d|%.0f|%.0f|%.0f\n", sender, r, sent / ss, sent, rcv, cnt, lost, kd, qd, vd, ns, net, scpu / sent * 1e9
					}')
				IFS='|' read -r _ _ pps _ _ _ lost _ <<<"$row"
				echo "| ${row//|/ | } |"
				echo "$pps $lost $sender at $r" >>"$tmp/rungs"
			done
		done
		# The rate kept: the fastest rung at or under 0.1% lost with every
		# slower rung at or under it too. A faster rung that happened to
		# pass is listed, not counted.
		summary+=("$m, detector $d: $(sort -n "$tmp/rungs" | awk '
			$2 > 0.1 && !failed { failed = 1; first = sprintf("%s pps (%s %s %s, %s%% lost)", $1, $3, $4, $5, $2) }
			$2 <= 0.1 && !failed { kept = $1; rung = $3 " " $4 " " $5 }
			$2 <= 0.1 && failed { later = later sprintf(" %s", $1) }
			END {
				printf "keeps %s pps at <= 0.1%% lost (%s); first rung over: %s", kept + 0, rung == "" ? "no rung" : rung, first == "" ? "none" : first
				if (later != "") printf "; faster rungs that passed anyway:%s", later
			}')")
		stop_exporter
	done
done
echo
printf '%s\n' "${summary[@]}"
