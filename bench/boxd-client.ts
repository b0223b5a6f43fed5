// boxd as an MCP client sees it: createApp() + createServer() in this process, reached through the SDK's
// Client over InMemoryTransport (the same path as the test harness). close() deletes every box and
// snapshot it made, closes the app, sweeps anything of its instance still on the engine and removes its
// data dir; it reports what it had to sweep, since that would be a boxd leak.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import Docker from "dockerode";
import { type App, createApp } from "../src/app.js";
import { type Config, loadConfig } from "../src/config.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "../src/docker/labels.js";
import { silentLogger } from "../src/log.js";
import { createServer } from "../src/mcp/server.js";

const CALL_TIMEOUT_MS = 600_000;

export interface BoxdOptions {
  /** Parent folder of the data dir. */
  tmpDir: string;
  /** Extra BOXD_* settings. */
  env?: Record<string, string>;
}

export class BoxdBench {
  /** Instance ids of every boxd started in this process (for the final leak check). */
  static readonly instances: string[] = [];
  /** Instances not closed yet (closed on Ctrl-C too). */
  static readonly open = new Set<BoxdBench>();
  private closed = false;

  private constructor(
    readonly app: App,
    readonly config: Config,
    readonly client: Client,
    private readonly closeServer: () => Promise<void>,
  ) {}

  static async start(opts: BoxdOptions): Promise<BoxdBench> {
    const dataDir = mkdtempSync(path.join(opts.tmpDir, "data-"));
    const config = loadConfig({ BOXD_DATA_DIR: dataDir, BOXD_ORPHAN_GRACE_SECONDS: "0", ...opts.env });
    let app: App | null = null;
    try {
      app = await createApp(config, silentLogger);
      BoxdBench.instances.push(app.instanceId);
      const { server, close } = createServer(app.services);
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: "boxd-bench", version: "0.0.0" });
      await client.connect(clientSide);
      const bench = new BoxdBench(app, config, client, close);
      BoxdBench.open.add(bench);
      return bench;
    } catch (err) {
      await app?.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  get instanceId(): string {
    return this.app.instanceId;
  }

  /** Calls a tool through the MCP client; an isError result throws with its text. */
  async call<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<T> {
    const res = (await this.client.callTool({ name, arguments: args }, undefined, {
      timeout: CALL_TIMEOUT_MS,
    })) as CallToolResult;
    if (res.isError) {
      const text = res.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      throw new Error(`${name} failed: ${text}`);
    }
    return res.structuredContent as T;
  }

  async createBox(args: Record<string, unknown> = {}): Promise<string> {
    const box = await this.call<{ id: string }>("box_create", args);
    return box.id;
  }

  async deleteBox(id: string): Promise<void> {
    await this.call("box_delete", { box: id });
  }

  /** The Docker container behind a box (for cgroup readings only; the benchmark never acts on it). */
  containerOf(boxId: string): string | null {
    return this.app.services.boxes.mustGet(boxId).containerId;
  }

  /** Deletes everything this instance made, closes it and sweeps leftovers; returns what was swept. */
  async close(): Promise<string[]> {
    if (this.closed) return [];
    this.closed = true;
    BoxdBench.open.delete(this);
    const problems: string[] = [];
    const s = this.app.services;
    for (const box of s.boxes.listAll()) {
      await s.boxes.delete(box.tenant, box.id).catch((err) => problems.push(`delete box ${box.id}: ${String(err)}`));
    }
    for (const snap of s.snapshots.listAll()) {
      await s.snapshots
        .delete(snap.tenant, snap.id)
        .catch((err) => problems.push(`delete snapshot ${snap.id}: ${String(err)}`));
    }
    await this.client.close().catch(() => {});
    await this.closeServer().catch(() => {});
    await this.app.close().catch((err) => problems.push(`close app: ${String(err)}`));
    problems.push(...(await sweepInstance(this.instanceId)));
    rmSync(this.config.dataDir, { recursive: true, force: true });
    return problems;
  }
}

/** Removes any container, network or image of a boxd instance still on the engine; names what it found. */
export async function sweepInstance(instanceId: string): Promise<string[]> {
  const docker = new Docker();
  const filters = { label: [`${LABEL_MANAGED}=true`, `${LABEL_INSTANCE}=${instanceId}`] };
  const found: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters })) {
    found.push(`container ${c.Names[0] ?? c.Id}`);
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  for (const n of await docker.listNetworks({ filters })) {
    found.push(`network ${n.Name}`);
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  }
  for (const i of await docker.listImages({ filters })) {
    found.push(`image ${i.RepoTags?.join(",") || i.Id}`);
    await docker
      .getImage(i.Id)
      .remove({ force: true })
      .catch(() => {});
  }
  const rules = firewallLines(instanceId);
  if (rules.length) found.push(`${rules.length} firewall rule lines`);
  return found.map((f) => `instance ${instanceId}: ${f} left behind`);
}

/** iptables-save lines naming the instance (boxd's chains carry its id); empty without iptables. */
function firewallLines(instanceId: string): string[] {
  try {
    return execFileSync("iptables-save", { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
      .split("\n")
      .filter((l) => l.includes(instanceId));
  } catch {
    return [];
  }
}
