// Run webhooks, for real: agent runs with the custom harness (a fake agent in the box, no hosted LLM) POST
// their result to a receiver on loopback, which the test allows explicitly (BOXD_WEBHOOK_ALLOWED_HOSTS with
// its port): retried through failures and delivered once, a hanging receiver blocks no other delivery,
// and webhooks to private, loopback or metadata addresses are refused before any run starts (SSRF).
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/agent/harness.mjs");
const HARNESS = "node /workspace/home/harness.mjs";

interface Hit {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  status: number;
}

/** A webhook receiver on loopback: /ok answers 200, /flaky 500 twice then 200, /hang never answers. */
function receiver() {
  const hits: Hit[] = [];
  const hanging: http.ServerResponse[] = [];
  let flaky = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      if (url.startsWith("/hang")) {
        hanging.push(res);
        hits.push({ path: url, headers: req.headers, body: {}, status: 0 });
        return;
      }
      const status = url.startsWith("/flaky") && ++flaky <= 2 ? 500 : 200;
      hits.push({ path: url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()), status });
      res.writeHead(status).end();
    });
  });
  return {
    hits,
    server,
    async listen() {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return (server.address() as AddressInfo).port;
    },
    close: () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, check: () => boolean, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 5; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("run webhooks (fake custom harness, loopback receiver allowed explicitly)", () => {
  let h: Harness;
  let box: BoxResult;
  let rx: ReturnType<typeof receiver>;
  let base: string;
  const run = (args: Record<string, unknown>) =>
    h.callOk<{ runId: string; status: string }>("box_agent_run", {
      box: box.id,
      harness: "custom",
      command: HARNESS,
      prompt: "report",
      ...args,
    });

  beforeAll(async () => {
    rx = receiver();
    const port = await rx.listen();
    base = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: { BOXD_WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`, BOXD_WEBHOOK_TIMEOUT_SECONDS: "2" },
    });
    box = await h.createBox({ name: "agent-hooks", runtime: "node" });
    await h.callOk("box_write_file", { box: box.id, path: "harness.mjs", content: readFileSync(FIXTURE, "utf8") });
  });
  afterAll(async () => {
    await h?.close();
    await rx?.close();
  });

  it("retries through a failing receiver and delivers once per run", async () => {
    const r = await run({
      webhookUrl: `${base}/flaky`,
      webhookHeaders: { Authorization: "Bearer hook-secret" },
      model: "fixture-hook",
    });
    expect(r.status).toBe("completed");
    await until("the webhook", () => rx.hits.some((x) => x.path === "/flaky" && x.status === 200));
    // Give a wrongly repeated delivery time to show up.
    await new Promise((res) => setTimeout(res, 3000));
    const mine = rx.hits.filter((x) => x.path === "/flaky");
    expect(mine.map((x) => x.status)).toEqual([500, 500, 200]);
    expect(mine.map((x) => x.headers["x-boxd-attempt"])).toEqual(["1", "2", "3"]);
    const ok = mine[2] as Hit;
    expect(ok.headers.authorization).toBe("Bearer hook-secret");
    expect(ok.headers["x-boxd-run-id"]).toBe(r.runId);
    expect(ok.body).toMatchObject({
      event: "run.completed",
      runId: r.runId,
      boxId: box.id,
      type: "agent",
      status: "completed",
      harness: "custom",
      model: "fixture-hook",
      usage: { inputTokens: 1200, outputTokens: 34, cachedInputTokens: 1000 },
      costUsd: 0.0042,
    });
    expect(String(ok.body.output)).toMatch(/^turn \d+ of session sess-/);
  });

  it("a hanging receiver holds no other run's webhook; a failed run's webhook carries its error", async () => {
    const slow = await run({ webhookUrl: `${base}/hang`, background: true });
    const failed = await run({ webhookUrl: `${base}/ok?failed`, background: true, command: `${HARNESS} --error` });
    await until("the hanging receiver's first request", () => rx.hits.some((x) => x.path === "/hang"));
    const fast = await run({ webhookUrl: `${base}/ok?fast`, background: true });
    await until("the other webhooks", () => rx.hits.filter((x) => x.path.startsWith("/ok?")).length === 2);
    const byPath = (p: string) => rx.hits.find((x) => x.path === p) as Hit;
    expect(byPath("/ok?fast").body).toMatchObject({ runId: fast.runId, status: "completed" });
    expect(byPath("/ok?failed").body).toMatchObject({
      runId: failed.runId,
      status: "failed",
      error: { code: "INTERNAL" },
    });
    expect(String((byPath("/ok?failed").body.error as { message: string }).message)).toContain("refused on purpose");
    // The hanging one is still being tried (each attempt times out after 2 s), and never counted delivered.
    expect(rx.hits.filter((x) => x.path === "/hang").every((x) => x.status === 0)).toBe(true);
    // Its attempts time out and are retried, as the box log says.
    let said = false;
    for (let i = 0; i < 60 && !said; i++) {
      const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 500 });
      said = log.entries.some((e) => e.message.includes(`webhook for ${slow.runId}`) && e.message.includes("retrying"));
      if (!said) await new Promise((r) => setTimeout(r, 500));
    }
    expect(said).toBe(true);
  });

  it("refuses webhooks to private, loopback, metadata or the server's own addresses (no run starts)", async () => {
    const port = new URL(base).port;
    const refused = [
      "http://169.254.169.254/latest/meta-data/",
      "http://10.1.2.3/hook",
      "http://192.168.0.1/hook",
      "http://127.0.0.1:1/hook",
      `http://localhost:${Number(port) + 1}/hook`,
      `http://[::1]:${port}/hook`,
      `http://0.0.0.0:${port}/hook`,
      "http://[::ffff:169.254.169.254]/",
    ];
    const before = (await h.callOk<{ runs: unknown[] }>("box_runs", { box: box.id, limit: 500 })).runs.length;
    // (The hanging receiver of the test before is still being retried: its hits do not count.)
    const count = () => rx.hits.filter((x) => !x.path.startsWith("/hang")).length;
    const hitsBefore = count();
    for (const url of refused) {
      await attack("agent-webhooks", `webhookUrl ${url}`, async () => {
        const e = await h.callErr("box_agent_run", {
          box: box.id,
          harness: "custom",
          command: HARNESS,
          prompt: "x",
          webhookUrl: url,
        });
        expect(e.code).toBe("INVALID_ARGUMENT");
        expect(e.message).toContain("BOXD_WEBHOOK_ALLOWED_HOSTS");
      });
    }
    const malformed: [string, Record<string, string> | undefined, string][] = [
      ["file:///etc/passwd", undefined, "http or https"],
      [`http://user:pw@127.0.0.1:${port}/ok`, undefined, "credentials"],
      ["not a url", undefined, "not a URL"],
      [`${base}/ok`, { "X-Evil": "a\r\nHost: other" }, "one line"],
      [`${base}/ok`, { Host: "metadata.google.internal" }, "set by boxd"],
    ];
    for (const [url, headers, says] of malformed) {
      await attack("agent-webhooks", `webhook ${url} ${JSON.stringify(headers ?? {})}`, async () => {
        const e = await h.callErr("box_agent_run", {
          box: box.id,
          harness: "custom",
          command: HARNESS,
          prompt: "x",
          webhookUrl: url,
          ...(headers ? { webhookHeaders: headers } : {}),
        });
        expect(e.code).toBe("INVALID_ARGUMENT");
        expect(e.message).toContain(says);
      });
    }
    const after = (await h.callOk<{ runs: unknown[] }>("box_runs", { box: box.id, limit: 500 })).runs.length;
    expect(after).toBe(before);
    expect(count()).toBe(hitsBefore);
  });
});
