#!/bin/sh
# Install every Debian package localai-c needs to build, test and run.
# Idempotent: when all packages are present it does nothing (no apt-get
# update, no network).  Run as root on Debian 12.
set -eu

PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev
libgrpc-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev
libnats-dev nats-server libpq-dev postgresql-15 postgresql-client-15
libmicrohttpd-dev libconfig-dev libsystemd-dev systemd
libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev libbsd-dev
libpcre2-dev libespeak-ng-dev espeak-ng-data libpocketsphinx-dev
libsphinxbase-dev pocketsphinx-en-us pocketsphinx-testdata
chromium curl procps iproute2 python3 file ca-certificates
libarchive-dev groff-base"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
# Node.js runs the interoperability and browser tests; the machine image
# usually ships it (with npm), otherwise Debian's packages do.
if ! command -v node >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing$missing"
# A fresh postgresql-15 would create and start a system cluster on 5432;
# the project runs its own clusters, so ask postgresql-common not to.
mkdir -p /etc/postgresql-common
if [ ! -f /etc/postgresql-common/createcluster.conf ] ||
    ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
	echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
