// bench_http (also `npm run bench:http` alone): 50 concurrent MCP clients, each its own Streamable HTTP
// session with a tenant's bearer token, running box_exec over HTTP against the built server (`node
// dist/cli.js serve --http`, a separate process, as clients meet it), beside raw dockerode exec at the same
// concurrency. Throughput, latency percentiles under load beside one client alone, and the error count
// (which must be 0); alone it prints them and writes bench/results/http.json. Only loopback traffic; every
// box it makes is deleted and the server stopped with SIGTERM.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { loadImageSet } from "../src/images/definitions.js";
import { RawDocker } from "./raw-docker.js";
import { type Percentiles, percentiles, round } from "./stats.js";

const CLIENTS = Number(process.env.BENCH_HTTP_CLIENTS ?? 50);
const CALLS = Number(process.env.BENCH_HTTP_CALLS ?? 20); // per client, after the warm-up rounds
// Unrecorded rounds of all clients at once first, on both sides: the first bursts after the sessions open
// (JIT, first forks in each box, the engine's first execs) are start-up, not steady load.
const WARMUP = Number(process.env.BENCH_HTTP_WARMUP ?? 3);
const TENANTS = Number(process.env.BENCH_HTTP_TENANTS ?? 5);
const BOXES_PER_TENANT = Number(process.env.BENCH_HTTP_BOXES_PER_TENANT ?? 2);
const COMMAND = "echo hi";
const CLI = path.resolve(import.meta.dirname, "../dist/cli.js");

const tokenOf = (t: number) => `bench-token-${t}-0123456789abcdef`;

