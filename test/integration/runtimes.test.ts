// Every runtime's toolchain compiles or runs a small program in its own box.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

const PROGRAMS: Record<string, string> = {
  node: "node -e 'console.log(\"ok-\" + (6*7))' && npm --version >/dev/null && tsc --version >/dev/null && echo tools",
  python:
    "python3 -c 'print(\"ok-\" + str(6*7))' && python3 -m venv /tmp/v && /tmp/v/bin/python -c 'import sys' && echo tools",
  golang:
    "mkdir -p /tmp/g && cd /tmp/g && printf 'package main\\nimport \"fmt\"\\nfunc main(){ fmt.Println(\"ok-\", 6*7) }\\n' > m.go && go run m.go | tr -d ' ' && echo tools",
  ruby: "ruby -e 'puts \"ok-#{6*7}\"' && bundle --version >/dev/null && echo tools",
  rust: "mkdir -p /tmp/r && cd /tmp/r && printf 'fn main(){ println!(\"ok-{}\", 6*7); }\\n' > m.rs && rustc -o m m.rs && ./m && cargo --version >/dev/null && echo tools",
};

describe("runtimes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const [runtime, command] of Object.entries(PROGRAMS)) {
    it(`runs the ${runtime} toolchain as boxuser`, async () => {
      const box = await h.createBox({ runtime });
      expect(box.runtime).toBe(runtime);
      const r = await h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", {
        box: box.id,
        command,
        timeoutSeconds: 240,
      });
      expect(r.stderr).not.toMatch(/command not found/);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain("ok-42");
      expect(r.stdout).toContain("tools");
      await h.callOk("box_delete", { box: box.id });
    });
  }
});
