#!/usr/bin/env bash
# vsftpd on 127.0.0.1:2121 with explicit TLS (AUTH TLS, the CI certificate;
# plain FTP is still accepted), passive ports 30000-30009 on 127.0.0.1, local
# user `outbound` / password `outbound` chrooted to /home/outbound and allowed
# to upload there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkgs vsftpd

ci_ensure_outbound_user
conf=$CI_ETC/vsftpd.conf
pid=$CI_RUN/vsftpd.pid
mkdir -p /var/run/vsftpd/empty
touch "$CI_LOG/vsftpd.log"
changed=
ci_write_file "$conf" 600 <<CONF && changed=1 || true
# Written by the outbound project's .ci/setup/51-ftp.sh
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=2121
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
pasv_enable=YES
pasv_address=127.0.0.1
pasv_addr_resolve=NO
pasv_min_port=30000
pasv_max_port=30009
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
max_per_ip=0
max_clients=0
xferlog_enable=YES
vsftpd_log_file=$CI_LOG/vsftpd.log
ssl_enable=YES
rsa_cert_file=$CI_TLS/server.pem
rsa_private_key_file=$CI_TLS/server.key
allow_anon_ssl=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=NO
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
ssl_ciphers=HIGH
CONF
sum=$(sha256sum <"$CI_TLS/server.pem" | cut -d' ' -f1)
[[ "$(cat "$CI_STATE/vsftpd-cert.sha256" 2>/dev/null)" == "$sum" ]] || changed=1
if [[ -n $changed ]] || ! ci_pid_alive "$pid"; then
	ci_daemon_restart 2121 "$pid" /usr/sbin/vsftpd "$conf"
fi
echo "$sum" >"$CI_STATE/vsftpd-cert.sha256"
ci_wait_port 2121 30

# Check: AUTH TLS login, upload, listing, delete, verified against the CI CA.
probe=$(mktemp)
echo "outbound CI probe" >"$probe"
curl -sS --max-time 20 --ssl-reqd --cacert "$CI_CERTS/ca.pem" --user outbound:outbound \
	-T "$probe" ftp://127.0.0.1:2121/ci-probe.txt -Q '-DELE ci-probe.txt' >/dev/null ||
	ci_die "ftp: TLS upload as outbound to 127.0.0.1:2121 failed"
rm -f "$probe"
ci_log "ftp: vsftpd on 127.0.0.1:2121 up, AUTH TLS login and upload as outbound work (passive ports 30000-30009)"
