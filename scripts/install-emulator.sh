#!/usr/bin/env bash
# Installs the project's AWS API emulator (moto 5.2.4 + test/emulator extension) into .emulator/.
#
# Why this shape: Debian bookworm has no moto and CI reaches only npm and Debian's mirrors (no PyPI),
# so the moto .debs (sid, pure Python) are vendored in vendor/aws-emulator/ with their SHA-256 sums,
# their Python dependencies come from bookworm's apt, and everything runs on /usr/bin/python3 (the
# python3 on PATH may be a pyenv build that cannot see Debian's packages).
#
# Idempotent: apt only runs for missing packages; the debs are unpacked again only when
# vendor/aws-emulator/SHA256SUMS changed (or .emulator/ is incomplete).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/vendor/aws-emulator"
DEST="$ROOT/.emulator"
SITE="$DEST/usr/lib/python3/dist-packages"
STAMP="$DEST/.installed-sha256sums"
PY=/usr/bin/python3

# moto's Debian dependencies, plus three optional imports (pulled in by Recommends on the machine
# where the emulator was proven) listed explicitly so a fresh machine loads the same modules.
APT_PACKAGES=(
  python3 python3-flask python3-flask-cors python3-werkzeug python3-requests python3-xmltodict
  python3-responses python3-cryptography python3-jinja2 python3-dateutil python3-jmespath
  python3-urllib3 python3-yaml python3-antlr4
  python3-openssl python3-blinker python3-simplejson
)

say() { printf '[install-emulator] %s\n' "$*"; }
die() {
  printf '[install-emulator] ERROR: %s\n' "$*" >&2
  exit 1
}

command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian (bookworm) machine"
command -v sha256sum >/dev/null || die "sha256sum not found (package coreutils)"

# 1. Debian dependencies, only the missing ones.
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: install as root: apt-get install -y ${missing[*]}"
    SUDO=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q || die "apt-get update failed (are Debian's mirrors reachable?)"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
else
  say "Debian dependencies already installed (${#APT_PACKAGES[@]} packages)"
fi
[ -x "$PY" ] || die "$PY not found after installing python3"

# 2. Verify the vendored debs before anything is unpacked.
[ -f "$VENDOR/SHA256SUMS" ] || die "missing $VENDOR/SHA256SUMS (vendored moto packages not in the checkout?)"
say "verifying $VENDOR/SHA256SUMS"
(cd "$VENDOR" && sha256sum --quiet -c SHA256SUMS) ||
  die "checksum mismatch in vendor/aws-emulator: the vendored .deb files are corrupt or were changed"

# 3. Unpack (again only when the vendored set changed).
want="$(sha256sum "$VENDOR/SHA256SUMS" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -d "$SITE/moto" ]; then
  say ".emulator/ is up to date"
else
  say "unpacking vendored debs into $DEST"
  rm -rf "$DEST"
  mkdir -p "$DEST"
  while read -r _sum file; do
    say "  dpkg-deb -x $file"
    dpkg-deb -x "$VENDOR/$file" "$DEST" || die "dpkg-deb -x failed for $file"
  done <"$VENDOR/SHA256SUMS"
  echo "$want" >"$STAMP"
fi

# 4. Byte-compile what was unpacked, once: the emulator runs with PYTHONDONTWRITEBYTECODE (a test
#    run writes nothing), so without these .pyc files every start compiled moto's sources again
#    (~0.4 s of CPU per start, and again for each service's first request). compileall skips files
#    whose .pyc is current, so a run on an installed tree takes a second.
say "byte-compiling $SITE"
"$PY" -m compileall -q -j 0 "$SITE" >/dev/null || die "byte-compiling $SITE failed: run \`$PY -m compileall $SITE\` to see why"

# 5. Prove moto imports with exactly the PYTHONPATH the test helper uses.
say "checking: PYTHONPATH=$SITE $PY -c 'import moto'"
version="$(PYTHONPATH="$SITE" "$PY" -c 'import moto, flask_cors, werkzeug; print(moto.__version__)' 2>&1)" ||
  die "moto does not import with $PY: $version"
say "ok: moto $version ready (start it with: PYTHONPATH=$SITE $PY $ROOT/test/emulator/server.py --port PORT)"
