#!/usr/bin/env node
// boxd's command line: serve (MCP over stdio), images, doctor, ssh-token, ls, rm.
import { Command } from "commander";
import { imagesBuild, imagesList } from "./cli/images-command.js";
import { type Config, loadConfig, SETTINGS, type SettingKey } from "./config.js";
import { DEFAULT_SSH_PORT } from "./config-ssh.js";
import { BoxdError } from "./errors.js";
import { createLogger } from "./log.js";

function withSettings(cmd: Command): Command {
  for (const spec of Object.values(SETTINGS)) cmd.option(spec.flag, `${spec.description} (env ${spec.env})`);
  return cmd;
}

function configFrom(cmd: Command): Config {
  return loadConfig(undefined, cmd.optsWithGlobals() as Partial<Record<SettingKey, unknown>>);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("boxd")
    .description("Durable Linux sandboxes (boxes) for AI agents, over MCP")
    .showHelpAfterError();
  withSettings(program);
  addServe(program);
  addImages(program);
  addBoxCommands(program);
  await program.parseAsync(argv);
}

function addServe(program: Command): void {
  program
    .command("serve")
    .description(
      "serve MCP over stdio (what an MCP client spawns; see mcp.json), or with --http over Streamable HTTP at /mcp",
    )
    .option("--http", "serve Streamable HTTP at http://HOST:PORT/mcp (--host, --port; tokens from BOXD_TOKENS)")
    .option("--insecure-no-auth", "with --http and no tokens configured: serve without authentication (loopback only)")
    .option(
      "--ssh",
      `also serve SSH into boxes (port BOXD_SSH_PORT, default ${DEFAULT_SSH_PORT}; see \`boxd ssh-token\`)`,
    )
    .action(async (opts: { http?: boolean; insecureNoAuth?: boolean; ssh?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      if (opts.ssh && config.sshPort === undefined) config.sshPort = DEFAULT_SSH_PORT;
      if (opts.http) {
        const { serveHttp } = await import("./transports/http.js");
        await serveHttp(config, createLogger(config.logLevel), { insecureNoAuth: opts.insecureNoAuth === true });
        return;
      }
      const { serveStdio } = await import("./transports/stdio.js");
      await serveStdio(config, createLogger(config.logLevel));
    });
}

function addImages(program: Command): void {
  const images = program.command("images").description("box images");
  images
    .command("build")
    .description("build the box images locally (debootstrap base, no registry needed)")
    .option("-r, --runtime <runtime...>", "runtimes to build (default: node python golang ruby rust)")
    .option("-f, --force", "rebuild even when an image of the same definition exists")
    .action(async (opts: { runtime?: string[]; force?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      await imagesBuild(config, createLogger(config.logLevel), opts);
    });
  images
    .command("ls")
    .description("list box images and whether they are built")
    .action(async (_opts, cmd: Command) => {
      const config = configFrom(cmd);
      await imagesList(config, createLogger(config.logLevel));
    });
}

/** doctor, ls and rm: commands that look at this instance's state. */
function addBoxCommands(program: Command): void {
  program
    .command("doctor")
    .description("check the engine, images and data dir, and say how to fix what is wrong")
    .action(async (_opts, cmd: Command) => {
      const config = configFrom(cmd);
      const { doctor } = await import("./cli/doctor-command.js");
      process.exitCode = await doctor(config, createLogger("error"));
    });

  program
    .command("ssh-token")
    .description('print the SSH password of tenant "local" (stdio), kept in the data dir; --renew replaces it')
    .option("--renew", "make a new token (the old one stops working at once)")
    .action(async (opts: { renew?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const { localSshToken } = await import("./ssh/local-token.js");
      process.stdout.write(`${localSshToken(config.dataDir, { renew: opts.renew === true })}\n`);
    });

  program
    .command("ls")
    .description("list this instance's boxes")
    .action(async (_opts, cmd: Command) => {
      const config = configFrom(cmd);
      const { listBoxes } = await import("./cli/box-commands.js");
      await listBoxes(config, createLogger(config.logLevel));
    });

  program
    .command("rm")
    .description("delete boxes by id or name")
    .argument("<box...>", "box ids or names")
    .action(async (boxes: string[], _opts, cmd: Command) => {
      const config = configFrom(cmd);
      const { removeBoxes } = await import("./cli/box-commands.js");
      process.exitCode = await removeBoxes(config, createLogger(config.logLevel), boxes);
    });
}

main(process.argv).catch((err: unknown) => {
  const text = err instanceof BoxdError ? err.toText() : err instanceof Error ? err.message : String(err);
  process.stderr.write(`boxd: ${text}\n`);
  process.exit(1);
});
