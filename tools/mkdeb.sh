#!/usr/bin/env bash
# tools/mkdeb.sh — builds build/deb/streamfleet_VERSION_ARCH.deb with
# dpkg-deb: a hardened build of its own (Debian's dpkg-buildflags, in
# build-deb/), `make install` into a staging root with PREFIX=/usr, stripped
# binaries, compressed man pages, Debian's copyright and changelog, conffiles
# for the two default configs, and dependencies from dpkg-shlibdeps.
# Run by `make deb`; lintian checks the result when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^#define SF_VERSION "\(.*\)"/\1/p' include/sf_version.h)
changelog_version=$(sed -n '1s/^streamfleet (\([^)]*\)).*/\1/p' deploy/debian/changelog)
if [ "$version" != "$changelog_version" ]; then
  echo "mkdeb: include/sf_version.h says $version, deploy/debian/changelog $changelog_version" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
out=build/deb
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
make -s BUILD=build-deb CFLAGS="$(dpkg-buildflags --get CFLAGS)" \
  LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
  build-deb/bin/streamfleet build-deb/bin/streamfleet-controller build-deb/bin/streamfleet-agent
make -s BUILD=build-deb CFLAGS="$(dpkg-buildflags --get CFLAGS)" \
  LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" install DESTDIR="$PWD/$stage" PREFIX=/usr >/dev/null
# Debian's layout: documentation as policy wants it
doc=$stage/usr/share/doc/streamfleet
cp deploy/debian/copyright "$doc/copyright"
gzip -9n -c deploy/debian/changelog >"$doc/changelog.gz"
find "$doc" -name '*.md' -size +4k -exec gzip -9n {} +
find "$stage/usr/share/man" -type f -exec gzip -9n {} +
for b in "$stage/usr/bin/streamfleet" "$stage/usr/sbin/streamfleet-controller" "$stage/usr/sbin/streamfleet-agent"; do
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$b"
done
# dpkg-shlibdeps wants a debian/control beside it
shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir -p "$shl/debian"
printf 'Source: streamfleet\n\nPackage: streamfleet\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "$OLDPWD/$stage/usr/bin/streamfleet" \
  "$OLDPWD/$stage/usr/sbin/streamfleet-controller" "$OLDPWD/$stage/usr/sbin/streamfleet-agent" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  deploy/debian/control.in >"$stage/DEBIAN/control"
for s in postinst postrm prerm; do install -m 0755 "deploy/debian/$s" "$stage/DEBIAN/$s"; done
printf '/etc/streamfleet/controller.conf\n/etc/streamfleet/agent.conf\n' >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 0755 {} +
deb=$out/streamfleet_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "mkdeb: built $deb"
