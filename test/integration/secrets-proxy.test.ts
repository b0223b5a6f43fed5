// attachHeaders end to end: stand-in HTTPS hosts made by this test (their own test CA, on a network in
// 198.51.100.0/24, names served by the test's DNS) and boxes whose requests must arrive there with the
// injected header, from curl, Python and Node, while nothing in the box (env, files, /proc, the process
// list) ever holds the secret, other hosts stay spliced (their real certificate), the policy still wins,
// a rotated secret applies at once, and the box cannot read the CA's key.
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACEHOLDER_KEY } from "../../src/secrets/provider-keys.js";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";
import { type EchoHosts, startEchoHosts } from "../helpers/header-echo-hosts.js";

const FILE = "secrets-proxy";
const API = "api.secret.test";
const OTHER = "other.secret.test";

interface Exec {
  exitCode: number;
  stdout: string;
  stderr: string;
}
interface Echo {
  host: string;
  path: string;
  tls: boolean;
  headers: [string, string][];
}
/** The SHA-256 of each value the stand-in host received for a header (it sends back no value itself). */
const header = (e: Echo, name: string) =>
  e.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
/** A secret placeholder as attachHeaders take it: \${secret:NAME}. */
const ph = (name: string) => `\${secret:${name}}`;
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const NODE_GET = `
const mod = process.argv[2].startsWith("https") ? require("https") : require("http");
mod.get(process.argv[2], { headers: { authorization: "Bearer from-the-box" } }, (res) => {
  let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => console.log(b));
}).on("error", (e) => { console.log("ERR " + e.message); process.exit(1); });
`;
const NODE_ISSUER = `
const tls = require("tls");
const s = tls.connect({ host: process.argv[2], port: 443, servername: process.argv[2], rejectUnauthorized: false }, () => {
  console.log(s.getPeerCertificate().issuer.CN); s.end();
});
s.on("error", (e) => console.log("ERR " + e.message));
`;
const PY_GET = `
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer from-the-box"})
print(urllib.request.urlopen(req, timeout=30).read().decode())
`;

