// The console's file views of one box: a folder's entries, a file shown as text (the first VIEW_BYTES;
// binary files are named, not shown), and a file as a download (Content-Disposition: attachment, so the
// browser saves it and never renders what a box wrote). The box is woken as for the file tools.
import type { IncomingMessage, ServerResponse } from "node:http";
import { BoxdError } from "../errors.js";
import type { Services } from "../services.js";
import { SECURITY_HEADERS } from "./console-static.js";

/** What the text view shows of a file at most. */
const VIEW_BYTES = 256 * 1024;

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

function pathParam(req: IncomingMessage): string {
  const p = new URL(req.url ?? "/", "http://boxd").searchParams.get("path");
  if (!p) throw new BoxdError("INVALID_ARGUMENT", "give ?path=<absolute path in the box>");
  return p;
}

/** Text unless it has NUL bytes or is not valid UTF-8 (a cut multi-byte character at the end is fine). */
export function looksBinary(bytes: Buffer): boolean {
  if (bytes.includes(0)) return true;
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const bad = (text.match(/\uFFFD/g) ?? []).length;
  return bad > 4;
}

/** GET .../files, .../file and .../download; null when `action` is none of them. */
export async function fileViews(
  s: Services,
  tenant: string,
  boxId: string,
  action: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Reply | null> {
  if (action !== "files" && action !== "file" && action !== "download") return null;
  const path = pathParam(req);
  const { containerId } = await s.liveBox(tenant, boxId);
  if (action === "files") {
    const listing = await s.files.list(containerId, path, { maxEntries: 1000 });
    return { status: 200, body: listing };
  }
  if (action === "file") {
    const r = await s.files.read(containerId, path, { length: VIEW_BYTES });
    const binary = looksBinary(r.content);
    return {
      status: 200,
      body: {
        path: r.path,
        size: r.bytes,
        binary,
        truncated: r.truncated,
        ...(binary ? {} : { text: r.content.toString("utf8") }),
      },
    };
  }
  const r = await s.files.read(containerId, path);
  if (r.truncated) {
    throw new BoxdError(
      "LIMIT_EXCEEDED",
      `${r.path} is ${r.bytes} bytes, more than the console downloads (BOXD_MAX_FILE_BYTES): use box_download with a hostPath`,
    );
  }
  const name = r.path.split("/").pop() || "download";
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Content-Length": r.content.length,
    "Content-Disposition": `attachment; filename="${name.replace(/[^\w.-]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    "Cache-Control": "no-store",
    ...SECURITY_HEADERS,
  });
  res.end(r.content);
  return { status: 0 };
}
