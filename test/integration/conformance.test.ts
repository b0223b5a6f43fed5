// The official MCP conformance suite against `boxd serve --http --insecure-no-auth`: every server scenario
// that applies to boxd must pass. The others exercise the suite's own reference server (its test_* tools,
// test:// resources and test_* prompts, which boxd does not and should not have); each is listed with why,
// and a new scenario in a new suite version fails here until it is sorted into one list or the other.
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertSuiteInstalled,
  listServerScenarios,
  runScenario,
  type Served,
  serveInsecureHttp,
} from "../helpers/conformance.js";

/** Scenarios that test boxd's own surface. README's "Conformance" section lists the same. */
const APPLICABLE = [
  "server-initialize",
  "ping",
  "logging-set-level",
  "completion-complete",
  "tools-list",
  "resources-list",
  "prompts-list",
  "server-sse-multiple-streams",
  "dns-rebinding-protection",
];

/** Scenarios that call the suite's reference fixtures by name: what they need, in one word each. */
const NOT_APPLICABLE: Record<string, string> = {
  "tools-call-simple-text": "test_simple_text",
  "tools-call-image": "test_image_content",
  "tools-call-audio": "test_audio_content",
  "tools-call-embedded-resource": "test_embedded_resource",
  "tools-call-mixed-content": "test_multiple_content_types",
  "tools-call-with-logging": "test_tool_with_logging",
  "tools-call-error": "test_error_handling",
  "tools-call-with-progress": "test_tool_with_progress",
  "tools-call-sampling": "test_sampling",
  "tools-call-elicitation": "test_elicitation",
  "json-schema-2020-12": "json_schema_2020_12_tool",
  "elicitation-sep1034-defaults": "test_elicitation_sep1034_defaults",
  "elicitation-sep1330-enums": "test_elicitation_sep1330_enums",
  "server-sse-polling": "test_reconnection",
  "resources-read-text": "test://static-text",
  "resources-read-binary": "test://static-binary",
  "resources-templates-read": "test://template/{id}/data",
  "resources-subscribe": "test://watched-resource",
  "resources-unsubscribe": "test://watched-resource",
  "prompts-get-simple": "test_simple_prompt",
  "prompts-get-with-args": "test_prompt_with_arguments",
  "prompts-get-embedded-resource": "test_prompt_with_embedded_resource",
  "prompts-get-with-image": "test_prompt_with_image",
};

describe("MCP conformance suite (@modelcontextprotocol/conformance on Node 22)", () => {
  let served: Served | undefined;

  beforeAll(async () => {
    assertSuiteInstalled();
    served = await serveInsecureHttp();
  });
  afterAll(async () => {
    if (!served) return;
    if (served.child.exitCode === null && served.child.signalCode === null) {
      const exited = new Promise((resolve) => served?.child.once("exit", resolve));
      served.child.kill("SIGTERM");
      await exited;
    }
    rmSync(served.dataDir, { recursive: true, force: true });
  });

  it("sorts every server scenario of the suite into applicable or not, and README lists each", async () => {
    const all = await listServerScenarios();
    expect(all.length).toBeGreaterThan(20);
    expect([...all].sort()).toEqual([...APPLICABLE, ...Object.keys(NOT_APPLICABLE)].sort());
    const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Conformance"));
    expect(section.length).toBeGreaterThan(0);
    for (const s of all) expect(section, `README's Conformance section names ${s}`).toContain(`\`${s}\``);
  });

  it.each(APPLICABLE)("passes %s", async (scenario) => {
    const { exitCode, checks } = await runScenario(served?.url ?? "", scenario);
    const bad = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
    expect(bad.map((c) => `${c.id}: ${c.status} ${c.errorMessage ?? ""}`)).toEqual([]);
    expect(checks.filter((c) => c.status === "SUCCESS").length).toBeGreaterThan(0);
    expect(exitCode).toBe(0);
  });
});
