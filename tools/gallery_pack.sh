#!/bin/sh
# gallery_pack.sh SRCDIR OUT.tar.gz
#
# Pack a built backend directory (run, metadata.json and any data files
# beside them) into a reproducible tarball: entries sorted by name, no
# directory entries, fixed mtime (the epoch), owner and group 0, modes
# normalised (the umask of the build does not leak in), gzip without name
# or timestamp.  The same inputs always give the same bytes, so the
# SHA-256 in index.json identifies the content.
set -eu
[ $# -eq 2 ] || { echo "usage: gallery_pack.sh SRCDIR OUT.tar.gz" >&2; exit 2; }
src=$1
out=$2
[ -x "$src/run" ] || { echo "gallery_pack: $src/run missing or not executable" >&2; exit 1; }
[ -f "$src/metadata.json" ] || { echo "gallery_pack: $src/metadata.json missing" >&2; exit 1; }
tmp="$out.tmp.$$"
trap 'rm -f "$tmp" "$tmp.tar" "$tmp.list"' EXIT
# Steps, not one pipeline: sh has no pipefail, and a failing tar must fail.
(cd "$src" && find . -type f ! -name '.*') | sed 's|^\./||' |
    LC_ALL=C sort >"$tmp.list"
tar --create --file="$tmp.tar" --directory="$src" --format=gnu \
    --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --mode='a+rX,u+w,go-w' --no-recursion --verbatim-files-from \
    --files-from="$tmp.list"
gzip -n -9 -c "$tmp.tar" >"$tmp"
mv "$tmp" "$out"
