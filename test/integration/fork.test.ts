// box_fork (issue 15 item 5) through a real MCP client against the real engine: N boxes with the source's
// files and settings, each independent afterwards, the temporary snapshot gone; bad count, a source in the
// middle of a snapshot, another tenant's box and the tenant's box limit as coded errors; a create that fails
// partway leaves no fork, container or network behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_INSTANCE } from "../../src/docker/labels.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const T = 300_000;

interface BoxOut {
  id: string;
  name: string;
  runtime: string;
  size: string;
  status: string;
  labels: Record<string, string>;
  envKeys: string[];
  networkPolicy: { mode: string };
  keepAlive: boolean;
  idleTimeoutSeconds: number;
  fromSnapshot?: string;
  usage: { runs: number };
}
interface ForkOut {
  source: string;
  boxes: BoxOut[];
}

describe("box_fork", () => {
  let h: Harness;
  const exec = (box: string, command: string) =>
    h.callOk<{ stdout: string; exitCode: number }>("box_exec", { box, command });

  /** Every container and network of this server's instance, by Docker's own listing. */
  async function engineObjects() {
    const labels = { [LABEL_INSTANCE]: h.app.instanceId };
    const containers = await h.services.engine.containers.list(labels);
    const networks = await h.services.engine.networks.list(labels);
    return { containers: containers.length, networks: networks.length };
  }

  /** Waits until a snapshot of the box is being taken (box_snapshot or box_fork in flight). */
  async function untilSnapshotting(boxId: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!h.services.snapshots.takingOf(boxId)) {
      if (Date.now() > deadline) throw new Error("no snapshot of the box started");
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_TENANT_MAX_BOXES: "8" } });
  }, T);
  afterAll(async () => {
    await h?.close();
  }, T);

  it(
    "makes N boxes with the source's files and settings, independent afterwards, and removes the temporary snapshot",
    async () => {
      const src = await h.createBox({
        name: "origin",
        runtime: "python",
        size: "small",
        env: { FORK_FLAVOUR: "mint" },
        labels: { team: "blue" },
        idleTimeoutSeconds: 3600,
        networkPolicy: { mode: "deny-all" },
      });
      await exec(src.id, "mkdir -p work/deep && echo alpha > work/a.txt && echo beta > work/deep/b.txt");
      await exec(src.id, "head -c 3000 /dev/urandom | base64 > work/random.txt && sha256sum work/random.txt > sum");
      const before = await engineObjects();

      const progress: string[] = [];
      const res = await h.callOk<ForkOut>(
        "box_fork",
        { box: "origin", count: 3, name: "try" },
        { onProgress: (m) => progress.push(m) },
      );
      expect(res.source).toBe(src.id);
      expect(res.boxes.map((b) => b.name)).toEqual(["try-1", "try-2", "try-3"]);
      expect(new Set(res.boxes.map((b) => b.id)).size).toBe(3);
      for (const b of res.boxes) {
        expect(b).toMatchObject({
          runtime: "python",
          size: "small",
          status: "idle",
          labels: { team: "blue" },
          envKeys: ["FORK_FLAVOUR"],
          networkPolicy: { mode: "deny-all" },
          idleTimeoutSeconds: 3600,
          keepAlive: false,
        });
        expect(b.usage.runs).toBe(0);
        const files = await exec(b.id, "cat work/a.txt work/deep/b.txt; sha256sum -c sum; echo $FORK_FLAVOUR; id -un");
        expect(files.stdout).toBe("alpha\nbeta\nwork/random.txt: OK\nmint\nboxuser\n");
      }
      expect(progress.some((m) => m.startsWith("fork: capturing"))).toBe(true);
      expect(progress.filter((m) => /^fork: created \d\/3/.test(m))).toHaveLength(3);

      // Each fork is a box of its own: writes in one are not seen in another, nor in the source, nor back.
      const [f1, f2, f3] = res.boxes as [BoxOut, BoxOut, BoxOut];
      await exec(f1.id, "echo one > work/a.txt && echo mine > work/only-1.txt");
      await exec(f2.id, "rm work/deep/b.txt");
      await exec(src.id, "echo later > work/after-fork.txt");
      expect((await exec(f1.id, "cat work/a.txt")).stdout).toBe("one\n");
      for (const other of [f2.id, f3.id, src.id]) {
        expect((await exec(other, "cat work/a.txt; ls work")).stdout).not.toMatch(/one|only-1/);
      }
      expect((await exec(f3.id, "cat work/deep/b.txt; ls work")).stdout).toBe("beta\na.txt\ndeep\nrandom.txt\n");
      expect((await exec(src.id, "cat work/deep/b.txt")).stdout).toBe("beta\n");
      for (const f of [f1.id, f2.id, f3.id]) expect((await exec(f, "ls work")).stdout).not.toContain("after-fork");

      // The temporary snapshot is gone: not listed, not stored, its image tag removed.
      const tmp = f1.fromSnapshot as string;
      expect(tmp).toMatch(/^snap_/);
      expect(res.boxes.every((b) => b.fromSnapshot === tmp)).toBe(true);
      expect((await h.callOk<{ snapshots: unknown[] }>("box_snapshot_list", {})).snapshots).toEqual([]);
      expect(h.services.snapshots.listAll()).toEqual([]);
      expect(await h.services.engine.images.inspect(`boxd/snapshot-${h.app.instanceId}:${tmp.slice(5)}`)).toBeNull();
      // Three boxes more, each with its container and network, nothing else.
      expect(await engineObjects()).toEqual({
        containers: before.containers + 3,
        networks: before.networks + 3,
      });

      // The forks delete like any box; the source is untouched.
      const del = await h.callOk<{ deleted: { id: string }[] }>("box_delete", { box: res.boxes.map((b) => b.id) });
      expect(del.deleted).toHaveLength(3);
      expect(await engineObjects()).toEqual(before);
      expect((await h.callOk<BoxOut>("box_get", { box: src.id })).status).toBe("idle");
      await h.callOk("box_delete", { box: src.id });
    },
    T,
  );

  it(
    "forks a paused box without waking it, with default names",
    async () => {
      const src = await h.createBox({ name: "sleeper", idleTimeoutSeconds: 3600 });
      await exec(src.id, "echo zzz > dream.txt");
      await h.callOk("box_pause", { box: src.id });
      const res = await h.callOk<ForkOut>("box_fork", { box: src.id, count: 1 });
      expect(res.boxes).toHaveLength(1);
      const fork = res.boxes[0] as BoxOut;
      expect(fork.name).toBe(fork.id.replace("box_", "b-"));
      expect((await exec(fork.id, "cat dream.txt")).stdout).toBe("zzz\n");
      expect((await h.callOk<BoxOut>("box_get", { box: src.id })).status).toBe("paused");
      await h.callOk("box_delete", { box: [fork.id, src.id] });
    },
    T,
  );

  it(
    "answers bad input, a box mid-snapshot, another tenant's box and the box limit with coded errors",
    async () => {
      const src = await h.createBox({ name: "busy-src" });
      for (const count of [0, 11, 2.5, -1]) {
        expect((await h.callErr("box_fork", { box: src.id, count })).code).toBe("INVALID_ARGUMENT");
      }
      expect((await h.callErr("box_fork", { box: src.id })).code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_fork", { box: src.id, count: 1, name: "Bad Name" })).code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_fork", { box: "ghost", count: 1 })).code).toBe("NOT_FOUND");
      // A name a fork would take is taken already: refused before anything is made.
      await h.createBox({ name: "dup-2" });
      const taken = await h.callErr("box_fork", { box: src.id, count: 3, name: "dup" });
      expect(taken.code).toBe("ALREADY_EXISTS");
      expect(taken.message).toContain('"dup-2"');

      // Mid-snapshot: a box_snapshot in flight (a big file makes the capture take a while).
      await exec(src.id, "head -c 150000000 /dev/urandom > big.bin");
      const snapping = h.callOk<{ id: string; status: string }>("box_snapshot", { box: src.id, name: "slow" });
      await untilSnapshotting(src.id);
      const busy = await h.callErr("box_fork", { box: src.id, count: 2 });
      expect(busy.code).toBe("CONFLICT");
      expect(busy.message).toMatch(/being snapshotted.*retry/);
      expect((await snapping).status).toBe("ready");
      await h.callOk("box_snapshot_delete", { snapshot: "slow" });

      // Another tenant's box: NOT_FOUND by id and by name, and nothing made.
      const theirs = await h.services.boxes.create("tenant-b", { name: "theirs" });
      expect((await h.callErr("box_fork", { box: theirs.id, count: 1 })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_fork", { box: "theirs", count: 1 })).code).toBe("NOT_FOUND");

      // Tenant local has 2 boxes (busy-src, dup-2) of 8: 7 forks would pass the limit, refused before anything.
      const before = await engineObjects();
      const limit = await h.callErr("box_fork", { box: src.id, count: 7 });
      expect(limit.code).toBe("LIMIT_EXCEEDED");
      expect(limit.message).toContain("ask for at most 6");
      expect(await engineObjects()).toEqual(before);
      expect(h.services.snapshots.listAll()).toEqual([]);
      await h.services.boxes.delete("tenant-b", theirs.id);

      // Being deleted: the delete holds the box's lock from its first step (a container removal takes far
      // longer than this call), so the fork is told to retry; once deleted, the box is not found.
      const deleting = h.services.boxes.delete("local", "dup-2");
      const gone = await h.callErr("box_fork", { box: "dup-2", count: 1 });
      expect(gone.code).toBe("CONFLICT");
      expect(gone.message).toMatch(/busy with another operation.*retry/);
      await deleting;
      expect((await h.callErr("box_fork", { box: "dup-2", count: 1 })).code).toBe("NOT_FOUND");
      await h.callOk("box_delete", { box: src.id });
    },
    T,
  );

  it(
    "deletes the forks already made when a later one fails, and leaves no container, network or snapshot",
    async () => {
      const src = await h.createBox({ name: "fragile" });
      // A big file so that the capture takes long enough to take a fork's name while it runs.
      await exec(src.id, "head -c 150000000 /dev/urandom > big.bin");
      const before = await engineObjects();
      const forking = h.call("box_fork", { box: src.id, count: 3, name: "rb" });
      await untilSnapshotting(src.id);
      const squatter = await h.createBox({ name: "rb-3" });
      const res = await forking;
      expect(res.isError).toBe(true);
      const err = (res.structuredContent as { error: { code: string; message: string } }).error;
      expect(err.code).toBe("ALREADY_EXISTS");
      expect(err.message).toContain("box_fork made none of the 3 forks (the 2 made were deleted again)");
      const names = (await h.callOk<{ boxes: BoxOut[] }>("box_list", {})).boxes.map((b) => b.name);
      expect(names.filter((n) => n.startsWith("rb-")).sort()).toEqual(["rb-3"]);
      expect(h.services.snapshots.listAll()).toEqual([]);
      // Only the squatter's container and network were added.
      expect(await engineObjects()).toEqual({
        containers: before.containers + 1,
        networks: before.networks + 1,
      });
      await h.callOk("box_delete", { box: [src.id, squatter.id] });
    },
    T,
  );
});
