import os from "node:os";
import path from "node:path";
import { defineConfig } from "vitest/config";

// One folder per test run for data dirs and the instance registry the leak check reads; set here, in the
// main process, so that global setup and every worker see the same value.
process.env.BOXD_TEST_ROOT ??= path.join(os.tmpdir(), `boxd-test-${process.pid}-${Date.now()}`);

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 3,
    reporters: ["default"],
  },
});
