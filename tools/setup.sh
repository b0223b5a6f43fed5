#!/usr/bin/env bash
# What `npm start` and `npm test` run first: a reachable Docker engine, then the box images (built
# locally; an unchanged image definition is reused, so this is quick after the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/provision-engine.sh
node dist/cli.js images build
