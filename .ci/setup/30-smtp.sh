#!/usr/bin/env bash
# Postfix as the MTA: 127.0.0.1:2587 with STARTTLS (the CI certificate, offered
# not required), no AUTH, mail for the local user `outbound` (outbound@localhost)
# delivered to the mbox /var/mail/outbound. No relaying (any other domain is
# refused at RCPT TO) and no outbound delivery (the SMTP/relay transports are
# `error`). The port 25 listener is switched off.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs postfix

ci_ensure_outbound_user
echo localhost >/etc/mailname

before=$(postconf -n; postconf -M; postconf -F | grep '/chroot = ')
postconf -e \
	'compatibility_level = 3.6' \
	'myhostname = localhost' \
	'mydomain = localdomain' \
	'myorigin = $myhostname' \
	'mydestination = $myhostname, localhost.$mydomain, localhost' \
	'inet_interfaces = loopback-only' \
	'inet_protocols = all' \
	'mynetworks = 127.0.0.0/8 [::1]/128' \
	'relayhost =' \
	'default_transport = error:outbound delivery is disabled on the CI MTA' \
	'relay_transport = error:outbound delivery is disabled on the CI MTA' \
	'smtpd_relay_restrictions = reject_unauth_destination' \
	'smtpd_sasl_auth_enable = no' \
	'mailbox_command =' \
	'home_mailbox =' \
	'mail_spool_directory = /var/mail' \
	"smtpd_tls_cert_file = $CI_TLS/server.pem" \
	"smtpd_tls_key_file = $CI_TLS/server.key" \
	'smtpd_tls_security_level = may' \
	'smtpd_tls_loglevel = 1' \
	'smtpd_banner = $myhostname ESMTP outbound CI' \
	"maillog_file = $CI_LOG/postfix.log"
# Listen on 127.0.0.1:2587 only, and run nothing chrooted: the chroot's copies
# of /etc files are made by Debian's init scripts, which are not used here.
if postconf -M | grep -q '^smtp  *inet '; then
	postconf -M# smtp/inet
fi
postconf -M '127.0.0.1:2587/inet = 127.0.0.1:2587 inet n - n - - smtpd'
postconf -F '*/*/chroot = n'
after=$(postconf -n; postconf -M; postconf -F | grep '/chroot = ')

[[ -s /etc/aliases.db && /etc/aliases.db -nt /etc/aliases ]] || newaliases
postfix check
sum=$(sha256sum <"$CI_TLS/server.pem" | cut -d" " -f1)
if ! postfix status >/dev/null 2>&1; then
	postfix start >/dev/null 2>&1
elif [[ $before != "$after" || "$(cat "$CI_STATE/postfix-cert.sha256" 2>/dev/null)" != "$sum" ]]; then
	postfix reload >/dev/null 2>&1
	sleep 1
fi
echo "$sum" >"$CI_STATE/postfix-cert.sha256"
ci_wait_port 2587 30

# Check: EHLO offers STARTTLS, and the TLS handshake verifies against the CI CA.
ehlo=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2587
	read -r banner <&3; printf "EHLO ci.localhost\r\n" >&3
	while read -r line <&3; do printf "%s\n" "$line"; [[ $line == 250\ * ]] && break; done
	printf "QUIT\r\n" >&3' | tr -d '\r')
grep -qx '250-STARTTLS' <<<"$ehlo" || ci_die "smtp: EHLO on 127.0.0.1:2587 offers no STARTTLS: $ehlo"
echo QUIT | timeout 10 openssl s_client -quiet -starttls smtp -connect 127.0.0.1:2587 \
	-CAfile "$CI_CERTS/ca.pem" -verify_return_error -verify_ip 127.0.0.1 >/dev/null 2>&1 ||
	ci_die "smtp: STARTTLS handshake on 127.0.0.1:2587 does not verify against $CI_CERTS/ca.pem"
ci_log "smtp: postfix on 127.0.0.1:2587 up, STARTTLS verified with the CI CA, mail for outbound@localhost goes to /var/mail/outbound"
