import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// Tests against real outside services (test/real/): opt-in with `npm run test:real`, never in `npm test`.
export default defineConfig({
  test: { ...base.test, include: ["test/real/**/*.test.ts"] },
});
