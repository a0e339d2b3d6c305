#!/usr/bin/env bash
# Installs the Debian packages that flannel-ts's tests, demo and benchmarks use, when they are missing.
# Safe to run again: it installs nothing when everything is there. Needs root (apt-get).
#
#   scripts/install-deps.sh            everything the test suites need
#   scripts/install-deps.sh --demo     only what `npm run demo` needs
set -euo pipefail

demo=(iproute2 iputils-ping iptables nftables containernetworking-plugins)
tests=(
  "${demo[@]}"
  iptables nftables tcpdump          # traffic rules and their checks
  openssl                            # certificates for the etcd TLS test
  etcd-server etcd-client            # the etcd v3 subnet store
  containernetworking-plugins        # bridge/host-local delegates of the CNI plugin
  iperf3                             # throughput benchmarks
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins  # ipsec backend
  wireguard-tools                    # wg, to inspect wireguard devices
  prometheus                         # promtool, to check /metrics
  ethtool                            # ethtool -k, to check the vxlan checksum offload option
  qemu-system-x86 busybox-static kmod cpio xz-utils  # nested kernel for ipip/ESP/wireguard
  buildah                            # the flanneld image (scripts/build-image.sh), built offline
  curl                               # the kube-apiserver fixture's readiness wait (../shared/kube)
)

wanted=("${tests[@]}")
[ "${1:-}" = "--demo" ] && wanted=("${demo[@]}")

# kubectl for the manifest checks: Debian's kubernetes-client (1.20, as the test API server). Where another
# package already owns /usr/bin/kubectl, the Debian package is unpacked into .cache/kubernetes-client instead
# of fighting over the file; the tests look there first.
if [ "${1:-}" != "--demo" ]; then
  owner=$(dpkg-query -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || true)
  if [ -z "$owner" ] || [ "$owner" = kubernetes-client ]; then
    wanted+=(kubernetes-client)
  elif [ ! -x "$(dirname "$0")/../.cache/kubernetes-client/usr/bin/kubectl" ]; then
    cache="$(cd "$(dirname "$0")/.." && pwd)/.cache/kubernetes-client"
    tmp=$(mktemp -d)
    echo "install-deps: /usr/bin/kubectl belongs to $owner; unpacking Debian's kubernetes-client into $cache" >&2
    (cd "$tmp" && { apt-get download kubernetes-client >/dev/null 2>&1 || { apt-get update -qq && apt-get download kubernetes-client >/dev/null; }; } \
      && mkdir -p "$cache" && dpkg-deb -x kubernetes-client_*.deb "$cache")
    rm -rf "$tmp"
  fi
fi

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
