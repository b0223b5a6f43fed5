// box_git_pull (issue 15 item 7) end to end through a real MCP client: a private repository on a real git
// smart-HTTP server on 127.0.0.1 (the test's own stand-in host, basic auth), cloned into a deny-all box.
// Upstream commits come in by fast-forward, merge and rebase; a rejected push recovers by pull then push;
// conflicts and a dirty working tree are CONFLICTs naming the files, leaving a repository the agent can
// act on; bad input is coded. After every operation: no token anywhere in the box.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitServer, secretTraces, startGitServer } from "../helpers/git-server.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const T = 180_000;
const TOKEN = `boxd-pull-token-${randomBytes(12).toString("hex")}`;
const REPO = "acme/pull.git";
const dir = "/workspace/home/pull";

let h: Harness;
let srv: GitServer;
let box: string;

interface Pulled {
  branch: string;
  remote: string;
  upstream: string;
  mode: string;
  updated: boolean;
  from: string | null;
  to: string;
  commits: number;
  fastForward: boolean;
}

const sh = async (command: string) => {
  const r = await h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", {
    box,
    command: `cd ${dir} && ${command}`,
  });
  return r;
};
const out = async (command: string) => (await sh(command)).stdout.trim();

async function commitInBox(file: string, content: string, message: string): Promise<string> {
  await h.callOk("box_write_file", { box, path: `${dir}/${file}`, content });
  return (await h.callOk<{ sha: string }>("box_git_commit", { box, directory: dir, message })).sha;
}

async function expectNoToken(): Promise<void> {
  const { containerId } = await h.services.liveBox("local", box);
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
  const traces = await secretTraces((req) => h.services.engine.execs.run({ containerId, ...req }), [TOKEN, basic]);
  expect(traces).toBe("");
}

beforeAll(async () => {
  srv = await startGitServer({ token: TOKEN });
  srv.createRepo(REPO, { "README.md": "# pull\nline two\n", "src/app.js": "console.log(1);\n" });
  h = await startHarness({
    env: {
      BOXD_GIT_TOKEN: TOKEN,
      BOXD_GIT_TOKEN_HOSTS: new URL(srv.url).host,
      BOXD_GIT_ALLOWED_HOSTS: new URL(srv.url).host,
    },
  });
  box = (await h.createBox({ name: "puller", networkPolicy: { mode: "deny-all" } })).id;
  await h.callOk("box_git_clone", { box, repo: `${srv.url}/${REPO}`, directory: dir });
}, T);

afterAll(async () => {
  await h?.close();
  await srv?.close();
}, T);

