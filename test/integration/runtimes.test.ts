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

/** What box_create reports, and the command whose output must agree with it (Debian 13's toolchains). */
const VERSIONS: Record<string, { reported: RegExp; actual: string }> = {
  node: { reported: /^Node\.js (2\d)\.\d+\.\d+ \(npm/, actual: "node --version" },
  python: { reported: /^Python 3\.1[3-9]\.\d+ \(pip/, actual: "python3 --version" },
  golang: { reported: /^Go 1\.(2[4-9])\.\d+$/, actual: "go version" },
  ruby: { reported: /^Ruby 3\.[3-9]\.\d+ \(bundler/, actual: "ruby --version" },
  rust: { reported: /^Rust 1\.(8[5-9]|9\d)\.\d+ \(cargo/, actual: "rustc --version" },
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
      const version = VERSIONS[runtime] as { reported: RegExp; actual: string };
      const reported = (box as { runtimeVersion?: string }).runtimeVersion ?? "";
      expect(reported).toMatch(version.reported);
      const actual = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: version.actual });
      // The reported version is the installed one: its first number triple appears in the tool's own output.
      expect(actual.stdout).toContain(reported.match(/\d+\.\d+\.\d+/)?.[0] ?? "no version reported");
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
