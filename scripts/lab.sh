# shellcheck shell=bash
# lab.sh: the private test network of record-attacks.sh and record-corpus.sh.
# Source it; it defines addresses and functions and does nothing by itself.
#
# The network lives entirely in network namespaces (LAB_PREFIX-*, default
# na-rec-<pid>-*): hosts victim, router, attacker, client1-3 on a Linux
# bridge in a namespace of its own ("switch", where tcpdump records), and a
# "wan" namespace behind the router with the DNS reflectors. Addresses are
# 10.213.0.0/24 and fd00:213::/64 on the LAN, 10.213.1.0/24 and
# fd00:213:1::/64 behind the router; no namespace has a default route,
# nothing is routed out of them and every target is one of these hosts.
# Every interface has a fixed MAC (02:00 and the IPv4 address in hex), so
# recordings made at different times name the same hosts.
#
# A script using it: sets OUTDIR-independent things first (LAB_LOGDIR), then
#   lab_install_missing INSTALL [pkg-cmd ...]   apt-get what is missing
#   lab_begin                                   temp dir, cleanup trap
#   lab_network                                 namespaces, bridge, routes
#   lab_capture_start FILE [tcpdump args]       tcpdump on the bridge
#   lab_services                                nginx, dnsmasq, sshd; checked
#   lab_start_benign ...                        client loops (see there)
# and may call lab_capture_stop, lab_add_host, lab_stop_benign. The cleanup
# (on exit, failure, Ctrl-C) kills everything started here and in the
# namespaces, deletes the namespaces and the temp dir; a script adds its own
# steps by defining lab_cleanup_hook.
#
# shellcheck disable=SC2034 # the addresses and state are for the scripts that source this

# ---------------------------------------------------------------- addresses
LAN4=10.213.0 LAN6=fd00:213: WAN4=10.213.1 WAN6=fd00:213:1:
VICTIM=$LAN4.10 VICTIM6=${LAN6}:10
ROUTER=$LAN4.1 ROUTER6=${LAN6}:1
ATTACKER=$LAN4.66 ATTACKER6=${LAN6}:66
SPOOFED=("$LAN4.200" "$LAN4.201" "$LAN4.202" "$LAN4.203") # unused LAN addresses
ROUTER_WAN=$WAN4.1 ROUTER_WAN6=${WAN6}:1 WAN_HOST=$WAN4.2 WAN_HOST6=${WAN6}:2
REFLECTORS=("$WAN4.53" "$WAN4.54" "$WAN4.55" "$WAN4.56")
# client namespace index : IPv4 host part; every client also has an IPv6 twin.
CLIENT_HOSTS=("0:101" "0:102" "0:103" "1:104" "1:105" "1:106" "2:107" "2:108")

LAB_PREFIX=${LAB_PREFIX:-na-rec-$$}
P=$LAB_PREFIX
NS_SW="$P-switch" NS_VICTIM="$P-victim" NS_ROUTER="$P-router" NS_ATTACKER="$P-attacker" NS_WAN="$P-wan"
NS_CLIENTS=("$P-client1" "$P-client2" "$P-client3")
ALL_NS=("$NS_SW" "$NS_VICTIM" "$NS_ROUTER" "$NS_ATTACKER" "$NS_WAN" "${NS_CLIENTS[@]}")

# ---------------------------------------------------------------- state
RUN=""               # temp dir (lab_begin)
STOP=""              # the benign loops end when this file exists
LAB_LOGDIR=${LAB_LOGDIR:-/tmp}
BG_PIDS=()           # services and loops, killed at the end
TCPDUMP_PID=""
CUR_PID=""           # the tool running now
MADE_RUN_SSHD=0
SKIPPED=()
WEB="" HAVE_DNS=0 HAVE_SSH=0

