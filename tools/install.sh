#!/bin/sh
# tools/install.sh: `make install`.  Copies a built tree into place:
#
#   $PREFIX/bin/localai
#   $PREFIX/lib/localai/backends/<name>/	the shipped backends (run,
#					metadata.json, data files)
#   $PREFIX/share/localai/gallery/		the backend packages a frontend
#					serves to its workers (index.json)
#   $PREFIX/share/localai/migrations/	the database schema (also built
#					into the binary; for reference)
#   $PREFIX/share/localai/examples/	localai.conf and model configs
#   $PREFIX/share/doc/localai/		the documentation
#   $PREFIX/share/man/man5, man8		localai(8), localai.conf(5),
#					localai-models.conf(5)
#   $PREFIX/lib/systemd/system/		the units, their paths rewritten
#					for PREFIX and SYSCONFDIR
#   $PREFIX/lib/sysusers.d, tmpfiles.d	the localai user, /var/lib/localai
#   $SYSCONFDIR/localai/localai.conf	the example configuration, only when
#					there is none (never overwritten)
#   $SYSCONFDIR/localai/models.d/		created empty
#
# Every path is under $DESTDIR when it is set (packaging, tests).  The
# script creates no user and starts nothing: docs/deploy.md says what to
# run next.
set -eu
: "${BUILD:=build}" "${PREFIX:=/usr/local}" "${SYSCONFDIR:=/etc}"
DESTDIR=${DESTDIR:-}
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/$BUILD
D=$DESTDIR$PREFIX
E=$DESTDIR$SYSCONFDIR/localai

die() { echo "install: $*" >&2; exit 1; }
[ -x "$B/bin/localai" ] || die "$B/bin/localai is not built (run make)"
[ -f "$B/gallery/index.json" ] || die "$B/gallery/index.json is not built"

# inst MODE SRC DSTDIR: one file.
inst() {
	install -d -m 755 "$3"
	install -m "$1" "$2" "$3/"
}

inst 755 "$B/bin/localai" "$D/bin"

# Backends: each built directory as it is (run, metadata.json, data).
for dir in "$B"/backends/*/; do
	name=$(basename "$dir")
	[ -x "$dir/run" ] || continue
	install -d -m 755 "$D/lib/localai/backends/$name"
	(cd "$dir" && find . -type f) | while read -r f; do
		mode=644
		[ -x "$dir/$f" ] && mode=755
		install -D -m "$mode" "$dir/$f" "$D/lib/localai/backends/$name/$f"
	done
done

for f in "$B"/gallery/index.json "$B"/gallery/*.tar.gz; do
	inst 644 "$f" "$D/share/localai/gallery"
done
for f in "$TOP"/db/migrations/*.sql; do
	inst 644 "$f" "$D/share/localai/migrations"
done
inst 644 "$TOP/etc/localai.conf" "$D/share/localai/examples"
for f in "$TOP"/etc/models.d/*; do
	inst 644 "$f" "$D/share/localai/examples/models.d"
done
for f in "$TOP"/README.md "$TOP"/docs/*.md; do
	[ -f "$f" ] && inst 644 "$f" "$D/share/doc/localai"
done
inst 644 "$TOP/docs/man/localai.8" "$D/share/man/man8"
inst 644 "$TOP/docs/man/localai.conf.5" "$D/share/man/man5"
inst 644 "$TOP/docs/man/localai-models.conf.5" "$D/share/man/man5"

# Units: the paths they name follow PREFIX and SYSCONFDIR.
install -d -m 755 "$D/lib/systemd/system"
for f in "$TOP"/etc/systemd/*.service "$TOP"/etc/systemd/*.socket; do
	sed -e "s|/usr/local/bin/localai|$PREFIX/bin/localai|g" \
	    -e "s|/usr/local/share/doc/localai|$PREFIX/share/doc/localai|g" \
	    -e "s|/etc/localai/|$SYSCONFDIR/localai/|g" "$f" \
	    >"$D/lib/systemd/system/$(basename "$f")"
	chmod 644 "$D/lib/systemd/system/$(basename "$f")"
done
install -D -m 644 "$TOP/etc/systemd/localai.sysusers.conf" \
    "$D/lib/sysusers.d/localai.conf"
install -D -m 644 "$TOP/etc/systemd/localai.tmpfiles.conf" \
    "$D/lib/tmpfiles.d/localai.conf"

# The configuration: the example, unless the operator already has one.
install -d -m 755 "$E" "$E/models.d"
if [ -e "$E/localai.conf" ]; then
	echo "install: keeping $E/localai.conf (the example is in $D/share/localai/examples)"
else
	install -m 644 "$TOP/etc/localai.conf" "$E/localai.conf"
fi

echo "install: localai installed under $D"
if [ -z "$DESTDIR" ]; then
	cat <<EOF
Next (docs/deploy.md has the whole walk-through):
  systemd-sysusers; systemd-tmpfiles --create
  edit $SYSCONFDIR/localai/localai.conf; localai -n
  systemctl daemon-reload
  systemctl enable --now localai-standalone.service	# one machine, or:
  systemctl enable --now localai.socket localai-frontend.service
  systemctl enable --now localai-worker.service
EOF
fi
