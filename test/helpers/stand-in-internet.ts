// A stand-in internet for network tests, made of containers this test run creates itself (the machines
// have no internet, and tests never send traffic to addresses they did not create):
//   - "inet": a network on a documentation range (198.51.100.0/24) with web-a (.10) and web-b (.11): HTTP
//     on 80, HTTPS with a self-signed certificate on 443, a TCP echo on 7000; and dns (.53) answering
//     allowed.test / *.wild.test -> web-a, other.test -> web-b, evil.test -> the private target.
//   - "private": a network on a private range with one web server the boxes must never reach.
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DockerEngine } from "../../src/docker/engine.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "../../src/docker/labels.js";
import { loadImageSet } from "../../src/images/definitions.js";
import { silentLogger } from "../../src/log.js";
import { testRoot } from "./test-root.js";

const WEB = String.raw`
import socket, ssl, subprocess, sys, threading, http.server, socketserver
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do (the proxy must check every request)
    def do_GET(self):
        body = ("%s host=%s path=%s\n" % (name, self.headers.get("Host"), self.path)).encode()
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "/tmp/k", "-out", "/tmp/c", "-days", "2", "-subj", "/CN=" + name], check=True, capture_output=True)
https = S(("0.0.0.0", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain("/tmp/c", "/tmp/k")
https.socket = ctx.wrap_socket(https.socket, server_side=True)
def echo():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7000)); s.listen(16)
    while True:
        c, _ = s.accept()
        def serve(c=c):
            data = c.recv(4096); c.sendall(name.encode() + b" echo " + data); c.close()
        threading.Thread(target=serve, daemon=True).start()
threading.Thread(target=https.serve_forever, daemon=True).start()
threading.Thread(target=echo, daemon=True).start()
print("ready", flush=True)
S(("0.0.0.0", 80), H).serve_forever()
`;

export const DNS_SERVER_SCRIPT = String.raw`
import socket, struct, sys
table = dict(a.split("=") for a in sys.argv[1:])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
def lookup(n):
    if n in table: return table[n]
    for k, v in table.items():
        if k.startswith("*.") and n.endswith(k[1:]): return v
while True:
    q, addr = s.recvfrom(512)
    tid, flags, qd = struct.unpack(">HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    ip = lookup(".".join(labels).lower())
    if ip and qtype == 1:
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(ip)
        s.sendto(struct.pack(">HHHHHH", tid, 0x8180, 1, 1, 0, 0) + question + ans, addr)
    else:
        rcode = 0 if ip else 3
        s.sendto(struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, 0, 0, 0) + question, addr)
`;

export interface StandInInternet {
  webA: string;
  webB: string;
  dns: string;
  privateWeb: string;
  close(): Promise<void>;
}

