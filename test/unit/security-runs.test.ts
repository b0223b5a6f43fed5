// Units for issue 13 items 6 and 7: the env guard, the page fitting and the result ceiling.
import { describe, expect, it } from "vitest";
import { checkEnv, refusedEnvReason, SHELL_STARTUP_ENV, shellSafe } from "../../src/box/env-guard.js";
import { BoxdError } from "../../src/errors.js";
import { checkResultSize } from "../../src/mcp/define-tool.js";
import { jsonBytes, MAX_RESULT_BYTES, pageOf, preview } from "../../src/mcp/fit.js";

const codeOf = (fn: () => void) => {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof BoxdError ? err.code : "other";
  }
};

describe("env guard", () => {
  it("refuses loader, shell-startup, interpreter-startup and reserved names, and says why", () => {
    const refused = [
      "PATH",
      "path",
      "HOME",
      "LD_PRELOAD",
      "LD_AUDIT",
      "LD_LIBRARY_PATH",
      "GCONV_PATH",
      "GLIBC_TUNABLES",
      "BASH_ENV",
      "ENV",
      "SHELLOPTS",
      "BASHOPTS",
      "PS4",
      "PROMPT_COMMAND",
      "IFS",
      "CDPATH",
      "BASH_XTRACEFD",
      "NODE_OPTIONS",
      "PYTHONSTARTUP",
      "PERL5OPT",
      "RUBYOPT",
      "JAVA_TOOL_OPTIONS",
      "GIT_DIR",
      "GIT_CONFIG_GLOBAL",
      "GIT_SSH_COMMAND",
      "BOXD_X",
      "1X",
      "A-B",
      "BASH_FUNC_x%%",
    ];
    for (const name of refused) {
      expect(refusedEnvReason(name), name).toBeTruthy();
      expect(
        codeOf(() => checkEnv({ [name]: "x" })),
        name,
      ).toBe("INVALID_ARGUMENT");
    }
    try {
      checkEnv({ SHELLOPTS: "xtrace" });
    } catch (err) {
      expect((err as Error).message).toMatch(/"SHELLOPTS" is not allowed: it changes how bash starts/);
    }
  });

  it("allows ordinary names, module paths and git identity; names match case-sensitively", () => {
    for (const name of ["FOO", "PYTHONPATH", "NODE_PATH", "GIT_AUTHOR_NAME", "GIT_COMMITTER_EMAIL", "env", "ifs"]) {
      expect(refusedEnvReason(name), name).toBeNull();
    }
    expect(codeOf(() => checkEnv({ FOO: "a\0b" }))).toBe("INVALID_ARGUMENT");
    const many = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`V${i}`, "x"]));
    expect(codeOf(() => checkEnv(many))).toBe("INVALID_ARGUMENT");
  });

  it("starts boxd's own commands without any shell-startup variable", () => {
    const argv = shellSafe(["boxd-run", "r", "/", "echo hi"]);
    expect(argv[0]).toBe("/usr/bin/env");
    for (const name of SHELL_STARTUP_ENV) expect(argv).toContain(name);
    expect(argv.slice(-4)).toEqual(["boxd-run", "r", "/", "echo hi"]);
  });
});

describe("pages that fit one answer", () => {
  it("fits escaped text to its JSON budget and never ends a page inside a character", () => {
    const zeros = Buffer.alloc(1024 * 1024);
    const page = pageOf(zeros, 0, zeros.length, 64 * 1024, "utf8");
    expect(jsonBytes(page.text)).toBeLessThanOrEqual(64 * 1024);
    expect(page.end).toBeGreaterThan(9000);
    const text = Buffer.from("é".repeat(1000));
    let at = 0;
    const pieces: string[] = [];
    while (at < text.length) {
      const p = pageOf(text, at, 101, 1_000_000, "utf8");
      pieces.push(p.text);
      at = p.end;
    }
    expect(pieces.join("")).toBe("é".repeat(1000));
  });

  it("pages base64 exactly and previews long output with a pointer", () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256));
    const a = pageOf(data, 0, 5000, 4000, "base64");
    const b = pageOf(data, a.end, 5000, 4000, "base64");
    const c = pageOf(data, b.end, 5000, 4000, "base64");
    const all = Buffer.concat([a, b, c].map((p) => Buffer.from(p.text, "base64")));
    expect(c.end).toBe(5000);
    expect(all.equals(data)).toBe(true);
    expect(preview(Buffer.alloc(100_000, 0x61), "see structuredContent")).toMatch(/first 16384 of 100000 bytes/);
  });

  it("refuses an answer above the ceiling with LIMIT_EXCEEDED and a hint", () => {
    expect(codeOf(() => checkResultSize("t", { text: "x".repeat(1000) }))).toBe("ok");
    const big = { text: "\u0001".repeat(MAX_RESULT_BYTES / 6 + 10) };
    expect(codeOf(() => checkResultSize("t", big, "page it"))).toBe("LIMIT_EXCEEDED");
  });
});
