import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// The gVisor leg: the suites that say a box works (create and hardening, both exec paths, lifecycle,
// snapshots, files, the network policy, the abuse cases, git, previews, agent runs and SSH) again, on
// gVisor boxes (BOXD_ISOLATION=gvisor through the harness). isolation.test.ts checks what only one tier
// does; it runs in the main suite.
export default defineConfig({
  test: {
    ...base.test,
    include: [
      "test/integration/boxes.test.ts",
      "test/integration/exec-paths.test.ts",
      "test/integration/lifecycle.test.ts",
      "test/integration/snapshots.test.ts",
      "test/integration/files.test.ts",
      "test/integration/network.test.ts",
      "test/integration/security-network.test.ts",
      "test/integration/abuse.test.ts",
      "test/integration/git.test.ts",
      "test/integration/preview.test.ts",
      "test/integration/agent.test.ts",
      "test/integration/ssh.test.ts",
    ],
    env: { BOXD_TEST_ISOLATION: "gvisor" },
  },
});
