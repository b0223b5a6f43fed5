// Isolation tiers: runc (the host kernel behind Docker's seccomp profile) or gVisor (runsc: a user-space
// kernel between box code and the host's). Chosen per box at create and fixed for its life. Root in a box
// is allowed only under gVisor, where a root process is root of gVisor's kernel, not of the host's.
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError, invalidArgument } from "../errors.js";
import { ISOLATIONS, type Isolation } from "../model/box.js";

export interface IsolationChoice {
  isolation: Isolation;
  root: boolean;
}

/** Checks box_create's isolation and root (pure): root is refused outside gVisor. */
export function chooseIsolation(input: { isolation?: string; root?: boolean }, fallback: Isolation): IsolationChoice {
  const isolation = (input.isolation ?? fallback) as Isolation;
  if (!ISOLATIONS.includes(isolation)) {
    throw invalidArgument(`unknown isolation "${input.isolation}": use runc or gvisor`);
  }
  const root = input.root ?? false;
  if (root && isolation !== "gvisor") {
    throw new BoxdError(
      "POLICY_DENIED",
      "root: true needs isolation: gvisor. Under runc a root process faces the host's kernel directly, so boxd never allows it there; create the box with isolation: gvisor (or install packages as boxuser, e.g. pip --user, npm prefix in home)",
    );
  }
  return { isolation, root };
}

/** How to enable gVisor, for every message that says it is missing. */
export const GVISOR_HINT =
  'on Debian/Ubuntu as root run `BOXD_GVISOR=1 bash tools/provision-engine.sh` (installs runsc and registers it with the engine); elsewhere install runsc and add it to /etc/docker/daemon.json `runtimes` with runtimeArgs ["--network=host"], then reload dockerd. `boxd doctor` checks';

/** The engine runtime each tier uses, and whether the engine has gVisor's. */
export class IsolationRuntimes {
  private known: { names: string[]; at: number } | null = null;

  constructor(
    private readonly engine: Pick<DockerEngine, "info">,
    private readonly gvisorRuntime: string,
  ) {}

  /** The engine runtime name for a tier (undefined: the engine's default, runc). */
  runtimeFor(isolation: Isolation): string | undefined {
    return isolation === "gvisor" ? this.gvisorRuntime : undefined;
  }

  /** Throws INVALID_ARGUMENT saying how to enable gVisor when the engine does not have its runtime. */
  async assertAvailable(isolation: Isolation): Promise<void> {
    if (isolation !== "gvisor") return;
    const names = await this.engineRuntimes();
    if (!names.includes(this.gvisorRuntime)) {
      throw invalidArgument(
        `isolation gvisor is not available: the engine has no runtime "${this.gvisorRuntime}" (it has ${names.join(", ") || "none"}); ${GVISOR_HINT}`,
      );
    }
  }

  /** The engine's runtimes, asked again after 10 s (an operator may register runsc while boxd runs). */
  private async engineRuntimes(): Promise<string[]> {
    if (!this.known || Date.now() - this.known.at > 10_000) {
      this.known = { names: (await this.engine.info()).runtimes, at: Date.now() };
    }
    return this.known.names;
  }
}
