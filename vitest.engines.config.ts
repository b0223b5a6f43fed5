import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// The "any engine, no root" legs (tools/test-engines.sh): the network, lifecycle and files suites and the
// network helper's, run by an ordinary user against the local engine and against a second engine in its
// own network namespace (DOCKER_HOST). The main suite is the same suites as root on the local engine.
export default defineConfig({
  test: {
    ...base.test,
    include: [
      "test/integration/network.test.ts",
      "test/integration/lifecycle.test.ts",
      "test/integration/files.test.ts",
      "test/integration/netd.test.ts",
    ],
  },
});
