// Every test data dir lives under one folder per test run, so the final leak check can find every
// instance the run made (each data dir is one instance).
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export function testRoot(): string {
  const root = process.env.BOXD_TEST_ROOT ?? path.join(os.tmpdir(), "boxd-test");
  mkdirSync(root, { recursive: true });
  return root;
}
