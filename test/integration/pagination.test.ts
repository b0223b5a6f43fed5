// Listing at scale (issue 15 item 6) through a real MCP client against the real engine: keyset cursors on
// box_list, box_snapshot_list and box_runs (every item exactly once, also while items are created between
// pages; cursors bound to their tenant and their list), and box_delete with a list of boxes.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "../../src/mcp/server.js";
import { type Harness, startHarness } from "../helpers/harness.js";

interface BoxPage {
  boxes: { id: string; name: string }[];
  nextCursor?: string;
}

describe("pagination", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Every page of box_list with this limit: the pages' ids and how many pages there were. */
  async function allPages(limit: number, between?: (page: number) => Promise<void>) {
    const pages: BoxPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.callOk<BoxPage>("box_list", { limit, ...(cursor ? { cursor } : {}) });
      pages.push(page);
      cursor = page.nextCursor;
      if (cursor && between) await between(pages.length);
    } while (cursor);
    return pages;
  }

  it("pages box_list: every box exactly once, nextCursor absent on the last page, also while boxes are created", async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await h.createBox({ name: `p${i}` })).id);

    const pages = await allPages(3);
    expect(pages.map((p) => p.boxes.length)).toEqual([3, 3, 1]);
    expect(pages.at(-1)?.nextCursor).toBeUndefined();
    expect(pages.flatMap((p) => p.boxes.map((b) => b.id))).toEqual(made);

    // A box created between pages: nothing seen twice, nothing that existed before the first page skipped.
    const extra: string[] = [];
    const during = await allPages(3, async (n) => {
      if (n === 1) extra.push((await h.createBox({ name: "p-late" })).id);
    });
    const seen = during.flatMap((p) => p.boxes.map((b) => b.id));
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of made) expect(seen).toContain(id);
    // Oldest first, so the new box comes last.
    expect(seen).toEqual([...made, ...extra]);

    // The text answer says how to go on.
    const first = await h.call("box_list", { limit: 3 });
    const text = first.content[0]?.type === "text" ? first.content[0].text : "";
    expect(text).toMatch(/more: call again with cursor \S+/);
  });

  it("refuses another tenant's cursor, another list's cursor and a garbled one with INVALID_ARGUMENT", async () => {
    const first = await h.callOk<BoxPage>("box_list", { limit: 1 });
    const cursor = first.nextCursor as string;
    expect(cursor).toBeTruthy();

    const { server, close } = createServer(h.services, { defaultTenant: "tenant-b" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const other = new Client({ name: "tenant-b", version: "0" });
    await other.connect(a);
    try {
      const res = (await other.callTool({ name: "box_list", arguments: { cursor } })) as CallToolResult;
      expect(res.isError).toBe(true);
      const err = (res.structuredContent as { error: { code: string; message: string } }).error;
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain("call box_list without cursor to start over");
      // Nothing of tenant local's boxes leaks into the answer.
      const text = res.content[0]?.type === "text" ? res.content[0].text : "";
      expect(text).not.toMatch(/box_[0-9a-z]{12}/);
    } finally {
      await other.close();
      await close();
    }

    // A forged cursor (the payload edited, the signature kept) and plain garbage.
    const [body, sig] = cursor.split(".");
    const payload = JSON.parse(Buffer.from(body as string, "base64url").toString());
    payload.t = "tenant-b";
    const forged = `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;
    for (const bad of [forged, "garbage", `${cursor}x`]) {
      const err = await h.callErr("box_list", { cursor: bad });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain("call box_list without cursor to start over");
    }
  });

  it("pages box_snapshot_list, and its cursor is refused by box_list", async () => {
    const box = await h.createBox({ name: "snapsrc" });
    const s1 = await h.callOk<{ id: string }>("box_snapshot", { box: box.id, name: "pg1" });
    const s2 = await h.callOk<{ id: string }>("box_snapshot", { box: box.id, name: "pg2" });

    const p1 = await h.callOk<{ snapshots: { id: string }[]; nextCursor?: string }>("box_snapshot_list", {
      box: box.id,
      limit: 1,
    });
    expect(p1.snapshots.map((s) => s.id)).toEqual([s1.id]);
    const p2 = await h.callOk<{ snapshots: { id: string }[]; nextCursor?: string }>("box_snapshot_list", {
      box: box.id,
      limit: 1,
      cursor: p1.nextCursor,
    });
    expect(p2.snapshots.map((s) => s.id)).toEqual([s2.id]);
    expect(p2.nextCursor).toBeUndefined();

    const err = await h.callErr("box_list", { cursor: p1.nextCursor });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("this cursor belongs to another list: call box_list without cursor to start over");
  });

  it("pages box_runs over 5 runs, newest first, keeping limit's meaning", async () => {
    const box = await h.createBox({ name: "runner" });
    const runIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      runIds.push((await h.callOk<{ runId: string }>("box_exec", { box: box.id, command: `echo ${i}` })).runId);
    }
    const newestFirst = [...runIds].reverse();
    expect((await h.callOk<{ runs: { id: string }[] }>("box_runs", { box: box.id })).runs.map((r) => r.id)).toEqual(
      newestFirst,
    );

    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.callOk<{ runs: { id: string }[]; nextCursor?: string }>("box_runs", {
        box: box.id,
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.runs.map((r) => r.id));
      sizes.push(page.runs.length);
      cursor = page.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(newestFirst);

    // A cursor for one box's runs is not one for another box's.
    const otherBox = await h.createBox({ name: "runner2" });
    const first = await h.callOk<{ nextCursor?: string }>("box_runs", { box: box.id, limit: 1 });
    expect((await h.callErr("box_runs", { box: otherBox.id, cursor: first.nextCursor })).code).toBe("INVALID_ARGUMENT");
  });

  it("deletes several boxes at once: the unknown one is in failed, the others deleted", async () => {
    const a = await h.createBox({ name: "del-a" });
    const b = await h.createBox({ name: "del-b" });
    const res = await h.callOk<{
      deleted: { id: string }[];
      failed: { box: string; code: string; message: string }[];
    }>("box_delete", { box: [a.id, "no-such-box", "del-b"] });
    expect(res.deleted.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0]).toMatchObject({ box: "no-such-box", code: "NOT_FOUND" });
    expect((await h.callErr("box_get", { box: a.id })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_get", { box: b.id })).code).toBe("NOT_FOUND");

    // A single box keeps its answer; an empty list or more than 50 is bad input.
    const c = await h.createBox({ name: "del-c" });
    expect(await h.callOk("box_delete", { box: c.id })).toEqual({ id: c.id, deleted: true });
    expect((await h.callErr("box_delete", { box: [] })).code).toBe("INVALID_ARGUMENT");
    const many = Array.from({ length: 51 }, (_, i) => `x${i}`);
    expect((await h.callErr("box_delete", { box: many })).code).toBe("INVALID_ARGUMENT");
  });
});
