#!/usr/bin/env bash
# tshark, which the capture tests run over the pcapng files they write: no
# server, only a program. Debian asks whether non-root users may capture;
# the tests only read files, so the answer is no.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
need_pkgs tshark

command -v tshark >/dev/null || ci_die "tshark: not on PATH after the install"
protos=$(tshark -G protocols 2>/dev/null | cut -f3)
for p in pgsql mysql smtp mqtt resp http2 tls; do
	grep -qx "$p" <<<"$protos" || ci_die "tshark: no $p dissector"
done
# A pcapng file with a Decryption Secrets Block (an empty TLS key log) and
# no packets: tshark must open it.
f=$(mktemp --suffix=.pcapng)
trap 'rm -f "$f"' EXIT
printf '\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00\x0a\x00\x00\x00\x14\x00\x00\x00\x4b\x53\x4c\x54\x00\x00\x00\x00\x14\x00\x00\x00' >"$f"
tshark -r "$f" >/dev/null 2>&1 || ci_die "tshark: cannot read a pcapng file with a Decryption Secrets Block"
ci_log "tshark: $(tshark --version 2>/dev/null | head -1)"
