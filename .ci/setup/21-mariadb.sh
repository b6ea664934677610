#!/usr/bin/env bash
# MariaDB 10.11, preinstalled on the machine: 127.0.0.1:3306, root with no
# password, database test. Turns TLS on with the CI certificate (a conf in
# /etc/mysql/mariadb.conf.d/), restarting mariadbd only when that conf changed
# or TLS is off.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

start_mariadb() { start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }
sql() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -N -B "$@"; }
wait_sql() {
	ci_wait_port 3306 60
	for ((i = 0; i < 120; i++)); do sql -e 'select 1' >/dev/null 2>&1 && return 0; sleep 0.5; done
	ci_die "mariadb: no answer to SQL on 127.0.0.1:3306"
}

# The key is root:ssl-cert 0640: mariadbd (user mysql) reads it through the group.
if ! id -nG mysql | tr ' ' '\n' | grep -qx ssl-cert; then
	usermod -a -G ssl-cert mysql
	changed=1
fi
mkdir -p /etc/mysql/mariadb.conf.d
# This machine's my.cnf may not read mariadb.conf.d (Debian's stock one does).
if ! grep -qE '^!includedir /etc/mysql/mariadb.conf.d/?$' /etc/mysql/my.cnf; then
	printf '\n!includedir /etc/mysql/mariadb.conf.d/\n' >>/etc/mysql/my.cnf
	changed=1
fi
ci_write_file /etc/mysql/mariadb.conf.d/90-outbound-ci-tls.cnf 644 <<CNF && changed=1 || true
# Written by the outbound project's .ci/setup/21-mariadb.sh: TLS for tests.
[mariadbd]
ssl_ca = $CI_TLS/ca.pem
ssl_cert = $CI_TLS/server.pem
ssl_key = $CI_TLS/server.key
# The mysql tests round-trip a 16 MiB BLOB; the default packet limit is 16 MiB.
max_allowed_packet = 64M
CNF
# A new certificate (same paths, new content) needs a restart too.
sum=$(cat "$CI_TLS/server.pem" "$CI_TLS/ca.pem" | sha256sum | cut -d' ' -f1)
[[ "$(cat "$CI_STATE/mariadb-cert.sha256" 2>/dev/null)" == "$sum" ]] || changed=1

ci_port_open 3306 || start_mariadb
wait_sql
have_ssl=$(sql -e "show variables like 'have_ssl'" | cut -f2)
if [[ -n ${changed:-} || $have_ssl != YES ]]; then
	ci_log "mariadb: restarting to load TLS settings (have_ssl was $have_ssl)"
	mariadb-admin --protocol=socket -u root shutdown
	ci_wait_port_closed 3306 60
	for ((i = 0; i < 120; i++)); do [[ -e /run/mysqld/mysqld.pid ]] || break; sleep 0.5; done
	start_mariadb
	wait_sql
	have_ssl=$(sql -e "show variables like 'have_ssl'" | cut -f2)
fi
[[ $have_ssl == YES ]] || ci_die "mariadb: have_ssl is $have_ssl, see /var/log/mysql/error.log"
echo "$sum" >"$CI_STATE/mariadb-cert.sha256"
sql -e 'create database if not exists test'
cipher=$(sql --ssl --ssl-ca="$CI_CERTS/ca.pem" --ssl-verify-server-cert -e "show status like 'Ssl_cipher'" | cut -f2)
[[ -n $cipher ]] || ci_die "mariadb: TLS connection verified against the CA failed"
ci_log "mariadb: 127.0.0.1:3306 up, database test, have_ssl=YES (verified TLS with the CI CA: $cipher)"
