// The web console's parts as the HTTP transport mounts them: the API (and its sessions), the page's
// files, and the terminal's WebSocket upgrades.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import { ConsoleApi, type TokenCheck } from "./console-api.js";
import { ConsoleStatic } from "./console-static.js";
import { ConsoleTerminals, refuseUpgrade } from "./console-terminal.js";

export interface WebConsole {
  api: ConsoleApi;
  files: ConsoleStatic;
  /** An HTTP upgrade: the terminal's, unless `refused` (the transport's Origin/Host or shutdown verdict). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, refused: string | null): void;
  /** Ends open terminals (upgraded sockets are not the HTTP server's to close). */
  close(): void;
}

export function createWebConsole(deps: { services: Services; checkToken: TokenCheck; log: Logger }): WebConsole {
  const api = new ConsoleApi({ ...deps, secureCookie: false });
  const terminals = new ConsoleTerminals({ services: deps.services, sessions: api.sessions, log: deps.log });
  return {
    api,
    files: new ConsoleStatic(),
    upgrade(req, socket, head, refused) {
      const path = new URL(req.url ?? "/", "http://boxd").pathname;
      if (refused || !terminals.handles(path)) {
        refuseUpgrade(socket, refused ?? "404 Not Found");
        return;
      }
      terminals.upgrade(req, socket, head);
    },
    close: () => terminals.close(),
  };
}
