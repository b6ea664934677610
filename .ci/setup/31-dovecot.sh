#!/usr/bin/env bash
# Dovecot reading the mailbox Postfix delivers to (30-smtp.sh): the mbox
# /var/mail/outbound of the local user `outbound`, other folders under
# /home/outbound/mail. Login `outbound`, password `outbound` (a passwd-file,
# not PAM). The CI certificate on every port; plaintext LOGIN is refused until
# TLS, as Dovecot does by default:
#   IMAP  127.0.0.1:2143 (STARTTLS)   IMAPS 127.0.0.1:2993 (implicit TLS)
#   POP3  127.0.0.1:2110 (STLS)       POP3S 127.0.0.1:2995 (implicit TLS)
# Debian's own dovecot.conf and its port 143/993/110/995 listeners are not used.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs dovecot-imapd dovecot-pop3d

ci_ensure_outbound_user
dir=$CI_ETC/dovecot
conf=$dir/dovecot.conf
pid=$CI_RUN/dovecot.pid
mkdir -p "$dir" "$CI_RUN/dovecot" "$CI_STATE/dovecot"
# The mbox Postfix appends to; create it as Postfix's local(8) would, so that
# Dovecot can open it before the first delivery.
if [[ ! -e /var/mail/outbound ]]; then
	install -o outbound -g mail -m 600 /dev/null /var/mail/outbound
fi
install -d -o outbound -g outbound -m 700 /home/outbound/mail

changed=
ci_write_file "$dir/users" 640 <<'USERS' && changed=1 || true
outbound:{PLAIN}outbound::::::
USERS
chgrp dovecot "$dir/users"
ci_write_file "$conf" 644 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/31-dovecot.sh
protocols = imap pop3
listen = 127.0.0.1
base_dir = $CI_RUN/dovecot
state_dir = $CI_STATE/dovecot
log_path = $CI_LOG/dovecot.log
instance_name = outbound-ci

ssl = yes
ssl_cert = <$CI_TLS/server.pem
ssl_key = <$CI_TLS/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login

passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/users
}
userdb {
  driver = static
  args = uid=outbound gid=outbound home=/home/outbound
}
first_valid_uid = 1
mail_location = mbox:~/mail:INBOX=/var/mail/%u
# Postfix's local(8) locks the spool with a dotlock in /var/mail (group mail).
mail_privileged_group = mail
mbox_write_locks = fcntl dotlock
mail_max_userip_connections = 1000

service imap-login {
  inet_listener imap {
    port = 2143
  }
  inet_listener imaps {
    port = 2993
    ssl = yes
  }
  process_min_avail = 1
}
service pop3-login {
  inet_listener pop3 {
    port = 2110
  }
  inet_listener pop3s {
    port = 2995
    ssl = yes
  }
}
protocol imap {
  mail_max_userip_connections = 1000
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
  # Reading mail must not rewrite the mbox Postfix appends to (Status headers).
  pop3_no_flag_updates = yes
}
CONF
doveconf -c "$conf" -n >/dev/null 2>"$CI_LOG/doveconf.err" || { tail -5 "$CI_LOG/doveconf.err" >&2; ci_die "dovecot: bad config $conf"; }
sum=$(sha256sum <"$CI_TLS/server.pem" | cut -d" " -f1)
[[ "$(cat "$CI_STATE/dovecot-cert.sha256" 2>/dev/null)" == "$sum" ]] || changed=1
if [[ -n $changed ]] || ! ci_pid_alive "$pid"; then
	ci_daemon_restart 2143 "$pid" /usr/sbin/dovecot -F -c "$conf"
fi
echo "$sum" >"$CI_STATE/dovecot-cert.sha256"
for port in 2143 2993 2110 2995; do ci_wait_port "$port" 30; done

# Check: STARTTLS verifies against the CI CA, then LOGIN and SELECT INBOX work
# (the mailbox Postfix delivers to is readable); POP3S answers USER/PASS.
imap=$(printf 'a LOGIN outbound outbound\r\nb SELECT INBOX\r\nc LOGOUT\r\n' |
	timeout 10 openssl s_client -quiet -starttls imap -connect 127.0.0.1:2143 \
		-CAfile "$CI_CERTS/ca.pem" -verify_return_error -verify_ip 127.0.0.1 2>/dev/null | tr -d '\r' || true)
grep -q '^b OK' <<<"$imap" || ci_die "dovecot: STARTTLS, LOGIN or SELECT INBOX failed on 127.0.0.1:2143: $(tail -3 <<<"$imap")"
pop=$(printf 'USER outbound\r\nPASS outbound\r\nSTAT\r\nQUIT\r\n' |
	timeout 10 openssl s_client -quiet -connect 127.0.0.1:2995 \
		-CAfile "$CI_CERTS/ca.pem" -verify_return_error -verify_ip 127.0.0.1 2>/dev/null | tr -d '\r' || true)
[[ $(grep -c '^+OK' <<<"$pop") -ge 4 ]] || ci_die "dovecot: POP3S login or STAT failed on 127.0.0.1:2995: $(tail -3 <<<"$pop")"
ci_log "dovecot: IMAP 127.0.0.1:2143 (STARTTLS) and 2993 (TLS), POP3 2110 (STLS) and 2995 (TLS) up, verified with the CI CA; login outbound/outbound reads /var/mail/outbound"
