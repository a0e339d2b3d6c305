#!/usr/bin/env bash
# Builds the flannel-ts image (localhost/flannel-ts:<version>) with buildah, offline:
#   1. flanneld and the workspace packages it needs are packed (npm pack) into /opt/flannel-ts/node_modules,
#      with their third-party dependencies copied from this checkout's node_modules, same layout
#      (scripts/image-app-files.mjs finds them by Node's resolution; nothing is downloaded);
#   2. the Debian packages flanneld needs at run time are copied from this machine's installed files
#      (dpkg -L): libc6, libstdc++6, iptables (nft and legacy), nftables and their libraries;
#   3. this machine's Node.js binary, the CNI executable and install-cni.mjs are added;
#   4. `buildah build` copies that root filesystem into an image FROM scratch (Containerfile).
# Run `npm run build` first. Needs root and buildah (scripts/install-deps.sh).
#
#   scripts/build-image.sh [TAG]        default TAG: localhost/flannel-ts:<flanneld version>
#   IMAGE_ARCHIVE=out.tar scripts/build-image.sh    also write an OCI archive (to load into containerd)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(node -p "require('./flanneld/package.json').version")
tag=${1:-localhost/flannel-ts:$version}
work=$root/.cache/image
rootfs=$work/rootfs
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}   # works in a container and on any filesystem

for f in flanneld/bin/flanneld.js flanneld/bundle/flanneld.js cni/dist/flannel core/dist/subnet/kube/client-node.js; do
  [ -e "$f" ] || { echo "build-image: $f is missing; run npm run build first" >&2; exit 1; }
done
command -v buildah >/dev/null || { echo "build-image: buildah is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/packs" "$rootfs/opt/flannel-ts/bin" "$rootfs/opt/flannel-ts/cni" "$rootfs/usr/bin" "$rootfs/tmp" "$rootfs/run" "$rootfs/etc"
chmod 1777 "$rootfs/tmp"

echo "build-image: staging flanneld and its dependencies (from this checkout, offline)" >&2
app=$rootfs/opt/flannel-ts
node scripts/image-app-files.mjs > "$work/app-files"
# Workspace packages as npm would install them: what `npm pack` puts in their tarballs.
while read -r kind a b; do
  [ "$kind" = ws ] || continue
  tgz=$(cd "$work/packs" && npm pack --loglevel=error "$root/$a" | tail -1)
  mkdir -p "$app/node_modules/$b"
  tar -xzf "$work/packs/$tgz" -C "$app/node_modules/$b" --strip-components=1
done < "$work/app-files"
# Third-party packages where npm put them (each without its nested node_modules, which are listed too).
while read -r kind a b; do
  [ "$kind" = dep ] || continue
  mkdir -p "$app/$b"
  tar -C "$a" --exclude=./node_modules -cf - . | tar -C "$app/$b" -xf -
done < "$work/app-files"
# What a running daemon never reads.
find "$rootfs/opt/flannel-ts/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.ts.map' \) -type f -delete

echo "build-image: copying Debian packages from this machine" >&2
pkgs=(libc6 libgcc-s1 libstdc++6 iptables libxtables12 libip4tc2 libip6tc2 libnftnl11 libmnl0 libnfnetlink0
      libnetfilter-conntrack3 nftables libnftables1 libjansson4 libgmp10 libedit2 libbsd0 libmd0 libtinfo6)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || { echo "build-image: Debian package $p is not installed" >&2; exit 1; }
done
dpkg -L "${pkgs[@]}" | sort -u | while read -r f; do
  [ -d "$f" ] && [ ! -L "$f" ] && continue
  case $f in /usr/share/doc/* | /usr/share/man/* | /usr/share/locale/* | /usr/share/lintian/* | /usr/share/info/*) continue ;; esac
  if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "${f#/}"; fi
done > "$work/files"
# Debian's merged /usr: /lib, /lib64, /bin and /sbin are links into /usr.
for l in bin sbin lib lib64; do ln -sfn "usr/$l" "$rootfs/$l"; done
mkdir -p "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/usr/lib" "$rootfs/usr/lib64"
tar -C / --no-recursion -cf - -T "$work/files" | tar -C "$rootfs" -xf - --keep-directory-symlink
# The alternatives dpkg would have set up: iptables in nft mode, as Debian 12 has it.
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sfn "xtables-nft-multi" "$rootfs/usr/sbin/$t"
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$rootfs/etc/hosts"

echo "build-image: adding node, the CNI executable and install-cni" >&2
install -m 0755 "$(command -v node)" "$rootfs/usr/bin/node"
install -m 0755 cni/dist/flannel "$rootfs/opt/flannel-ts/cni/flannel"
install -m 0755 deploy/install-cni.mjs "$rootfs/opt/flannel-ts/bin/install-cni.mjs"

# Both must start inside the root filesystem as it is.
chroot "$rootfs" /usr/bin/node /opt/flannel-ts/node_modules/@flannel-ts/flanneld/bin/flanneld.js --version >/dev/null 2>&1 ||
  { echo "build-image: flanneld does not start inside the staged root filesystem" >&2; exit 1; }
chroot "$rootfs" /usr/sbin/iptables-restore --version >/dev/null || { echo "build-image: iptables does not run inside the staged root filesystem" >&2; exit 1; }

echo "build-image: buildah build -t $tag" >&2
old=$(buildah images --quiet --noheading "$tag" 2>/dev/null || true)
buildah build --quiet --pull=never --network=none --layers=false -f Containerfile -t "$tag" "$work" >/dev/null
# The image this tag named before, now untagged: ours to remove.
[ -n "$old" ] && [ "$old" != "$(buildah images --quiet --noheading "$tag")" ] && buildah rmi "$old" >/dev/null 2>&1 || true
if [ -n "${IMAGE_ARCHIVE:-}" ]; then buildah push --quiet "$tag" "oci-archive:$IMAGE_ARCHIVE:$tag"; fi
echo "build-image: built $tag ($(buildah images --noheading --format '{{.Size}}' "$tag") uncompressed)"
