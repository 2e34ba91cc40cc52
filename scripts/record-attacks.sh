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
# The network lives entirely in network namespaces this script creates
# (na-rec-<pid>-*): hosts victim, router, attacker, client1-3 on a Linux
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

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
have() { command -v "$1" >/dev/null 2>&1; }
# pause SECONDS: a sleep that a signal interrupts at once (a foreground
# sleep would hold the trap until it ends).
pause() { sleep "$1" & wait $!; }

# ---------------------------------------------------------------- tools
# command:package; the package is installed when the command is missing.
# (brctl and ping are not used by the script: they are there to look at the
# test network by hand; arping stands in for python3 for ARP spoofing.)
TOOLS="tcpdump:tcpdump ip:iproute2 bridge:iproute2 nmap:nmap hping3:hping3 hydra:hydra
slowhttptest:slowhttptest sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client
dnsmasq:dnsmasq-base nginx:nginx-light curl:curl dig:dnsutils brctl:bridge-utils
arping:arping ping:iputils-ping timeout:coreutils python3:python3"
path_has() { PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1; }
export PATH=$PATH:/usr/sbin:/sbin

install_missing() {
	local pkgs="" entry cmd pkg
	for entry in $TOOLS; do
		cmd=${entry%%:*} pkg=${entry#*:}
		path_has "$cmd" || pkgs="$pkgs $pkg"
	done
	[ -n "$pkgs" ] || return 0
	if [ "$INSTALL" -eq 0 ] || ! have apt-get; then
		log "missing packages (not installing):$pkgs"
		return 0
	fi
	log "installing:$pkgs"
	# Keep the packages' services (sshd, nginx) from starting on the host:
	# this script runs its own copies inside the namespaces.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	local p avail=""
	apt-get update -qq || log "apt-get update failed; trying the cached package lists"
	for p in $pkgs; do
		if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			avail="$avail $p"
		else
			log "package $p is not available; what needs it is skipped"
		fi
	done
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	[ -z "$avail" ] || apt-get install -y -qq --no-install-recommends $avail >/dev/null ||
		log "apt-get install failed; going on with what is installed"
	if [ "$made_policy" -eq 1 ]; then
		rm -f "$policy"
		trap - EXIT
	fi
}
install_missing
for c in ip tcpdump timeout curl; do have "$c" || die "$c is required and not installed"; done
PY=$(command -v /usr/bin/python3 || command -v python3 || true)

# ---------------------------------------------------------------- layout
P="na-rec-$$"
NS_SW="$P-switch" NS_VICTIM="$P-victim" NS_ROUTER="$P-router" NS_ATTACKER="$P-attacker" NS_WAN="$P-wan"
NS_CLIENTS=("$P-client1" "$P-client2" "$P-client3")
ALL_NS=("$NS_SW" "$NS_VICTIM" "$NS_ROUTER" "$NS_ATTACKER" "$NS_WAN" "${NS_CLIENTS[@]}")

LAN4=10.213.0 LAN6=fd00:213: WAN4=10.213.1
VICTIM=$LAN4.10 VICTIM6=${LAN6}:10
ROUTER=$LAN4.1 ROUTER6=${LAN6}:1
ATTACKER=$LAN4.66
SPOOFED=("$LAN4.200" "$LAN4.201" "$LAN4.202" "$LAN4.203") # unused LAN addresses
ROUTER_WAN=$WAN4.1 WAN_HOST=$WAN4.2
REFLECTORS=("$WAN4.53" "$WAN4.54" "$WAN4.55" "$WAN4.56")
# client namespace index : IPv4 host part; every client also has an IPv6 twin.
CLIENT_HOSTS=("0:101" "0:102" "0:103" "1:104" "1:105" "1:106" "2:107" "2:108")

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
PCAP=$OUTDIR/realtools.pcap
LABELS=$OUTDIR/realtools.labels.csv
META=$OUTDIR/realtools.meta
SUMMARY=$OUTDIR/realtools.summary.txt
LOGDIR=$OUTDIR/realtools-logs
rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"
rm -f "$PCAP" "$LABELS" "$META" "$SUMMARY"
RUN=$(mktemp -d "/tmp/$P.XXXXXX")
chmod 755 "$RUN" # nginx workers (nobody) read the web root below it
STOP=$RUN/stop
BG_PIDS=()
TCPDUMP_PID=""
CUR_PID=""
MADE_RUN_SSHD=0
SKIPPED=()
T_BEGIN=$(now)

# ---------------------------------------------------------------- cleanup
cleanup() {
	local rc=$? ns pids pid
	set +e
	trap - EXIT
	trap '' INT TERM HUP # a second Ctrl-C must not cut the cleanup short
	touch "$STOP" 2>/dev/null
	[ -z "$TCPDUMP_PID" ] || kill -TERM "$TCPDUMP_PID" 2>/dev/null
	for pid in "${BG_PIDS[@]}" $CUR_PID; do kill "$pid" 2>/dev/null; done
	for ns in "${ALL_NS[@]}"; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one pid per word
		[ -z "$pids" ] || kill $pids 2>/dev/null
	done
	sleep 1
	for ns in "${ALL_NS[@]}"; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	done
	# Our own children: services, loops, and the sleep of a pause.
	for pid in "${BG_PIDS[@]}" $(jobs -p); do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	for ns in "${ALL_NS[@]}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	[ "$MADE_RUN_SSHD" -eq 0 ] || rmdir /run/sshd 2>/dev/null
	rm -rf "$RUN"
	[ "$rc" -eq 0 ] || log "failed (exit $rc); namespaces and processes cleaned up"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- network
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

log "creating namespaces $P-* in $RUN"
for ns in "${ALL_NS[@]}"; do
	ip netns add "$ns"
	nsx "$ns" ip link set lo up
done
nsx "$NS_SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx "$NS_SW" ip link add br0 type bridge stp_state 0 forward_delay 0
nsx "$NS_SW" ip link set br0 up

# lan_host NS PORT: a veth from namespace NS (eth0) to bridge port PORT.
lan_host() {
	local ns=$1 port=$2
	ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$ns"
	ip -n "$NS_SW" link set "$port" master br0 up
	nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 2>/dev/null || true
	ip -n "$ns" link set eth0 up
}
lan_host "$NS_VICTIM" p-victim
ip -n "$NS_VICTIM" addr add "$VICTIM/24" dev eth0
ip -n "$NS_VICTIM" addr add "$VICTIM6/64" dev eth0 nodad
lan_host "$NS_ROUTER" p-router
ip -n "$NS_ROUTER" addr add "$ROUTER/24" dev eth0
ip -n "$NS_ROUTER" addr add "$ROUTER6/64" dev eth0 nodad
lan_host "$NS_ATTACKER" p-attacker
ip -n "$NS_ATTACKER" addr add "$ATTACKER/24" dev eth0
for i in 0 1 2; do lan_host "${NS_CLIENTS[$i]}" "p-client$((i + 1))"; done
for ch in "${CLIENT_HOSTS[@]}"; do
	i=${ch%%:*} h=${ch#*:}
	ip -n "${NS_CLIENTS[$i]}" addr add "$LAN4.$h/24" dev eth0
	ip -n "${NS_CLIENTS[$i]}" addr add "${LAN6}:$h/64" dev eth0 nodad
done
# Behind the router: the reflectors' network. The router forwards between
# the two; the victim knows the way back (for its ICMP errors). No default
# route anywhere.
ip -n "$NS_ROUTER" link add wan0 type veth peer name eth0 netns "$NS_WAN"
ip -n "$NS_ROUTER" addr add "$ROUTER_WAN/24" dev wan0
ip -n "$NS_ROUTER" link set wan0 up
ip -n "$NS_WAN" addr add "$WAN_HOST/24" dev eth0
for r in "${REFLECTORS[@]}"; do ip -n "$NS_WAN" addr add "$r/32" dev eth0; done
ip -n "$NS_WAN" link set eth0 up
ip -n "$NS_WAN" route add "$LAN4.0/24" via "$ROUTER_WAN"
ip -n "$NS_VICTIM" route add "$WAN4.0/24" via "$ROUTER"
nsx "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1
nsx "$NS_ATTACKER" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0

mac_of() { ip -n "$1" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
ATTACKER_MAC=$(mac_of "$NS_ATTACKER")
ROUTER_MAC=$(mac_of "$NS_ROUTER")
VICTIM_MAC=$(mac_of "$NS_VICTIM")

# ---------------------------------------------------------------- capture
log "capturing on br0 in $NS_SW"
ip netns exec "$NS_SW" tcpdump -i br0 -s 256 -B 65536 -Z root -nn -w "$PCAP" 2>"$RUN/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 50); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.1; done
grep -q 'listening on' "$RUN/tcpdump.err" || die "tcpdump did not start: $(cat "$RUN/tcpdump.err")"
T_CAPTURE=$(now)

# ---------------------------------------------------------------- services
# Web server on the victim: a few pages of different sizes.
mkdir -p "$RUN/www" "$RUN/nginx"
head -c 2000 /dev/urandom | base64 >"$RUN/www/index.html"
head -c 15000 /dev/urandom | base64 >"$RUN/www/page.html"
head -c 120000 /dev/urandom >"$RUN/www/image.jpg"
head -c 600000 /dev/urandom >"$RUN/www/download.bin"
chmod -R a+rX "$RUN/www"
if have nginx; then
	cat >"$RUN/nginx/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
user nobody nogroup;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $RUN/nginx/body;
    proxy_temp_path $RUN/nginx/proxy;
    fastcgi_temp_path $RUN/nginx/fastcgi;
    uwsgi_temp_path $RUN/nginx/uwsgi;
    scgi_temp_path $RUN/nginx/scgi;
    keepalive_timeout 5;
    client_header_timeout 120s;
    server {
        listen $VICTIM:80;
        listen [$VICTIM6]:80;
        root $RUN/www;
    }
}
EOF
	ip netns exec "$NS_VICTIM" nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" >"$LOGDIR/nginx.log" 2>&1 &
	BG_PIDS+=($!)
	WEB=nginx
elif [ -n "$PY" ]; then
	(cd "$RUN/www" && exec ip netns exec "$NS_VICTIM" "$PY" -m http.server 80 --bind "$VICTIM" >"$LOGDIR/http.log" 2>&1) &
	BG_PIDS+=($!)
	WEB="python3 http.server"
else
	die "no web server: install nginx-light or python3"
fi

# DNS server for the local zone, on the router.
HAVE_DNS=0
if have dnsmasq; then
	ip netns exec "$NS_ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--user=nobody --group=nogroup --pid-file="$RUN/dnsmasq-lan.pid" --bind-interfaces \
		--listen-address="$ROUTER" --listen-address="$ROUTER6" --local=/lab.test/ --domain-needed \
		--host-record="www.lab.test,$VICTIM,$VICTIM6" --host-record="ssh.lab.test,$VICTIM,$VICTIM6" \
		--host-record="gw.lab.test,$ROUTER,$ROUTER6" --host-record="mail.lab.test,$LAN4.25" \
		--mx-host=lab.test,mail.lab.test,10 --txt-record=lab.test,"v=spf1 mx -all" \
		--cname=intranet.lab.test,www.lab.test --srv-host=_ssh._tcp.lab.test,ssh.lab.test,22 \
		>"$LOGDIR/dnsmasq-lan.log" 2>&1 &
	BG_PIDS+=($!)
	HAVE_DNS=1
else
	SKIPPED+=("benign DNS: dnsmasq not installed")
fi

# SSH server on the victim. Key logins as root inside the victim namespace
# (the namespaces share the host's user database, so no test account is
# created); password guesses go to accounts that do not exist.
HAVE_SSH=0
if have sshd && have ssh && have ssh-keygen; then
	ssh-keygen -q -t ed25519 -N '' -f "$RUN/ssh_host_ed25519_key"
	ssh-keygen -q -t ed25519 -N '' -f "$RUN/client_key"
	cp "$RUN/client_key.pub" "$RUN/authorized_keys"
	cat >"$RUN/sshd_config" <<EOF
Port 22
ListenAddress $VICTIM
ListenAddress $VICTIM6
HostKey $RUN/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile $RUN/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
MaxStartups 200:30:400
MaxAuthTries 6
LoginGraceTime 20
PrintMotd no
PrintLastLog no
EOF
	if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd && MADE_RUN_SSHD=1; fi
	ip netns exec "$NS_VICTIM" "$(command -v sshd)" -D -f "$RUN/sshd_config" -E "$LOGDIR/sshd.log" &
	BG_PIDS+=($!)
	HAVE_SSH=1
else
	SKIPPED+=("benign SSH and brute force: openssh-server/openssh-client not installed")
fi

# wait_for NS CMD...: retry CMD in NS for up to 10 s.
wait_for() {
	local ns=$1 i
	shift
	for i in $(seq 50); do
		nsx "$ns" "$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
wait_for "${NS_CLIENTS[0]}" curl -sf -o /dev/null --max-time 1 "http://$VICTIM/" || die "web server on $VICTIM does not answer ($WEB)"
if [ "$HAVE_DNS" -eq 1 ] && have dig; then
	wait_for "${NS_CLIENTS[0]}" dig +short +time=1 +tries=1 "@$ROUTER" www.lab.test ||
		die "dnsmasq on $ROUTER does not answer: $(cat "$LOGDIR/dnsmasq-lan.log")"
fi
if [ "$HAVE_SSH" -eq 1 ]; then
	wait_for "${NS_CLIENTS[0]}" ssh -F /dev/null -i "$RUN/client_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=2 "root@$VICTIM" true ||
		die "sshd on $VICTIM does not accept the test key: $(tail -5 "$LOGDIR/sshd.log")"
fi

# ---------------------------------------------------------------- benign
# The loops run inside the client namespaces; each is bounded by a count,
# a deadline and the stop file, and every command in them by a timeout.
running() { [ ! -e "$STOP" ] && [ "$EPOCHSECONDS" -lt "$1" ]; } # running UNTIL
rsleep() { # rsleep MIN_MS MAX_MS
	local ms=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}
http_loop() { # http_loop SRC4 SRC6 MEAN_MS
	local src4=$1 src6=$2 mean=$3 i url host r
	for ((i = 0; i < 20000; i++)); do
		running "$DEADLINE" || break
		host=$VICTIM src=$src4
		if ((RANDOM % 4 == 0)); then host="[$VICTIM6]" src=$src6; fi
		r=$((RANDOM % 100))
		if ((r < 45)); then url=/index.html
		elif ((r < 75)); then url=/page.html
		elif ((r < 90)); then url=/image.jpg
		elif ((r < 95)); then url=/download.bin
		else url=/missing-$RANDOM; fi
		timeout 20 curl -s -o /dev/null --max-time 15 --interface "$src" "http://$host$url" >/dev/null
		# a page pulls its assets now and then
		if ((RANDOM % 5 == 0)); then
			timeout 20 curl -s -o /dev/null -o /dev/null --max-time 15 --interface "$src" "http://$host/page.html" "http://$host/image.jpg" >/dev/null
		fi
		rsleep $((mean / 4)) $((mean * 7 / 4))
	done
}
dns_loop() { # dns_loop SRC4 SRC6 MEAN_MS
	local src4=$1 src6=$2 mean=$3 i names types server src
	names=(www.lab.test mail.lab.test gw.lab.test intranet.lab.test lab.test ssh.lab.test "host$RANDOM.lab.test" _ssh._tcp.lab.test)
	types=(A A A AAAA MX TXT A SRV)
	for ((i = 0; i < 20000; i++)); do
		running "$DEADLINE" || break
		server=$ROUTER src=$src4
		if ((RANDOM % 4 == 0)); then server=$ROUTER6 src=$src6; fi
		local k=$((RANDOM % ${#names[@]}))
		timeout 6 dig +time=2 +tries=1 -b "$src" "@$server" "${names[$k]}" "${types[$k]}" >/dev/null
		rsleep $((mean / 4)) $((mean * 7 / 4))
	done
}
ssh_loop() { # ssh_loop SRC MIN_MS MAX_MS
	local src=$1 i
	rsleep 1000 "$3"
	for ((i = 0; i < 1000; i++)); do
		running "$DEADLINE" || break
		timeout 20 ssh -F /dev/null -i "$RUN/client_key" -b "$src" -o BatchMode=yes -o StrictHostKeyChecking=no \
			-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 "root@$VICTIM" \
			'uptime; ls -l /usr/bin | head -c 4000' >/dev/null 2>&1
		rsleep "$2" "$3"
	done
}
spike_loop() { # spike_loop SRC UNTIL: back-to-back downloads until UNTIL (epoch seconds)
	local src=$1 until=$2 i
	for ((i = 0; i < 5000; i++)); do
		running "$until" || break
		timeout 10 curl -s -o /dev/null -o /dev/null --max-time 8 --interface "$src" "http://$VICTIM/page.html" "http://$VICTIM/image.jpg" >/dev/null
	done
}
export -f running rsleep http_loop dns_loop ssh_loop spike_loop
export STOP RUN VICTIM VICTIM6 ROUTER ROUTER6

# The loops' deadline: the planned length with a generous margin.
export DEADLINE=$((EPOCHSECONDS + PLANNED + 900))

log "starting benign background: HTTP ($WEB), DNS, SSH from ${#CLIENT_HOSTS[@]} client addresses"
T_BACKGROUND=$(now)
n=0
for ch in "${CLIENT_HOSTS[@]}"; do
	i=${ch%%:*} h=${ch#*:}
	ns=${NS_CLIENTS[$i]}
	mean=$((1500 + (n % 4) * 700)) # clients differ: 1.5 to 3.6 s between requests
	ip netns exec "$ns" bash -c 'http_loop "$@"' _ "$LAN4.$h" "${LAN6}:$h" "$mean" &
	BG_PIDS+=($!)
	if [ "$HAVE_DNS" -eq 1 ] && have dig; then
		ip netns exec "$ns" bash -c 'dns_loop "$@"' _ "$LAN4.$h" "${LAN6}:$h" $((mean + 1000)) &
		BG_PIDS+=($!)
	fi
	if [ "$HAVE_SSH" -eq 1 ] && ((n % 2 == 0)); then
		ip netns exec "$ns" bash -c 'ssh_loop "$@"' _ "$LAN4.$h" 25000 75000 &
		BG_PIDS+=($!)
	fi
	n=$((n + 1))
done

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
		txt=$(head -c 3000 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 1000)
		ip netns exec "$NS_WAN" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
			--user=nobody --group=nogroup --pid-file="$RUN/dnsmasq-wan.pid" --bind-interfaces \
			"${REFLECTORS[@]/#/--listen-address=}" --edns-packet-max=1232 \
			--txt-record="amp.reflect.test,${txt:0:250},${txt:250:250},${txt:500:250},${txt:750:250}" \
			>"$LOGDIR/dnsmasq-reflectors.log" 2>&1 &
		BG_PIDS+=($!)
		# id 0x2a17, RD, one question amp.reflect.test TXT IN, EDNS0 OPT 4096.
		printf '\x2a\x17\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03amp\x07reflect\x04test\x00\x00\x10\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00' >"$RUN/query.bin"
		qlen=$(stat -c %s "$RUN/query.bin")
		if wait_for "$NS_WAN" dig +time=1 +tries=1 +bufsize=4096 "@${REFLECTORS[0]}" amp.reflect.test TXT; then
			args=()
			for r in "${REFLECTORS[@]}"; do
				args+=("-q -n --udp -a $VICTIM -s 20000 -p 53 -E $RUN/query.bin -d $qlen -c 2500 -i u2000 $r")
			done
			attack dnsamp dns_amplification "$WAN4.0/24" wan hping_many "$NS_WAN" "${args[@]}"
		else
			skip dnsamp "the reflector dnsmasq did not answer"
		fi
	else skip dnsamp "dnsmasq or hping3 not installed"; fi
fi
if selected arpspoof; then
	if [ -n "$PY" ]; then
		cat >"$RUN/arpspoof.py" <<'EOF'
# ARP spoofing as arpspoof/ettercap do it: every second, tell the whole LAN
# (gratuitous reply) that the router's IPv4 address is at the attacker's MAC,
# and tell the router that the victim's is; the attacker forwards what it
# gets (man in the middle). At the end, re-ARP the true addresses.
import socket, struct, sys, time
iface, mine, router_ip, router_mac, victim_ip, victim_mac, rounds = sys.argv[1:8]
mac = lambda s: bytes.fromhex(s.replace(":", ""))
ip = socket.inet_aton
mine, router_mac, victim_mac = mac(mine), mac(router_mac), mac(victim_mac)
bcast = b"\xff" * 6
def reply(dst, sender_mac, sender_ip, target_mac, target_ip):
    return dst + mine + b"\x08\x06" + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2,
        sender_mac, ip(sender_ip), target_mac, ip(target_ip))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
sent = 0
for _ in range(int(rounds)):
    s.send(reply(bcast, mine, router_ip, bcast, router_ip))
    s.send(reply(router_mac, mine, victim_ip, router_mac, router_ip))
    sent += 2
    time.sleep(1)
for _ in range(3):
    s.send(reply(bcast, router_mac, router_ip, bcast, router_ip))
    s.send(reply(router_mac, victim_mac, victim_ip, router_mac, router_ip))
    sent += 2
    time.sleep(0.5)
print("sent", sent, "ARP replies")
EOF
		arp_mitm() {
			nsx "$NS_ATTACKER" sysctl -qw net.ipv4.ip_forward=1
			local rc=0
			timeout $((ARP_ROUNDS + 30)) ip netns exec "$NS_ATTACKER" "$PY" "$RUN/arpspoof.py" eth0 "$ATTACKER_MAC" \
				"$ROUTER" "$ROUTER_MAC" "$VICTIM" "$VICTIM_MAC" "$ARP_ROUNDS" || rc=$?
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
touch "$STOP"
for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
sleep 1
# (TERM: a background job of a script ignores INT)
kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
wait "$TCPDUMP_PID" 2>/dev/null || true
TCPDUMP_PID=""
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
