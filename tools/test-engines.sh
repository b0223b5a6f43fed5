#!/usr/bin/env bash
# The "any Docker engine, no root" legs of `npm test` (issue 22): the network, lifecycle and files suites and
# the network helper's (vitest.engines.config.ts), with the server run by an ordinary user (boxd-tester,
# tools/test-user.sh) against
#   (b) the local engine, and
#   (c) a second engine that lives in its own network namespace (tools/second-engine.sh: its own dockerd,
#       containerd, data root and socket), reached through DOCKER_HOST: the server's own host firewall
#       never sees those boxes' traffic, so only the network helper on that engine can enforce anything.
# Leg (a), the server as root on the local engine, is the main suite. Each leg's suite ends with the leak
# check against its own engine. Root only (it makes the user and the second engine).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/test-user.sh ensure
# --configLoader runner: vite would otherwise bundle the config into node_modules/.vite-temp, which the
# user cannot write (the repo stays root's).
vitest=(npx vitest run --configLoader runner -c vitest.engines.config.ts)

echo "[engines] leg b: the local engine, the server as $(id -un boxd-tester 2>/dev/null || echo boxd-tester) (no root)"
bash tools/test-user.sh run BOXD_TEST_RUNTIMES=node,python -- "${vitest[@]}"

echo "[engines] leg c: a second engine in its own network namespace, the server as boxd-tester"
trap 'bash tools/second-engine.sh down' EXIT
bash tools/second-engine.sh up
bash tools/test-user.sh run "$(bash tools/second-engine.sh env)" BOXD_TEST_RUNTIMES=node,python -- "${vitest[@]}"
echo "[engines] both legs passed"