export async function startStandInInternet(): Promise<StandInInternet> {
  const engine = new DockerEngine(silentLogger);
  // Registered like a boxd instance, so the suite's leak check covers these objects too.
  const instance = `inet${randomBytes(4).toString("hex")}`;
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", instance), "stand-in internet");
  const labels = { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: instance };
  const image = loadImageSet("").runtime("python").ref;
  const made: { containers: string[]; networks: string[] } = { containers: [], networks: [] };
  const close = async () => {
    for (const c of made.containers) await engine.containers.remove(c);
    for (const n of made.networks) await engine.networks.remove(n);
  };
  try {
    // Random places (slots 16-224 of 198.51.100.0/24; header-echo-hosts.ts takes 240 and 0).
    const inet = `${instance}-inet`;
    const pub = await createFreeNetwork(
      engine,
      inet,
      labels,
      randomBases((r) => `198.51.100.${16 * (1 + (r % 14))}`),
    );
    made.networks.push(inet);
    const privNet = `${instance}-private`;
    const priv = await createFreeNetwork(
      engine,
      privNet,
      labels,
      randomBases((r) => `10.99.${100 + (r % 100)}.0`),
    );
    made.networks.push(privNet);
    const hosts = {
      webA: pub(10),
      webB: pub(11),
      dns: pub(13),
      privateWeb: priv(10),
    };
    const run = async (name: string, net: string, ip: string, cmd: string[]): Promise<string> => {
      const id = await engine.containers.create({
        name: `${instance}-${name}`,
        image,
        labels,
        env: [],
        user: "0:0",
        workingDir: "/",
        hostname: name,
        cmd,
        network: { name: net, ip },
        limits: { nanoCpus: 5e8, memoryBytes: 256 * 1024 ** 2, pids: 256 },
        capAdd: ["NET_BIND_SERVICE", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "FOWNER"],
      });
      made.containers.push(id);
      await engine.containers.start(id);
      return id;
    };
    const webs = [
      await run("web-a", inet, hosts.webA, ["python3", "-c", WEB, "web-a"]),
      await run("web-b", inet, hosts.webB, ["python3", "-c", WEB, "web-b"]),
      await run("web-private", privNet, hosts.privateWeb, ["python3", "-c", WEB, "web-private"]),
    ];
    const dns = await run("dns", inet, hosts.dns, [
      "python3",
      "-c",
      DNS_SERVER_SCRIPT,
      `allowed.test=${hosts.webA}`,
      `*.wild.test=${hosts.webA}`,
      `other.test=${hosts.webB}`,
      `evil.test=${hosts.privateWeb}`,
    ]);
    // Wait until the web servers answer (openssl makes a key first) and the DNS server does: asked inside
    // each container, since the engine may be another machine's, whose container addresses this process
    // cannot reach.
    for (const id of webs) await ready(engine, id, "web");
    await ready(engine, dns, "dns");
    return { ...hosts, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const READY = String.raw`
import socket, sys, time, urllib.request
deadline = time.time() + 30
while True:
    try:
        if sys.argv[1] == "web":
            urllib.request.urlopen("http://127.0.0.1/", timeout=1).read()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
            s.sendto(bytes.fromhex("123401000001000000000000") + b"\x07allowed\x04test\x00\x00\x01\x00\x01", ("127.0.0.1", 53))
            s.recv(512)
        break
    except Exception:
        if time.time() > deadline: sys.exit(1)
        time.sleep(0.2)
`;

/** Waits (30 s at most) until the stand-in server in this container answers, asked from inside it. */
async function ready(engine: DockerEngine, containerId: string, kind: "web" | "dns"): Promise<void> {
  const r = await engine.execs.run({ containerId, cmd: ["python3", "-c", READY, kind], user: "0:0", bulk: true });
  if (r.exitCode !== 0) throw new Error(`stand-in ${kind} server in ${containerId.slice(0, 12)} did not come up`);
}

/** Host `n` of a /28 whose network address is `base` ("a.b.c.d"). */
export type HostOf = (n: number) => string;

/** Endless random candidates for a network's address, from one random byte each. */
function* randomBases(pick: (r: number) => string): Generator<string> {
  for (;;) yield pick(randomBytes(1)[0] ?? 0);
}

/**
 * Creates a /28 network (gateway .1) at the first of `bases` that no other network holds: a suite running
 * beside this one may hold a range already. Gives up after 30 taken candidates.
 */
export async function createFreeNetwork(
  engine: DockerEngine,
  name: string,
  labels: Record<string, string>,
  bases: Iterable<string>,
): Promise<HostOf> {
  let tried = 0;
  for (const base of bases) {
    const [a, b, c, d] = base.split(".").map(Number);
    const host: HostOf = (n) => `${a}.${b}.${c}.${(d ?? 0) + n}`;
    try {
      await engine.networks.create({ name, subnet: `${base}/28`, gateway: host(1), labels });
      return host;
    } catch (err) {
      if (!/overlap/i.test(String(err)) || ++tried >= 30) throw err;
    }
  }
  throw new Error(`no free /28 for network ${name}`);
}

/** Waits until the stand-in DNS server at `ip` answers a query for `name` (it starts after the web hosts). */
export async function waitForDns(ip: string, name: string, until: number): Promise<void> {
  const labels = name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const query = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels,
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket("udp4");
      const done = (ok: boolean) => {
        clearTimeout(timer);
        s.close();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), 500);
      s.on("error", () => done(false));
      s.on("message", (b) => done(b.length >= 2 && b.readUInt16BE(0) === 0x1234));
      s.send(query, 53, ip);
    });
    if (answered) return;
    if (Date.now() > until) throw new Error(`stand-in DNS server ${ip} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
