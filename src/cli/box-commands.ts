// `boxd ls` and `boxd rm`: operator views of this instance's boxes, through the same services as MCP.
import { createApp } from "../app.js";
import type { Config } from "../config.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";

export async function listBoxes(config: Config, log: Logger): Promise<void> {
  const app = await createApp(config, log, { background: false });
  try {
    const rows = app.services.boxes.listAll().map((b) => app.services.boxes.view(b));
    if (rows.length === 0) {
      process.stdout.write("no boxes\n");
      return;
    }
    process.stdout.write(`${"ID".padEnd(18)}${"NAME".padEnd(24)}${"RUNTIME".padEnd(14)}${"STATUS".padEnd(10)}TENANT\n`);
    for (const b of app.services.boxes.listAll()) {
      const v = app.services.boxes.view(b);
      process.stdout.write(
        `${v.id.padEnd(18)}${v.name.padEnd(24)}${v.runtime.padEnd(14)}${v.status.padEnd(10)}${b.tenant}\n`,
      );
    }
  } finally {
    await app.close();
  }
}

export async function removeBoxes(config: Config, log: Logger, refs: string[]): Promise<number> {
  const app = await createApp(config, log, { background: false });
  let failed = 0;
  try {
    for (const ref of refs) {
      const match = app.services.boxes.listAll().find((b) => b.id === ref || b.name === ref);
      try {
        if (!match) throw new BoxdError("NOT_FOUND", `no box "${ref}"`);
        await app.services.boxes.delete(match.tenant, match.id);
        process.stdout.write(`deleted ${match.id} (${match.name})\n`);
      } catch (err) {
        failed++;
        process.stderr.write(`boxd rm ${ref}: ${err instanceof BoxdError ? err.toText() : String(err)}\n`);
      }
    }
  } finally {
    await app.close();
  }
  return failed ? 1 : 0;
}
