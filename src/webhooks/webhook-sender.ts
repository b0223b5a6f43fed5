// Delivers a run's final result to its webhook: one JSON POST per run, retried with a growing delay (1, 2,
// 4, 8, 16 s) while the receiver fails (network error, timeout, 408, 429 or 5xx) and stopped at the first
// 2xx, so a receiver that answers gets it once. Each attempt is checked and pinned again (webhook-target.ts),
// has its own timeout, and runs on its own: a receiver that hangs holds only its own delivery. Redirects
// are not followed (a 3xx is a failure). Deliveries live in memory: a server stop drops those still retrying.
import http from "node:http";
import https from "node:https";
import { type AllowedHost, parseAllowedHost } from "../allowed-host.js";
import type { BackgroundService } from "../background.js";
import type { Logger } from "../log.js";
import { type PinnedTarget, WebhookGuard, type WebhookTarget } from "./webhook-target.js";

export const WEBHOOK_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WebhookSenderDeps {
  guard: Pick<WebhookGuard, "pin" | "check">;
  timeoutSeconds: number;
  /** Where each delivery's outcome is told (the box log). */
  onLog: (boxId: string, level: "info" | "warn", message: string) => void;
  log: Logger;
  delaysMs?: number[];
}

type Attempt = { ok: true; status: number } | { ok: false; retry: boolean; why: string };

export class WebhookSender implements BackgroundService {
  private stopped = false;
  private readonly pending = new Set<() => void>();

  constructor(private readonly deps: WebhookSenderDeps) {}

  start(): void {}

  /** Drops deliveries still waiting for a retry and ends attempts in flight. */
  stop(): void {
    this.stopped = true;
    for (const cancel of [...this.pending]) cancel();
  }

  /** Checks a webhook as a caller passed it (INVALID_ARGUMENT when boxd will not send there). */
  check(url: string, headers?: Record<string, string>): Promise<WebhookTarget> {
    return this.deps.guard.check(url, headers);
  }

  /** Sends `payload` for the run in the background; resolves when it is delivered or given up. */
  deliver(boxId: string, runId: string, target: WebhookTarget, payload: unknown): Promise<boolean> {
    const body = Buffer.from(JSON.stringify(payload));
    return this.attempts(boxId, runId, target, body).catch((err: unknown) => {
      this.deps.log.warn("webhook delivery failed", { run: runId, error: String(err) });
      return false;
    });
  }

  private async attempts(boxId: string, runId: string, target: WebhookTarget, body: Buffer): Promise<boolean> {
    const delays = this.deps.delaysMs ?? WEBHOOK_DELAYS_MS;
    const where = `${target.url.origin}${target.url.pathname}`;
    for (let n = 1; n <= delays.length + 1 && !this.stopped; n++) {
      const r = await this.attempt(target, body, runId, n);
      if (r.ok) {
        this.deps.onLog(boxId, "info", `webhook for ${runId} delivered to ${where} (HTTP ${r.status}, attempt ${n})`);
        return true;
      }
      const last = !r.retry || n > delays.length;
      this.deps.onLog(
        boxId,
        "warn",
        `webhook for ${runId} to ${where}: attempt ${n} failed (${r.why})${last ? "; giving up" : "; retrying"}`,
      );
      if (last) return false;
      await this.pause(delays[n - 1] ?? 1000);
    }
    return false;
  }

  private async attempt(target: WebhookTarget, body: Buffer, runId: string, n: number): Promise<Attempt> {
    let pinned: PinnedTarget;
    try {
      pinned = await this.deps.guard.pin(target);
    } catch (err) {
      return { ok: false, retry: false, why: (err as Error).message };
    }
    const headers = {
      ...target.headers,
      "Content-Type": "application/json",
      "Content-Length": String(body.length),
      "User-Agent": "boxd-webhook",
      "X-Boxd-Run-Id": runId,
      "X-Boxd-Attempt": String(n),
    };
    return this.post(pinned, headers, body);
  }

  /** One POST to the checked address (TLS still verifies the URL's name); never throws. */
  private post(pin: PinnedTarget, headers: Record<string, string>, body: Buffer): Promise<Attempt> {
    const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o.all ? cb(null, [{ address: pin.address, family: pin.family }]) : cb(null, pin.address, pin.family);
    const request = pin.url.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve) => {
      const done = (a: Attempt) => {
        this.pending.delete(cancel);
        clearTimeout(timer);
        resolve(a);
      };
      const req = request(pin.url, { method: "POST", headers, lookup: lookup as never, agent: false }, (res) => {
        let read = 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on("close", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) done({ ok: true, status });
          else done({ ok: false, retry: status >= 500 || status === 408 || status === 429, why: `HTTP ${status}` });
        });
      });
      const cancel = () => {
        req.destroy();
        done({ ok: false, retry: false, why: "the server is stopping" });
      };
      const timer = setTimeout(() => {
        req.destroy();
        done({ ok: false, retry: true, why: `no answer within ${this.deps.timeoutSeconds} s` });
      }, this.deps.timeoutSeconds * 1000);
      this.pending.add(cancel);
      req.on("error", (err) => done({ ok: false, retry: true, why: err.message }));
      req.end(body);
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = () => {
        clearTimeout(timer);
        this.pending.delete(cancel);
        resolve();
      };
      const timer = setTimeout(cancel, ms);
      this.pending.add(cancel);
    });
  }
}

/** The sender for the config's webhook section (hosts already validated by the config). */
export function createWebhookSender(
  section: { allowedHosts: string[]; timeoutSeconds: number },
  onLog: WebhookSenderDeps["onLog"],
  log: Logger,
): WebhookSender {
  const allowed = section.allowedHosts.map(parseAllowedHost).filter((a): a is AllowedHost => a !== null);
  return new WebhookSender({ guard: new WebhookGuard(allowed), timeoutSeconds: section.timeoutSeconds, onLog, log });
}
