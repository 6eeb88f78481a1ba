#!/usr/bin/env bash
# What the test suite needs besides npm packages, set up on demand: `npm test` runs this first
# (package.json "pretest"), so `npm ci && npm test` passes on a fresh Debian machine with no other step.
#   1. the AWS API emulator (moto, vendored debs + Debian's Python packages) in .emulator/;
#   2. a running Zabbix 6.0 server and API for the business-metric gate tests (.zabbix/env);
#   3. what the Dagger engine's TypeScript runtime runs the module with (Node 24.13.1, npm 11.8.0, tsx
#      4.15.6, from the npm registry) in .engine-runtime/, for test/dagger/rehearsal.test.ts.
# All are idempotent: on a machine where they are installed and running this takes a few seconds.
# One after the other, never in parallel: both may call apt. Needs root or sudo the first time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-emulator.sh
bash scripts/zabbix/setup.sh
bash scripts/install-engine-runtime.sh
# The CLI's bundle of the current sources (bin/launch.mjs): built once here, not by the suite's first
# spawns all at once.
node bin/gray-deploy.mjs --help >/dev/null
