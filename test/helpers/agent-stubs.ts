// The stub `claude` and `codex` CLIs (test/fixtures/agent/stub-cli.cjs: fakes that replay recorded
// samples, since no LLM provider can be reached here), installed in a box for the hosted-harness tests.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Harness } from "./harness.js";

export const fixture = (p: string) => readFileSync(path.resolve(import.meta.dirname, "../fixtures", p), "utf8");

/** Puts the stub CLIs on boxuser's PATH with their samples, plus any extra files, in the box's home. */
export async function installAgentStubs(
  h: Harness,
  box: string,
  extra: { path: string; content: string }[] = [],
): Promise<void> {
  const stub = fixture("agent/stub-cli.cjs");
  await h.callOk("box_upload", {
    box,
    destination: "/workspace/home",
    files: [
      ...extra,
      { path: ".local/bin/claude", content: stub },
      { path: ".local/bin/codex", content: stub },
      { path: ".stub/claude.jsonl", content: fixture("agent-samples/claude-code-stream.jsonl") },
      { path: ".stub/codex.jsonl", content: fixture("agent-samples/codex-exec.jsonl") },
    ],
  });
  await h.callOk("box_exec", { box, command: "chmod 755 .local/bin/claude .local/bin/codex" });
}
