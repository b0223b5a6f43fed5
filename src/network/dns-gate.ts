// The DNS gate: boxes whose policy is not allow-all have their DNS queries (UDP port 53, whatever
// server they name) redirected here by the firewall. A deny-all box gets REFUSED at once (no lookup
// waits for timeouts); a custom box gets answers only for names its allowedDomains match, forwarded to
// the configured resolvers: other names are REFUSED, so DNS is no tunnel to any name server the box
// likes (a listed domain's own name servers still see the names asked under it).
import dgram from "node:dgram";
import type { Logger } from "../log.js";
import { type CompiledPolicy, domainAllowed } from "./policy.js";

export interface DnsGateDeps {
  policyFor: (sourceIp: string) => CompiledPolicy | null;
  /** Where allowed queries go (the configured resolvers). */
  upstreams: string[];
  log: Logger;
}

const UPSTREAM_TIMEOUT_MS = 4000;
const UPSTREAM_RESEND_MS = 1000;
const MAX_INFLIGHT = 256;
const REFUSED = 5;

/**
 * The question's name of a standard DNS query with exactly one question and no records but EDNS's
 * (lower case, no trailing dot); null for anything else, which is never forwarded: a second question
 * or an UPDATE could carry names the policy never saw.
 */
export function questionName(msg: Buffer): string | null {
  if (msg.length < 12 || ((msg[2] ?? 0) & 0xf8) !== 0) return null; // a query (QR 0), opcode QUERY
  if (msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) !== 0) return null;
  const labels: string[] = [];
  let p = 12;
  for (;;) {
    const len = msg[p];
    if (len === undefined || len > 63) return null; // compression is not used in questions
    if (len === 0) break;
    if (p + 1 + len > msg.length) return null;
    labels.push(msg.subarray(p + 1, p + 1 + len).toString("latin1"));
    p += 1 + len;
  }
  return p + 5 <= msg.length ? labels.join(".").toLowerCase() : null;
}

/** The query turned into an answer with `rcode` and no records (same id and question). */
export function refusal(query: Buffer, rcode = REFUSED): Buffer {
  const out = Buffer.from(query);
  out[2] = 0x80 | ((query[2] ?? 0) & 0x79); // QR, keep opcode and RD
  out[3] = 0x80 | rcode; // RA
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

export class DnsGate {
  private socket: dgram.Socket | null = null;
  private inflight = 0;
  port = 0;

  constructor(private readonly deps: DnsGateDeps) {}

  async start(): Promise<void> {
    const socket = dgram.createSocket("udp4");
    socket.on("message", (msg, from) => void this.answer(socket, msg, from));
    socket.on("error", (err) => this.deps.log.warn("dns gate socket error", { error: err.message }));
    await new Promise<void>((resolve) => socket.bind(0, "0.0.0.0", () => resolve()));
    this.socket = socket;
    this.port = socket.address().port;
  }

  stop(): void {
    this.socket?.close();
    this.socket = null;
  }

  private async answer(socket: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo): Promise<void> {
    const policy = this.deps.policyFor(from.address);
    if (!policy || msg.length < 12) return; // not a box of ours, or no DNS header: say nothing
    const name = questionName(msg);
    const reply = (b: Buffer) => socket.send(b, from.port, from.address);
    const allowed =
      name !== null && (policy.mode === "allow-all" || (policy.mode === "custom" && domainAllowed(policy, name)));
    if (!allowed || this.deps.upstreams.length === 0 || this.inflight >= MAX_INFLIGHT) {
      this.deps.log.debug("dns refused", { source: from.address, name });
      return reply(refusal(msg));
    }
    this.inflight++;
    try {
      reply(await forward(msg, this.deps.upstreams));
    } catch {
      reply(refusal(msg, 2)); // SERVFAIL: the resolvers did not answer
    } finally {
      this.inflight--;
    }
  }
}

/**
 * Sends the query to each resolver in turn (one fresh socket each) and returns the first answer. UDP may
 * lose the query or its answer: it is sent again every UPSTREAM_RESEND_MS until the resolver's time is up.
 */
async function forward(msg: Buffer, upstreams: string[]): Promise<Buffer> {
  for (const server of upstreams) {
    const answer = await new Promise<Buffer | null>((resolve) => {
      const s = dgram.createSocket("udp4");
      const send = () => s.send(msg, 53, server, () => {});
      const done = (b: Buffer | null) => {
        clearTimeout(timer);
        clearInterval(resend);
        s.close();
        resolve(b);
      };
      const timer = setTimeout(() => done(null), UPSTREAM_TIMEOUT_MS);
      const resend = setInterval(send, UPSTREAM_RESEND_MS);
      s.on("error", () => done(null));
      s.on("message", (b, rinfo) => {
        if (rinfo.address === server && b.length >= 2 && b.readUInt16BE(0) === msg.readUInt16BE(0)) done(b);
      });
      send();
    });
    if (answer) return answer;
  }
  throw new Error("no resolver answered");
}
