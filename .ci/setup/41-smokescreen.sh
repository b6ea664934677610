#!/usr/bin/env bash
# Stripe's smokescreen (github.com/stripe/smokescreen, built from the Go module
# proxy) as a fleet egress proxy: HTTP CONNECT over TLS on 127.0.0.1:4750, with
# the CI server certificate. Its role comes from the client certificate's
# common name, as its stock binary reads it; the roles' certificates are made
# here, signed by the CI CA, into .ci/certs/smokescreen-<role>.{pem,key}:
#   outbound-enforce  enforce: only "localhost" may be reached
#   outbound-report   report: anything may be reached; what the ACL would deny is logged
#   (no certificate)  the default rule: enforce, nothing allowed
# Private and loopback addresses are refused (smokescreen's default), except
# the servers the tests reach through it: 127.0.0.1:5432 (PostgreSQL) and
# 127.0.0.1:6379 (Redis).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs openssl

version=v0.1.0
bin_dir=$CI_STATE/bin
bin=$bin_dir/smokescreen
stamp=$CI_STATE/smokescreen.version
dir=$CI_ETC/smokescreen
pid=$CI_RUN/smokescreen.pid
port=4750

if [[ ! -x $bin || "$(cat "$stamp" 2>/dev/null)" != "$version" ]]; then
	command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
	ci_log "smokescreen: building github.com/stripe/smokescreen@$version"
	(cd / && GOBIN=$bin_dir GOFLAGS= go install "github.com/stripe/smokescreen@$version") ||
		ci_die "smokescreen: go install github.com/stripe/smokescreen@$version failed"
	echo "$version" >"$stamp"
fi

mkdir -p "$dir" "$CI_CERTS"
changed=
# The server bundle: the CI server certificate and its key in one PEM file.
cat "$CI_TLS/server.pem" "$CI_TLS/server.key" | ci_write_file "$dir/server-bundle.pem" 600 && changed=1 || true

# Client certificates, one per role; the machine keeps the set so that every
# clone on it presents the same ones.
role_cert() { # ROLE
	local role=$1 tmp
	if ! openssl verify -CAfile "$CI_TLS/ca.pem" "$dir/$role.pem" >/dev/null 2>&1 ||
		! openssl x509 -noout -checkend $((30 * 86400)) -in "$dir/$role.pem" >/dev/null 2>&1; then
		tmp=$(mktemp -d)
		openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=outbound CI/CN=$role" \
			-keyout "$tmp/key.pem" -out "$tmp/req.csr" 2>/dev/null
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=clientAuth' >"$tmp/ext"
		openssl x509 -req -in "$tmp/req.csr" -CA "$CI_TLS/ca.pem" -CAkey "$CI_TLS/ca.key" \
			-CAcreateserial -days 825 -sha256 -extfile "$tmp/ext" -out "$tmp/cert.pem" 2>/dev/null
		install -m 644 "$tmp/cert.pem" "$dir/$role.pem"
		install -m 600 "$tmp/key.pem" "$dir/$role.key"
		rm -rf "$tmp"
	fi
	cmp -s "$dir/$role.pem" "$CI_CERTS/smokescreen-$role.pem" || install -m 644 "$dir/$role.pem" "$CI_CERTS/smokescreen-$role.pem"
	cmp -s "$dir/$role.key" "$CI_CERTS/smokescreen-$role.key" || install -m 600 "$dir/$role.key" "$CI_CERTS/smokescreen-$role.key"
}
role_cert outbound-enforce
role_cert outbound-report

ci_write_file "$dir/acl.yaml" 644 <<'ACL' && changed=1 || true
# Written by the outbound project's .ci/setup/41-smokescreen.sh
---
version: v1
services:
  - name: outbound-enforce
    project: outbound
    action: enforce
    allowed_domains:
      - localhost
  - name: outbound-report
    project: outbound
    action: report
    allowed_domains:
      - localhost
default:
  project: other
  action: enforce
  allowed_domains: []
ACL

args=(--listen-ip 127.0.0.1 --listen-port "$port"
	--egress-acl-file "$dir/acl.yaml"
	--tls-server-bundle-file "$dir/server-bundle.pem"
	--tls-client-ca-file "$CI_TLS/ca.pem"
	--allow-address 127.0.0.1:5432 --allow-address 127.0.0.1:6379)
printf '%s\n' "${args[@]}" | ci_write_file "$dir/args" 644 && changed=1 || true
if [[ -n $changed ]] || ! ci_pid_alive "$pid"; then
	ci_daemon_restart "$port" "$pid" "$bin" "${args[@]}"
fi
ci_wait_port 4750 30

# Check: the enforce role reaches Redis through it; without a role, it refuses.
connect() { # CERT_ROLE_OR_EMPTY TARGET -> status code
	local certargs=()
	[[ -n $1 ]] && certargs=(-cert "$dir/$1.pem" -key "$dir/$1.key")
	# The tunnel stays open after the status line: timeout ends the client.
	printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' "$2" "$2" |
		timeout 4 openssl s_client -quiet -connect "127.0.0.1:$port" -CAfile "$CI_TLS/ca.pem" \
			-verify_return_error "${certargs[@]}" 2>/dev/null | head -1 | awk '{print $2}'
}
[[ "$(connect outbound-enforce localhost:6379)" == 200 ]] || ci_die "smokescreen: CONNECT localhost:6379 as outbound-enforce was not allowed"
[[ "$(connect '' localhost:6379)" == 407 ]] || ci_die "smokescreen: CONNECT localhost:6379 without a role was not refused with 407"
ci_log "smokescreen $version: 127.0.0.1:$port (TLS) up; role outbound-enforce reaches localhost:6379, no role is refused"
