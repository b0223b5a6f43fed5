// The abuse summary across files: each attack a test tries is recorded as tried, then as contained when
// every assertion about it held. Files append to one folder per test run (workers are separate
// processes); the global teardown prints the totals and one line per case, and the run fails if any
// case was lost.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { testRoot } from "./test-root.js";

interface CaseRecord {
  name: string;
  outcome: "tried" | "contained";
}

const folder = () => path.join(testRoot(), "abuse");

function record(file: string, rec: CaseRecord): void {
  mkdirSync(folder(), { recursive: true });
  appendFileSync(path.join(folder(), `${file}.jsonl`), `${JSON.stringify(rec)}\n`);
}

/**
 * Runs one attack and its assertions: `tried` is recorded first, `contained` only when `attack` resolves
 * (its assertions held). The error of a failed assertion is rethrown, so the test fails as well.
 */
export async function attack(file: string, name: string, body: () => Promise<void>): Promise<void> {
  record(file, { name, outcome: "tried" });
  await body();
  record(file, { name, outcome: "contained" });
}

/** Totals over every file of this run: printed by the global teardown. */
export function abuseSummary(): { tried: number; contained: number; lost: string[]; lines: string[] } {
  if (!existsSync(folder())) return { tried: 0, contained: 0, lost: [], lines: [] };
  const tried = new Map<string, boolean>();
  for (const f of readdirSync(folder())) {
    for (const line of readFileSync(path.join(folder(), f), "utf8").split("\n")) {
      if (!line) continue;
      const rec = JSON.parse(line) as CaseRecord;
      const key = `${f.replace(/\.jsonl$/, "")}: ${rec.name}`;
      if (rec.outcome === "tried") tried.set(key, tried.get(key) ?? false);
      else tried.set(key, true);
    }
  }
  const lost = [...tried].filter(([, ok]) => !ok).map(([k]) => k);
  const lines = [...tried].map(([k, ok]) => `${ok ? "contained" : "LOST     "}  ${k}`);
  return { tried: tried.size, contained: tried.size - lost.length, lost, lines };
}
