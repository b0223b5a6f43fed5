// The console's live views as server-sent events: the tenant's box list (sent again whenever it changed,
// looked at every LIST_POLL_MS: one SQLite read per open page) and one box's log (the newest entries,
// then every new one as it is appended). Each stream ends with its connection, or with the server.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxView } from "../model/box.js";
import type { LogEntry } from "../state/log-store.js";

const LIST_POLL_MS = 1500;
const KEEPALIVE_MS = 20_000;
/** Log entries sent when a stream opens (the page shows the newest; the whole log is box_logs' job). */
const LOG_BACKLOG = 500;

/** Opens an SSE response; returns a sender and a way to learn when the client went. */
function openStream(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>) {
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
    ...headers,
  });
  res.write("retry: 2000\n\n");
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      clearInterval(keepalive);
      resolve();
    };
    req.on("close", done);
    res.on("close", done);
  });
  // Data is JSON: one line, so no payload can end an event early or forge another.
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  return { send, closed };
}

export function streamBoxList(
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  list: () => BoxView[],
): void {
  const { send, closed } = openStream(req, res, headers);
  let last = "";
  const tick = () => {
    const boxes = list();
    const text = JSON.stringify(boxes);
    if (text !== last) send("boxes", { boxes });
    last = text;
  };
  tick();
  const timer = setInterval(tick, LIST_POLL_MS);
  void closed.then(() => clearInterval(timer));
}

export function streamBoxLog(
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  log: BoxLog,
  boxId: string,
): void {
  const { send, closed } = openStream(req, res, headers);
  let lastSeq = 0;
  let lastTs: string | undefined;
  const emit = (entries: LogEntry[]) => {
    for (const e of entries) {
      if (e.seq <= lastSeq) continue;
      lastSeq = e.seq;
      lastTs = e.timestamp;
      send("entry", { seq: e.seq, ts: e.timestamp, level: e.level, source: e.source, message: e.message });
    }
  };
  emit(log.newest(boxId, LOG_BACKLOG));
  const unsubscribe = log.subscribe((id) => {
    if (id === boxId) emit(log.entries(boxId, { since: lastTs, limit: 10_000 }));
  });
  void closed.then(unsubscribe);
}
