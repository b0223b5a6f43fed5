// The console's page and its bundled assets (web/, built by vite into dist/console): hashed assets are
// cached for a year, the page never; every answer carries a strict Content-Security-Policy (scripts and
// styles from this origin only, nothing inline, no framing). Paths are looked up in a table of the files
// the build made, never joined into a file name, so no request reaches outside the folder.
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

export const SECURITY_HEADERS = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** dist/console at the package root, from src/web-console or dist/web-console alike. */
export function consoleDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "console");
}

export class ConsoleStatic {
  private readonly files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();

  constructor(private readonly dir = consoleDir()) {
    this.load("");
  }

  /** Whether the console was built (dist/console/index.html). */
  get built(): boolean {
    return this.files.has("/index.html");
  }

  /** Serves a GET/HEAD: a file of the build, else (a page route) the console's page. */
  serve(res: ServerResponse, urlPath: string, head: boolean): void {
    const file =
      this.files.get(urlPath) ?? (urlPath.startsWith("/assets/") ? undefined : this.files.get("/index.html"));
    if (!file) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end(this.built ? "not found\n" : "the web console is not built: run `npm run build`\n");
      return;
    }
    res.writeHead(200, {
      "Content-Type": file.type,
      "Content-Length": file.body.length,
      "Cache-Control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      ...SECURITY_HEADERS,
    });
    res.end(head ? undefined : file.body);
  }

  private load(rel: string): void {
    let names: string[];
    try {
      names = readdirSync(path.join(this.dir, rel));
    } catch {
      return; // not built
    }
    for (const name of names) {
      const relPath = `${rel}/${name}`;
      const full = path.join(this.dir, relPath);
      if (name.startsWith(".")) continue; // vite's manifest folder
      if (statSync(full).isDirectory()) this.load(relPath);
      else {
        this.files.set(relPath, {
          body: readFileSync(full),
          type: TYPES[path.extname(name)] ?? "application/octet-stream",
          immutable: relPath.startsWith("/assets/"),
        });
      }
    }
  }
}
