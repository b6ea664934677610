#!/usr/bin/env bash
# Two proxies, each refusing destination port 9 (discard) so tests can see a
# proxy's refusal:
#   dante-server: SOCKS5 without auth on 127.0.0.1:1080, CONNECT to 127.0.0.0/8 only;
#     port 9 gets SOCKS5 reply 0x02 (connection not allowed by ruleset).
#   tinyproxy: HTTP CONNECT on 127.0.0.1:8888 to any host:port (no ConnectPort
#     lines); CONNECT to a target ending in :9 is answered 403 Filtered.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs dante-server tinyproxy

# --- dante ------------------------------------------------------------------
dante_conf=$CI_ETC/danted.conf
dante_pid=$CI_RUN/danted.pid
changed=
ci_write_file "$dante_conf" 644 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/40-proxies.sh
logoutput: $CI_LOG/danted.log
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
	log: error
}
client block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: error connect
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0 port = 9
	log: error connect
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
	log: error
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: error connect
}
CONF
danted -V -f "$dante_conf" >/dev/null 2>&1 || { tail -3 "$CI_LOG/danted.log" >&2; ci_die "dante: bad config $dante_conf"; }
if [[ -n $changed ]] || ! ci_pid_alive "$dante_pid"; then
	ci_daemon_restart 1080 "$dante_pid" /usr/sbin/danted -f "$dante_conf" -N 2
fi
ci_wait_port 1080 30

# --- tinyproxy ----------------------------------------------------------------
tp_conf=$CI_ETC/tinyproxy.conf
tp_pid=$CI_RUN/tinyproxy.pid
changed=
ci_write_file "$CI_ETC/tinyproxy.filter" 644 <<'FILTER' && changed=1 || true
# CONNECT targets refused with 403 (matched against "host:port"): port 9.
:9$
FILTER
ci_write_file "$tp_conf" 644 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/40-proxies.sh
User tinyproxy
Group tinyproxy
Port 8888
Listen 127.0.0.1
Timeout 600
LogFile "$CI_LOG/tinyproxy.log"
LogLevel Connect
MaxClients 100
Allow 127.0.0.1
Allow ::1
DisableViaHeader Yes
# No ConnectPort line: CONNECT is allowed to every port but the filtered ones.
Filter "$CI_ETC/tinyproxy.filter"
FilterURLs On
FilterType ere
CONF
touch "$CI_LOG/tinyproxy.log"
chown tinyproxy:tinyproxy "$CI_LOG/tinyproxy.log"
if [[ -n $changed ]] || ! ci_pid_alive "$tp_pid"; then
	ci_daemon_restart 8888 "$tp_pid" /usr/bin/tinyproxy -d -c "$tp_conf"
fi
ci_wait_port 8888 30

# --- checks: both relay to Redis and refuse port 9 --------------------------
socks5_connect() { # PORT -> prints the SOCKS5 reply code (00 = succeeded)
	timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1080
		printf "\x05\x01\x00" >&3; head -c 2 <&3 >/dev/null
		printf "\x05\x01\x00\x01\x7f\x00\x00\x01\\x$(printf %02x $(($1 >> 8)))\\x$(printf %02x $(($1 & 255)))" >&3
		head -c 2 <&3 | od -An -tx1 | awk "{print \$2}"' _ "$1"
}
http_connect() { # PORT -> prints the proxy's status code
	timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8888
		printf "CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" "$1" "$1" >&3
		read -r _ code _ <&3; echo "$code"' _ "$1"
}
[[ "$(socks5_connect 6379)" == 00 ]] || ci_die "dante: SOCKS5 CONNECT to 127.0.0.1:6379 failed"
[[ "$(socks5_connect 9)" == 02 ]] || ci_die "dante: SOCKS5 CONNECT to 127.0.0.1:9 was not refused by ruleset"
[[ "$(http_connect 6379)" == 200 ]] || ci_die "tinyproxy: CONNECT 127.0.0.1:6379 failed"
[[ "$(http_connect 9)" == 403 ]] || ci_die "tinyproxy: CONNECT 127.0.0.1:9 was not refused with 403"
ci_log "proxies: dante SOCKS5 127.0.0.1:1080 and tinyproxy CONNECT 127.0.0.1:8888 up; both relay to 127.0.0.1:6379 and refuse port 9"
