// The architecture's import rules, checked by reading the sources.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../../src");

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const rel = (p: string) => path.relative(SRC, p);
const imports = (p: string) =>
  [...readFileSync(p, "utf8").matchAll(/from\s+["']([^"']+)["']/g)].map((m) => m[1] as string);

describe("layering", () => {
  const files = sources();

  it("finds the sources", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("only src/docker/ imports dockerode", () => {
    const offenders = files.filter((f) => !rel(f).startsWith("docker/") && imports(f).includes("dockerode"));
    expect(offenders.map(rel)).toEqual([]);
  });

  it("only src/config.ts reads process.env", () => {
    const offenders = files.filter((f) => rel(f) !== "config.ts" && /process\.env/.test(readFileSync(f, "utf8")));
    expect(offenders.map(rel)).toEqual([]);
  });

  it("no store changes a statement's mode or iterates one (src/state/db.ts shares prepared statements)", () => {
    const offenders = files.filter(
      (f) => rel(f).startsWith("state/") && /\.(iterate|pluck|raw|expand)\(/.test(readFileSync(f, "utf8")),
    );
    expect(offenders.map(rel)).toEqual([]);
  });

  it("nothing below the MCP layer imports it", () => {
    const below = files.filter((f) =>
      /^(box|shell|fs|state|docker|images|git|agent|network|lifecycle|logs|events|model|usage)\//.test(rel(f)),
    );
    const offenders = below.filter((f) => imports(f).some((i) => /\/mcp\/|\/transports\//.test(i)));
    expect(offenders.map(rel)).toEqual([]);
  });

  it("the engine layers never import the CLI or transports", () => {
    const offenders = files.filter(
      (f) =>
        !rel(f).startsWith("cli") &&
        imports(f).some((i) => /(^|\/)cli(\/|\.js)|transports\//.test(i)) &&
        !rel(f).startsWith("transports"),
    );
    expect(offenders.map(rel)).toEqual([]);
  });

  it("the MCP layer never reaches the engine, the raw config or the warm pool", () => {
    const mcp = files.filter((f) => rel(f).startsWith("mcp/"));
    expect(mcp.length).toBeGreaterThan(5);
    const offenders = mcp.filter(
      (f) =>
        imports(f).some((i) => /(^|\/)docker\//.test(i)) ||
        /\.(engine|pool)\b|\.config\./.test(readFileSync(f, "utf8")),
    );
    expect(offenders.map(rel)).toEqual([]);
  });

  it("keeps files under 400 lines", () => {
    const big = files.filter((f) => readFileSync(f, "utf8").split("\n").length > 400);
    expect(big.map(rel)).toEqual([]);
  });

  it("src/model/ is a leaf: it imports nothing of boxd's", () => {
    const offenders = files.filter((f) => rel(f).startsWith("model/") && imports(f).some((i) => i.startsWith(".")));
    expect(offenders.map(rel)).toEqual([]);
  });

  it("has no import cycle (type-only imports count too)", () => {
    const graph = new Map(
      files.map((f) => [
        f,
        imports(f)
          .filter((i) => i.startsWith("."))
          .map((i) => path.resolve(path.dirname(f), i.replace(/\.js$/, ".ts"))),
      ]),
    );
    expect(cycles(graph).map((c) => c.map(rel).join(" -> "))).toEqual([]);
  });

  it("keeps functions under ~60 lines", () => {
    const long: string[] = [];
    for (const f of files) {
      const source = ts.createSourceFile(f, readFileSync(f, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (n: ts.Node): void => {
        const body = (n as ts.FunctionLikeDeclarationBase).body;
        if (ts.isFunctionLike(n) && body) {
          const from = source.getLineAndCharacterOfPosition(body.getStart()).line;
          const to = source.getLineAndCharacterOfPosition(body.getEnd()).line;
          if (to - from + 1 > MAX_FUNCTION_LINES) long.push(`${rel(f)}:${from + 1} (${to - from + 1} lines)`);
        }
        ts.forEachChild(n, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });
});

/** A function's body may be a little longer than this (its braces included), never much. */
const MAX_FUNCTION_LINES = 62;

/** The strongly connected components with more than one file (Tarjan): each is an import cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}
