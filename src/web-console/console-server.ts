// The web console on a port of its own, for a stdio server (`boxd serve` with BOXD_CONSOLE_PORT): loopback
// only, one tenant ("local", signed in with the data dir's local token), the same API, page and terminal
// as under `serve --http`, behind the same Origin/Host check (so a web page elsewhere cannot drive it).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { checkOrigin, originPolicy } from "../http/origin.js";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import { SECURITY_HEADERS } from "./console-static.js";
import { createWebConsole } from "./web-console.js";

export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

export async function startConsoleServer(
  services: Services,
  opts: { port: number; token: string; log: Logger },
): Promise<ConsoleServer> {
  const web = createWebConsole({
    services,
    checkToken: (token) => (token === opts.token ? "local" : null),
    log: opts.log,
  });
  let policy = originPolicy({ host: "127.0.0.1", port: opts.port, allowedOrigins: [], allowedHosts: [] });
  const server = http.createServer({ headersTimeout: 30_000, requestTimeout: 120_000 }, (req, res) => {
    const path = new URL(req.url ?? "/", "http://boxd").pathname;
    const refused = checkOrigin(policy, req.headers);
    if (refused) {
      res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end(`${refused}\n`);
    } else if (path.startsWith("/console/api/")) void web.api.handle(req, res, path);
    else if (req.method === "GET" || req.method === "HEAD") web.files.serve(res, path, req.method === "HEAD");
    else {
      res.writeHead(405, { Allow: "GET, HEAD", ...SECURITY_HEADERS });
      res.end();
    }
  });
  server.on("upgrade", (req, socket: Duplex, head: Buffer) =>
    web.upgrade(req, socket, head, checkOrigin(policy, req.headers) ? "403 Forbidden" : null),
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  policy = originPolicy({ host: "127.0.0.1", port, allowedOrigins: [], allowedHosts: [] });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      web.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    },
  };
}
