// completion/complete and prompts over real HTTP with two tenants: the box:// template's boxId and the
// investigate_box prompt's box complete to the caller's own boxes only (by name and id, filtered by the
// typed prefix, capped with total/hasMore), runtimes complete for work_on_repository, prompts/get renders
// both prompts, and a log subscribed to by the box's name (a completed value) gets its updates.
import { McpError, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPLETION_CAP } from "../../src/mcp/completions.js";
import { connectHttp, type HttpClient, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

const ALICE_BOXES = COMPLETION_CAP / 2 + 1; // two values each (name and id): one more than the cap fits
const TEMPLATE = { type: "ref/resource" as const, uri: "box://{boxId}/logs" };
const INVESTIGATE = { type: "ref/prompt" as const, name: "investigate_box" };
const WORK = { type: "ref/prompt" as const, name: "work_on_repository" };

interface Box {
  id: string;
  name: string;
}

describe("completions and prompts (HTTP, two tenants)", () => {
  let f: HttpFixture;
  let alice: HttpClient;
  let bob: HttpClient;
  const aliceBoxes: Box[] = [];
  let bobBox: Box;

  const complete = (c: HttpClient, ref: typeof TEMPLATE | typeof INVESTIGATE | typeof WORK, name: string, value = "") =>
    c.client.complete({ ref, argument: { name, value } }).then((r) => r.completion);

  beforeAll(async () => {
    f = await startHttp();
    alice = await connectHttp(f.url, TOKEN_A);
    bob = await connectHttp(f.url, TOKEN_B);
    for (let i = 0; i < ALICE_BOXES; i++) {
      aliceBoxes.push(await alice.callOk<Box>("box_create", { name: `comp-a-${String(i).padStart(2, "0")}` }));
    }
    bobBox = await bob.callOk<Box>("box_create", { name: "comp-b-0" });
  }, 900_000);
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await f?.close();
  });

  it("declares the completions and prompts capabilities", () => {
    const caps = alice.client.getServerCapabilities();
    expect(caps?.completions).toEqual({});
    expect(caps?.prompts).toBeDefined();
  });

  it("completes boxId to the caller's own boxes only, by name and by id, capped with total and hasMore", async () => {
    const own = new Set(aliceBoxes.flatMap((b) => [b.name, b.id]));
    const a = await complete(alice, TEMPLATE, "boxId");
    expect(a.values).toHaveLength(COMPLETION_CAP);
    expect(a.total).toBe(2 * ALICE_BOXES);
    expect(a.hasMore).toBe(true);
    for (const v of a.values) expect(own.has(v), `${v} is one of alice's boxes`).toBe(true);
    expect(a.values).not.toContain(bobBox.id);

    const b = await complete(bob, TEMPLATE, "boxId");
    expect(b).toEqual({ values: [bobBox.name, bobBox.id], total: 2, hasMore: false });
    expect(await complete(bob, TEMPLATE, "boxId", "comp-a")).toEqual({ values: [], total: 0, hasMore: false });
    expect(await complete(bob, TEMPLATE, "boxId", aliceBoxes[0]?.id ?? "")).toMatchObject({ values: [], total: 0 });
  });

  it("filters by the typed prefix (case-insensitive), ids and names alike", async () => {
    const tens = await complete(alice, TEMPLATE, "boxId", "COMP-A-1");
    expect(tens).toEqual({ values: ["comp-a-10"], total: 1, hasMore: false });
    const firstTen = await complete(alice, TEMPLATE, "boxId", "comp-a-0");
    expect([...firstTen.values].sort()).toEqual(aliceBoxes.slice(0, 10).map((b) => b.name));
    expect(firstTen.hasMore).toBe(false);
    const ids = await complete(alice, TEMPLATE, "boxId", "box_");
    expect([...ids.values].sort()).toEqual(aliceBoxes.map((b) => b.id).sort());
    const one = aliceBoxes[3] as Box;
    expect((await complete(alice, TEMPLATE, "boxId", one.id)).values).toEqual([one.id]);
  });

  it("completes prompt arguments: investigate_box's box (own boxes) and work_on_repository's runtime", async () => {
    expect((await complete(bob, INVESTIGATE, "box")).values).toEqual([bobBox.name, bobBox.id]);
    expect((await complete(alice, INVESTIGATE, "box", "comp-b")).values).toEqual([]);
    expect((await complete(alice, WORK, "runtime", "py")).values).toEqual(["python", "python-alpine"]);
    const all = await complete(alice, WORK, "runtime");
    expect(all.values.slice(0, 5)).toEqual(["node", "python", "golang", "ruby", "rust"]);
    expect(await complete(alice, WORK, "repository", "https")).toEqual({ values: [], total: 0, hasMore: false });
    const unknown = { type: "ref/prompt" as const, name: "no_such_prompt" };
    expect(await alice.client.complete({ ref: unknown, argument: { name: "x", value: "" } })).toMatchObject({
      completion: { values: [] },
    });
    const proto = { type: "ref/prompt" as const, name: "__proto__" };
    expect(await alice.client.complete({ ref: proto, argument: { name: "toString", value: "" } })).toMatchObject({
      completion: { values: [], total: 0 },
    });
    const template = { type: "ref/resource" as const, uri: "box://{boxId}/logs" };
    expect(await alice.client.complete({ ref: template, argument: { name: "constructor", value: "" } })).toMatchObject({
      completion: { values: [], total: 0 },
    });
  });

  it("lists both prompts with described arguments", async () => {
    const { prompts } = await alice.client.listPrompts();
    const byName = Object.fromEntries(prompts.map((p) => [p.name, p]));
    expect(byName.work_on_repository?.arguments?.map((a) => [a.name, a.required])).toEqual([
      ["repository", true],
      ["runtime", false],
    ]);
    expect(byName.investigate_box?.arguments?.map((a) => a.name)).toEqual(["box"]);
    for (const p of prompts) expect(p.description?.length).toBeGreaterThan(20);
  });

  it("renders work_on_repository with the repository, runtime and a box name filled in; refuses a bad runtime or URL", async () => {
    const res = await alice.client.getPrompt({
      name: "work_on_repository",
      arguments: { repository: "https://git.example.test/org/My_App.git", runtime: "python" },
    });
    const text = res.messages[0]?.content.type === "text" ? res.messages[0].content.text : "";
    expect(text).toContain('box_create { runtime: "python", name: "my_app" }');
    expect(text).toContain('box_git_clone { box: "my_app", repo: "https://git.example.test/org/My_App.git" }');
    expect(text).toContain('cwd: "/workspace/home/My_App"');
    expect(text).toContain("box_git_pull_request");
    const ssh = await alice.client
      .getPrompt({ name: "work_on_repository", arguments: { repository: "git@github.com:org/app.git" } })
      .catch((e: unknown) => e);
    expect((ssh as McpError).message).toContain("INVALID_ARGUMENT: repository");
    const err = await alice.client
      .getPrompt({ name: "work_on_repository", arguments: { repository: "https://x.test/r", runtime: "cobol" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).message).toContain('INVALID_ARGUMENT: unknown runtime "cobol"');
  });

  it("renders investigate_box with the box's state and log for its owner; NOT_FOUND for another tenant", async () => {
    const box = aliceBoxes[0] as Box;
    const res = await alice.client.getPrompt({ name: "investigate_box", arguments: { box: box.name } });
    const [intro, log] = res.messages;
    expect(intro?.content.type === "text" && intro.content.text).toContain(`Box ${box.name} (${box.id})`);
    expect(log?.content).toMatchObject({ type: "resource", resource: { uri: `box://${box.id}/logs` } });
    const logText = log?.content.type === "resource" ? (log.content.resource as { text: string }).text : "";
    expect(logText).toContain("box created");
    const err = await bob.client
      .getPrompt({ name: "investigate_box", arguments: { box: box.name } })
      .catch((e: unknown) => e);
    expect((err as McpError).message).toContain("NOT_FOUND");
  });

  it("reads and subscribes to a log by the box's name (a completed value), with updates under that URI", async () => {
    const box = aliceBoxes[1] as Box;
    const uri = `box://${box.name}/logs`;
    const updates: string[] = [];
    alice.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await alice.client.subscribeResource({ uri });
    await alice.callOk("box_exec", { box: box.id, command: "echo by-name" });
    const end = Date.now() + 30_000;
    while (!updates.includes(uri) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(updates).toContain(uri);
    const read = await alice.client.readResource({ uri });
    expect((read.contents[0] as { text: string }).text).toContain("by-name");
    await expect(bob.client.subscribeResource({ uri })).rejects.toThrow(/no box/);
  });
});
