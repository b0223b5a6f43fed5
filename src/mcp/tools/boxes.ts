// Box tools: box_create, box_list, box_get, box_update (in box-update.ts), box_delete, box_fork.
import { z } from "zod";
import { ERROR_CODES } from "../../errors.js";
import { RUNTIMES } from "../../images/definitions.js";
import { MAX_FORKS } from "../../lifecycle/fork-service.js";
import { BOX_STATUSES, ISOLATIONS, SIZES } from "../../model/box.js";
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import {
  agentDefaultsSchema,
  attachHeadersInput,
  boxObject,
  boxRef,
  boxSchema,
  envMap,
  moreLine,
  networkPolicySchema,
  nextCursorOutput,
  pageInput,
} from "../schemas.js";
import { boxUpdate, ttlDescription } from "./box-update.js";

/** The base runtimes as box_create lists them: "node (default), python, golang, ruby or rust". */
const runtimeNames = RUNTIMES.map((r) => (r === "node" ? `${r} (default)` : r));
const runtimeList = `${runtimeNames.slice(0, -1).join(", ")} or ${runtimeNames.at(-1)}`;

const summary = (b: { name: string; id: string; runtime: string; status: string }) =>
  `${b.name} (${b.id}) ${b.runtime} ${b.status}`;

export const boxCreate = defineTool({
  name: "box_create",
  title: "Create a box",
  description:
    "Create a durable, isolated Linux box (a container with its own filesystem, shell, network and git) and return it. " +
    "The box runs as user boxuser in /workspace/home. Use the returned id or name as `box` in every other tool.",
  input: {
    name: z.string().optional().describe("Unique name (1-63 chars: a-z 0-9 . _ -). Default: derived from the id"),
    runtime: z
      .string()
      .optional()
      .describe(`${runtimeList}; each also as -alpine (needs its image built where a registry is reachable)`),
    size: z
      .enum(SIZES)
      .optional()
      .describe(
        "small (2 CPU, 4 GiB memory, 5 GiB disk; default), medium (4, 8 GiB, 10 GiB), large (8, 16 GiB, 20 GiB); CPUs and memory are capped at the host's (box results show the effective limits)",
      ),
    env: envMap
      .optional()
      .describe(
        "Environment variables for every command in the box. Refused: PATH, HOME, loader (LD_*), shell-startup (BASH_ENV, ENV, SHELLOPTS, BASH_*, ...) and interpreter-startup (NODE_OPTIONS, PYTHONSTARTUP, ...) names, GIT_* but author/committer identity, BOXD_*",
      ),
    keepAlive: z.boolean().optional().describe("true: never pause automatically when idle"),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional()
      .describe("Seconds without activity before the box pauses itself (default from the server)"),
    networkPolicy: networkPolicySchema.optional(),
    initCommand: z
      .string()
      .max(64 * 1024)
      .optional()
      .describe(
        "Shell command run in the background at every start of the box (create, wake from stopped, restore); output goes to the box log",
      ),
    fromSnapshot: z.string().optional().describe("Start from this snapshot (id or name) instead of a fresh image"),
    labels: z.record(z.string(), z.string()).optional().describe("Up to 5 key/value labels, for box_list filtering"),
    ttlSeconds: z.number().optional().describe(`${ttlDescription}. Default: none (the box lives until deleted)`),
    agent: agentDefaultsSchema.optional(),
    isolation: z
      .enum(ISOLATIONS)
      .optional()
      .describe(
        "runc: the host kernel behind Docker's seccomp profile (fastest); gvisor: gVisor's user-space kernel between box code and the host (harder to escape, slower syscalls). Default: the server's BOXD_ISOLATION (runc unless set). Fixed for the box's life",
      ),
    root: z
      .boolean()
      .optional()
      .describe(
        'gvisor boxes only: allow commands as root (box_exec user "root"), e.g. to apt-get install packages. Refused (POLICY_DENIED) for runc boxes. Default false',
      ),
    attachHeaders: attachHeadersInput.optional(),
  },
  output: boxSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const { agent, ...settings } = args;
    // Checked before the box exists: a bad default must not leave a box behind.
    if (agent) s.agents.checkDefaults(agent);
    ctx.progress("creating box");
    const box = await s.boxes.create(ctx.tenant, settings);
    if (agent) s.agents.setDefaults(box.id, agent);
    return { text: `created box ${summary(box)}`, structured: { ...box, ...(agent ? { agent } : {}) } };
  },
});

