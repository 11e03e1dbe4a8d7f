#!/usr/bin/env bash
# Installs the Debian packages streamfleet builds and tests with, when missing.
# Run as root (CI and `make test` do); as another user it names what is missing.
set -u
pkgs=(
  # build
  build-essential pkg-config
  libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev lmdb-utils libsodium-dev
  libcurl4-openssl-dev libexpat1-dev libjansson-dev libmicrohttpd-dev libcmocka-dev
  libsqlite3-dev libsystemd-dev
  # make fuzz: libFuzzer, ASan and UBSan come with Debian's clang
  clang
  # real parts in tests: media server, cameras, RTSP camera, hosts
  nginx libnginx-mod-rtmp ffmpeg
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav
  python3-zmq python3-msgpack
  iproute2 iptables procps curl
  # packaging: make deb, its lint and install test, man pages, completion
  dpkg-dev lintian man-db zsh util-linux
  # benchmark peers and the browser
  redis-server sqlite3 chromium
  # make bench-profile
  linux-perf
)
# node and npm may come from elsewhere than Debian; only install them when absent
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "streamfleet: these Debian packages are missing: ${missing[*]}" >&2
  echo "streamfleet: install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "streamfleet: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/streamfleet-apt.log 2>&1; then
  apt-get update -q >>/tmp/streamfleet-apt.log 2>&1
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/streamfleet-apt.log 2>&1; then
    echo "streamfleet: apt-get install failed; see /tmp/streamfleet-apt.log" >&2
    tail -20 /tmp/streamfleet-apt.log >&2
    exit 1
  fi
fi
# nginx's package starts a system nginx; tests run their own on other ports.
systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true
exit 0
