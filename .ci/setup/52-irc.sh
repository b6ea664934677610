#!/usr/bin/env bash
# ngIRCd on 127.0.0.1:6667: no password, no DNS/ident lookups, no limit of
# connections per IP, short ping timeouts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs ngircd

conf=$CI_ETC/ngircd.conf
pid=$CI_RUN/ngircd.pid
mkdir -p "$CI_RUN/ngircd"
chown irc:irc "$CI_RUN/ngircd"
changed=
ci_write_file "$conf" 644 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/52-irc.sh
[Global]
	Name = irc.outbound.test
	Info = outbound CI IRC server
	AdminInfo1 = outbound CI
	AdminInfo2 = localhost
	AdminEMail = root@localhost
	Listen = 127.0.0.1
	Ports = 6667
	MotdPhrase = "outbound CI IRC server"
	PidFile = $CI_RUN/ngircd/ngircd.pid
	ServerUID = irc
	ServerGID = irc
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 30
	PingTimeout = 30
	PongTimeout = 10
	ConnectRetry = 60
[Options]
	DNS = no
	Ident = no
	PAM = no
	SyslogFacility = local1
CONF
ngircd --configtest -f "$conf" >/dev/null 2>&1 || { ngircd --configtest -f "$conf" | tail -5; ci_die "irc: bad config $conf"; }
if [[ -n $changed ]] || ! ci_pid_alive "$pid"; then
	ci_daemon_restart 6667 "$pid" /usr/sbin/ngircd --nodaemon -f "$conf"
fi
ci_wait_port 6667 30

# A nick of its own per run: a previous probe's QUIT may not be processed yet.
welcome=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6667
	printf "NICK ci%s\r\nUSER ciprobe 0 * :outbound CI\r\n" "$RANDOM" >&3
	while read -r line <&3; do
		case $line in *" 001 "*) echo 001; printf "QUIT :bye\r\n" >&3; break;; esac
	done' 2>/dev/null || true)
[[ $welcome == 001 ]] || ci_die "irc: no welcome (001) from 127.0.0.1:6667"
ci_log "irc: ngircd on 127.0.0.1:6667 up, registration answers 001"
