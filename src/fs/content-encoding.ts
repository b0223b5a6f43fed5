// How file bytes travel as text: strict base64, UTF-8 that is never cut mid-character, and a MIME type
// guessed from a file name. Pure functions, shared by the file tools; no I/O here.
import { invalidArgument } from "../errors.js";

export const CONTENT_ENCODINGS = ["utf8", "base64"] as const;
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number];

/** Strict base64: Buffer.from() silently drops junk, which would corrupt a file without a word. */
export function decodeBase64(text: string, what: string): Buffer {
  const clean = text.replace(/[\r\n\t ]+/g, "");
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw invalidArgument(`${what} is not valid base64 (standard alphabet A-Z a-z 0-9 + /, padded with =)`);
  }
  return Buffer.from(clean, "base64");
}

export const decodeContent = (content: string, enc: ContentEncoding | undefined, what: string): Buffer =>
  enc === "base64" ? decodeBase64(content, what) : Buffer.from(content, "utf8");

/** Length of `buf` without a multi-byte UTF-8 character cut off at its end. */
export function wholeUtf8Length(buf: Buffer): number {
  for (let i = buf.length - 1, n = 1; i >= 0 && n <= 4; i--, n++) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return n >= need ? buf.length : i;
  }
  return buf.length;
}

/**
 * Encodes a chunk read from a file. With utf8, a character cut off at the end of a partial read is left
 * for the next read (`used` says how many bytes the text covers); bytes that are not UTF-8 at all are
 * refused with a hint to use base64.
 */
export function encodeContent(
  data: Buffer,
  enc: ContentEncoding,
  opts: { partial: boolean; path: string },
): { text: string; used: number } {
  if (enc === "base64") return { text: data.toString("base64"), used: data.length };
  const whole = opts.partial ? wholeUtf8Length(data) : data.length;
  const used = whole > 0 ? whole : data.length;
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, used)), used };
  } catch {
    throw invalidArgument(`${opts.path} is not UTF-8 text: read it with encoding base64`);
  }
}

const MIME: Record<string, string> = {
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  css: "text/css",
  js: "text/javascript",
  mjs: "text/javascript",
  json: "application/json",
  xml: "application/xml",
  yaml: "application/yaml",
  yml: "application/yaml",
  py: "text/x-python",
  sh: "application/x-sh",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  webp: "image/webp",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tgz: "application/gzip",
  tar: "application/x-tar",
  wasm: "application/wasm",
};

export const mimeTypeOf = (file: string): string =>
  MIME[file.slice(file.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream";
