// The work_on_repository prompt: the box workflow for changing a git repository (create a box, clone,
// explore, test, commit, push, open a pull request), written for the agent that will do it. It only
// writes text: it creates nothing, so getting it is free and safe.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { NAME_PATTERN } from "../../box/validation.js";
import { invalidArgument } from "../../errors.js";
import { parseRemoteUrl, type RemoteUrl, repoNameOf } from "../../git/remote-url.js";
import { ALL_RUNTIMES, isRuntime, RUNTIMES } from "../../images/definitions.js";
import type { Completer } from "../completions.js";
import { promptError } from "./prompt-error.js";

export const WORK_ON_REPOSITORY = "work_on_repository";

/** Runtimes a box can be created with, the Debian ones first (the -alpine ones need a registry). */
const RUNTIME_CHOICES = [...RUNTIMES, ...ALL_RUNTIMES.filter((r) => r.endsWith("-alpine"))];

/** The folder box_git_clone makes by default (/workspace/home/<repository name>), or null if it needs one. */
function cloneFolder(url: RemoteUrl): string | null {
  try {
    return repoNameOf(url);
  } catch {
    return null;
  }
}

/** A box name from the repository's name ("https://host/org/My-App.git" -> "my-app"), if one is valid. */
export function boxNameFor(folder: string | null): string | null {
  const name = (folder ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .slice(0, 63);
  return NAME_PATTERN.test(name) ? name : null;
}

function workflow(url: RemoteUrl, runtime: string): string {
  const folder = cloneFolder(url);
  const name = boxNameFor(folder);
  const create = name ? `{ runtime: "${runtime}", name: "${name}" }` : `{ runtime: "${runtime}" }`;
  const box = name ? `"${name}"` : "<the id box_create returned>";
  const repo = JSON.stringify(url.href);
  const dir = folder ? JSON.stringify(`/workspace/home/${folder}`) : "<the directory box_git_clone returned>";
  return [
    `Work on the git repository ${repo} inside a boxd box (an isolated Linux machine you drive through tools).`,
    "",
    `1. Create the box: box_create ${create}. If box_create says the name exists, that box is yours: reuse it (box_get { box: ${box} }) or pick another name.`,
    `2. Clone: box_git_clone { box: ${box}, repo: ${repo} }${folder ? "" : ", directory: <a folder>"}. The server holds any credentials; never put a token in the URL or the box. The clone lands in ${dir}.`,
    `3. Explore: box_list_files { box: ${box}, path: ${dir} } and box_read_file; read the README and the build files to learn how it builds and tests.`,
    `4. Install and test: box_exec { box: ${box}, command: "...", cwd: ${dir} } (a command that fails is a result with its exit code, not an error; pass background: true for long commands and follow them with box_run_get { wait: true }).`,
    "5. Change: box_git_checkout { branch: <a new branch>, create: true } first, then box_write_file (whole files) or box_exec (e.g. a patch), and run the tests again.",
    "6. Review: box_git_status and box_git_diff show what changed.",
    "7. Deliver: box_git_commit { message }, box_git_push, then box_git_pull_request { title, body } if the repository is on a forge the server has a token for.",
    `Every box_git_* tool in steps 5-7 also takes { box: ${box}, directory: ${dir} }.`,
    "",
    `The box keeps its files between calls and pauses itself when idle; any tool wakes it. box_logs { box: ${box} } shows what happened in it. Delete it with box_delete when the work is merged.`,
  ].join("\n");
}

/** Registers the prompt; returns its argument completers (runtime). */
export function registerWorkOnRepository(server: McpServer): Record<string, Completer> {
  server.registerPrompt(
    WORK_ON_REPOSITORY,
    {
      title: "Work on a repository in a box",
      description:
        "Step-by-step instructions for changing a git repository in a fresh box: create, clone, explore, test, commit, push, pull request.",
      argsSchema: {
        repository: z
          .string()
          .min(1)
          .max(2048)
          .describe("The repository's URL: https://, http:// or git:// (no credentials in it), as box_git_clone takes"),
        runtime: z
          .string()
          .optional()
          .describe(`The box's runtime: ${RUNTIME_CHOICES.join(", ")} (default node)`),
      },
    },
    ({ repository, runtime }) => {
      let url: RemoteUrl;
      try {
        // box_git_clone's own rules, so the workflow never starts with a URL it would refuse
        url = parseRemoteUrl(repository, "repository");
        if (runtime !== undefined && !isRuntime(runtime)) {
          throw invalidArgument(`unknown runtime "${runtime}": use one of ${RUNTIME_CHOICES.join(", ")}`);
        }
      } catch (err) {
        throw promptError(err);
      }
      return {
        description: `Work on ${url.href} in a box`,
        messages: [{ role: "user", content: { type: "text", text: workflow(url, runtime ?? "node") } }],
      };
    },
  );
  return { runtime: () => RUNTIME_CHOICES };
}
