// `boxd serve`: MCP over stdio. stdout carries protocol messages only; logs go to stderr.
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createApp } from "../app.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { createServer } from "../mcp/server.js";
import { localSshToken } from "../ssh/local-token.js";
import { startConsoleServer } from "../web-console/console-server.js";

export async function serveStdio(config: Config, log: Logger): Promise<void> {
  const app = await createApp(config, log);
  const { server, close } = createServer(app.services);
  const webConsole =
    config.consolePort === undefined
      ? null
      : await startConsoleServer(app.services, {
          port: config.consolePort,
          token: localSshToken(config.dataDir),
          log: log.child("console"),
        });
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = async (why: string) => {
    if (closing) return;
    closing = true;
    log.info(`shutting down (${why}); boxes keep running`);
    await close().catch(() => {});
    await webConsole?.close().catch(() => {});
    await app.close().catch(() => {});
    process.exit(0);
  };
  transport.onclose = () => void shutdown("client closed stdio");
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.stdin.on("end", () => void shutdown("stdin ended"));
  // A client that closed its end makes writes fail (EPIPE): shut down cleanly instead of crashing on it.
  process.stdout.on("error", (err) => void shutdown(`stdout: ${(err as NodeJS.ErrnoException).code ?? err}`));
  await server.connect(transport);
  log.info("boxd serving MCP over stdio", { instance: app.instanceId, dataDir: config.dataDir });
  if (webConsole) log.info(`web console at ${webConsole.url} (sign in with \`boxd ssh-token\`)`);
  if (process.stdin.isTTY) {
    process.stderr.write(
      "boxd is ready and speaks MCP on this terminal's stdin/stdout. MCP clients start it themselves: see mcp.json and the README (Connecting a client). Ctrl-C stops it; boxes keep running.\n",
    );
  }
}
