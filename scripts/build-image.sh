#!/usr/bin/env bash
# Builds the starling container image without a container daemon
# (docs/deploy.md): the root filesystem from this machine's Node and the
# built checkout (scripts/image/rootfs.mjs), two layers and the image config
# with umoci, into an OCI layout; optionally pushed with skopeo.
#
#   scripts/build-image.sh OUTDIR [TAG] [--push HOST:PORT/REPO]
#
# OUTDIR/layout is the OCI layout (tag TAG, default the package version).
# Needs: node, umoci, ldd; skopeo for --push; `npm ci && npm run build` done.
# The Dockerfile gives the same file tree, user, entrypoint and cmd.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [TAG] [--push HOST:PORT/REPO]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
tag=$version
push=""
while [ $# -gt 0 ]; do
  case $1 in
    --push) [ $# -ge 2 ] || usage; push=$2; shift 2 ;;
    -*) usage ;;
    *) tag=$1; shift ;;
  esac
done
for tool in umoci ldd; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is not installed (apt-get install umoci)" >&2; exit 2; }
done

# These must match scripts/image/rootfs.mjs and the Dockerfile.
uid=10001
state=/var/lib/starling
# Fixed timestamps: the same inputs give the same config and manifest digests.
created=1970-01-01T00:00:00Z

mkdir -p "$out"
layout="$out/layout"
rm -rf "$layout"
node "$root/scripts/image/rootfs.mjs" "$out/rootfs" >"$out/rootfs.json"

umoci init --layout "$layout"
umoci new --image "$layout:$tag"
# One layer for Node and its libraries, one for starling: a starling upgrade
# moves only the second one (a few MiB) through the registry and the swarm.
umoci insert --image "$layout:$tag" --history.created "$created" \
  --history.created_by "scripts/image/rootfs.mjs: node + shared libraries" "$out/rootfs/runtime" /
umoci insert --image "$layout:$tag" --history.created "$created" \
  --history.created_by "scripts/image/rootfs.mjs: starling $version" "$out/rootfs/app" /
umoci config --image "$layout:$tag" --created "$created" --history.created "$created" \
  --author "starling" --architecture "$(node -p 'process.arch === "x64" ? "amd64" : process.arch')" --os linux \
  --config.user "$uid:$uid" \
  --config.workingdir "$state" \
  --config.env "PATH=/usr/local/bin:/usr/bin:/bin" \
  --config.env "HOME=$state" \
  --config.env "STARLING_DATA_DIR=$state" \
  --config.env "NODE_ENV=production" \
  --config.entrypoint /usr/local/bin/node --config.entrypoint /opt/starling/bin/starling.js \
  --config.cmd daemon \
  --config.volume "$state" \
  --config.exposedports 7480/tcp \
  --config.label "org.opencontainers.image.title=starling" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.source=https://github.com/starling-swarm/starling"
umoci gc --layout "$layout"

if [ -n "$push" ]; then
  command -v skopeo >/dev/null || { echo "build-image: skopeo is not installed" >&2; exit 2; }
  # --dest-tls-verify=false: the local registry speaks plain HTTP on loopback.
  skopeo copy --quiet --dest-tls-verify=false --preserve-digests "oci:$layout:$tag" "docker://$push:$tag"
fi
echo "$layout:$tag"
