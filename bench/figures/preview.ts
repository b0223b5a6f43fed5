// preview_request: a GET through the preview listener (routing, token check, wake check, proxy) vs the
// same GET straight to the box's address on its bridge, both with keep-alive, interleaved. Extras:
// requests per second at 8 concurrent clients and MiB/s of a 16 MiB download, each side, and their ratios.
import http from "node:http";
import type { BenchContext } from "../context.js";
import { type Figure, figure, interleave, round, since, timed } from "../stats.js";

const SERVER = `require("http").createServer((req, res) => {
  if (req.url === "/big") { const chunk = Buffer.alloc(1 << 20, 97); let n = 16;
    res.writeHead(200, { "content-length": String(16 << 20) });
    const more = () => { while (n > 0) { n--; if (!res.write(chunk)) return res.once("drain", more); } res.end(); }; return more(); }
  res.end("hi");
}).listen(3000, "0.0.0.0");`;

interface Target {
  host: string;
  port: number;
  headers: Record<string, string>;
}

function fetchOnce(t: Target, agent: http.Agent, path = "/"): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: t.host, port: t.port, path, headers: t.headers, agent }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`status ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/** Requests per second with `clients` concurrent keep-alive clients, `total` requests in all. */
async function rps(t: Target, agent: http.Agent, clients: number, total: number): Promise<number> {
  let left = total;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) await fetchOnce(t, agent);
    }),
  );
  return total / (since(t0) / 1000);
}

async function mibPerSecond(t: Target, agent: http.Agent): Promise<number> {
  const t0 = performance.now();
  const bytes = await fetchOnce(t, agent, "/big");
  return bytes / 2 ** 20 / (since(t0) / 1000);
}

export async function previewRequest(ctx: BenchContext): Promise<Record<string, Figure>> {
  const box = await ctx.boxd.createBox({ runtime: "node" });
  const proxyAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const directAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    await ctx.boxd.call("box_write_file", { box, path: "srv.js", content: SERVER });
    await ctx.boxd.call("box_exec", {
      box,
      command: "setsid node srv.js >/dev/null 2>&1 </dev/null & sleep 1",
    });
    const e = await ctx.boxd.call<{ url: string; token: string }>("box_expose_port", { box, port: 3000 });
    const u = new URL(e.url);
    const proxy: Target = {
      host: "127.0.0.1",
      port: Number(u.port),
      headers: { host: u.host, authorization: `Bearer ${e.token}` },
    };
    const rec = ctx.boxd.app.services.boxes.mustGet(box);
    const ip = await ctx.boxd.app.services.engine.containers.address(rec.containerId ?? "", rec.networkName ?? "");
    if (!ip) throw new Error("the box has no address");
    const direct: Target = { host: ip, port: 3000, headers: {} };
    const n = ctx.iterations * 10;
    const samples = await interleave(
      n,
      ctx.warmup * 10,
      () => timed(() => fetchOnce(proxy, proxyAgent)),
      () => timed(() => fetchOnce(direct, directAgent)),
      (done) => done % 50 === 0 && ctx.log(`preview_request ${done}/${n}`),
    );
    const total = ctx.iterations * 40;
    const rpsProxy = await rps(proxy, proxyAgent, 8, total);
    const rpsDirect = await rps(direct, directAgent, 8, total);
    const dlProxy = await mibPerSecond(proxy, proxyAgent);
    const dlDirect = await mibPerSecond(direct, directAgent);
    return {
      preview_request: figure(samples, "ms", {
        sides: "boxd = through the preview listener; raw = direct to the box's bridge address",
        requests_per_second: {
          proxy: round(rpsProxy),
          direct: round(rpsDirect),
          ratio: round(rpsDirect / rpsProxy, 2),
        },
        download_16mib_mib_s: { proxy: round(dlProxy), direct: round(dlDirect), ratio: round(dlDirect / dlProxy, 2) },
      }),
    };
  } finally {
    proxyAgent.destroy();
    directAgent.destroy();
    await ctx.boxd.deleteBox(box);
  }
}