describe("box_git_pull", () => {
  it(
    "brings a new upstream commit into the box (fast-forward), then says it is up to date",
    async () => {
      const before = await out("git rev-parse HEAD");
      const theirs = srv.commitOnServer(REPO, "main", "news.txt", "fresh from upstream\n");
      const progress: string[] = [];
      const res = await h.callOk<Pulled>(
        "box_git_pull",
        { box, directory: dir },
        { onProgress: (m) => progress.push(m) },
      );
      expect(res).toMatchObject({
        branch: "main",
        remote: "origin",
        upstream: "main",
        mode: "merge",
        updated: true,
        from: before,
        to: theirs,
        commits: 1,
        fastForward: true,
      });
      expect(progress.some((m) => m.startsWith("pull: fetching"))).toBe(true);
      expect(await out("cat news.txt")).toBe("fresh from upstream");
      expect(await out("git log --format=%H -2 | tr '\\n' ' '")).toBe(`${theirs} ${before}`);
      expect(await out("git rev-parse origin/main")).toBe(theirs);
      expect(await out("git status --porcelain")).toBe("");

      const again = await h.callOk<Pulled>("box_git_pull", { box, directory: dir });
      expect(again).toMatchObject({ updated: false, from: theirs, to: theirs, commits: 0 });
      // The request carried the token (the repository is private); the box never held it.
      expect(srv.requests.some((r) => r.authorized && r.path.endsWith("/git-upload-pack"))).toBe(true);
      await expectNoToken();
    },
    T,
  );

  it(
    "recovers from a rejected push: pull merges the upstream commit, then the push succeeds",
    async () => {
      const mine = await commitInBox("local.txt", "made in the box\n", "Box change");
      const theirs = srv.commitOnServer(REPO, "main", "server.txt", "made upstream\n");
      expect((await h.callErr("box_git_push", { box, directory: dir })).code).toBe("CONFLICT");

      const res = await h.callOk<Pulled>("box_git_pull", { box, directory: dir });
      expect(res).toMatchObject({ mode: "merge", updated: true, from: mine, commits: 1, fastForward: false });
      // A merge commit whose parents are the box's commit and the upstream one.
      expect(await out("git rev-list --parents -1 HEAD")).toBe(`${res.to} ${mine} ${theirs}`);
      expect(await out("cat local.txt server.txt")).toBe("made in the box\nmade upstream");

      const pushed = await h.callOk<{ commit: string }>("box_git_push", { box, directory: dir });
      expect(pushed.commit).toBe(res.to);
      expect(srv.git(REPO, "rev-parse", "main")).toBe(res.to);
      await expectNoToken();
    },
    T,
  );

  it(
    "rebases the box's commits onto the upstream ones with rebase: true",
    async () => {
      await commitInBox("rebased.txt", "one\n", "Box commit A");
      await commitInBox("rebased.txt", "one\ntwo\n", "Box commit B");
      const theirs = srv.commitOnServer(REPO, "main", "upstream-2.txt", "upstream again\n");
      const res = await h.callOk<Pulled>("box_git_pull", { box, directory: dir, rebase: true });
      expect(res).toMatchObject({ mode: "rebase", updated: true, commits: 1, fastForward: false });
      expect(await out("git log --format=%s -3 | tr '\\n' '|'")).toBe(
        "Box commit B|Box commit A|server-side change to upstream-2.txt|",
      );
      expect(await out("git rev-parse HEAD~2")).toBe(theirs);
      expect(await out("git rev-list --merges --count origin/main..HEAD")).toBe("0");
      expect(await out("cat rebased.txt upstream-2.txt")).toBe("one\ntwo\nupstream again");
      expect(await out("git status --porcelain")).toBe("");
      await h.callOk("box_git_push", { box, directory: dir });
      expect(srv.git(REPO, "rev-parse", "main")).toBe(res.to);
    },
    T,
  );

  it(
    "answers a conflicting upstream change with CONFLICT naming the file, in merge and rebase mode",
    async () => {
      srv.commitOnServer(REPO, "main", "README.md", "# pull\nline two, as upstream says\n");
      const mine = await commitInBox("README.md", "# pull\nline two, as the box says\n", "Box edits README");

      const merge = await h.callErr("box_git_pull", { box, directory: dir });
      expect(merge.code).toBe("CONFLICT");
      expect(merge.message).toContain("conflicts in README.md");
      expect(merge.message).toContain("git merge --abort");
      // Left mid-merge, as git leaves it: the agent can resolve or abort.
      expect(await out("git diff --name-only --diff-filter=U")).toBe("README.md");
      expect((await sh("test -f .git/MERGE_HEAD")).exitCode).toBe(0);
      // A second pull is refused until the merge is finished or aborted.
      expect((await h.callErr("box_git_pull", { box, directory: dir })).message).toContain("middle of a merge");
      await sh("git merge --abort");
      expect(await out("git rev-parse HEAD")).toBe(mine);

      const rebase = await h.callErr("box_git_pull", { box, directory: dir, rebase: true });
      expect(rebase.code).toBe("CONFLICT");
      expect(rebase.message).toContain("conflicts in README.md");
      expect(rebase.message).toContain("git rebase --abort");
      expect((await sh("test -d .git/rebase-merge -o -d .git/rebase-apply")).exitCode).toBe(0);
      await sh("git rebase --abort");
      expect(await out("git rev-parse HEAD")).toBe(mine);
      expect(await out("git status --porcelain")).toBe("");

      // Resolved by hand in the box: the merge is committed and pushed.
      expect((await h.callErr("box_git_pull", { box, directory: dir })).code).toBe("CONFLICT");
      await h.callOk("box_write_file", { box, path: `${dir}/README.md`, content: "# pull\nline two, agreed\n" });
      await h.callOk("box_git_commit", { box, directory: dir, message: "Merge upstream README" });
      await h.callOk("box_git_push", { box, directory: dir });
      expect(srv.git(REPO, "show", "main:README.md")).toBe("# pull\nline two, agreed");
    },
    T,
  );

  it(
    "refuses a pull that uncommitted changes block with CONFLICT naming the files",
    async () => {
      srv.commitOnServer(REPO, "main", "src/app.js", "console.log(2);\n");
      await h.callOk("box_write_file", { box, path: `${dir}/src/app.js`, content: "console.log('local');\n" });
      const head = await out("git rev-parse HEAD");

      const merge = await h.callErr("box_git_pull", { box, directory: dir });
      expect(merge.code).toBe("CONFLICT");
      expect(merge.message).toContain("would be overwritten: src/app.js");
      const rebase = await h.callErr("box_git_pull", { box, directory: dir, rebase: true });
      expect(rebase.code).toBe("CONFLICT");
      expect(rebase.message).toContain("uncommitted changes to src/app.js");
      // Nothing was changed: the edit is still there, the branch did not move.
      expect(await out("cat src/app.js")).toBe("console.log('local');");
      expect(await out("git rev-parse HEAD")).toBe(head);

      await sh("git checkout -- src/app.js");
      const res = await h.callOk<Pulled>("box_git_pull", { box, directory: dir });
      expect(res).toMatchObject({ updated: true, fastForward: true });
      expect(await out("cat src/app.js")).toBe("console.log(2);");
    },
    T,
  );

  it(
    "pulls into a shallow clone, and answers bad input with coded errors",
    async () => {
      const shallow = "/workspace/home/shallow";
      await h.callOk("box_git_clone", { box, repo: `${srv.url}/${REPO}`, directory: shallow, depth: 1 });
      const theirs = srv.commitOnServer(REPO, "main", "deep.txt", "for the shallow clone\n");
      const res = await h.callOk<Pulled>("box_git_pull", { box, directory: shallow });
      expect(res).toMatchObject({ updated: true, to: theirs, fastForward: true });
      expect((await h.callOk<{ stdout: string }>("box_exec", { box, command: `cat ${shallow}/deep.txt` })).stdout).toBe(
        "for the shallow clone\n",
      );

      await h.callOk("box_exec", { box, command: "mkdir -p /workspace/home/plain" });
      expect((await h.callErr("box_git_pull", { box, directory: "/workspace/home/plain" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      expect((await h.callErr("box_git_pull", { box, directory: "/workspace/home/nowhere" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_git_pull", { box, directory: dir, branch: "no-such-branch" })).code).toBe(
        "NOT_FOUND",
      );
      expect((await h.callErr("box_git_pull", { box, directory: dir, remote: "nope" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_git_pull", { box, directory: dir, remote: "-x" })).code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_git_pull", { box, directory: dir, branch: "a..b" })).code).toBe("INVALID_ARGUMENT");
      // A remote the server may not reach (loopback on a port BOXD_GIT_ALLOWED_HOSTS does not list).
      await sh("git remote add elsewhere http://127.0.0.1:9/acme/pull.git");
      expect((await h.callErr("box_git_pull", { box, directory: dir, remote: "elsewhere" })).code).toBe("NOT_FOUND");
      // Detached HEAD.
      await sh("git checkout -q --detach HEAD");
      const detached = await h.callErr("box_git_pull", { box, directory: dir });
      expect(detached.code).toBe("INVALID_ARGUMENT");
      expect(detached.message).toContain("detached HEAD");
      await sh("git checkout -q main");
      await expectNoToken();
    },
    T,
  );
});
