#!/usr/bin/env bash
# Mosquitto, preinstalled on the machine: 127.0.0.1:1883, anonymous.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ci_port_open 1883 || mosquitto -d -c /etc/mosquitto/mosquitto.conf
ci_wait_port 1883 30
if command -v mosquitto_pub >/dev/null; then
	mosquitto_pub -h 127.0.0.1 -p 1883 -t outbound/ci/probe -m ok -q 1 ||
		ci_die "mosquitto: anonymous publish to 127.0.0.1:1883 failed"
fi
ci_log "mosquitto: 127.0.0.1:1883 up, anonymous publish works"
