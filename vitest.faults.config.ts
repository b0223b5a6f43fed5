import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// Fault tests restart the Docker engine and fill disks: they run after the main suite, one file at a time.
export default defineConfig({
  test: {
    ...base.test,
    include: ["test/faults/**/*.test.ts"],
    fileParallelism: false,
    maxWorkers: 1,
  },
});
