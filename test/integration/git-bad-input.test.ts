// The git tools against bad input and hostile repositories, through a real MCP client and real git servers
// on 127.0.0.1: malformed and unreachable URLs, unknown repositories and branches, refused branch names,
// clone targets that are taken, nothing to commit, folders that are not repositories, file names with
// newlines and leading dashes, a box repository whose config and hooks try to run code on the server, and a
// server without any token. Every failure is a coded error, and nothing is left half-written in the box.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "../helpers/fake-github.js";
import { type GitServer, secretTraces, startGitServer } from "../helpers/git-server.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const T = 180_000;
const TOKEN = `boxd-bad-token-${randomBytes(12).toString("hex")}`;
const TRICKY = {
  "line\nbreak.txt": "one\n",
  "--upload-pack=x": "not an option\n",
  "-rf": "dash\n",
  HEAD: "a file called HEAD\n",
  "normal.txt": "plain\n",
};

let h: Harness;
let srv: GitServer;
let gh: FakeGitHub;
let box: string;

const sh = async (command: string) =>
  h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", { box, command });
const leftovers = async () => (await sh("ls -A /workspace/home | grep -c '^\\.boxd-clone' ; true")).stdout.trim();

/** The test git server runs on loopback: allowed like an operator allows a self-hosted git server. */
const allowServer = () => ({ BOXD_GIT_ALLOWED_HOSTS: `127.0.0.1:${new URL(srv.url).port}` });

beforeAll(async () => {
  srv = await startGitServer({ token: TOKEN });
  srv.createRepo("acme/app.git", { "README.md": "# app\n" });
  srv.createRepo("acme/tricky.git", TRICKY);
  gh = await startFakeGitHub({ token: TOKEN, repos: { "acme/app": "main" } });
  h = await startHarness({ env: { BOXD_GIT_TOKEN: TOKEN, BOXD_GITHUB_API_URL: gh.url, ...allowServer() } });
  box = (await h.createBox({ name: "git-bad" })).id;
}, T);

afterAll(async () => {
  await h?.close();
  await srv?.close();
  await gh?.close();
}, T);

