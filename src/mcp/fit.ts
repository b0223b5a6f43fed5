// How much one tool answer may carry. An MCP client reads a message whole before parsing it, and the SDK's
// stdio client drops the connection (and so ends a stdio server) above 10 MiB per message; JSON escaping can
// make text six times its bytes (a control byte becomes \u00XX). So every answer is measured as the JSON
// it becomes, and the tools that return box output hand it out in pages that fit.
import { wholeUtf8Length } from "../fs/content-encoding.js";

/** Ceiling on one tool result (content blocks + structuredContent, as JSON), for every tool. */
export const MAX_RESULT_BYTES = 6 * 1024 * 1024;
/** What the paged fields of one answer may use together (the rest of the ceiling is for the other fields). */
export const PAGE_BUDGET_BYTES = 5 * 1024 * 1024;
/** Bytes box_read_file returns per call at most (base64 makes them 4 MiB). */
export const READ_PAGE_BYTES = 3 * 1024 * 1024;
/** Bytes box_download returns inline at most: sent twice (structuredContent and a resource), as base64. */
export const INLINE_DOWNLOAD_BYTES = 2 * 1024 * 1024;
/** Output quoted in a result's text block: a preview; the whole page is in structuredContent. */
export const PREVIEW_BYTES = 16 * 1024;

export type PageEncoding = "utf8" | "base64";

export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? "");

export interface Page {
  text: string;
  /** Offset just after the last byte the text covers. */
  end: number;
}

/**
 * The longest piece of `buf` from `start`, at most `maxBytes` long, whose encoding fits `budget` bytes of
 * JSON. In utf8 a page never ends inside a character (the next page starts with it), so pages decode to the
 * same text as the whole; only a character cut off by the end of `buf` itself is decoded as it is.
 */
export function pageOf(buf: Buffer, start: number, maxBytes: number, budget: number, enc: PageEncoding): Page {
  const from = Math.min(Math.max(0, start), buf.length);
  let end = Math.min(buf.length, from + Math.max(0, maxBytes));
  for (;;) {
    if (enc === "utf8" && end < buf.length) {
      const whole = wholeUtf8Length(buf.subarray(from, end));
      if (whole > 0) end = from + whole;
    }
    const piece = buf.subarray(from, end);
    const text = enc === "base64" ? piece.toString("base64") : piece.toString("utf8");
    const size = jsonBytes(text);
    if (size <= budget || end === from) return { text, end };
    // Shrink in proportion (the escaping is rarely uniform, so a few rounds may be needed).
    const next = from + Math.floor(((end - from) * budget) / size) - 1;
    end = Math.max(from, Math.min(next, end - 1));
  }
}

/** A text preview of output for a result's text block: whole when short, else its head and a pointer. */
export function preview(buf: Buffer, where: string): string {
  if (buf.length <= PREVIEW_BYTES) return buf.toString("utf8");
  const head = pageOf(buf, 0, PREVIEW_BYTES, PREVIEW_BYTES * 6, "utf8");
  return `${head.text}\n[... first ${head.end} of ${buf.length} bytes shown; ${where}]`;
}