describe("attachHeaders through the egress proxy", () => {
  let hosts: EchoHosts;
  let h: Harness;
  let box: BoxResult;
  const token = `tok-${randomBytes(12).toString("hex")}`;
  const [half1, half2] = [token.slice(0, 10), token.slice(10)];

  const sh = (b: string, command: string) => h.callOk<Exec>("box_exec", { box: b, command, timeoutSeconds: 120 });
  const curlJson = async (b: string, url: string, extra = "") => {
    const r = await sh(b, `curl -sS -m 30 ${extra} ${url}`);
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout) as Echo;
  };

  const serverEnv = () => ({ BOXD_DNS_SERVERS: hosts.dns, BOXD_EGRESS_UPSTREAM_CA_FILE: hosts.caFile });

  beforeAll(async () => {
    hosts = await startEchoHosts([API, OTHER, "api.anthropic.com"]);
    h = await startHarness({ env: serverEnv(), keepData: true });
    await h.callOk("secret_set", { name: "API_TOKEN", value: token });
    box = await h.createBox({
      name: "with-headers",
      attachHeaders: {
        [API]: { Authorization: `Bearer ${ph("API_TOKEN")}`, "X-Boxd-Test": `fixed ${ph("API_TOKEN")}` },
      },
    });
  }, 240_000);

  afterAll(async () => {
    const dataDir = h?.dataDir;
    await h?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await hosts?.close();
  });

  it("curl, Python and Node reach the host with the header attached (theirs replaced), over HTTPS and HTTP", async () => {
    expect(box.attachHeaders).toEqual({ [API]: ["Authorization", "X-Boxd-Test"] });
    expect(JSON.stringify(box)).not.toContain(token);
    const viaCurl = await curlJson(box.id, `https://${API}/curl`, `-H "Authorization: Bearer from-the-box"`);
    expect(viaCurl.tls).toBe(true);
    expect(header(viaCurl, "authorization")).toEqual([sha(`Bearer ${token}`)]);
    expect(header(viaCurl, "x-boxd-test")).toEqual([sha(`fixed ${token}`)]);
    await h.callOk("box_write_file", { box: box.id, path: "get.js", content: NODE_GET });
    await h.callOk("box_write_file", { box: box.id, path: "get.py", content: PY_GET });
    const viaNode = await sh(box.id, `node get.js https://${API}/node`);
    expect(viaNode.exitCode, viaNode.stdout + viaNode.stderr).toBe(0);
    expect(header(JSON.parse(viaNode.stdout) as Echo, "authorization")).toEqual([sha(`Bearer ${token}`)]);
    const viaPython = await sh(box.id, `python3 get.py https://${API}/python`);
    expect(viaPython.exitCode, viaPython.stderr).toBe(0);
    expect(header(JSON.parse(viaPython.stdout) as Echo, "authorization")).toEqual([sha(`Bearer ${token}`)]);
    const plain = await curlJson(box.id, `http://${API}/plain`);
    expect(plain.tls).toBe(false);
    expect(header(plain, "authorization")).toEqual([sha(`Bearer ${token}`)]);
    // Keep-alive: every request on one connection gets the header, not just the first.
    const two = await sh(box.id, `curl -sS -m 30 https://${API}/one https://${API}/two`);
    expect(two.stdout.split(sha(`Bearer ${token}`)).length - 1).toBe(2);
  });

  it("other hosts are not intercepted: their own certificate, no header", async () => {
    await h.callOk("box_write_file", { box: box.id, path: "issuer.js", content: NODE_ISSUER });
    expect((await sh(box.id, `node issuer.js ${OTHER}`)).stdout.trim()).toBe("secrets test CA");
    expect((await sh(box.id, `node issuer.js ${API}`)).stdout.trim()).toMatch(/^boxd egress CA /);
    // The box does not trust the test CA: the real certificate reached it, unchanged.
    const strict = await sh(box.id, `curl -sS -m 30 https://${OTHER}/ 2>&1; echo rc=$?`);
    expect(strict.stdout).toMatch(/certificate|rc=60/);
    const other = await curlJson(box.id, `-k https://${OTHER}/`);
    expect(header(other, "authorization")).toEqual([]);
  });

  it("nothing in the box holds the secret: env, files, /proc/*/environ, the process list; no CA key", async () => {
    await attack(FILE, "box looks for an attached secret in its env, files, /proc and ps", async () => {
      // The secret is searched for in halves joined by the shell, so the searching command's own text
      // never holds it; the outputs are checked here, outside the box.
      const env = await sh(box.id, "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; ps auxeww");
      expect(env.stdout).not.toContain(token);
      expect(env.stdout).toContain("NODE_EXTRA_CA_CERTS=/etc/boxd/egress-ca.pem");
      const files = await sh(
        box.id,
        `A=${half1}; B=${half2}; grep -rIl --exclude-dir=proc --exclude-dir=sys "$A$B" /etc /workspace /tmp /root /home /var /opt /run /usr/local 2>/dev/null; echo done`,
      );
      expect(files.stdout.trim()).toBe("done");
    });
    await attack(FILE, "box reads the egress CA's private key", async () => {
      const r = await sh(
        box.id,
        "ls -la /etc/boxd; grep -rl 'PRIVATE KEY' /etc /workspace /tmp /root /home /var /opt /usr/local 2>/dev/null; find / -xdev -name 'ca.key' 2>/dev/null; echo done",
      );
      expect(r.stdout).not.toContain("PRIVATE KEY");
      expect(r.stdout).not.toContain("ca.key");
      expect(r.stdout).toContain("egress-ca.pem");
      expect(r.stdout.trim().endsWith("done")).toBe(true);
      // Root-owned: the box user cannot swap the certificate for another.
      const write = await sh(box.id, "echo x >> /etc/boxd/egress-ca.pem 2>&1; echo rc=$?");
      expect(write.stdout).toContain("rc=1");
    });
    // Nor do boxd's own records of the box: its log (every command and its output) and its runs.
    const logs = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 1000 });
    expect(JSON.stringify(logs)).not.toContain(token);
    expect(JSON.stringify(await h.callOk("box_runs", { box: box.id, limit: 100 }))).not.toContain(token);
  });

  it("a rotated secret applies to the next request; a deleted one gets a 403 naming it", async () => {
    const rotated = `rot-${randomBytes(8).toString("hex")}`;
    await h.callOk("secret_set", { name: "API_TOKEN", value: rotated });
    expect(header(await curlJson(box.id, `https://${API}/`), "authorization")).toEqual([sha(`Bearer ${rotated}`)]);
    await h.callOk("secret_delete", { name: "API_TOKEN" });
    const gone = await sh(box.id, `curl -sS -m 30 -w ' %{http_code}' https://${API}/`);
    expect(gone.stdout).toContain("403");
    expect(gone.stdout).toContain("API_TOKEN");
    await h.callOk("secret_set", { name: "API_TOKEN", value: token });
  });

  it("the policy still wins: custom without the host, and deny-all, reach nothing", async () => {
    await attack(FILE, "attachHeaders used to reach a host the policy does not allow", async () => {
      const custom = await h.createBox({
        name: "custom-policy",
        networkPolicy: { mode: "custom", allowedDomains: [OTHER] },
        attachHeaders: { [API]: { Authorization: `Bearer ${ph("API_TOKEN")}` } },
      });
      const refused = await sh(custom.id, `curl -sS -m 20 https://${API}/ 2>&1; echo rc=$?`);
      expect(refused.stdout).not.toContain(token);
      expect(refused.stdout).not.toMatch(/rc=0/);
      const allowed = await sh(custom.id, `curl -sS -m 30 -k https://${OTHER}/`);
      expect(allowed.stdout).toContain(`"host": "${OTHER}"`);
      const closed = await h.createBox({
        name: "deny-all",
        networkPolicy: { mode: "deny-all" },
        attachHeaders: { [API]: { Authorization: `Bearer ${ph("API_TOKEN")}` } },
      });
      const none = await sh(closed.id, `curl -sS -m 10 https://${API}/ 2>&1; echo rc=$?`);
      expect(none.stdout).not.toMatch(/rc=0/);
    });
  });

  it("a hosted-harness fake holds only a placeholder key; the provider host gets the real one", async () => {
    // api.anthropic.com resolves to the stand-in host through this test's DNS server (BOXD_DNS_SERVERS):
    // no test-only setting in boxd, and nothing leaves the machine.
    const realKey = `sk-ant-${randomBytes(16).toString("hex")}`;
    await h.callOk("secret_set", { name: "ANTHROPIC_API_KEY", value: realKey });
    const agentBox = await h.createBox({
      name: "agent-fake",
      env: { ANTHROPIC_API_KEY: "boxd-placeholder" },
      attachHeaders: { "api.anthropic.com": { "x-api-key": ph("ANTHROPIC_API_KEY") } },
    });
    const fake = `
const https = require("https");
const req = https.request("https://api.anthropic.com/v1/messages", { method: "POST",
  headers: { "x-api-key": process.env.ANTHROPIC_API_KEY, "content-type": "application/json" } }, (res) => {
  let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => console.log(b));
});
req.on("error", (e) => { console.log("ERR " + e.message); process.exit(1); });
req.end(JSON.stringify({ model: "fake", messages: [] }));
`;
    await h.callOk("box_write_file", { box: agentBox.id, path: "fake-agent.js", content: fake });
    const run = await sh(agentBox.id, "node fake-agent.js");
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const got = JSON.parse(run.stdout) as Echo;
    expect(got.path).toBe("/v1/messages");
    expect(header(got, "x-api-key")).toEqual([sha(realKey)]);
    const env = await sh(agentBox.id, "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'");
    expect(env.stdout).toContain("ANTHROPIC_API_KEY=boxd-placeholder");
    expect(env.stdout).not.toContain(realKey);
  });

  it("box_agent_run claude-code: the CLI gets a placeholder, the provider host the tenant's key", async () => {
    // A stand-in `claude` that calls the (stand-in) Anthropic API with the key in its env and reports, as
    // claude's stream-json, the SHA-256 of the x-api-key the host received and the key it held itself.
    const fakeClaude = `#!/usr/bin/env node
const https = require("https");
const key = process.env.ANTHROPIC_API_KEY || "";
const req = https.request("https://api.anthropic.com/v1/messages", { method: "POST",
  headers: { "x-api-key": key, "content-type": "application/json" } }, (res) => {
  let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => {
    const seen = JSON.parse(b).headers.filter(([k]) => k.toLowerCase() === "x-api-key").map(([, v]) => v).join(",");
    const text = "upstream saw " + seen + "; held " + key;
    for (const line of [
      { type: "system", subtype: "init", cwd: "/workspace/home", session_id: "s-1", tools: [], model: "fake" },
      { type: "assistant", message: { role: "assistant", content: [{ type: "text", text }] } },
      { type: "result", subtype: "success", is_error: false, result: text, session_id: "s-1",
        usage: { input_tokens: 1, output_tokens: 1 } },
    ]) console.log(JSON.stringify(line));
  });
});
req.on("error", (e) => { console.error("ERR " + e.message); process.exit(1); });
req.end("{}");
`;
    const realKey = `sk-ant-${randomBytes(16).toString("hex")}`;
    await h.callOk("secret_set", { name: "ANTHROPIC_API_KEY", value: realKey });
    const agentBox = await h.createBox({ name: "agent-real-path" });
    await h.callOk("box_write_file", { box: agentBox.id, path: ".local/bin/claude", content: fakeClaude, mode: "755" });
    const r = await h.callOk<{ status: string; output: string }>("box_agent_run", {
      box: agentBox.id,
      prompt: "say hi",
      harness: "claude-code",
      timeoutSeconds: 120,
    });
    expect(r.status, r.output).toBe("completed");
    expect(r.output).toContain(`upstream saw ${sha(realKey)}`);
    expect(r.output).toContain(`held ${PLACEHOLDER_KEY}`);
    const box2 = await h.callOk<BoxResult>("box_get", { box: agentBox.id });
    expect(box2.attachHeaders).toEqual({ "api.anthropic.com": ["x-api-key"] });
  });

  it("box_update adds attachHeaders to a running box (CA installed then) and removes them", async () => {
    const later = await h.createBox({ name: "later" });
    const before = await curlJson(later.id, `-k https://${API}/`);
    expect(header(before, "authorization")).toEqual([]);
    const updated = await h.callOk<BoxResult>("box_update", {
      box: later.id,
      attachHeaders: { "*.secret.test": { Authorization: `Bearer ${ph("API_TOKEN")}` } },
    });
    expect(updated.attachHeaders).toEqual({ "*.secret.test": ["Authorization"] });
    expect(header(await curlJson(later.id, `https://${API}/`), "authorization")).toEqual([sha(`Bearer ${token}`)]);
    await h.callOk("box_update", { box: later.id, attachHeaders: null });
    const after = await curlJson(later.id, `-k https://${API}/`);
    expect(header(after, "authorization")).toEqual([]);
  });

  it("after a server restart the box's headers, rules and CA are in force again", async () => {
    const dataDir = h.dataDir;
    // The server goes away, its boxes stay (as when it is restarted); the next one takes over the data dir.
    await h.client.close();
    await h.app.close();
    h = await startHarness({ dataDir, keepData: true, env: serverEnv() });
    expect(header(await curlJson(box.id, `https://${API}/`), "authorization")).toEqual([sha(`Bearer ${token}`)]);
  });
});
