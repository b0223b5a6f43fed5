// The git tools end to end through a real MCP client: a private repository served by a real git smart-HTTP
// server on 127.0.0.1 (git http-backend behind basic auth), cloned into a box whose network policy is
// deny-all, then status, diff, commit, checkout, push (verified in the server's bare repository), a
// rejected non-fast-forward push, pushes without and with a wrong token, and a pull request checked by a
// fake GitHub API (stand-in). After every operation: no token anywhere in the box.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "../helpers/fake-github.js";
import { type GitServer, secretTraces, startGitServer } from "../helpers/git-server.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const T = 180_000;
const TOKEN = `boxd-test-token-${randomBytes(12).toString("hex")}`;
const WRONG = `wrong-token-${randomBytes(6).toString("hex")}`;
const REPO = "acme/app.git";

let h: Harness;
let srv: GitServer;
let gh: FakeGitHub;
let box: string;
let repoUrl: string;
const dir = "/workspace/home/app";

const sh = async (command: string) =>
  h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", { box, command });

/** No trace of the token (nor of its basic-auth form) in the box's files or any process environment. */
async function expectNoToken(): Promise<void> {
  const { containerId } = await h.services.liveBox("local", box);
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
  const traces = await secretTraces(
    (req) => h.services.engine.execs.run({ containerId, ...req }),
    [TOKEN, basic, WRONG],
  );
  expect(traces).toBe("");
  const cfg = await sh(`cd ${dir} && git config --list --show-origin; ls -a .git`);
  expect(cfg.exitCode).toBe(0);
  expect(cfg.stdout).not.toMatch(/credential|extraheader|askpass|@127\.0\.0\.1|x-access-token/i);
}

beforeAll(async () => {
  srv = await startGitServer({ token: TOKEN, ports: 2 });
  srv.createRepo(REPO, { "README.md": "# app\n", "src/index.js": "console.log('hi');\n" }, { branches: ["feature/x"] });
  srv.createRepo("acme/big.git", { "README.md": "# big\n" });
  gh = await startFakeGitHub({ token: TOKEN, repos: { "acme/app": "main" } });
  repoUrl = `${srv.url}/${REPO}`;
  const port2 = new URL(srv.urls[1] as string).port;
  h = await startHarness({
    env: {
      BOXD_GIT_TOKEN: TOKEN,
      // The same server on its second port counts as another host, configured with a wrong token.
      BOXD_GIT_TOKENS: `127.0.0.1:${port2}=${WRONG}`,
      BOXD_GITHUB_API_URL: gh.url,
      // The test git server runs on loopback: allowed like an operator allows a self-hosted git server.
      BOXD_GIT_ALLOWED_HOSTS: srv.urls.map((u) => new URL(u).host).join(","),
    },
  });
  box = (await h.createBox({ name: "git-main", networkPolicy: { mode: "deny-all" } })).id;
}, T);

afterAll(async () => {
  await h?.close();
  await srv?.close();
  await gh?.close();
}, T);

