// Stand-in HTTPS hosts for the secrets tests, made of this test run's own containers: a web server that
// answers every request with what it received (host, path, and each header's name with the SHA-256 of its
// value, so a secret attached on the way is proven without being sent back into the box), over HTTP on 80 and HTTPS on
// 443 with a certificate from the test's own CA (made here with openssl), and a DNS server that answers the
// given names with its address. Both live on a network in 198.51.100.0/24 (the slots stand-in-internet.ts
// never picks), so boxd's egress proxy reaches them from the host as it would a public host.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DockerEngine } from "../../src/docker/engine.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "../../src/docker/labels.js";
import { loadImageSet } from "../../src/images/definitions.js";
import { silentLogger } from "../../src/log.js";
import { createFreeNetwork, DNS_SERVER_SCRIPT, waitForDns } from "./stand-in-internet.js";
import { testRoot } from "./test-root.js";

const ECHO = `
import hashlib, json, os, ssl, sys, threading, http.server, socketserver
open("/tmp/c", "w").write(os.environ["CERT"]); open("/tmp/k", "w").write(os.environ["KEY"])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n: self.rfile.read(n)
        body = json.dumps({"host": self.headers.get("Host"), "path": self.path, "tls": isinstance(self.connection, ssl.SSLSocket),
                           "headers": [[k, hashlib.sha256(v.encode()).hexdigest()] for k, v in self.headers.items()]}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    do_GET = answer
    do_POST = answer
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
https = S(("0.0.0.0", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain("/tmp/c", "/tmp/k")
https.socket = ctx.wrap_socket(https.socket, server_side=True)
threading.Thread(target=https.serve_forever, daemon=True).start()
S(("0.0.0.0", 80), H).serve_forever()
`;

export interface EchoHosts {
  /** The web server's address. */
  web: string;
  /** The DNS server's address (BOXD_DNS_SERVERS). */
  dns: string;
  /** The test CA's certificate file (BOXD_EGRESS_UPSTREAM_CA_FILE). */
  caFile: string;
  close(): Promise<void>;
}

/** Issues a test CA and one server certificate for `names`, in `dir`. */
function issue(dir: string, names: string[]): { cert: string; key: string } {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key");
  ssl("req", "-x509", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=secrets test CA");
  ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "web.key");
  const san = names.map((n) => `DNS:${n}`).join(",");
  const cert = ssl(
    ...["req", "-new", "-x509", "-key", "web.key", "-subj", `/CN=${names[0]}`, "-addext", `subjectAltName=${san}`],
    ...["-CA", "ca.crt", "-CAkey", "ca.key", "-days", "2"],
  );
  return { cert: cert.toString(), key: readFileSync(path.join(dir, "web.key"), "utf8") };
}

export async function startEchoHosts(names: string[]): Promise<EchoHosts> {
  const engine = new DockerEngine(silentLogger);
  const instance = `echo${randomBytes(4).toString("hex")}`;
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", instance), "secrets stand-in hosts");
  const dir = mkdtempSync(path.join(testRoot(), "echo-ca-"));
  const { cert, key } = issue(dir, names);
  const labels = { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: instance };
  const image = loadImageSet("").runtime("python").ref;
  const made: { containers: string[]; network: string | null } = { containers: [], network: null };
  const close = async () => {
    for (const c of made.containers) await engine.containers.remove(c);
    if (made.network) await engine.networks.remove(made.network);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const name = `${instance}-net`;
    const host = await createFreeNetwork(engine, name, labels, ["198.51.100.240", "198.51.100.0"]);
    made.network = name;
    const web = host(10);
    const dns = host(13);
    const run = async (name: string, ip: string, cmd: string[], env: string[]) => {
      const id = await engine.containers.create({
        name: `${instance}-${name}`,
        image,
        labels,
        env,
        user: "0:0",
        workingDir: "/",
        hostname: name,
        cmd,
        network: { name: made.network as string, ip },
        limits: { nanoCpus: 5e8, memoryBytes: 256 * 1024 ** 2, pids: 256 },
        capAdd: ["NET_BIND_SERVICE", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "FOWNER"],
      });
      made.containers.push(id);
      await engine.containers.start(id);
    };
    await run("web", web, ["python3", "-c", ECHO], [`CERT=${cert}`, `KEY=${key}`]);
    await run("dns", dns, ["python3", "-c", DNS_SERVER_SCRIPT, ...names.map((n) => `${n}=${web}`)], []);
    const until = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://${web}/`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error(`stand-in host ${web} did not come up`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitForDns(dns, names[0] as string, until);
    return { web, dns, caFile: path.join(dir, "ca.crt"), close };
  } catch (err) {
    await close();
    throw err;
  }
}