export const boxList = defineTool({
  name: "box_list",
  title: "List boxes",
  description: "List your boxes with their status, oldest first, optionally filtered by status or label.",
  input: {
    status: z.enum(BOX_STATUSES).optional().describe("Only boxes in this status"),
    label: z.string().optional().describe('Only boxes with this label: "key" or "key=value"'),
    ...pageInput(100),
  },
  output: { boxes: z.array(boxObject).describe("The boxes, oldest first"), nextCursor: nextCursorOutput },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const filter = { status: args.status, label: args.label };
    const page = s.boxes.page(ctx.tenant, filter, { limit: args.limit ?? 100, cursor: args.cursor });
    const boxes = page.items;
    const text = boxes.length ? boxes.map(summary).join("\n") : "no boxes";
    return { text: text + moreLine(page.nextCursor), structured: { boxes, nextCursor: page.nextCursor } };
  },
});

export const boxGet = defineTool({
  name: "box_get",
  title: "Get a box",
  description:
    "Get one box: status, settings, effective limits (CPUs, memory, disk), usage (CPU ns and memory peak of everything that ran in the box, read from its cgroup now; runs; disk used).",
  input: { box: boxRef },
  output: boxSchema,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = await s.boxes.get(ctx.tenant, args.box);
    const agent = s.agents.defaultsOf(box.id);
    return { text: summary(box), structured: { ...box, ...(agent ? { agent } : {}) } };
  },
});

export const boxDelete = defineTool({
  name: "box_delete",
  title: "Delete a box",
  description:
    "Delete a box and everything in it (its snapshots are kept). Running commands are ended. " +
    "Give a list as `box` to delete up to 50 at once: the answer lists what was deleted and what failed (and why).",
  input: {
    box: z
      .union([boxRef, z.array(boxRef).min(1).max(50)])
      .describe("The box (id or name), or a list of 1-50 boxes to delete at once"),
  },
  output: {
    id: z.string().optional().describe("One box given: the deleted box's id"),
    deleted: z
      .union([z.literal(true), z.array(z.object({ id: z.string() }))])
      .describe("One box given: true. A list given: the boxes deleted"),
    failed: z
      .array(z.object({ box: z.string(), code: z.enum(ERROR_CODES), message: z.string() }))
      .optional()
      .describe("A list given: the boxes not deleted, each with its error"),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    if (typeof args.box === "string") {
      const res = await s.boxes.delete(ctx.tenant, args.box);
      return { text: `deleted box ${res.id}`, structured: res };
    }
    ctx.progress(`deleting ${args.box.length} boxes`);
    const res = await s.boxes.deleteMany(ctx.tenant, args.box);
    const lines = [
      ...res.deleted.map((d) => `deleted box ${d.id}`),
      ...res.failed.map((f) => `not deleted ${f.box}: ${f.code}: ${f.message}`),
    ];
    return { text: lines.join("\n"), structured: res };
  },
});

export const boxFork = defineTool({
  name: "box_fork",
  title: "Fork a box",
  description:
    "Make 1-10 new boxes from a box's current filesystem in one call, for parallel attempts at a task. " +
    "Each fork starts with the source's files and its runtime, size, network policy, env, labels, keepAlive, idle timeout and initCommand; " +
    "it is a new box from then on (what one fork, or the source, changes is not seen by the others) with fresh usage and idle timer. " +
    "The source is frozen for the moment of capture and left as it was (a paused source stays paused). All or nothing: if one fork cannot be made, none is kept. " +
    "A source in the middle of a snapshot, pause, resume or delete is a CONFLICT: retry in a moment. Progress is reported while it runs.",
  input: {
    box: boxRef,
    count: z.number().int().min(1).max(MAX_FORKS).describe(`How many forks to make (1-${MAX_FORKS})`),
    name: z
      .string()
      .optional()
      .describe(
        'Base name: the forks are named "<name>-1" … "<name>-N" (each must be free). Default: names derived from their ids',
      ),
  },
  output: {
    source: z.string().describe("The source box's id"),
    boxes: z.array(boxObject).describe("The new boxes, in order"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const res = await s.forks.fork(ctx.tenant, args.box, args.count, args.name, ctx.progress);
    const text = [`forked ${res.source} into ${res.boxes.length} boxes`, ...res.boxes.map(summary)].join("\n");
    return { text, structured: res };
  },
});

export const boxTools = [boxCreate, boxList, boxGet, boxUpdate, boxDelete, boxFork];
