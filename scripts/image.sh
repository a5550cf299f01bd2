#!/usr/bin/env bash
# ./scripts/image.sh [DEB]: build the container image localhost/tcpfsm:<version>
# from the Debian package, without any image registry, and write it as an OCI
# archive, build/tcpfsm-image_<version>_<arch>.tar, for the nodes of a cluster
# (`podman load -i`, `ctr -n k8s.io images import`, `skopeo copy oci-archive:...`).
#
#   DEB  the package to put in it (default: ./scripts/package.sh builds one)
#
# How: mmdebstrap makes a Debian 12 root filesystem from the host's own apt
# sources (so the image's libraries are the versions the binary was built and
# tested against) and installs the .deb into it with apt, which brings exactly
# the Depends: that dpkg-shlibdeps wrote; then `buildah from scratch` takes that
# tree as its only layer. No base image is pulled: none could be, from here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "scripts/image.sh"
install_missing "${TCPFSM_PACKAGES[@]}" "${TCPFSM_IMAGE_PACKAGES[@]}"

deb=${1:-}
if [ -z "$deb" ]; then
  deb=$("$TCPFSM_ROOT/scripts/package.sh")
fi
[ -f "$deb" ] || die "no such package '$deb': give a .deb that scripts/package.sh built"
version=$(dpkg-deb -f "$deb" Version) || die "'$deb' is not a Debian package"
arch=$(dpkg-deb -f "$deb" Architecture)
image=localhost/tcpfsm:$version
archive=$TCPFSM_BUILD/tcpfsm-image_${version}_${arch}.tar

work=$(mktemp -d /tmp/tcpfsm-image.XXXXXX)
ctr=
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
# apt inside the chroot reads the package at the path apt outside was given:
# the file-mirror-automount hook copies it there.
install -m 0644 "$deb" "$work/tcpfsm.deb"
chmod 0755 "$work"

sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
[ -f "$sources" ] || die "no apt sources on this host ($sources): mmdebstrap needs a Debian mirror"

# essential: dpkg, coreutils, bash and the libc, nothing that runs (no init, no
# shell server). Documentation is left out but for the copyright files (the
# licences travel with the binaries) and tcpfsm's own examples.
echo "tcpfsm: building the root filesystem (mmdebstrap, from $sources)" >&2
mmdebstrap --quiet --variant=essential --architectures="$arch" \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --include="$work/tcpfsm.deb" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-include=/usr/share/doc/tcpfsm/*' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
  bookworm "$work/rootfs.tar" "$sources" </dev/null >&2 ||
  die "mmdebstrap failed (see above)"

echo "tcpfsm: building $image (buildah from scratch)" >&2
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
# The default command is the DaemonSet's: serve on every address of the node's
# network namespace (hostNetwork), sockets by pod, named from the host's
# /var/log/pods mounted under /host. deploy/kubernetes/daemonset.yaml spells the same.
buildah config \
  --entrypoint '["/usr/sbin/tcpfsm"]' \
  --cmd '["serve", "--web.listen-address", ":9977", "--by", "pod", "--host-root", "/host"]' \
  --port 9977/tcp \
  --workingdir / \
  --stop-signal SIGTERM \
  --env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.title=tcpfsm \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.description="TCP state-transition tracer (eBPF) and Prometheus exporter" \
  --label org.opencontainers.image.base.name="debian:bookworm (mmdebstrap, essential)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
ctr=
buildah tag "$image" localhost/tcpfsm:latest
rm -f "$archive"
buildah push --quiet "$image" "oci-archive:$archive:$image" >&2
echo "tcpfsm: $image, $(du -h "$archive" | cut -f1) as $archive" >&2
echo "$archive"
