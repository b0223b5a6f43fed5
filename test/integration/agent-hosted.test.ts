// The hosted harnesses (claude-code, codex) end to end without the internet: a stub claude CLI and a stub
// codex CLI (test/fixtures/agent/stub-cli.cjs) installed into a box replay the recorded samples and report
// the arguments and API key they were given. Proves the command lines, the parsing through MCP, that the
// run holds only a placeholder key (the egress proxy attaches the real one to the provider's API host:
// secrets-proxy.test.ts shows a key arriving there), and that no key ever lands in the box's
// filesystem, its container config or its stored env. One opt-in test runs the real claude CLI when the
// test process has ANTHROPIC_API_KEY (it needs the internet); otherwise it is skipped and says why.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACEHOLDER_KEY } from "../../src/secrets/provider-keys.js";
import { installAgentStubs } from "../helpers/agent-stubs.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

interface AgentResult {
  runId: string;
  status: string;
  output: string;
  usage: { inputTokens: number; outputTokens: number; cachedInputTokens: number };
  sessionId: string | null;
  harness: string;
  model: string | null;
  costUsd: number | null;
}

describe("hosted harnesses through stub CLIs", () => {
  const anthropicKey = `sk-test-ant-${randomBytes(16).toString("hex")}`;
  const openaiKey = `sk-test-oai-${randomBytes(16).toString("hex")}`;
  let h: Harness;
  let box: BoxResult;
  const run = (args: Record<string, unknown>, progress: string[]) =>
    h.callOk<AgentResult>("box_agent_run", { box: box.id, ...args }, { onProgress: (m) => progress.push(m) });

  /** Runs bash as root in the box's container, with extra env (kept out of the command line). */
  const rootSh = async (script: string, env: string[] = [], user = "root") => {
    const containerId = h.services.boxes.mustGet(box.id).containerId ?? "";
    let out = "";
    await h.services.engine.execs.run({
      containerId,
      cmd: ["bash", "-c", script],
      user,
      env,
      onStdout: (c) => {
        out += c.toString();
      },
    });
    return out;
  };

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_ANTHROPIC_API_KEY: anthropicKey, BOXD_OPENAI_API_KEY: openaiKey } });
    box = await h.createBox({ name: "agent-hosted", runtime: "node" });
    await installAgentStubs(h, box.id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("claude-code: the stub claude CLI's recorded sample comes back parsed, the CLI holding a placeholder key (recorded sample)", async () => {
    const progress: string[] = [];
    const r = await run({ prompt: "-make hello.py", model: "claude-sonnet-4-5" }, progress);
    expect(r).toMatchObject({
      status: "completed",
      harness: "claude-code",
      model: "claude-sonnet-4-5",
      output: "Created hello.py; running it prints hello.",
      usage: { inputTokens: 46372, outputTokens: 310, cachedInputTokens: 44840 },
      costUsd: 0.0231,
      sessionId: "8f0c2a4e-5b7d-4c1e-9a3f-2d6b1e0c7a55",
    });
    const text = progress.join("");
    // The prompt reached the CLI as one argument after `--`, even though it starts with a dash.
    expect(text).toContain(
      'argv=["-p","--output-format","stream-json","--verbose","--permission-mode","bypassPermissions","--model","claude-sonnet-4-5","--","-make hello.py"]',
    );
    // The CLI holds a placeholder; the box attaches the real key to api.anthropic.com at the proxy.
    expect(text).toContain(`key_sha256=${sha256(PLACEHOLDER_KEY)}`);
    expect(text).not.toContain(`key_sha256=${sha256(anthropicKey)}`);
    const attached = await h.callOk<{ attachHeaders?: Record<string, string[]> }>("box_get", { box: box.id });
    expect(attached.attachHeaders?.["api.anthropic.com"]).toEqual(["x-api-key"]);
    expect(text).toContain('[tool] Write {"file_path":"/workspace/home/hello.py"');
    expect(text).toContain("[tool result] hello");
    expect(text).not.toContain(anthropicKey);
    // The codex key is not given to claude.
    expect(text).not.toMatch(/env=[^ ]*CODEX_API_KEY/);

    const again = await run({ prompt: "and again", sessionId: r.sessionId }, progress);
    expect(again.status).toBe("completed");
    expect(progress.join("")).toContain(`"--resume","${r.sessionId}","--","and again"`);

    const rows = await h.callOk<{ runs: { id: string; type: string; agent?: Record<string, unknown> }[] }>("box_runs", {
      box: box.id,
    });
    expect(rows.runs.find((x) => x.id === r.runId)).toMatchObject({
      type: "agent",
      agent: { harness: "claude-code", model: "claude-sonnet-4-5", costUsd: 0.0231, sessionId: r.sessionId },
    });
  });

  it("codex: the stub codex CLI's recorded sample comes back parsed, the CLI holding a placeholder key (recorded sample)", async () => {
    const progress: string[] = [];
    const r = await run({ prompt: "make one.py", harness: "codex" }, progress);
    expect(r).toMatchObject({
      status: "completed",
      harness: "codex",
      model: null,
      output: "Created one.py; it prints 1.",
      usage: { inputTokens: 24763, outputTokens: 122, cachedInputTokens: 24448 },
      costUsd: null,
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
    });
    const text = progress.join("");
    expect(text).toContain(
      'argv=["exec","--json","--skip-git-repo-check","--dangerously-bypass-approvals-and-sandbox","--disable","shell_snapshot","--","make one.py"]',
    );
    expect(text).toContain(`key_sha256=${sha256(PLACEHOLDER_KEY)}`);
    expect(text).not.toContain(openaiKey);
    const attached = await h.callOk<{ attachHeaders?: Record<string, string[]> }>("box_get", { box: box.id });
    expect(attached.attachHeaders?.["api.openai.com"]).toEqual(["Authorization"]);
    expect(text).toContain("[tool] command");
    await run({ prompt: "more", harness: "codex", sessionId: r.sessionId }, progress);
    expect(progress.join("")).toContain(`"resume","${r.sessionId}","--","more"`);
  });

  it("no API key is left in the box's filesystem, container config, stored env or log", async () => {
    // A control string written the same way shows that the search finds what is there.
    await h.callOk("box_exec", { box: box.id, command: "mkdir -p deep/er && echo control-7f3a > deep/er/c.txt" });
    // /proc is left out: the searching shell's own environment holds the needles. Two searchers: root
    // (without capabilities, as in every box) reads what boxuser cannot, and boxuser reads its own home,
    // which is 0700 on Debian 13 and so closed to a root without CAP_DAC_READ_SEARCH.
    const search = `grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e "$N1" -e "$N2" / 2>/dev/null; true`;
    const both = async (env: string[]) => (await rootSh(search, env)) + (await rootSh(search, env, "1000:1000"));
    expect(await both(["N1=control-7f3a", "N2=control-7f3a"])).toContain("/workspace/home/deep/er/c.txt");
    expect(await rootSh(`echo control-7f3a > /root/c.txt`)).toBe("");
    expect(await rootSh(search, ["N1=control-7f3a", "N2=control-7f3a"])).toContain("/root/c.txt");
    expect(await both([`N1=${anthropicKey}`, `N2=${openaiKey}`])).toBe("");
    for (const key of [anthropicKey, openaiKey]) {
      const containerId = h.services.boxes.mustGet(box.id).containerId ?? "";
      expect(execFileSync("docker", ["inspect", containerId], { encoding: "utf8" })).not.toContain(key);
      const image = h.services.boxes.mustGet(box.id).image;
      expect(execFileSync("docker", ["image", "inspect", image], { encoding: "utf8" })).not.toContain(key);
      expect(JSON.stringify(h.services.boxes.mustGet(box.id).env)).not.toContain(key);
      const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 5000 });
      expect(JSON.stringify(log.entries)).not.toContain(key);
    }
    const view = await h.callOk<{ envKeys: string[] }>("box_get", { box: box.id });
    expect(view.envKeys).toEqual([]);
  });

  it("a hosted harness whose CLI is not in the box is NOT_FOUND, with what to do", async () => {
    const bare = await h.createBox({ name: "agent-bare", runtime: "python" });
    const err = await h.callErr("box_agent_run", { box: bare.id, prompt: "hi" });
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toContain("the claude CLI is not installed in this box");
    expect(err.message).toContain("node-agent");
  });
});
