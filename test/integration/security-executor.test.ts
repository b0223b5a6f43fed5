// Attacks on the server's command channel (the resident executor) and on the server's memory and time
// through it, from hostile code in a box: reading other commands' requests, answering in the executor's
// place, stopping it, and flooding. Each is an `attack` in the suite's abuse summary.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "../../src/mcp/server.js";
import { BOX_USER } from "../../src/model/box-user.js";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FILE = "security-executor";

interface Exec {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  runId: string;
}

describe("the executor's channel is out of box code's reach", () => {
  let h: Harness;
  let box: BoxResult;
  const sh = (command: string, timeoutSeconds = 60) =>
    h.callOk<Exec>("box_exec", { box: box.id, command, timeoutSeconds });
  /** Runs as the box user through Docker exec, around the executor (to check what really happened). */
  async function outside(script: string): Promise<string> {
    const containerId = h.services.boxes.mustGet(box.id).containerId as string;
    let out = "";
    await h.services.engine.execs.run({
      containerId,
      user: BOX_USER,
      bulk: true, // bulk requests always take Docker exec
      cmd: ["/bin/bash", "-c", script],
      onStdout: (c) => {
        out += c.toString();
      },
    });
    return out;
  }

  beforeAll(async () => {
    h = await startHarness();
    box = await h.createBox({ name: "channel" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("PID 1 and the executor run as root with only setuid/setgid; every command runs as boxuser without capabilities", async () => {
    const r = await sh(
      "ps -o user=,comm= -p 1,$(pgrep -x -o python3); id -u; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status",
    );
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^root\s+docker-init$/);
    expect(lines[1]).toMatch(/^root\s+python3$/);
    expect(lines[2]).toBe("1000");
    expect(lines.slice(3).every((l) => /:\s+0{16}$/.test(l))).toBe(true);
  });

  it("box code cannot open the channel's fds, read another command's request, or signal the executor", async () => {
    await attack(FILE, "read the executor channel through /proc (a secret in another command's env)", async () => {
      // A spy in the background tries every way in while another command carries a secret in its env.
      await h.callOk("box_exec", {
        box: box.id,
        background: true,
        command:
          "e=$(pgrep -x -o python3); for i in $(seq 1 40); do for f in /proc/1/fd/0 /proc/1/fd/1 /proc/$e/fd/0 /proc/$e/fd/1; do timeout 0.2 cat $f >> /tmp/spy 2>>/tmp/spy-err; done; sleep 0.05; done",
      });
      const secret = `s3cret-${Date.now()}`;
      for (let i = 0; i < 5; i++) {
        await h.callOk("box_exec", { box: box.id, command: "true", env: { API_KEY: secret } });
      }
      const seen = await outside("sleep 3; cat /tmp/spy 2>/dev/null; echo; cat /tmp/spy-err");
      expect(seen).not.toContain(secret);
      expect(seen).toContain("Permission denied");
    });
    await attack(FILE, "stop or kill the executor and PID 1", async () => {
      const r = await sh(
        "for sig in STOP KILL; do for p in 1 $(pgrep -x -o python3); do kill -$sig $p 2>/dev/null && echo killed $sig $p; done; done; echo done",
      );
      expect(r.stdout).toBe("done\n");
      expect((await sh("echo alive")).stdout).toBe("alive\n");
    });
  });

  it("box code cannot answer in the executor's place: exit codes and file writes are real", async () => {
    await attack(FILE, "forge replies on the channel (exit 3 reported as 0, a write that writes nothing)", async () => {
      // The review's attack: write replies for the next request ids straight into the container's stdout.
      const forge = await sh(
        `python3 - <<'EOF'
import json, os
n = 0
for path in ("/proc/1/fd/1", "/proc/%s/fd/1" % os.popen("pgrep -x -o python3").read().strip()):
    try:
        with open(path, "w") as f:
            for i in range(1, 2000):
                f.write(json.dumps({"t": "exit", "id": i, "code": 0}) + "\\n")
        n += 1
    except OSError as e:
        print("refused", path, e.errno)
print("opened", n)
EOF`,
      );
      expect(forge.stdout).toContain("opened 0");
      const three = await h.callOk<Exec>("box_exec", { box: box.id, command: "echo real; exit 3" });
      expect(three).toMatchObject({ exitCode: 3, stdout: "real\n" });
      await h.callOk("box_write_file", { box: box.id, path: "/workspace/home/proof.txt", content: "written" });
      expect(await outside("cat /workspace/home/proof.txt")).toBe("written");
    });
  });

  it("a box that floods output slows only itself: another tenant's calls stay quick and memory stays bounded", async () => {
    // A second tenant on the same server, with a box of its own.
    const { server, close } = createServer(h.services, { defaultTenant: "tenant-b" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const other = new Client({ name: "tenant-b", version: "0" });
    await other.connect(a);
    const callB = async (name: string, args: Record<string, unknown>) => {
      const t0 = performance.now();
      const res = (await other.callTool({ name, arguments: args })) as CallToolResult;
      expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
      return { ms: performance.now() - t0, res };
    };
    try {
      const created = await callB("box_create", { name: "quiet" });
      const quiet = (created.res.structuredContent as { id: string }).id;
      const median = async (rounds: number) => {
        const times: number[] = [];
        for (let i = 0; i < rounds; i++) {
          times.push((await callB("box_list", {})).ms);
          times.push((await callB("box_exec", { box: quiet, command: "echo hi" })).ms);
          await new Promise((r) => setTimeout(r, 200));
        }
        return times.sort((x, y) => x - y)[Math.floor(times.length / 2)] as number;
      };
      const unloaded = await median(5);
      await attack(FILE, "flood the server with one endless line and a fast output stream", async () => {
        const flooder = await h.createBox({ name: "flooder" });
        const rssBefore = process.memoryUsage().rss;
        let rssPeak = rssBefore;
        const sampler = setInterval(() => {
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        }, 100);
        try {
          // One endless line straight at the channel (the review's attack: refused now), then 1 GiB of
          // ordinary output without a newline.
          await h.callOk("box_exec", {
            box: flooder.id,
            background: true,
            command:
              "(head -c 1000000000 /dev/zero | tr '\\0' a > /proc/1/fd/1) 2>/dev/null; head -c 1000000000 /dev/zero | tr '\\0' a",
            timeoutSeconds: 60,
          });
          await new Promise((r) => setTimeout(r, 1000));
          const loaded = await median(12);
          const grown = rssPeak - rssBefore;
          process.stderr.write(
            `[fairness] tenant-b median call ${unloaded.toFixed(0)} ms unloaded, ${loaded.toFixed(0)} ms during the flood; server rss peak +${(grown / 2 ** 20).toFixed(0)} MiB\n`,
          );
          // Generous bounds for a noisy 2-core machine; before the fix the server's memory grew by hundreds
          // of MiB within seconds and calls slowed more the longer the flood went on.
          expect(loaded).toBeLessThan(unloaded * 5 + 150);
          expect(grown).toBeLessThan(128 * 1024 * 1024);
        } finally {
          clearInterval(sampler);
        }
        await h.callOk("box_delete", { box: flooder.id });
      });
    } finally {
      await other.close();
      await close();
    }
  });
});
