# shellcheck shell=bash
# Helpers shared by .ci/run and the setup scripts in .ci/setup/.
# Sourced, never run. Everything here is idempotent.

# Repository root: the folder above .ci/, whatever the clone is called.
CI_ROOT="${CI_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export CI_ROOT
CI_CERTS="$CI_ROOT/.ci/certs"     # generated at CI time, git-ignored
CI_ETC=/etc/outbound-ci            # machine-wide configs and copies of the TLS files
CI_TLS="$CI_ETC/tls"               # what the daemons read (readable by them, unlike a clone)
CI_RUN=/run/outbound-ci            # pid files of the daemons started here
CI_LOG=/var/log/outbound-ci        # their logs
CI_STATE=/var/lib/outbound-ci      # stamps
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$CI_ETC" "$CI_RUN" "$CI_LOG" "$CI_STATE"

ci_log() { printf '%s\n' "$*"; }
ci_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ci_port_open PORT [HOST]: true when something accepts TCP connections there.
ci_port_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${2:-127.0.0.1}" "$1" 2>/dev/null
}

# ci_wait_port PORT [SECONDS] [HOST]: wait (bounded) until the port answers.
ci_wait_port() {
	local port=$1 max=${2:-30} host=${3:-127.0.0.1} i
	for ((i = 0; i < max * 4; i++)); do
		ci_port_open "$port" "$host" && return 0
		sleep 0.25
	done
	ci_die "nothing answers on $host:$port after ${max}s"
}

# ci_wait_port_closed PORT [SECONDS]
ci_wait_port_closed() {
	local port=$1 max=${2:-30} i
	for ((i = 0; i < max * 4; i++)); do
		ci_port_open "$port" || return 0
		sleep 0.25
	done
	ci_die "127.0.0.1:$port still answers after ${max}s"
}

ci_pkg_installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# need_pkgs PKG...: install the Debian packages that are missing, in one apt-get
# call. apt-get update runs only when something is missing and the package
# lists are older than an hour (or the install fails on stale lists).
# .ci/run gathers every `need_pkgs` line of .ci/setup/*.sh and installs the
# union first, so a new machine pays for one apt-get install.
need_pkgs() {
	local missing=() p
	for p in "$@"; do ci_pkg_installed "$p" || missing+=("$p"); done
	((${#missing[@]})) || return 0
	ci_log "installing Debian packages: ${missing[*]}"
	# Postfix asks what kind of mail system this is; answer before it asks.
	echo 'postfix postfix/main_mailer_type select Local only' | debconf-set-selections
	echo 'postfix postfix/mailname string localhost' | debconf-set-selections
	# Packages must not start their daemons on their default ports (sshd on 22,
	# tinyproxy on 8888 with its own config...): the setup scripts start them.
	local own_policy=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	local stamp="$CI_STATE/apt-updated" rc=0
	if [[ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]]; then
		apt-get update -qq && touch "$stamp"
	fi
	ci_apt_install "${missing[@]}" || rc=$?
	if ((rc)); then
		apt-get update -qq && touch "$stamp"
		rc=0
		ci_apt_install "${missing[@]}" || rc=$?
	fi
	[[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
	((rc == 0)) || ci_die "apt-get install ${missing[*]} failed"
}

ci_apt_install() {
	apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" >"$CI_LOG/apt.log" 2>&1 || { tail -20 "$CI_LOG/apt.log" >&2; return 1; }
}

# ci_write_file PATH MODE < content: replace PATH only when the content
# differs. Returns 0 when it changed the file, 1 when it was already so.
ci_write_file() {
	local path=$1 mode=${2:-644} tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
		chmod "$mode" "$path"
		return 1
	fi
	mkdir -p "$(dirname "$path")"
	mv "$tmp" "$path"
	chmod "$mode" "$path"
	return 0
}

# ci_pid_alive PIDFILE: the process named by the pid file is running.
ci_pid_alive() {
	[[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# ci_daemon_stop PIDFILE: stop the daemon started with that pid file (by pid).
ci_daemon_stop() {
	if ci_pid_alive "$1"; then
		start-stop-daemon --stop --quiet --pidfile "$1" --retry TERM/10/KILL/5 || true
	fi
	rm -f "$1"
}

# ci_daemon_start PIDFILE EXEC ARGS...: start a foreground daemon in the
# background under start-stop-daemon, which records its pid.
ci_daemon_start() {
	local pidfile=$1 exe=$2
	shift 2
	start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$pidfile" \
		--output "$CI_LOG/$(basename "$pidfile" .pid).out" --exec "$exe" -- "$@"
}

# ci_daemon_restart PORT PIDFILE EXEC ARGS...: stop the daemon of that pid
# file if it runs, make sure nothing else holds PORT, start it again.
ci_daemon_restart() {
	local port=$1 pidfile=$2
	shift 2
	ci_daemon_stop "$pidfile"
	local i
	for ((i = 0; i < 40; i++)); do ci_port_open "$port" || break; sleep 0.25; done
	ci_port_open "$port" && ci_die "127.0.0.1:$port is taken by a process not started from $pidfile"
	ci_daemon_start "$pidfile" "$@"
}

# The local user `outbound` (password `outbound`) that the MTA delivers to,
# that logs in over SSH (key) and FTP (password).
ci_ensure_outbound_user() {
	if ! id outbound >/dev/null 2>&1; then
		useradd --create-home --shell /bin/bash outbound
	fi
	mkdir -p /home/outbound
	chown outbound:outbound /home/outbound
	if ! ci_password_is outbound outbound; then
		echo 'outbound:outbound' | chpasswd -c SHA512
	fi
}

# ci_password_is USER PASSWORD: the shadow hash matches the password.
ci_password_is() {
	local hash salt
	hash=$(getent shadow "$1" | cut -d: -f2)
	[[ $hash == '$6$'* ]] || return 1
	salt=${hash%\$*}
	[[ "$(openssl passwd -6 -salt "${salt##*\$}" "$2" 2>/dev/null)" == "$hash" ]]
}
