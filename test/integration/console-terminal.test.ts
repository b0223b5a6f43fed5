// The console's terminal (a WebSocket to a login shell on a pseudo-terminal in the box) and its file views,
// from a client's view: typing, resizing and Ctrl-C work; the socket needs a session, the right tenant
// and this server's origin; files are listed, shown as text (binary ones are not), downloaded as
// attachments.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connectHttp, type HttpClient, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

describe("web console terminal and files", () => {
  let fx: HttpFixture;
  let alice: HttpClient;
  let base = "";
  let cookie = "";
  let bobCookie = "";
  let boxId = "";

  const signIn = async (token: string) => {
    const r = await fetch(`${base}/console/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-boxd-console": "1" },
      body: JSON.stringify({ token }),
    });
    return (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  };

  /** Opens the terminal; resolves with the socket and a reader of everything it said, or the refusal's status. */
  function terminal(
    box: string,
    headers: Record<string, string>,
  ): Promise<{ ws: WebSocket; output: () => string; until: (re: RegExp) => Promise<string> } | number> {
    const url = `${base.replace(/^http/, "ws")}/console/api/boxes/${box}/terminal?cols=80&rows=24`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      let text = "";
      ws.on("message", (d, binary) => {
        text += binary ? (d as Buffer).toString("utf8") : `\n[control] ${d.toString()}\n`;
      });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", reject);
      ws.on("open", () =>
        resolve({
          ws,
          output: () => text,
          until: async (re) => {
            const deadline = Date.now() + 20_000;
            while (!re.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            expect(text).toMatch(re);
            return text;
          },
        }),
      );
    });
  }

  beforeAll(async () => {
    // Usage read every second: the usage history gets points within the test.
    fx = await startHttp({ BOXD_USAGE_SAMPLE_SECONDS: "1" });
    base = fx.url.replace(/\/mcp$/, "");
    alice = await connectHttp(fx.url, TOKEN_A);
    boxId = (await alice.callOk<{ id: string }>("box_create", { name: "term-box" })).id;
    cookie = await signIn(TOKEN_A);
    bobCookie = await signIn(TOKEN_B);
  });
  afterAll(async () => {
    await alice?.close();
    await fx?.close();
  });

  it("runs a shell: typing, resize and Ctrl-C work; closing it ends its processes", async () => {
    const t = await terminal(boxId, { cookie, origin: base });
    if (typeof t === "number") throw new Error(`refused: ${t}`);
    const send = (data: string) => t.ws.send(JSON.stringify({ type: "input", data }));
    send("echo term-$((6*7)); whoami\r");
    await t.until(/term-42\r?\n(\S*\r?\n)?boxuser/);
    t.ws.send(JSON.stringify({ type: "resize", cols: 100, rows: 30 }));
    await new Promise((r) => setTimeout(r, 300));
    send("stty size\r");
    await t.until(/30 100/);
    send("sleep 300 & sleep 200\r");
    await new Promise((r) => setTimeout(r, 500));
    send("\x03");
    send("echo after-ctrl-c\r");
    await t.until(/after-ctrl-c\r?\n/);
    t.ws.close();
    // The shell's processes end with it (the background sleep 300 included).
    let left = "";
    for (let i = 0; i < 50; i++) {
      left = (
        await alice.callOk<{ stdout: string }>("box_exec", { box: boxId, command: "pgrep -c sleep || true" })
      ).stdout.trim();
      if (left === "0") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toBe("0");
    const log = await alice.callOk<{ entries: { message: string }[] }>("box_logs", { box: boxId });
    expect(JSON.stringify(log)).toContain("console terminal closed");
  });

  it("tells the page the shell's exit code when the shell ends", async () => {
    const t = await terminal(boxId, { cookie, origin: base });
    if (typeof t === "number") throw new Error(`refused: ${t}`);
    await t.until(/\$ $/); // the prompt: typed before it, input could reach a shell not reading yet
    t.ws.send(JSON.stringify({ type: "input", data: "exit 3\r" }));
    await t.until(/\[control\] \{"type":"exit","code":3\}/);
    await new Promise<void>((resolve) =>
      t.ws.readyState === WebSocket.CLOSED ? resolve() : t.ws.once("close", () => resolve()),
    );
  });

  it("needs a session, the box's tenant and this server's origin", async () => {
    expect(await terminal(boxId, { origin: base })).toBe(401);
    expect(await terminal(boxId, { cookie: bobCookie, origin: base })).toBe(404);
    expect(await terminal("box_doesnotexist", { cookie, origin: base })).toBe(404);
    expect(await terminal(boxId, { cookie, origin: "https://evil.example" })).toBe(403);
  });

  it("lists, shows and downloads files; binary files are not shown; another tenant gets nothing", async () => {
    await alice.callOk("box_write_file", {
      box: boxId,
      path: "notes/<img src=x onerror=alert(1)>.txt",
      content: "<script>alert(1)</script>\n",
    });
    await alice.callOk("box_exec", { box: boxId, command: "head -c 4096 /dev/urandom > notes/blob.bin" });
    const get = (path: string, c = cookie) => fetch(`${base}${path}`, { headers: { cookie: c } });
    const home = "/workspace/home/notes";
    const list = (await (await get(`/console/api/boxes/${boxId}/files?path=${encodeURIComponent(home)}`)).json()) as {
      entries: { name: string; type: string }[];
    };
    expect(list.entries.map((e) => e.name).sort()).toEqual(["<img src=x onerror=alert(1)>.txt", "blob.bin"]);
    const text = (await (
      await get(
        `/console/api/boxes/${boxId}/file?path=${encodeURIComponent(`${home}/<img src=x onerror=alert(1)>.txt`)}`,
      )
    ).json()) as { text: string; binary: boolean };
    expect(text).toMatchObject({ binary: false, text: "<script>alert(1)</script>\n" });
    const bin = (await (await get(`/console/api/boxes/${boxId}/file?path=${home}/blob.bin`)).json()) as Record<
      string,
      unknown
    >;
    expect(bin).toMatchObject({ binary: true, size: 4096 });
    expect(bin.text).toBeUndefined();
    const dl = await get(`/console/api/boxes/${boxId}/download?path=${home}/blob.bin`);
    expect(dl.headers.get("content-disposition")).toMatch(/^attachment; filename="blob.bin"/);
    expect(dl.headers.get("content-type")).toBe("application/octet-stream");
    expect((await dl.arrayBuffer()).byteLength).toBe(4096);
    expect((await get(`/console/api/boxes/${boxId}/files?path=${home}`, bobCookie)).status).toBe(404);
    expect((await get(`/console/api/boxes/${boxId}/files`)).status).toBe(400);
  });

  it("keeps a box's usage over time: CPU time growing with the work done, memory in use", async () => {
    const get = async () =>
      (await (await fetch(`${base}/console/api/boxes/${boxId}/usage`, { headers: { cookie } })).json()) as {
        samples: { at: string; cpuNs: number; memoryBytes: number }[];
      };
    await alice.callOk("box_exec", { box: boxId, command: "python3 -c 'sum(range(30000000))'" });
    const done = Date.now();
    let samples = (await get()).samples;
    // Points taken after the work ended (the box has been sampled every second since it was made).
    const after = () => Date.parse(samples.at(-1)?.at ?? "") > done;
    for (let i = 0; i < 40 && (samples.length < 3 || !after()); i++) {
      await new Promise((r) => setTimeout(r, 250));
      samples = (await get()).samples;
    }
    expect(samples.length).toBeGreaterThanOrEqual(3);
    const last = samples.at(-1) as { at: string; cpuNs: number; memoryBytes: number };
    expect(last.cpuNs).toBeGreaterThan(300_000_000); // the loop above took a good part of a second of CPU
    expect(last.memoryBytes).toBeGreaterThan(1024 * 1024);
    for (let i = 1; i < samples.length; i++) {
      expect(Date.parse(samples[i]?.at ?? "")).toBeGreaterThanOrEqual(Date.parse(samples[i - 1]?.at ?? ""));
      expect(samples[i]?.cpuNs).toBeGreaterThanOrEqual(samples[i - 1]?.cpuNs ?? 0);
    }
    expect((await fetch(`${base}/console/api/boxes/${boxId}/usage`, { headers: { cookie: bobCookie } })).status).toBe(
      404,
    );
  });
});