async function startServer(dataDir: string) {
  const tokens = Array.from({ length: TENANTS }, (_, t) => `${tokenOf(t)}:tenant${t}`).join(",");
  const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", "0"], {
    // Default per-tenant limits: 10 clients per tenant stay under the default of 16 concurrent runs.
    env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_TOKENS: tokens, BOXD_LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (c) => {
      log += c;
      const m = /serving MCP over HTTP at (http:\/\/\S+\/mcp)/.exec(log);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
  return { child, url, exited };
}

async function connect(url: string, tenant: number): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${tokenOf(tenant)}` } },
  });
  const client = new Client({ name: "bench-http", version: "0.0.0" });
  await client.connect(transport);
  return client;
}

/** Distinct error texts with their counts, printed at the end (the first few of each kind matter most). */
const errorKinds = new Map<string, number>();
const noteError = (text: string) => errorKinds.set(text.slice(0, 300), (errorKinds.get(text.slice(0, 300)) ?? 0) + 1);

async function exec(client: Client, box: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const res = (await client.callTool({ name: "box_exec", arguments: { box, command: COMMAND } })) as CallToolResult;
    const out = res.structuredContent as { exitCode?: number; stdout?: string } | undefined;
    const ok = !res.isError && out?.exitCode === 0 && out.stdout === "hi\n";
    if (!ok) noteError(JSON.stringify(res.isError ? res.content : out));
    return { ms: performance.now() - t0, ok };
  } catch (err) {
    noteError(String(err));
    return { ms: performance.now() - t0, ok: false };
  }
}

/**
 * The floor: the same concurrency of plain dockerode exec (`echo hi`, no boxd, no HTTP) on as many plain
 * containers of the same image. On a small machine the engine itself is the bottleneck under this load.
 */
async function rawBaseline(containers: number): Promise<{ throughput: number; latency: Percentiles }> {
  const raw = new RawDocker(loadImageSet("").runtime("node").ref, `http${Date.now()}`, os.cpus().length);
  try {
    const ids: string[] = [];
    for (let i = 0; i < containers; i++) ids.push(await raw.create());
    const run = (i: number) => raw.exec(ids[i % ids.length] as string, ["echo", "hi"]);
    for (let w = 0; w < WARMUP; w++) await Promise.all(Array.from({ length: CLIENTS }, (_, i) => run(i)));
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        for (let n = 0; n < CALLS; n++) {
          const t = performance.now();
          await run(i);
          latencies.push(performance.now() - t);
        }
      }),
    );
    return {
      throughput: round((latencies.length / (performance.now() - t0)) * 1000, 1),
      latency: percentiles(latencies),
    };
  } finally {
    await raw.sweep();
  }
}

export type HttpLoad = Awaited<ReturnType<typeof httpConcurrency>>;

export async function httpConcurrency(log: (message: string) => void) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "boxd-bench-http-"));
  const server = await startServer(dataDir);
  const owners: Client[] = [];
  const clients: Client[] = [];
  const boxes: { tenant: number; id: string }[] = [];
  try {
    log(`bench_http: server at ${server.url}; creating ${TENANTS * BOXES_PER_TENANT} boxes`);
    for (let t = 0; t < TENANTS; t++) {
      const owner = await connect(server.url, t);
      owners.push(owner);
      for (let b = 0; b < BOXES_PER_TENANT; b++) {
        const res = (await owner.callTool({ name: "box_create", arguments: { name: `bench-${b}` } })) as CallToolResult;
        if (res.isError) throw new Error(`box_create failed: ${JSON.stringify(res.content)}`);
        boxes.push({ tenant: t, id: (res.structuredContent as { id: string }).id });
      }
    }

    // One client alone: the latency floor the loaded figures compare with.
    const solo: number[] = [];
    const first = boxes[0] as { tenant: number; id: string };
    for (let i = 0; i < CALLS + 1; i++) {
      const r = await exec(owners[0] as Client, first.id);
      if (i > 0) solo.push(r.ms);
    }

    log(`bench_http: ${CLIENTS} clients x ${CALLS} box_exec`);
    const plan = Array.from({ length: CLIENTS }, (_, i) => boxes[i % boxes.length] as { tenant: number; id: string });
    for (const p of plan) clients.push(await connect(server.url, p.tenant));
    for (let w = 0; w < WARMUP; w++) await Promise.all(clients.map((c, i) => exec(c, (plan[i] as { id: string }).id)));
    const latencies: number[] = [];
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < CALLS; n++) {
          const r = await exec(c, (plan[i] as { id: string }).id);
          latencies.push(r.ms);
          if (!r.ok) errors += 1;
        }
      }),
    );
    const wallMs = performance.now() - t0;
    const loaded = percentiles(latencies);
    const alone = percentiles(solo);
    log("bench_http: raw dockerode baseline at the same concurrency");
    const raw = await rawBaseline(boxes.length);
    const result = {
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB`,
      date: new Date().toISOString(),
      transport: "Streamable HTTP (node dist/cli.js serve --http), one session per client",
      command: COMMAND,
      clients: CLIENTS,
      tenants: TENANTS,
      boxes: boxes.length,
      calls: latencies.length,
      errors,
      wall_s: round(wallMs / 1000, 2),
      throughput_calls_per_s: round((latencies.length / wallMs) * 1000, 1),
      latency_ms: loaded,
      single_client_latency_ms: alone,
      ratio_p50_loaded_to_alone: round(loaded.p50 / alone.p50, 2),
      raw_docker_exec: { throughput_calls_per_s: raw.throughput, latency_ms: raw.latency },
      throughput_ratio_to_raw: round(((latencies.length / wallMs) * 1000) / raw.throughput, 2),
    };
    return { ...result, error_kinds: Object.fromEntries(errorKinds) };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const b of boxes) {
      await owners[b.tenant]?.callTool({ name: "box_delete", arguments: { box: b.id } }).catch(() => {});
    }
    for (const c of owners) await c.close().catch(() => {});
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One line per figure, as `npm run bench:http` prints them. */
export function describeHttpLoad(r: HttpLoad): string[] {
  const { latency_ms: loaded, single_client_latency_ms: alone, raw_docker_exec: raw } = r;
  return [
    `box_exec over HTTP: ${r.clients} clients (${r.tenants} tenants, ${r.boxes} boxes), ${r.calls} calls in ${r.wall_s} s`,
    `  throughput ${r.throughput_calls_per_s} calls/s; errors ${r.errors}`,
    `  latency under load p50 ${loaded.p50} ms, p95 ${loaded.p95} ms, p99 ${loaded.p99} ms`,
    `  one client alone   p50 ${alone.p50} ms, p95 ${alone.p95} ms, p99 ${alone.p99} ms`,
    `  raw dockerode exec at the same concurrency: ${raw.throughput_calls_per_s} calls/s, p50 ${raw.latency_ms.p50} ms (boxd reaches ${r.throughput_ratio_to_raw}x its throughput)`,
    ...Object.entries(r.error_kinds).map(([text, n]) => `  error x${n}: ${text}`),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  httpConcurrency((m) => process.stderr.write(`[bench:http] ${m}\n`)).then(
    (result) => {
      const dir = path.resolve(import.meta.dirname, "results");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "http.json"), `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${describeHttpLoad(result).join("\n")}\n  written to bench/results/http.json\n`);
      if (result.errors > 0) process.exitCode = 1;
    },
    (err) => {
      process.stderr.write(`[bench:http] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
