// The objects a pull brings into a box: packed on the server from the bare repository that holds the box's
// objects and the fetched commit, everything the fetched commit reaches minus what the box's own refs
// reach (git pack-objects --revs, not thin, so `git index-pack --stdin` in the box takes it as it is).
// Written to a file in the operation's temp folder, then streamed into the box.
import { execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { BoxdError } from "../errors.js";
import { FETCHED_REF } from "./remote-ops.js";

/** Packs into `file` what `sha` reaches and no ref of the box does; `env` is a local git command's. */
export async function packMissing(bareDir: string, sha: string, env: Record<string, string>, file: string) {
  const refs = await gitOut(bareDir, env, ["for-each-ref", "--format=%(objectname) %(refname)"]);
  const haves = refs
    .split("\n")
    .filter((l) => l && !l.endsWith(` ${FETCHED_REF}`))
    .map((l) => l.slice(0, l.indexOf(" ")));
  const git = spawn("git", ["pack-objects", "--revs", "--stdout", "-q"], { cwd: bareDir, env });
  let stderr = "";
  git.stderr.on("data", (c: Buffer) => {
    if (stderr.length < 8192) stderr += c.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    git.on("error", reject);
    git.on("close", resolve);
  });
  git.stdin.on("error", () => {});
  git.stdin.end([sha, "--not", ...haves, ""].join("\n"));
  await pipeline(git.stdout, createWriteStream(file, { mode: 0o600 }));
  const code = await exited;
  if (code !== 0) throw new BoxdError("INTERNAL", `packing the fetched commits failed (git: ${stderr.trim()})`);
}

function gitOut(cwd: string, env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new BoxdError("INTERNAL", `git ${args[0]} failed (git: ${String(stderr).trim()})`));
      else resolve(stdout);
    });
  });
}
