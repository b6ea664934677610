#!/usr/bin/env bash
# Entry point of the compose service `ci` (see Dockerfile): make the container
# what CI's machine is before the setup scripts run (DESIGN.md, "Test
# infrastructure"), run .ci/setup/*.sh exactly as .ci/run does, then stay up.
# The host's .ci/certs is mounted at /outbound/.ci/certs, so 10-certs.sh and
# 50-ssh.sh write the CA and the SSH key where the tests read them; the host's
# .ci/mail is mounted at /var/mail, the mailbox of OUTBOUND_TEST_SMTP_MAILBOX.
set -euo pipefail
cd /outbound
rm -f /run/outbound-ci/ready

# The files written here are the host user's: the owner of the mounted folder.
owner=$(stat -c %u:%g .ci/certs)
# User outbound (MTA mailbox, SSH, FTP) gets the host user's uid, so that its
# mailbox in .ci/mail is readable on the host.
if ! id outbound >/dev/null 2>&1; then
	useradd --non-unique --uid "${owner%:*}" --create-home --shell /bin/bash outbound
fi

# The mail spool, as Debian has it (the mount point is root's 0755).
chown root:mail /var/mail
chmod 2775 /var/mail

# PostgreSQL 15: trust auth from 127.0.0.1 and the socket, as on CI machines.
hba=/etc/postgresql/15/main/pg_hba.conf
printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' >"$hba"
chown postgres:postgres "$hba"
# MariaDB 10.11: root without a password from 127.0.0.1, database test.
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
for ((i = 0; i < 120; i++)); do mariadb -u root -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
mariadb -u root <<'SQL'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
SQL

for script in .ci/setup/*.sh; do
	bash "$script"
done
chown -R "$owner" .ci/certs /var/mail/outbound 2>/dev/null || true
touch /run/outbound-ci/ready
echo "all servers up"
exec sleep infinity
