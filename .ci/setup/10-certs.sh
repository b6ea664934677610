#!/usr/bin/env bash
# A test CA and a server certificate for localhost, 127.0.0.1 and ::1, made
# with openssl into .ci/certs/ (git-ignored; never committed). The daemons read
# copies in /etc/outbound-ci/tls/, since a clone's folder may not be readable by
# them. A valid set already on the machine (from an earlier run or clone) is
# reused and copied into .ci/certs/, so the servers need no restart; a set is
# valid while it has more than 30 days left, chains to its CA and names the
# three hosts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs openssl

certs_valid() { # DIR
	local d=$1 f
	for f in ca.pem ca.key server.pem server.key; do [[ -s $d/$f ]] || return 1; done
	openssl x509 -noout -checkend $((30 * 86400)) -in "$d/ca.pem" >/dev/null &&
		openssl x509 -noout -checkend $((30 * 86400)) -in "$d/server.pem" >/dev/null &&
		openssl verify -CAfile "$d/ca.pem" "$d/server.pem" >/dev/null 2>&1 &&
		[[ "$(openssl x509 -noout -modulus -in "$d/server.pem")" == "$(openssl rsa -noout -modulus -in "$d/server.key" 2>/dev/null)" ]] &&
		openssl x509 -noout -ext subjectAltName -in "$d/server.pem" |
		grep -q 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'
}

generate() { # DIR
	local d=$1 tmp
	tmp=$(mktemp -d)
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
		-subj '/O=outbound CI/CN=outbound CI test CA' \
		-addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' \
		-keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -sha256 -subj '/O=outbound CI/CN=localhost' \
		-keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
	printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature,keyEncipherment' \
		'extendedKeyUsage=serverAuth' \
		'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' >"$tmp/server.ext"
	openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
		-CAcreateserial -days 825 -sha256 -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null
	mkdir -p "$d"
	install -m 600 "$tmp/ca.key" "$tmp/server.key" "$d/"
	install -m 644 "$tmp/ca.pem" "$tmp/server.pem" "$d/"
	rm -rf "$tmp"
}

# The machine's set wins, so that every clone on a machine shares one CA and
# the servers keep theirs; a clone's own set is used when the machine has none.
mkdir -p "$CI_CERTS"
if certs_valid "$CI_TLS"; then
	for f in ca.key server.key; do cmp -s "$CI_TLS/$f" "$CI_CERTS/$f" || install -m 600 "$CI_TLS/$f" "$CI_CERTS/"; done
	for f in ca.pem server.pem; do cmp -s "$CI_TLS/$f" "$CI_CERTS/$f" || install -m 644 "$CI_TLS/$f" "$CI_CERTS/"; done
	how="reused the machine's set"
elif certs_valid "$CI_CERTS"; then
	how="reused $CI_CERTS"
else
	generate "$CI_CERTS"
	how="generated a new CA and server certificate"
fi

# The machine-wide copies: keys readable by root and the ssl-cert group
# (PostgreSQL and MariaDB are in it); Postfix and vsftpd read them as root.
getent group ssl-cert >/dev/null || groupadd --system ssl-cert
mkdir -p "$CI_TLS"
chmod 755 "$CI_TLS"
for f in ca.pem server.pem; do
	cmp -s "$CI_CERTS/$f" "$CI_TLS/$f" || install -m 644 "$CI_CERTS/$f" "$CI_TLS/$f"
done
cmp -s "$CI_CERTS/server.key" "$CI_TLS/server.key" ||
	install -m 640 -o root -g ssl-cert "$CI_CERTS/server.key" "$CI_TLS/server.key"
cmp -s "$CI_CERTS/ca.key" "$CI_TLS/ca.key" || install -m 600 "$CI_CERTS/ca.key" "$CI_TLS/ca.key"
chmod 644 "$CI_CERTS/ca.pem" "$CI_CERTS/server.pem"

certs_valid "$CI_TLS" || ci_die "certificates in $CI_TLS are not valid"
ci_log "certs: $how; server certificate for localhost,127.0.0.1,::1 valid until $(openssl x509 -noout -enddate -in "$CI_CERTS/server.pem" | cut -d= -f2)"
