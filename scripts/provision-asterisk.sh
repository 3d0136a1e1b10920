#!/usr/bin/env bash
# Provision Debian sid's Asterisk (and llama.cpp's llama-server) in a chroot.
# Debian 12/13 ship no asterisk package; sid does (see ../shared/FINDINGS.md §1).
# Idempotent: a finished chroot carries a stamp file and is left alone.
# Usage: scripts/provision-asterisk.sh ROOT_DIR
set -euo pipefail

root=${1:?usage: provision-asterisk.sh ROOT_DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(asterisk asterisk-modules asterisk-config asterisk-core-sounds-en)
stamp="$root/.secretary-provisioned"

if [ -f "$stamp" ]; then
    echo "asterisk chroot ready at $root"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "provisioning the Asterisk chroot needs root (debootstrap, chroot)" >&2
    exit 1
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }

unmount_all() {
    for m in dev/pts dev proc; do
        mountpoint -q "$root/$m" && umount -l "$root/$m" || true
    done
}
trap unmount_all EXIT

if [ ! -x "$root/usr/bin/apt-get" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    echo "debootstrap sid into $root (about a minute)"
    debootstrap --variant=minbase sid "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
        || { tail -n 30 "$root.debootstrap.log" >&2; exit 1; }
fi

# The mirror serves a frozen sid snapshot whose Release file may be "expired".
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99secretary"
# Maintainer scripts must not start services inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mkdir -p "$root/proc" "$root/dev"
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
mountpoint -q "$root/dev/pts" || mount --bind /dev/pts "$root/dev/pts"

echo "installing ${packages[*]} llama.cpp-tools in the chroot"
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${packages[@]}"
# llama-server is optional for the spine; a failure here must not block Asterisk.
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends llama.cpp-tools \
    || echo "warning: llama.cpp-tools not installed in the chroot" >&2
chroot "$root" apt-get clean

# After apt: no outside DNS at call time (Asterisk looks up the hostname).
echo "127.0.0.1 localhost $(hostname)" >"$root/etc/hosts"
echo "nameserver 127.0.0.1" >"$root/etc/resolv.conf"

date -u +%FT%TZ >"$stamp"
echo "asterisk chroot ready at $root"
