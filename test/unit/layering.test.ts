// The architecture's import rules, checked by reading the sources.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
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

  it("nothing below the MCP layer imports it", () => {
    const below = files.filter((f) =>
      /^(box|shell|fs|state|docker|images|git|agent|network|lifecycle|logs|events)\//.test(rel(f)),
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

  it("keeps files under 400 lines", () => {
    const big = files.filter((f) => readFileSync(f, "utf8").split("\n").length > 400);
    expect(big.map(rel)).toEqual([]);
  });
});
