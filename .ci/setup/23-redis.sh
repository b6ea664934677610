#!/usr/bin/env bash
# Redis, preinstalled on the machine: 127.0.0.1:6379 (and ::1), no password.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if ! ci_port_open 6379; then
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
ci_wait_port 6379 30
pong=$(printf 'PING\r\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379; cat >&3; head -c 7 <&3' | tr -d '\r\n')
[[ $pong == +PONG ]] || ci_die "redis: PING on 127.0.0.1:6379 answered '$pong'"
ci_log "redis: 127.0.0.1:6379 up, PING answers PONG"
