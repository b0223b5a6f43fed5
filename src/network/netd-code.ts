// The network helper's program as files to copy into its container: src/netd/main and every module it
// imports, found by following relative imports. From a build (dist/, .js) they are copied as they are;
// from the TypeScript sources (tests run them) each is transpiled on the way with the project's
// TypeScript. The helper's image has Node and no npm packages: an import of a package is an error here.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NETD_DIR } from "../netd/protocol.js";

export interface CodeFile {
  path: string;
  content: Buffer;
  mode: number;
}

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+"([^"]+)";/g;
const SIDE_EFFECT = /(?:^|\n)\s*import\s+"([^"]+)";/g;

let made: Promise<CodeFile[]> | null = null;

/** The helper's files under NETD_DIR, with a package.json making them ES modules (collected once). */
export function netdCode(): Promise<CodeFile[]> {
  made ??= collect();
  made.catch(() => {
    made = null;
  });
  return made;
}

async function collect(): Promise<CodeFile[]> {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith(".ts");
  const root = path.resolve(path.dirname(here), "..");
  const ext = fromSource ? ".ts" : ".js";
  const transpile = fromSource ? cachedTranspiler() : (text: string) => text;
  const seen = new Map<string, string>();
  const visit = async (rel: string): Promise<void> => {
    if (seen.has(rel)) return;
    const text = readFileSync(path.join(root, rel.replace(/\.js$/, ext)), "utf8");
    seen.set(rel, await transpile(text));
    for (const spec of importsOf(text)) {
      if (spec.startsWith("node:")) continue;
      if (!spec.startsWith(".")) throw new Error(`the network helper's code imports the package ${spec} (${rel})`);
      await visit(path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)));
    }
  };
  await visit("netd/main.js");
  const files: CodeFile[] = [...seen].map(([rel, text]) => ({
    path: `${NETD_DIR}/${rel}`,
    content: Buffer.from(text),
    mode: 0o644,
  }));
  files.push({ path: `${NETD_DIR}/package.json`, content: Buffer.from('{"type":"module"}\n'), mode: 0o644 });
  return files;
}

/** The relative modules a file imports at run time (type-only imports are erased, so left out). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) if (!m[2] && !/^\s*(import|export)\s+type\s/.test(m[0])) out.push(m[3] ?? "");
  for (const m of text.matchAll(SIDE_EFFECT)) out.push(m[1] ?? "");
  return out.filter(Boolean);
}

/**
 * TypeScript to JavaScript, cached on disk by the source's digest: loading the compiler takes seconds,
 * and every test process starts servers.
 */
function cachedTranspiler(): (text: string) => Promise<string> {
  // Per user, 0700 and owned by this user: another user's files must never become the helper's code.
  const dir = path.join(os.tmpdir(), `boxd-netd-code-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const trusted = st.uid === (process.getuid?.() ?? st.uid) && (st.mode & 0o077) === 0;
  let compile: Promise<(text: string) => string> | null = null;
  return async (text) => {
    const file = path.join(dir, `${createHash("sha256").update(text).digest("hex").slice(0, 32)}.js`);
    try {
      if (trusted) return readFileSync(file, "utf8");
    } catch {
      // not transpiled yet
    }
    compile ??= import("typescript").then(
      ({ default: ts }) =>
        (source: string) =>
          ts.transpileModule(source, {
            compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
          }).outputText,
    );
    const out = (await compile)(text);
    if (!trusted) return out;
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, out);
    renameSync(tmp, file); // whole or not at all: other test processes read the same folder
    return out;
  };
}
