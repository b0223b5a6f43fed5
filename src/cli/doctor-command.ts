// `boxd doctor`: checks what boxd needs and says how to fix each thing that is wrong.
import { accessSync, constants, mkdirSync } from "node:fs";
import { GVISOR_HINT } from "../box/isolation.js";
import { type Config, dockerEnvSummary, SETTINGS } from "../config.js";
import { DockerEngine } from "../docker/engine.js";
import { type ImageSet, loadImageSet, RUNTIMES } from "../images/definitions.js";
import type { Logger } from "../log.js";
import { loadAuthorizedKeys } from "../ssh/authorized-keys.js";
import { loadOrCreateHostKey } from "../ssh/host-key.js";

/** `optional`: a feature that is off is said, not counted as a problem. */
type Check = { ok: boolean; what: string; fix?: string; optional?: boolean };

export async function doctor(config: Config, log: Logger): Promise<number> {
  const checks: Check[] = [];
  const engine = new DockerEngine(log);
  let engineOk = false;
  try {
    const info = await engine.info();
    engineOk = true;
    checks.push({
      ok: true,
      what: `Docker engine ${info.serverVersion} (API ${info.apiVersion}, ${info.cpus} CPUs, cgroup v${info.cgroupVersion}, ${info.storageDriver}) via ${dockerEnvSummary()}`,
    });
    checks.push(gvisorCheck(info.runtimes, config));
  } catch (err) {
    checks.push({
      ok: false,
      what: `Docker engine not reachable via ${dockerEnvSummary()}: ${(err as Error).message.split(". ")[0]}`,
      fix: "on Debian/Ubuntu as root: `bash tools/provision-engine.sh` (installs docker.io and starts dockerd); elsewhere install Docker and start it, or set DOCKER_HOST",
    });
  }
  if (engineOk) {
    const set = loadImageSet(config.baseImage);
    checks.push(...(await imageChecks(engine, set)));
    checks.push(await enforcementCheck(engine, set.netd.ref, config));
  }
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    accessSync(config.dataDir, constants.W_OK);
    checks.push({ ok: true, what: `data dir ${config.dataDir} is writable` });
  } catch (err) {
    checks.push({
      ok: false,
      what: `data dir ${config.dataDir} is not writable (${(err as Error).message})`,
      fix: "set BOXD_DATA_DIR to a writable folder",
    });
  }
  checks.push(...sshChecks(config));

  for (const c of checks) {
    process.stdout.write(`${c.ok ? "ok  " : c.optional ? "off " : "FAIL"} ${c.what}\n`);
    if (c.fix) process.stdout.write(`     fix: ${c.fix}\n`);
  }
  process.stdout.write("\nsettings (env / flag = value):\n");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const value = (config as Record<string, unknown>)[key];
    process.stdout.write(`  ${spec.env} / ${spec.flag.split(" ")[0]} = ${JSON.stringify(value)}\n`);
  }
  const failed = checks.filter((c) => !c.ok && !c.optional).length;
  process.stdout.write(failed ? `\n${failed} problem(s) found\n` : "\nall good\n");
  return failed ? 1 : 0;
}

/** One check per runtime: its image is built. */
async function imageChecks(engine: DockerEngine, set: ImageSet): Promise<Check[]> {
  const checks: Check[] = [];
  for (const r of RUNTIMES) {
    const def = set.runtime(r);
    const present = await engine.images.inspect(def.ref);
    checks.push(
      present
        ? { ok: true, what: `image for runtime ${r}: ${def.ref}` }
        : {
            ok: false,
            what: `image for runtime ${r} (${def.ref}) is not built`,
            fix: `boxd images build --runtime ${r}`,
          },
    );
  }
  return checks;
}

/**
 * Which path enforces network policies, proved by running the helper's image in the engine host's network
 * namespace (not the server's own helper: that belongs to a running server) and reading its firewall.
 */
async function enforcementCheck(engine: DockerEngine, image: string, config: Config): Promise<Check> {
  const who = process.getuid?.() === 0 ? "as root" : `as uid ${process.getuid?.()} (no root needed)`;
  if (config.firewall === "off") {
    return {
      ok: false,
      optional: true,
      what: "network policy: NOT enforced (BOXD_FIREWALL=off): boxes get allow-all only",
      fix: "unset BOXD_FIREWALL to enforce policies with the network helper",
    };
  }
  if (!(await engine.images.inspect(image))) {
    return { ok: false, what: `network helper image ${image} is not built`, fix: "boxd images build" };
  }
  try {
    const count = "for b in nft legacy; do echo $b $(iptables-$b-save 2>/dev/null | grep -c '^:DOCKER'); done";
    const out = await engine.netd.probe(image, ["sh", "-c", count], "doctor");
    const counts = Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((l) => l.split(" ") as [string, string]),
    );
    const backend = Number(counts.legacy ?? 0) > Number(counts.nft ?? 0) ? "legacy" : "nft";
    return {
      ok: true,
      what: `network policy: enforced by the network helper (a ${image} container in the engine host's network namespace: iptables-${backend}, egress proxy, DNS gate); server ${who}`,
    };
  } catch (err) {
    return {
      ok: false,
      what: `network helper cannot run in the engine host's network namespace: ${(err as Error).message.split("\n")[0]}`,
      fix: 'the engine must allow --network host with NET_ADMIN (rootless Docker cannot: see README, "Any Docker engine"); or BOXD_FIREWALL=off (unsafe)',
    };
  }
}

/** Whether gVisor boxes can be made: a problem only when BOXD_ISOLATION asks for them by default. */
function gvisorCheck(runtimes: string[], config: Config): Check {
  if (runtimes.includes(config.gvisorRuntime)) {
    return {
      ok: true,
      what: `gVisor isolation available (engine runtime "${config.gvisorRuntime}"; default isolation ${config.isolation})`,
    };
  }
  return {
    ok: false,
    optional: config.isolation !== "gvisor",
    what: `gVisor isolation not available: the engine has no runtime "${config.gvisorRuntime}" (it has ${runtimes.join(", ")})`,
    fix: GVISOR_HINT,
  };
}

/** The SSH gateway: where clients connect, the host key fingerprint to check, and the keys file. */
function sshChecks(config: Config): Check[] {
  const checks: Check[] = [];
  try {
    const { fingerprint } = loadOrCreateHostKey(config.dataDir);
    const where =
      config.sshPort === undefined
        ? "off (set BOXD_SSH_PORT or run `boxd serve --ssh`)"
        : `ssh <box id or name>@${config.sshHost} -p ${config.sshPort}`;
    checks.push({ ok: true, what: `SSH gateway: ${where}; host key ${fingerprint} (ED25519)` });
  } catch (err) {
    checks.push({
      ok: false,
      what: `SSH host key in ${config.dataDir} cannot be read: ${(err as Error).message}`,
      fix: "remove the data dir's ssh_host_ed25519_key to make a new one (clients then see a new fingerprint)",
    });
  }
  if (config.sshAuthorizedKeys) {
    try {
      const { keys, warnings } = loadAuthorizedKeys(config.sshAuthorizedKeys);
      checks.push({ ok: true, what: `SSH keys file ${config.sshAuthorizedKeys}: ${keys.length} key(s)` });
      for (const w of warnings) checks.push({ ok: false, what: w, fix: `chmod 600 ${config.sshAuthorizedKeys}` });
    } catch (err) {
      checks.push({
        ok: false,
        what: (err as Error).message,
        fix: 'one key a line, each starting with its tenant: tenant="alice" ssh-ed25519 AAAA... comment',
      });
    }
  }
  return checks;
}
