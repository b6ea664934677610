#!/usr/bin/env bash
# PostgreSQL 15, preinstalled on the machine: 127.0.0.1:5432, trust auth,
# database test, TLS on (Debian's snakeoil certificate). Started if stopped;
# if TLS were off, it is turned on with the CI certificate.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if ! ci_port_open 5432; then
	# shellcheck disable=SC2046
	pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
fi
ci_wait_port 5432 60

psql_() { psql -h 127.0.0.1 -p 5432 -U postgres -X -q -t -A "$@"; }
for ((i = 0; i < 60; i++)); do psql_ -d postgres -c 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
if [[ "$(psql_ -d postgres -c "select count(*) from pg_database where datname = 'test'")" != 1 ]]; then
	psql_ -d postgres -c 'create database test'
fi
if [[ "$(psql_ -d test -c 'show ssl')" != on ]]; then
	psql_ -d test -c "alter system set ssl_cert_file = '$CI_TLS/server.pem'"
	psql_ -d test -c "alter system set ssl_key_file = '$CI_TLS/server.key'"
	psql_ -d test -c "alter system set ssl = on"
	psql_ -d test -c 'select pg_reload_conf()' >/dev/null
	sleep 1
fi
# pg's channel-binding test logs in as outbound_scram with SCRAM over TLS;
# that line must come before the trust lines, so it goes first.
hba=$(psql_ -d test -c 'show hba_file')
line='hostssl all outbound_scram 127.0.0.1/32 scram-sha-256'
if ! grep -qxF "$line" "$hba"; then
	sed -i "1i $line" "$hba"
	psql_ -d test -c 'select pg_reload_conf()' >/dev/null
fi
ssl=$(psql "postgres://postgres@127.0.0.1:5432/test?sslmode=require" -X -t -A \
	-c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')
[[ $ssl == t ]] || ci_die "postgres: TLS connection to 127.0.0.1:5432 failed"
ci_log "postgres: 127.0.0.1:5432 up, database test, TLS on ($(psql_ -d test -c 'show server_version'))"