# ---------------------------------------------------------------- helpers
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
have() { command -v "$1" >/dev/null 2>&1; }
# pause SECONDS: a sleep that a signal interrupts at once (a foreground
# sleep would hold the trap until it ends).
pause() { sleep "$1" & wait $!; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mac_of() { ip -n "$1" -o link show "${2:-eth0}" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
# lab_mac IPV4: the fixed MAC of the interface that has IPV4.
lab_mac() { local a b c d; IFS=. read -r a b c d <<<"$1"; printf '02:00:%02x:%02x:%02x:%02x' "$a" "$b" "$c" "$d"; }
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
export PATH=$PATH:/usr/sbin:/sbin
LABTOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/labtools # the Python helpers
PY=$(command -v /usr/bin/python3 || command -v python3 || true)

# ---------------------------------------------------------------- tools
# command:package; the package is installed when the command is missing.
# (brctl and ping are not used by the scripts: they are there to look at
# the test network by hand; arping stands in for python3 for ARP spoofing.)
LAB_TOOLS="tcpdump:tcpdump ip:iproute2 bridge:iproute2 nmap:nmap hping3:hping3 hydra:hydra
slowhttptest:slowhttptest sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client
dnsmasq:dnsmasq-base nginx:nginx-light curl:curl dig:dnsutils brctl:bridge-utils
arping:arping ping:iputils-ping timeout:coreutils python3:python3 openssl:openssl"

# lab_install_missing INSTALL [cmd:pkg ...]: apt-get the packages of the
# missing commands (LAB_TOOLS and the extra ones) when INSTALL is 1.
lab_install_missing() {
	local install=$1 pkgs="" entry cmd pkg
	shift
	for entry in $LAB_TOOLS "$@"; do
		cmd=${entry%%:*} pkg=${entry#*:}
		have "$cmd" || [[ " $pkgs " == *" $pkg "* ]] || pkgs="$pkgs $pkg"
	done
	[ -n "$pkgs" ] || return 0
	if [ "$install" -eq 0 ] || ! have apt-get; then
		log "missing packages (not installing):$pkgs"
		return 0
	fi
	log "installing:$pkgs"
	# Keep the packages' services (sshd, nginx, vsftpd, memcached) from
	# starting on the host: the scripts run their own copies in the
	# namespaces.
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
	PY=$(command -v /usr/bin/python3 || command -v python3 || true)
}

# ---------------------------------------------------------------- cleanup
lab_cleanup() {
	local rc=$? ns pids pid
	set +e
	trap - EXIT
	trap '' INT TERM HUP # a second Ctrl-C must not cut the cleanup short
	[ -z "$STOP" ] || touch "$STOP" 2>/dev/null
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
	if declare -F lab_cleanup_hook >/dev/null; then lab_cleanup_hook; fi
	[ -z "$RUN" ] || rm -rf "$RUN"
	[ "$rc" -eq 0 ] || log "failed (exit $rc); namespaces and processes cleaned up"
	exit "$rc"
}

# lab_begin: the temp dir and the cleanup trap.
lab_begin() {
	RUN=$(mktemp -d "/tmp/$P.XXXXXX")
	chmod 755 "$RUN" # nginx workers (nobody) read the web root below it
	STOP=$RUN/stop
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# ---------------------------------------------------------------- network
# lab_host NS PORT: a veth from namespace NS (eth0) to bridge port PORT.
lab_host() {
	local ns=$1 port=$2
	ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$ns"
	ip -n "$NS_SW" link set "$port" master br0 up
	nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 2>/dev/null || true
}

# lab_add_host NAME IPV4 [IPV6]: one more LAN host, namespace $P-NAME on
# bridge port p-NAME, reaching the wan through the router.
lab_add_host() {
	local ns="$P-$1"
	ip netns add "$ns"
	ALL_NS+=("$ns")
	nsx "$ns" ip link set lo up
	lab_host "$ns" "p-$1"
	ip -n "$ns" link set eth0 address "$(lab_mac "$2")"
	ip -n "$ns" addr add "$2/24" dev eth0
	[ -z "${3:-}" ] || ip -n "$ns" addr add "$3/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add "$WAN4.0/24" via "$ROUTER"
	[ -z "${3:-}" ] || ip -n "$ns" route add "${WAN6}:/64" via "$ROUTER6"
}

lab_network() {
	local ns i h ch r
	log "creating namespaces $P-* in $RUN"
	for ns in "${ALL_NS[@]}"; do
		ip netns add "$ns"
		nsx "$ns" ip link set lo up
	done
	nsx "$NS_SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nsx "$NS_SW" ip link add br0 type bridge stp_state 0 forward_delay 0
	nsx "$NS_SW" ip link set br0 up

	lab_host "$NS_VICTIM" p-victim
	ip -n "$NS_VICTIM" link set eth0 address "$(lab_mac "$VICTIM")"
	ip -n "$NS_VICTIM" addr add "$VICTIM/24" dev eth0
	ip -n "$NS_VICTIM" addr add "$VICTIM6/64" dev eth0 nodad
	lab_host "$NS_ROUTER" p-router
	ip -n "$NS_ROUTER" link set eth0 address "$(lab_mac "$ROUTER")"
	ip -n "$NS_ROUTER" addr add "$ROUTER/24" dev eth0
	ip -n "$NS_ROUTER" addr add "$ROUTER6/64" dev eth0 nodad
	lab_host "$NS_ATTACKER" p-attacker
	ip -n "$NS_ATTACKER" link set eth0 address "$(lab_mac "$ATTACKER")"
	ip -n "$NS_ATTACKER" addr add "$ATTACKER/24" dev eth0
	for i in 0 1 2; do
		lab_host "${NS_CLIENTS[$i]}" "p-client$((i + 1))"
		h=${CLIENT_HOSTS[$((i * 3))]#*:}
		ip -n "${NS_CLIENTS[$i]}" link set eth0 address "$(lab_mac "$LAN4.$h")"
	done
	for ch in "${CLIENT_HOSTS[@]}"; do
		i=${ch%%:*} h=${ch#*:}
		ip -n "${NS_CLIENTS[$i]}" addr add "$LAN4.$h/24" dev eth0
		ip -n "${NS_CLIENTS[$i]}" addr add "${LAN6}:$h/64" dev eth0 nodad
	done
	for ns in "$NS_VICTIM" "$NS_ROUTER" "$NS_ATTACKER" "${NS_CLIENTS[@]}"; do ip -n "$ns" link set eth0 up; done
	# Behind the router: the reflectors' network. The router forwards between
	# the two; the victim and the clients know the way there. No default
	# route anywhere.
	ip -n "$NS_ROUTER" link add wan0 type veth peer name eth0 netns "$NS_WAN"
	ip -n "$NS_ROUTER" link set wan0 address "$(lab_mac "$ROUTER_WAN")"
	ip -n "$NS_WAN" link set eth0 address "$(lab_mac "$WAN_HOST")"
	ip -n "$NS_ROUTER" addr add "$ROUTER_WAN/24" dev wan0
	ip -n "$NS_ROUTER" addr add "$ROUTER_WAN6/64" dev wan0 nodad
	ip -n "$NS_ROUTER" link set wan0 up
	ip -n "$NS_WAN" addr add "$WAN_HOST/24" dev eth0
	ip -n "$NS_WAN" addr add "$WAN_HOST6/64" dev eth0 nodad
	for r in "${REFLECTORS[@]}"; do ip -n "$NS_WAN" addr add "$r/32" dev eth0; done
	ip -n "$NS_WAN" link set eth0 up
	ip -n "$NS_WAN" route add "$LAN4.0/24" via "$ROUTER_WAN"
	ip -n "$NS_WAN" route add "${LAN6}:/64" via "$ROUTER_WAN6"
	ip -n "$NS_VICTIM" route add "$WAN4.0/24" via "$ROUTER"
	for ns in "${NS_CLIENTS[@]}"; do
		ip -n "$ns" route add "$WAN4.0/24" via "$ROUTER"
		ip -n "$ns" route add "${WAN6}:/64" via "$ROUTER6"
	done
	nsx "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	nsx "$NS_ATTACKER" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0

	ATTACKER_MAC=$(mac_of "$NS_ATTACKER")
	ROUTER_MAC=$(mac_of "$NS_ROUTER")
	VICTIM_MAC=$(mac_of "$NS_VICTIM")
}

# lab_offload_off: no segmentation or receive offload on any veth, so the
# bridge carries frames of at most the MTU, as a real wire does (with the
# offloads a 600 kB download crosses it in a few 64 kB frames).
lab_offload_off() {
	have ethtool || { log "ethtool not installed: offloads stay on (frames above the MTU on the bridge)"; return 0; }
	local ns dev
	for ns in "${ALL_NS[@]}"; do
		for dev in $(ip -n "$ns" -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
			nsx "$ns" ethtool -K "$dev" tso off gso off gro off tx-checksumming off >/dev/null 2>&1 ||
				nsx "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || true
		done
	done
}

# ---------------------------------------------------------------- capture
# lab_capture_start FILE [TCPDUMP ARGS]: tcpdump on the bridge, snaplen 256.
lab_capture_start() {
	local file=$1 _
	shift
	: >"$RUN/tcpdump.err"
	ip netns exec "$NS_SW" tcpdump -i br0 -s 256 -B 65536 -Z root -nn "$@" -w "$file" 2>"$RUN/tcpdump.err" &
	TCPDUMP_PID=$!
	for _ in $(seq 50); do grep -q 'listening on' "$RUN/tcpdump.err" && break; sleep 0.1; done
	grep -q 'listening on' "$RUN/tcpdump.err" || die "tcpdump did not start: $(cat "$RUN/tcpdump.err")"
}

# lab_capture_stop: ends tcpdump; its statistics stay in $RUN/tcpdump.err.
lab_capture_stop() {
	[ -n "$TCPDUMP_PID" ] || return 0
	# (TERM: a background job of a script ignores INT)
	kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
	wait "$TCPDUMP_PID" 2>/dev/null || true
	TCPDUMP_PID=""
}

# ---------------------------------------------------------------- services
# lab_html BYTES: an HTML page of about BYTES of random prose (text, so
# that it compresses like real pages do).
lab_html() {
	awk -v n="$1" -v seed="$RANDOM" 'BEGIN {
		srand(seed)
		k = split("the a of and to in network server traffic packet report user data system time " \
			"service request page update new home about contact news product support account " \
			"login search price order team project cloud security policy privacy terms help " \
			"question answer article blog video image download release version notes install " \
			"configure monitor alert status health latency error warning info debug log file", w, " ")
		out = "<!doctype html><html><head><title>lab</title></head><body>\n"
		while (length(out) < n - 20) {
			p = "<p>"
			for (i = 0; i < 40; i++) p = p w[int(rand() * k) + 1] " "
			out = out p "</p>\n"
		}
		printf "%s</body></html>\n", substr(out, 1, n - 15)
	}'
}

lab_services() {
	# Web server on the victim: a few pages of different sizes.
	mkdir -p "$RUN/www" "$RUN/nginx"
	lab_html 2700 >"$RUN/www/index.html"
	lab_html 20000 >"$RUN/www/page.html"
	head -c 120000 /dev/urandom >"$RUN/www/image.jpg"
	head -c 600000 /dev/urandom >"$RUN/www/download.bin"
	printf '<!doctype html><title>ok</title><p>%s</p>\n' "$(head -c 90 /dev/urandom | base64 -w0)" >"$RUN/www/small.html"
	head -c 900 /dev/urandom | base64 >"$RUN/www/favicon.ico"
	printf 'OK\n' >"$RUN/www/health"
	chmod -R a+rX "$RUN/www"
	if have nginx; then
		# /admin/ asks for HTTP Basic credentials (admin:s3cret-lab), for
		# the brute-force variants that guess them.
		mkdir -p "$RUN/www/admin"
		printf 'admin area\n' >"$RUN/www/admin/index.html"
		printf 'admin:%s\n' "$(openssl passwd -apr1 s3cret-lab)" >"$RUN/nginx/htpasswd"
		chmod -R a+rX "$RUN/www/admin" "$RUN/nginx/htpasswd"
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
        location /admin/ {
            auth_basic "admin";
            auth_basic_user_file $RUN/nginx/htpasswd;
        }
    }
}
EOF
		ip netns exec "$NS_VICTIM" nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" >"$LAB_LOGDIR/nginx.log" 2>&1 &
		BG_PIDS+=($!)
		WEB=nginx
	elif [ -n "$PY" ]; then
		(cd "$RUN/www" && exec ip netns exec "$NS_VICTIM" "$PY" -m http.server 80 --bind "$VICTIM" >"$LAB_LOGDIR/http.log" 2>&1) &
		BG_PIDS+=($!)
		WEB="python3 http.server"
	else
		die "no web server: install nginx-light or python3"
	fi

	# DNS server for the local zone, on the router. example.test is a
	# wildcard: every name in it resolves (for clients that look up many
	# names).
	HAVE_DNS=0
	if have dnsmasq; then
		ip netns exec "$NS_ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
			--user=nobody --group=nogroup --pid-file="$RUN/dnsmasq-lan.pid" --bind-interfaces \
			--listen-address="$ROUTER" --listen-address="$ROUTER6" --local=/lab.test/ --domain-needed \
			--host-record="www.lab.test,$VICTIM,$VICTIM6" --host-record="ssh.lab.test,$VICTIM,$VICTIM6" \
			--host-record="gw.lab.test,$ROUTER,$ROUTER6" --host-record="mail.lab.test,$LAN4.25" \
			--mx-host=lab.test,mail.lab.test,10 --txt-record=lab.test,"v=spf1 mx -all" \
			--cname=intranet.lab.test,www.lab.test --srv-host=_ssh._tcp.lab.test,ssh.lab.test,22 \
			--address=/example.test/"$WAN_HOST" --address=/example.test/"$WAN_HOST6" \
			>"$LAB_LOGDIR/dnsmasq-lan.log" 2>&1 &
		BG_PIDS+=($!)
		HAVE_DNS=1
	else
		SKIPPED+=("benign DNS: dnsmasq not installed")
	fi

	# SSH server on the victim. Key logins as root inside the victim
	# namespace (the namespaces share the host's user database, so no test
	# account is created); password guesses go to accounts that do not exist.
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
		ip netns exec "$NS_VICTIM" "$(command -v sshd)" -D -f "$RUN/sshd_config" -E "$LAB_LOGDIR/sshd.log" &
		BG_PIDS+=($!)
		HAVE_SSH=1
	else
		SKIPPED+=("benign SSH and brute force: openssh-server/openssh-client not installed")
	fi

	wait_for "${NS_CLIENTS[0]}" curl -sf -o /dev/null --max-time 1 "http://$VICTIM/" || die "web server on $VICTIM does not answer ($WEB)"
	if [ "$HAVE_DNS" -eq 1 ] && have dig; then
		wait_for "${NS_CLIENTS[0]}" dig +short +time=1 +tries=1 "@$ROUTER" www.lab.test ||
			die "dnsmasq on $ROUTER does not answer: $(cat "$LAB_LOGDIR/dnsmasq-lan.log")"
	fi
	if [ "$HAVE_SSH" -eq 1 ]; then
		wait_for "${NS_CLIENTS[0]}" ssh -F /dev/null -i "$RUN/client_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
			-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=2 "root@$VICTIM" true ||
			die "sshd on $VICTIM does not accept the test key: $(tail -5 "$LAB_LOGDIR/sshd.log")"
	fi
}

# lab_dns_reflectors: open resolvers (dnsmasq) on the REFLECTORS in the
# wan namespace, with a large TXT record (amp.reflect.test, about 1.1 kB in
# an answer) and a name with many records for ANY queries
# (any.reflect.test). Writes the queries for hping3 -E: $RUN/query-txt.bin
# (45 bytes: EDNS0, TXT amp.reflect.test) and $RUN/query-any.bin (ANY
# any.reflect.test). Fails when the reflectors do not answer.
lab_dns_reflectors() {
	local txt i anyrec=()
	txt=$(head -c 3000 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
	txt=${txt:0:1000}
	for i in 1 2 3 4 5 6; do
		anyrec+=("--txt-record=any.reflect.test,v=key$i $(head -c 150 /dev/urandom | base64 -w0)")
	done
	ip netns exec "$NS_WAN" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--user=nobody --group=nogroup --pid-file="$RUN/dnsmasq-wan.pid" --bind-interfaces \
		"${REFLECTORS[@]/#/--listen-address=}" --edns-packet-max=1232 \
		--txt-record="amp.reflect.test,${txt:0:250},${txt:250:250},${txt:500:250},${txt:750:250}" \
		"${anyrec[@]}" --host-record="any.reflect.test,$WAN4.80,${WAN6}:80" \
		--mx-host=any.reflect.test,mx1.reflect.test,10 --mx-host=any.reflect.test,mx2.reflect.test,20 \
		>"$LAB_LOGDIR/dnsmasq-reflectors.log" 2>&1 &
	BG_PIDS+=($!)
	# id 0x2a17, RD, one question amp.reflect.test TXT IN, EDNS0 OPT 4096.
	printf '\x2a\x17\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03amp\x07reflect\x04test\x00\x00\x10\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00' >"$RUN/query-txt.bin"
	# id 0x2a18, RD, any.reflect.test ANY IN, EDNS0 OPT 4096.
	printf '\x2a\x18\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03any\x07reflect\x04test\x00\x00\xff\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00' >"$RUN/query-any.bin"
	wait_for "$NS_WAN" dig +time=1 +tries=1 +bufsize=4096 "@${REFLECTORS[0]}" amp.reflect.test TXT
}

# ---------------------------------------------------------------- benign
# The loops run inside the client namespaces; each is bounded by a count,
# a deadline and the stop file, and every command in them by a timeout.
# While $RUN/hold exists they send nothing (a traffic drop).
running() { [ ! -e "$STOP" ] && [ "$EPOCHSECONDS" -lt "$1" ]; } # running UNTIL
held() { # held UNTIL: waits while the hold file exists
	while [ -e "$RUN/hold" ] && running "$1"; do sleep 0.5; done
}
rsleep() { # rsleep MIN_MS MAX_MS
	local ms=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}
# http_loop SRC4 SRC6 MEAN_MS [MIX]: requests with random pauses. MIX
# "full" (the default) fetches pages of 2 kB to 600 kB and now and then a
# page with its image; "light" keeps to the small pages (about 20 packets a
# request) and fetches the 120 kB image rarely.
http_loop() {
	local src4=$1 src6=$2 mean=$3 mix=${4:-full} i url host r
	for ((i = 0; i < 20000; i++)); do
		held "$DEADLINE"
		running "$DEADLINE" || break
		host=$VICTIM src=$src4
		if ((RANDOM % 4 == 0)); then host="[$VICTIM6]" src=$src6; fi
		r=$((RANDOM % 100))
		if [ "$mix" = light ]; then
			if ((r < 50)); then url=/index.html
			elif ((r < 70)); then url=/page.html
			elif ((r < 88)); then url=/small.html
			elif ((r < 91)); then url=/image.jpg
			else url=/missing-$RANDOM; fi
		else
			if ((r < 45)); then url=/index.html
			elif ((r < 75)); then url=/page.html
			elif ((r < 90)); then url=/image.jpg
			elif ((r < 95)); then url=/download.bin
			else url=/missing-$RANDOM; fi
		fi
		timeout 20 curl -s -o /dev/null --max-time 15 --interface "$src" "http://$host$url" >/dev/null
		# a page pulls its assets now and then
		if [ "$mix" = light ]; then
			if ((RANDOM % 8 == 0)); then
				timeout 20 curl -s -o /dev/null -o /dev/null --max-time 15 --interface "$src" "http://$host/index.html" "http://$host/favicon.ico" >/dev/null
			fi
		elif ((RANDOM % 5 == 0)); then
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
		held "$DEADLINE"
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
		held "$DEADLINE"
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

# lab_start_benign DEADLINE HTTP_MEAN_MS HTTP_STEP_MS DNS_EXTRA_MS SSH_MIN_MS SSH_MAX_MS [MIX]:
# from every client address an HTTP loop (client n waits HTTP_MEAN_MS +
# (n mod 4) * HTTP_STEP_MS on average between requests) and a DNS loop
# (DNS_EXTRA_MS more); from every other address an SSH loop. All end at
# DEADLINE (epoch seconds) or when $STOP exists.
lab_start_benign() {
	local mix=${7:-full} n=0 ch i h ns mean
	export DEADLINE=$1
	export -f running held rsleep http_loop dns_loop ssh_loop spike_loop
	export STOP RUN VICTIM VICTIM6 ROUTER ROUTER6
	log "starting benign background: HTTP ($WEB), DNS, SSH from ${#CLIENT_HOSTS[@]} client addresses"
	for ch in "${CLIENT_HOSTS[@]}"; do
		i=${ch%%:*} h=${ch#*:}
		ns=${NS_CLIENTS[$i]}
		mean=$(($2 + (n % 4) * $3))
		ip netns exec "$ns" bash -c 'http_loop "$@"' _ "$LAN4.$h" "${LAN6}:$h" "$mean" "$mix" &
		BG_PIDS+=($!)
		if [ "$HAVE_DNS" -eq 1 ] && have dig; then
			ip netns exec "$ns" bash -c 'dns_loop "$@"' _ "$LAN4.$h" "${LAN6}:$h" $((mean + $4)) &
			BG_PIDS+=($!)
		fi
		if [ "$HAVE_SSH" -eq 1 ] && ((n % 2 == 0)); then
			ip netns exec "$ns" bash -c 'ssh_loop "$@"' _ "$LAN4.$h" "$5" "$6" &
			BG_PIDS+=($!)
		fi
		n=$((n + 1))
	done
}

# lab_stop_benign: ends the loops and the services.
lab_stop_benign() {
	local pid
	touch "$STOP"
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