describe("git through the server", () => {
  it(
    "clones a private repository into a deny-all box without the box ever holding the token",
    async () => {
      expect(await h.callOk("box_get", { box })).toMatchObject({ networkPolicy: { mode: "deny-all" } });
      const progress: string[] = [];
      const res = await h.callOk("box_git_clone", { box, repo: repoUrl }, { onProgress: (m) => progress.push(m) });
      expect(res).toEqual({
        directory: dir,
        branch: "main",
        commit: srv.git(REPO, "rev-parse", "main"),
        url: repoUrl,
        resumed: false,
      });
      expect(progress.some((m) => m.startsWith("clone:"))).toBe(true);
      // The private repository was only readable with the token, which the server sent, not the box.
      expect(srv.requests.some((r) => r.authorized)).toBe(true);
      const files = await sh(`cd ${dir} && cat README.md && stat -c '%U' . README.md src/index.js .git/HEAD`);
      expect(files.stdout).toBe("# app\nboxuser\nboxuser\nboxuser\nboxuser\n");
      const git = await sh(`cd ${dir} && git log --oneline | wc -l && git remote get-url origin && git status --short`);
      expect(git.stdout).toBe(`1\n${repoUrl}\n`);
      // Remote branches came along (no depth): checkout can use them later.
      expect((await sh(`cd ${dir} && git branch -r`)).stdout).toContain("origin/feature/x");
      expect((await sh("ls -a /workspace/home | grep -c boxd-clone; true")).stdout.trim()).toBe("0");
      await expectNoToken();
    },
    T,
  );

  it(
    "shows status and diff, commits, and checks out branches inside the box",
    async () => {
      await h.callOk("box_write_file", { box, path: `${dir}/README.md`, content: "# app\n\nNow with docs.\n" });
      await h.callOk("box_write_file", { box, path: `${dir}/notes with space.txt`, content: "new\n" });
      const st = await h.callOk<Record<string, unknown>>("box_git_status", { box, directory: "app" });
      expect(st).toMatchObject({
        directory: dir,
        branch: "main",
        detached: false,
        upstream: "origin/main",
        ahead: 0,
        behind: 0,
        clean: false,
        staged: 0,
        unstaged: 1,
        untracked: 1,
        truncated: false,
      });
      expect(st.files).toEqual([
        { path: "README.md", index: ".", worktree: "M", kind: "changed" },
        { path: "notes with space.txt", index: "?", worktree: "?", kind: "untracked" },
      ]);

      const diff = await h.callOk<{ diff: string; files: unknown[]; additions: number; deletions: number }>(
        "box_git_diff",
        { box, directory: dir },
      );
      expect(diff.diff).toContain("+Now with docs.");
      expect(diff.files).toEqual([{ path: "README.md", additions: 2, deletions: 0, binary: false }]);
      expect(diff).toMatchObject({ additions: 2, deletions: 0, truncated: false });

      const commit = await h.callOk<{ sha: string; branch: string; author: unknown; summary: string }>(
        "box_git_commit",
        {
          box,
          directory: dir,
          message: "Document the app\n\nAnd add notes.",
          authorName: "Ada",
          authorEmail: "ada@example.org",
        },
      );
      expect(commit.branch).toBe("main");
      expect(commit.author).toEqual({ name: "Ada", email: "ada@example.org" });
      expect(commit.summary).toMatch(/2 files changed/);
      const log = await sh(`cd ${dir} && git log -1 --format='%H|%an|%ae|%cn|%B'`);
      expect(log.stdout.trim()).toBe(`${commit.sha}|Ada|ada@example.org|Ada|Document the app\n\nAnd add notes.`);
      expect(await h.callOk("box_git_status", { box, directory: dir })).toMatchObject({ clean: true, ahead: 1 });
      expect(await h.callOk("box_git_diff", { box, directory: dir, staged: true })).toMatchObject({
        diff: "",
        files: [],
      });

      // The server's default identity when the call names none (the image's system gitconfig does not count).
      await h.callOk("box_write_file", { box, path: `${dir}/more.txt`, content: "more\n" });
      const c2 = await h.callOk<{ author: unknown }>("box_git_commit", { box, directory: dir, message: "More" });
      expect(c2.author).toEqual({ name: "boxd", email: "boxd@localhost" });

      const created = await h.callOk("box_git_checkout", { box, directory: dir, branch: "boxd/change", create: true });
      expect(created).toMatchObject({ branch: "boxd/change", created: true, commit: expect.any(String) });
      const remoteOnly = await h.callOk("box_git_checkout", { box, directory: dir, branch: "feature/x" });
      expect(remoteOnly).toMatchObject({ branch: "feature/x", commit: srv.git(REPO, "rev-parse", "feature/x") });
      expect(await h.callOk("box_git_status", { box, directory: dir })).toMatchObject({
        branch: "feature/x",
        upstream: "origin/feature/x",
      });
      expect(await h.callOk("box_git_checkout", { box, directory: dir, branch: "boxd/change" })).toMatchObject({
        branch: "boxd/change",
        created: false,
      });
      await expectNoToken();
    },
    T,
  );

  it(
    "pushes a new branch that then exists on the server, and records the upstream in the box",
    async () => {
      await h.callOk("box_write_file", { box, path: `${dir}/src/feature.js`, content: "export const x = 1;\n" });
      const c = await h.callOk<{ sha: string }>("box_git_commit", { box, directory: dir, message: "Add feature" });
      const progress: string[] = [];
      const pushed = await h.callOk("box_git_push", { box, directory: dir }, { onProgress: (m) => progress.push(m) });
      expect(pushed).toEqual({ remote: "origin", branch: "boxd/change", commit: c.sha, url: repoUrl, resumed: false });
      expect(srv.git(REPO, "rev-parse", "refs/heads/boxd/change")).toBe(c.sha);
      expect(srv.git(REPO, "log", "--format=%s", "-1", "boxd/change")).toBe("Add feature");
      expect(progress.some((m) => m.startsWith("push:"))).toBe(true);
      expect(await h.callOk("box_git_status", { box, directory: dir })).toMatchObject({
        branch: "boxd/change",
        upstream: "origin/boxd/change",
        ahead: 0,
        behind: 0,
      });
      // Pushing again is fine (nothing new).
      expect(await h.callOk("box_git_push", { box, directory: dir, branch: "boxd/change" })).toMatchObject({
        commit: c.sha,
      });
      await expectNoToken();
    },
    T,
  );

  it(
    "rejects a non-fast-forward push with CONFLICT and git's message, leaving the server's branch alone",
    async () => {
      await h.callOk("box_git_checkout", { box, directory: dir, branch: "main" });
      const theirs = srv.commitOnServer(REPO, "main", "server.txt", "someone else\n");
      const err = await h.callErr("box_git_push", { box, directory: dir });
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toMatch(/non-fast-forward|fetch first|rejected/);
      expect(err.message).toContain("git:");
      expect(srv.git(REPO, "rev-parse", "main")).toBe(theirs);
      await expectNoToken();
    },
    T,
  );

  it(
    "fails a push without a token or with a wrong one with UNAUTHENTICATED",
    async () => {
      const port = new URL(srv.url).port;
      const port2 = new URL(srv.urls[1] as string).port;
      try {
        // "localhost" is not a host the default token may go to: git gets no credentials at all.
        await sh(`cd ${dir} && git remote set-url origin http://localhost:${port}/${REPO}`);
        const none = await h.callErr("box_git_push", { box, directory: dir, branch: "boxd/change" });
        expect(none.code).toBe("UNAUTHENTICATED");
        expect(none.message).toMatch(/git: .*(could not read Username|terminal prompts disabled)/);
        // The second port has its own (wrong) token configured.
        await sh(`cd ${dir} && git remote set-url origin http://127.0.0.1:${port2}/${REPO}`);
        const wrong = await h.callErr("box_git_push", { box, directory: dir, branch: "boxd/change" });
        expect(wrong.code).toBe("UNAUTHENTICATED");
        expect(wrong.message).toMatch(/Authentication failed/);
        expect(wrong.message).not.toContain(WRONG);
        expect(
          srv.requests.some((r) =>
            r.authorization?.includes(Buffer.from(`x-access-token:${WRONG}`).toString("base64")),
          ),
        ).toBe(true);
        const clone = await h.callErr("box_git_clone", {
          box,
          repo: `http://localhost:${port}/${REPO}`,
          directory: "nope",
        });
        expect(clone.code).toBe("UNAUTHENTICATED");
        expect((await sh("test -e /workspace/home/nope && echo there; true")).stdout).toBe("");
      } finally {
        await sh(`cd ${dir} && git remote set-url origin ${repoUrl}`);
      }
      await expectNoToken();
    },
    T,
  );

  it(
    "streams a repository larger than the push flow-control window both ways, byte-exact",
    async () => {
      // 24 MiB of incompressible data: six 4 MiB credit chunks out of the box, more than the window of four.
      const blob = randomBytes(24 * 1024 * 1024);
      srv.commitOnServer("acme/big.git", "main", "blob.bin", blob);
      const c = await h.callOk("box_git_clone", { box, repo: `${srv.url}/acme/big.git` });
      expect(c).toMatchObject({ directory: "/workspace/home/big", branch: "main" });
      const sum = await sh("sha256sum big/blob.bin | cut -d' ' -f1");
      expect(sum.stdout.trim()).toBe(createHash("sha256").update(blob).digest("hex"));
      await h.callOk("box_git_checkout", { box, directory: "big", branch: "big-push", create: true });
      await sh("head -c 20000000 /dev/urandom > big/more.bin");
      const commit = await h.callOk<{ sha: string }>("box_git_commit", { box, directory: "big", message: "more" });
      await h.callOk("box_git_push", { box, directory: "big" });
      expect(srv.git("acme/big.git", "rev-parse", "big-push")).toBe(commit.sha);
      expect(srv.git("acme/big.git", "cat-file", "-s", "big-push:more.bin")).toBe("20000000");
      await expectNoToken();
    },
    T,
  );

  it(
    "opens a pull request through the fake GitHub API (stand-in), with the token and a JSON body",
    async () => {
      await h.callOk("box_git_checkout", { box, directory: dir, branch: "boxd/change" });
      const pr = await h.callOk("box_git_pull_request", {
        box,
        directory: dir,
        title: "Add feature",
        body: "Made in a box.\n\n- one\n- two",
      });
      expect(pr).toEqual({
        url: "https://github.example/acme/app/pull/1",
        number: 1,
        title: "Add feature",
        base: "main",
        head: "boxd/change",
        repository: "acme/app",
        resumed: false,
      });
      const [get, post] = gh.requests;
      expect(get).toMatchObject({ method: "GET", path: "/repos/acme/app" });
      expect(post).toMatchObject({
        method: "POST",
        path: "/repos/acme/app/pulls",
        body: { title: "Add feature", head: "boxd/change", base: "main", body: "Made in a box.\n\n- one\n- two" },
      });
      for (const r of [get, post]) {
        expect(r?.headers.authorization).toBe(`Bearer ${TOKEN}`);
        expect(r?.headers.accept).toBe("application/vnd.github+json");
      }
      expect(post?.headers["content-type"]).toMatch(/^application\/json/);

      // An explicit base skips the lookup; the same pull request twice is ALREADY_EXISTS.
      const before = gh.requests.length;
      const second = await h.callOk("box_git_pull_request", {
        box,
        directory: dir,
        title: "Into feature",
        base: "feature/x",
        draft: true,
      });
      expect(second).toMatchObject({ number: 2, base: "feature/x" });
      expect(gh.requests.slice(before).map((r) => r.method)).toEqual(["POST"]);
      expect(gh.requests.at(-1)?.body).toEqual({
        title: "Into feature",
        head: "boxd/change",
        base: "feature/x",
        draft: true,
      });
      const dup = await h.callErr("box_git_pull_request", { box, directory: dir, title: "Again" });
      expect(dup.code).toBe("ALREADY_EXISTS");
      expect(dup.message).toMatch(/already exists/);
      await expectNoToken();
    },
    T,
  );
});