describe("clone", () => {
  it(
    "refuses malformed and dangerous URLs with INVALID_ARGUMENT, before running anything",
    async () => {
      const marker = path.join(os.tmpdir(), `boxd-pwned-${randomBytes(4).toString("hex")}`);
      const bad = [
        "not a url",
        `ext::sh -c touch% ${marker}`,
        "file:///etc",
        "/srv/repo.git",
        "ssh://git@127.0.0.1/acme/app.git",
        "git@github.com:acme/app.git",
        `--upload-pack=touch ${marker}`,
        "-u",
        `${srv.url.replace("http://", "http://user:secret@")}/acme/app.git`,
        `${srv.url}/`,
        `${srv.url}/acme/app.git?x=1`,
      ];
      for (const repo of bad) {
        const err = await h.callErr("box_git_clone", { box, repo, directory: "bad" });
        expect(err.code, repo).toBe("INVALID_ARGUMENT");
      }
      expect(existsSync(marker)).toBe(false);
      expect((await sh("test -e /workspace/home/bad && echo there; true")).stdout).toBe("");
    },
    T,
  );

  it(
    "reports unreachable servers, unknown repositories and unknown branches as NOT_FOUND (git's message for the latter)",
    async () => {
      // Unreachable: one message without git's words, which would tell open ports from closed ones.
      const down = await h.callErr("box_git_clone", { box, repo: "http://127.0.0.1:1/acme/app.git" });
      expect(down.code).toBe("NOT_FOUND");
      expect(down.message).toMatch(
        /cannot reach 127\.0\.0\.1:1 from the server: the connection was refused or the host/,
      );
      expect(down.message).not.toContain("(git: ");
      const missing = await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/none.git` });
      expect(missing.code).toBe("NOT_FOUND");
      expect(missing.message).toMatch(/git: .*not found/);
      const branch = await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/app.git`, branch: "nope" });
      expect(branch.code).toBe("NOT_FOUND");
      expect(branch.message).toMatch(/git: .*Remote branch nope not found/);
      expect((await sh("ls -A /workspace/home")).stdout).not.toMatch(/^(app|none)$/m);
      expect(await leftovers()).toBe("0");
    },
    T,
  );

  it(
    "refuses branch names git refuses, and bad depths",
    async () => {
      for (const branch of ["--upload-pack=x", "-b", "a..b", "x y", "@{-1}", "HEAD", "a.lock", "", "x~1"]) {
        const err = await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/app.git`, branch });
        expect(err.code, branch).toBe("INVALID_ARGUMENT");
      }
      expect((await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/app.git`, depth: 0 })).code).toBe(
        "INVALID_ARGUMENT",
      );
    },
    T,
  );

  it(
    "never writes into an existing non-empty folder, but accepts an empty one",
    async () => {
      await h.callOk("box_write_file", { box, path: "taken/keep.txt", content: "mine\n" });
      const err = await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/app.git`, directory: "taken" });
      expect(err.code).toBe("ALREADY_EXISTS");
      expect((await sh("ls -A taken")).stdout).toBe("keep.txt\n");
      await h.callOk("box_write_file", { box, path: "afile", content: "x" });
      expect(
        (await h.callErr("box_git_clone", { box, repo: `${srv.url}/acme/app.git`, directory: "afile" })).code,
      ).toBe("ALREADY_EXISTS");
      await h.callOk("box_make_dir", { box, path: "empty" });
      const ok = await h.callOk("box_git_clone", {
        box,
        repo: `${srv.url}/acme/app.git`,
        directory: "empty",
        depth: 1,
      });
      expect(ok).toMatchObject({ directory: "/workspace/home/empty", branch: "main" });
      expect((await sh("cd empty && git rev-parse --is-shallow-repository && cat README.md")).stdout).toBe(
        "true\n# app\n",
      );
      expect(await leftovers()).toBe("0");
    },
    T,
  );
});

describe("tricky file names", () => {
  it(
    "clones, reports, diffs and commits files named with newlines and leading dashes exactly",
    async () => {
      const c = await h.callOk("box_git_clone", { box, repo: `${srv.url}/acme/tricky.git` });
      expect(c).toMatchObject({ directory: "/workspace/home/tricky" });
      const names = (await sh("cd tricky && find . -maxdepth 1 -type f -print0")).stdout.split("\0").filter(Boolean);
      expect(names.map((n) => n.slice(2)).sort()).toEqual(Object.keys(TRICKY).sort());
      await sh(
        "cd tricky && printf 'changed\\n' >> \"$(printf 'line\\nbreak.txt')\" && printf 'x\\n' >> ./--upload-pack=x && printf 'h\\n' >> HEAD",
      );
      const st = await h.callOk<{ files: { path: string }[] }>("box_git_status", { box, directory: "tricky" });
      expect(st.files.map((f) => f.path).sort()).toEqual(["--upload-pack=x", "HEAD", "line\nbreak.txt"]);
      const d = await h.callOk<{ files: { path: string }[]; diff: string }>("box_git_diff", {
        box,
        directory: "tricky",
        paths: ["--upload-pack=x"],
      });
      expect(d.files.map((f) => f.path)).toEqual(["--upload-pack=x"]);
      expect(d.diff).toContain("+x");
      // Pathspec magic is off: ":(glob)*" names a file, so it matches nothing.
      const magic = await h.callErr("box_git_commit", { box, directory: "tricky", message: "m", paths: [":(glob)*"] });
      expect(magic.code).toBe("NOT_FOUND");
      const commit = await h.callOk<{ sha: string }>("box_git_commit", {
        box,
        directory: "tricky",
        message: "--amend\n-m starts with dashes",
        paths: ["line\nbreak.txt", "HEAD"],
      });
      const log = await sh("cd tricky && git log -1 --format=%B && git show --name-only --format= HEAD --");
      expect(log.stdout).toBe('--amend\n-m starts with dashes\n\nHEAD\n"line\\nbreak.txt"\n');
      expect(commit.sha).toMatch(/^[0-9a-f]{40}$/);
      const left = await h.callOk<{ files: { path: string }[] }>("box_git_status", { box, directory: "tricky" });
      expect(left.files.map((f) => f.path)).toEqual(["--upload-pack=x"]);
    },
    T,
  );
});

describe("in-box operations", () => {
  it(
    "nothing to commit is a CONFLICT with git's message; bad identities are refused",
    async () => {
      await h.callOk("box_git_commit", { box, directory: "tricky", message: "rest" });
      const err = await h.callErr("box_git_commit", { box, directory: "tricky", message: "again" });
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toMatch(/nothing to commit.*git: .*nothing to commit, working tree clean/);
      await sh("cd tricky && echo y >> normal.txt");
      const who = await h.callErr("box_git_commit", {
        box,
        directory: "tricky",
        message: "x",
        authorName: "Eve <eve@evil>",
      });
      expect(who.code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_git_commit", { box, directory: "tricky", message: "  \n " })).code).toBe(
        "INVALID_ARGUMENT",
      );
    },
    T,
  );

  it(
    "a folder that is not a repository is INVALID_ARGUMENT for every tool; a missing one NOT_FOUND",
    async () => {
      await h.callOk("box_make_dir", { box, path: "plain" });
      const calls: [string, Record<string, unknown>][] = [
        ["box_git_status", {}],
        ["box_git_diff", {}],
        ["box_git_commit", { message: "m" }],
        ["box_git_checkout", { branch: "main" }],
        ["box_git_push", {}],
        ["box_git_pull_request", { title: "t" }],
      ];
      for (const [tool, extra] of calls) {
        const err = await h.callErr(tool, { box, directory: "plain", ...extra });
        expect(err.code, tool).toBe("INVALID_ARGUMENT");
        expect(err.message, tool).toMatch(/not a git repository/);
        expect((await h.callErr(tool, { box, directory: "missing", ...extra })).code, tool).toBe("NOT_FOUND");
      }
      expect((await h.callErr("box_git_status", { box, directory: "../etc" })).code).toBe("INVALID_ARGUMENT");
    },
    T,
  );

  it(
    "checkout: unknown branches are NOT_FOUND, existing ones ALREADY_EXISTS, lost changes CONFLICT",
    async () => {
      expect((await h.callErr("box_git_checkout", { box, directory: "tricky", branch: "nope" })).code).toBe(
        "NOT_FOUND",
      );
      expect(
        (await h.callErr("box_git_checkout", { box, directory: "tricky", branch: "main", create: true })).code,
      ).toBe("ALREADY_EXISTS");
      expect((await h.callErr("box_git_checkout", { box, directory: "tricky", branch: "--orphan" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      await h.callOk("box_git_checkout", { box, directory: "tricky", branch: "other", create: true });
      await h.callOk("box_write_file", { box, path: "tricky/normal.txt", content: "on other\n" });
      await h.callOk("box_git_commit", { box, directory: "tricky", message: "other" });
      await h.callOk("box_write_file", { box, path: "tricky/normal.txt", content: "uncommitted\n" });
      const err = await h.callErr("box_git_checkout", { box, directory: "tricky", branch: "main" });
      expect(err.code).toBe("CONFLICT");
      expect(err.message).toMatch(/would be overwritten/);
      await sh("cd tricky && git checkout -- normal.txt");
    },
    T,
  );
});

describe("push and pull request", () => {
  it(
    "refuses bad remotes and branches, and a remote URL in the box that is not allowed",
    async () => {
      const dir = "tricky";
      expect((await h.callErr("box_git_push", { box, directory: dir, remote: "--exec=x" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      expect((await h.callErr("box_git_push", { box, directory: dir, remote: "nope" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_git_push", { box, directory: dir, branch: "nope" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_git_push", { box, directory: dir, branch: "-f" })).code).toBe("INVALID_ARGUMENT");
      await sh("cd tricky && git checkout -q --detach");
      const detached = await h.callErr("box_git_push", { box, directory: dir });
      expect(detached.code).toBe("INVALID_ARGUMENT");
      expect(detached.message).toMatch(/detached/);
      await sh("cd tricky && git checkout -q other");
      const marker = path.join(os.tmpdir(), `boxd-ext-${randomBytes(4).toString("hex")}`);
      for (const url of [`ext::sh -c touch% ${marker}`, "file:///etc/passwd", "/tmp/x.git"]) {
        await sh(`cd tricky && git remote set-url origin '${url}'`);
        const err = await h.callErr("box_git_push", { box, directory: dir });
        expect(err.code, url).toBe("INVALID_ARGUMENT");
      }
      expect(existsSync(marker)).toBe(false);
      await sh(`cd tricky && git remote set-url origin ${srv.url}/acme/tricky.git`);
    },
    T,
  );

  it(
    "never runs the box's hooks or config on the server",
    async () => {
      const tag = randomBytes(4).toString("hex");
      const hook = path.join(os.tmpdir(), `boxd-hook-${tag}`);
      const fsmon = path.join(os.tmpdir(), `boxd-fsmonitor-${tag}`);
      await sh(
        [
          "cd tricky",
          `printf '#!/bin/sh\\ntouch ${hook}\\n' > .git/hooks/pre-push && chmod +x .git/hooks/pre-push`,
          `git config core.fsmonitor 'touch ${fsmon}; false'`,
          `git config core.hooksPath .git/hooks`,
          "git config credential.helper '!echo password=leak'",
        ].join(" && "),
      );
      const pushed = await h.callOk<{ commit: string }>("box_git_push", { box, directory: "tricky" });
      expect(srv.git("acme/tricky.git", "rev-parse", "refs/heads/other")).toBe(pushed.commit);
      expect(existsSync(hook)).toBe(false);
      expect(existsSync(fsmon)).toBe(false);
      await sh("cd tricky && git config --unset core.fsmonitor && git config --unset credential.helper");
    },
    T,
  );

  it(
    "pull request: refuses a bad base, and a remote URL that names no OWNER/REPO",
    async () => {
      expect(
        (await h.callErr("box_git_pull_request", { box, directory: "tricky", title: "t", base: "a..b" })).code,
      ).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_git_pull_request", { box, directory: "tricky", title: "t" })).code).toBe(
        "NOT_FOUND",
      ); // acme/tricky is unknown to the stand-in
      await sh(`cd tricky && git remote set-url origin ${srv.url}/tricky.git`);
      const err = await h.callErr("box_git_pull_request", { box, directory: "tricky", title: "t" });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(/OWNER\/REPO/);
    },
    T,
  );
});

describe("a server without any token", () => {
  it(
    "fails private clones, pushes and pull requests with UNAUTHENTICATED",
    async () => {
      const bare = await startHarness({ env: { BOXD_GITHUB_API_URL: gh.url, ...allowServer() } });
      try {
        const b = (await bare.createBox({ name: "git-no-token" })).id;
        const clone = await bare.callErr("box_git_clone", { box: b, repo: `${srv.url}/acme/app.git` });
        expect(clone.code).toBe("UNAUTHENTICATED");
        expect(clone.message).toMatch(/BOXD_GIT_TOKEN/);
        await bare.callOk("box_exec", {
          box: b,
          command: `git init -q -b main r && cd r && git commit -q --allow-empty -m x && git remote add origin ${srv.url}/acme/app.git`,
        });
        expect((await bare.callErr("box_git_push", { box: b, directory: "r", branch: "main" })).code).toBe(
          "UNAUTHENTICATED",
        );
        const pr = await bare.callErr("box_git_pull_request", { box: b, directory: "r", title: "t" });
        expect(pr.code).toBe("UNAUTHENTICATED");
      } finally {
        await bare.close();
      }
    },
    T,
  );
});

describe("the token probe itself", () => {
  it(
    "finds a secret in a file and in a process environment (so its empty answers mean something)",
    async () => {
      const canary = `canary-${randomBytes(8).toString("hex")}`;
      const probe = await h.createBox({ name: "git-probe", env: { PROBE_CANARY: canary } });
      await h.callOk("box_write_file", { box: probe.id, path: "/tmp/found-me", content: `x ${canary} y` });
      await h.callOk("box_exec", { box: probe.id, command: "sleep 30 >/dev/null 2>&1 &", background: false });
      const { containerId } = await h.services.liveBox("local", probe.id);
      const traces = await secretTraces((req) => h.services.engine.execs.run({ containerId, ...req }), [canary]);
      expect(traces).toMatch(/\/tmp\/found-me/);
      expect(traces).toMatch(/\/proc\/\d+\/environ/);
      const clean = await secretTraces(
        (req) => h.services.engine.execs.run({ containerId, ...req }),
        [`absent-${randomBytes(8).toString("hex")}`],
      );
      expect(clean).toBe("");
    },
    T,
  );

  it(
    "leaves no token in the box after all of the above",
    async () => {
      const { containerId } = await h.services.liveBox("local", box);
      const basic = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
      expect(await secretTraces((req) => h.services.engine.execs.run({ containerId, ...req }), [TOKEN, basic])).toBe(
        "",
      );
    },
    T,
  );
});
