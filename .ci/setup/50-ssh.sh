#!/usr/bin/env bash
# OpenSSH server of its own on 127.0.0.1:2222 (own config and pid file in
# /etc/outbound-ci and /run/outbound-ci; a system sshd on port 22 is left
# alone). User `outbound` logs in with the key .ci/certs/ssh_key (ed25519, no
# passphrase, made here); passwords are refused. SFTP through internal-sftp;
# TCP forwarding allowed. .ci/certs/ssh_known_hosts holds the host keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs openssh-server openssh-client

ci_ensure_outbound_user
ssh_dir=$CI_ETC/ssh
conf=$CI_ETC/sshd_config
pid=$CI_RUN/sshd.pid
mkdir -p "$ssh_dir/authorized_keys" /run/sshd
chmod 755 "$ssh_dir" "$ssh_dir/authorized_keys"
for t in ed25519 rsa; do
	[[ -s $ssh_dir/ssh_host_${t}_key ]] ||
		ssh-keygen -q -t "$t" -N '' -C "outbound-ci-host-$t" -f "$ssh_dir/ssh_host_${t}_key"
done

# The client key, made at CI time into the git-ignored .ci/certs/; the
# machine keeps a copy so that every clone on it logs in with the same key.
mkdir -p "$CI_CERTS"
if [[ -s $ssh_dir/client_key && -s $ssh_dir/client_key.pub ]]; then
	cmp -s "$ssh_dir/client_key" "$CI_CERTS/ssh_key" || install -m 600 "$ssh_dir/client_key" "$CI_CERTS/ssh_key"
	cmp -s "$ssh_dir/client_key.pub" "$CI_CERTS/ssh_key.pub" || install -m 644 "$ssh_dir/client_key.pub" "$CI_CERTS/ssh_key.pub"
else
	if [[ ! -s $CI_CERTS/ssh_key || ! -s $CI_CERTS/ssh_key.pub ]]; then
		rm -f "$CI_CERTS/ssh_key" "$CI_CERTS/ssh_key.pub"
		ssh-keygen -q -t ed25519 -N '' -C outbound-ci -f "$CI_CERTS/ssh_key"
	fi
	install -m 600 "$CI_CERTS/ssh_key" "$ssh_dir/client_key"
	install -m 644 "$CI_CERTS/ssh_key.pub" "$ssh_dir/client_key.pub"
fi
chmod 600 "$CI_CERTS/ssh_key"
ci_write_file "$ssh_dir/authorized_keys/outbound" 644 <"$CI_CERTS/ssh_key.pub" || true
{
	for t in ed25519 rsa; do
		printf '[127.0.0.1]:2222,[localhost]:2222 %s\n' "$(cut -d' ' -f1,2 "$ssh_dir/ssh_host_${t}_key.pub")"
	done
} >"$CI_CERTS/ssh_known_hosts"

changed=
ci_write_file "$conf" 644 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/50-ssh.sh
Port 2222
ListenAddress 127.0.0.1
PidFile $pid
HostKey $ssh_dir/ssh_host_ed25519_key
HostKey $ssh_dir/ssh_host_rsa_key
AuthorizedKeysFile $ssh_dir/authorized_keys/%u
AllowUsers outbound
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
UsePAM no
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -t -f "$conf" || ci_die "ssh: bad config $conf"
if ! ci_pid_alive "$pid"; then
	ci_port_open 2222 && ci_die "ssh: 127.0.0.1:2222 is taken by another process"
	/usr/sbin/sshd -f "$conf"
elif [[ -n $changed ]]; then
	kill -HUP "$(cat "$pid")"
	sleep 0.5
fi
ci_wait_port 2222 30

out=$(ssh -F /dev/null -p 2222 -i "$CI_CERTS/ssh_key" -o BatchMode=yes -o IdentitiesOnly=yes \
	-o UserKnownHostsFile="$CI_CERTS/ssh_known_hosts" -o StrictHostKeyChecking=yes \
	outbound@127.0.0.1 'id -un' </dev/null 2>&1) || ci_die "ssh: key login to outbound@127.0.0.1:2222 failed: $out"
[[ $out == outbound ]] || ci_die "ssh: unexpected answer: $out"
ci_log "ssh: sshd on 127.0.0.1:2222 up, key login as outbound works"
