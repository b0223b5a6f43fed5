// `npm run bench`: boxd through a real MCP client next to raw dockerode on the same image, interleaved in
// one run, printed as p50/p95 and boxd/raw ratios and written to bench/results/latest.{json,md}.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import Docker from "dockerode";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { loadImageSet } from "../src/images/definitions.js";
import { silentLogger } from "../src/log.js";
import { createServer } from "../src/mcp/server.js";
import { type Figure, figure, writeResults } from "./stats.js";

const N = Number(process.env.BENCH_ITERATIONS ?? 15);
const docker = new Docker();

async function rawCreate(image: string): Promise<{ ms: number; id: string }> {
  const t = performance.now();
  const c = await docker.createContainer({
    Image: image,
    Cmd: ["sleep", "infinity"],
    User: "1000:1000",
    Labels: { "boxd.bench": "raw" },
    HostConfig: {
      Init: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges:true"],
      PidsLimit: 512,
      Memory: 1024 ** 3,
      NetworkMode: "bridge",
    },
  });
  await c.start();
  return { ms: performance.now() - t, id: c.id };
}

async function rawExec(id: string): Promise<number> {
  const t = performance.now();
  const exec = await docker
    .getContainer(id)
    .exec({ Cmd: ["echo", "hi"], AttachStdout: true, AttachStderr: true, User: "1000:1000" });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
    stream.resume();
  });
  await exec.inspect();
  return performance.now() - t;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "boxd-bench-"));
  const config = loadConfig({ BOXD_DATA_DIR: dataDir, BOXD_ORPHAN_GRACE_SECONDS: "0" });
  const app = await createApp(config, silentLogger);
  const { server } = createServer(app.services);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(b);
  const client = new Client({ name: "bench", version: "0" });
  await client.connect(a);
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    return r.structuredContent as Record<string, unknown>;
  };
  const image = loadImageSet(config.baseImage).runtime("node").ref;
  const rawIds: string[] = [];
  const boxIds: string[] = [];
  const samples = {
    createBoxd: [] as number[],
    createRaw: [] as number[],
    execBoxd: [] as number[],
    execRaw: [] as number[],
  };
  try {
    process.stderr.write(`[bench] ${N} iterations each, image ${image}\n`);
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const box = await call("box_create", {});
      samples.createBoxd.push(performance.now() - t);
      boxIds.push(box.id as string);
      const raw = await rawCreate(image);
      samples.createRaw.push(raw.ms);
      rawIds.push(raw.id);
    }
    const boxId = boxIds[0] as string;
    const rawId = rawIds[0] as string;
    for (let i = 0; i < N * 2; i++) {
      const t = performance.now();
      await call("box_exec", { box: boxId, command: "echo hi" });
      samples.execBoxd.push(performance.now() - t);
      samples.execRaw.push(await rawExec(rawId));
    }
    const figures: Record<string, Figure> = {
      box_create: figure(samples.createBoxd, samples.createRaw),
      exec_round_trip: figure(samples.execBoxd, samples.execRaw),
    };
    const md = writeResults(path.resolve(import.meta.dirname, "results"), figures);
    process.stdout.write(`${md}\n`);
  } finally {
    for (const id of boxIds) await call("box_delete", { box: id }).catch(() => {});
    for (const id of rawIds)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {});
    await client.close();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
