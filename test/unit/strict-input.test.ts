// The suggestion behind every unknown-field refusal (src/mcp/strict-input.ts): other products' names,
// spelling slips, case and snake_case variants, and "no suggestion" when nothing is close.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { closestField, strictInput, unknownFieldMessage } from "../../src/mcp/strict-input.js";

const exec = ["box", "command", "cwd", "env", "timeoutSeconds", "stdin", "background"];

describe("closestField", () => {
  it("maps other products' names to boxd's", () => {
    expect(closestField("timeout", exec)).toBe("timeoutSeconds");
    expect(closestField("timeoutMs", exec)).toBe("timeoutSeconds");
    expect(closestField("cmd", exec)).toBe("command");
    expect(closestField("workdir", exec)).toBe("cwd");
    expect(closestField("sandboxId", exec)).toBe("box");
    expect(closestField("envs", exec)).toBe("env");
    expect(closestField("language", ["box", "code", "lang", "timeoutSeconds"])).toBe("lang");
  });

  it("takes case, snake_case, prefixes and spelling slips", () => {
    expect(closestField("timeout_seconds", exec)).toBe("timeoutSeconds");
    expect(closestField("Command", exec)).toBe("command");
    expect(closestField("comand", exec)).toBe("command");
    expect(closestField("backgrond", exec)).toBe("background");
    expect(closestField("idleTimeout", ["box", "idleTimeoutSeconds", "keepAlive"])).toBe("idleTimeoutSeconds");
    // Of two prefix matches, the nearer in length wins.
    expect(closestField("waitSecond", ["box", "runId", "wait", "waitSeconds"])).toBe("waitSeconds");
    expect(closestField("wai", ["box", "runId", "wait", "waitSeconds"])).toBe("wait");
  });

  it("suggests nothing when nothing is close", () => {
    expect(closestField("isolation", exec)).toBeUndefined();
    expect(closestField("zzzzzz", exec)).toBeUndefined();
  });
});

describe("unknownFieldMessage", () => {
  it("names the field, the suggestion and its unit", () => {
    expect(unknownFieldMessage("timeout", exec)).toBe(
      "unknown field `timeout`; did you mean `timeoutSeconds` (seconds)?",
    );
    expect(unknownFieldMessage("timeout_ms", exec)).toBe(
      "unknown field `timeout_ms`; did you mean `timeoutSeconds` (in seconds, not milliseconds)?",
    );
    expect(unknownFieldMessage("isolation", ["box", "name"])).toBe(
      "unknown field `isolation`; valid fields here: box, name",
    );
  });
});

describe("strictInput", () => {
  it("refuses every unknown key with its own suggestion and keeps other errors as zod words them", () => {
    const schema = strictInput({ command: z.string(), timeoutSeconds: z.number().optional() });
    const r = schema.safeParse({ command: "ls", timeout: 5, cmd: "x" });
    expect(r.success).toBe(false);
    const text = r.error?.issues.map((i) => i.message).join("\n") ?? "";
    expect(text).toContain("unknown field `timeout`; did you mean `timeoutSeconds` (seconds)?");
    expect(text).toContain("unknown field `cmd`; did you mean `command`?");
    const typed = schema.safeParse({ command: 5 });
    expect(typed.error?.issues[0]?.message).toMatch(/expected string/);
    expect(schema.safeParse({ command: "ls", timeoutSeconds: 3 }).success).toBe(true);
  });
});
