// A real git smart-HTTP server for tests: `git http-backend` (the CGI program shipped with git) behind a
// small node:http server on 127.0.0.1, serving bare repositories from a temp folder. Every repository is
// private (reads and pushes need the token, as HTTP basic auth with any user name or as a bearer token)
// unless it is listed as public (anonymous reads). It can listen on several ports at once, so that tests
// can configure a different token per "host" (127.0.0.1:port) of the same server.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { testRoot } from "./test-root.js";

export interface GitServerOptions {
  token: string;
  /** Repository paths (e.g. "acme/public.git") anyone may read without a token. */
  publicRepos?: string[];
  /** How many ports to listen on (default 1). */
  ports?: number;
}

export interface GitRequest {
  method: string;
  path: string;
  authorized: boolean;
  authorization: string | undefined;
}

export interface GitServer {
  /** Base URLs, one per port: http://127.0.0.1:PORT */
  urls: string[];
  /** The first base URL. */
  url: string;
  root: string;
  requests: GitRequest[];
  /** The bare repository folder of a repository path like "acme/app.git". */
  bare(repo: string): string;
  /** Creates a bare repository with one commit of `files` on `branch` (default main); more branches optional. */
  createRepo(repo: string, files: Record<string, string>, opts?: { branch?: string; branches?: string[] }): string;
  /** Runs git against a bare repository of this server (to check what a push did). */
  git(repo: string, ...args: string[]): string;
  /** Adds a commit to `branch` directly on the server (someone else pushed); returns its sha. */
  commitOnServer(repo: string, branch: string, file: string, content: string | Buffer): string;
  close(): Promise<void>;
}

const AUTHOR = ["-c", "user.name=Test Server", "-c", "user.email=server@test.invalid"];

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const root = mkdtempSync(path.join(testRoot(), "git-server-"));
  const work = mkdtempSync(path.join(testRoot(), "git-work-"));
  const backend = path.join(execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim(), "git-http-backend");
  const requests: GitRequest[] = [];
  const publicRepos = new Set(opts.publicRepos ?? []);

  const authorized = (header: string | undefined): boolean => {
    if (!header) return false;
    if (header === `Bearer ${opts.token}`) return true;
    const basic = /^Basic (.+)$/i.exec(header);
    if (!basic?.[1]) return false;
    const decoded = Buffer.from(basic[1], "base64").toString("utf8");
    return decoded.slice(decoded.indexOf(":") + 1) === opts.token;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const ok = authorized(req.headers.authorization);
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      authorized: ok,
      authorization: req.headers.authorization,
    });
    const repo = /^\/(.+?\.git)\//.exec(url.pathname)?.[1] ?? "";
    const isPush = url.searchParams.get("service") === "git-receive-pack" || url.pathname.endsWith("/git-receive-pack");
    if (!ok && (isPush || !publicRepos.has(repo))) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="boxd test git server"', "Content-Type": "text/plain" });
      res.end("authentication required\n");
      req.resume();
      return;
    }
    const cgi = spawn(backend, [], {
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-length"] ? { CONTENT_LENGTH: req.headers["content-length"] } : {}),
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        // http-backend only accepts pushes from an authenticated user.
        ...(ok ? { REMOTE_USER: "tester" } : {}),
        REMOTE_ADDR: "127.0.0.1",
        SERVER_PROTOCOL: "HTTP/1.1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    cgi.on("error", () => res.destroy());
    cgi.stdin.on("error", () => {});
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headerDone = false;
    // Backpressure from the client reaches http-backend, so that big repositories stream.
    const forward = (chunk: Buffer) => {
      if (!res.write(chunk)) {
        cgi.stdout.pause();
        res.once("drain", () => cgi.stdout.resume());
      }
    };
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headerDone) {
        forward(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      const endLf = head.indexOf("\n\n");
      const cut = end >= 0 ? end : endLf;
      if (cut < 0) return;
      const sep = end >= 0 ? 4 : 2;
      const lines = head.subarray(0, cut).toString("latin1").split(/\r?\n/);
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10) || 200;
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      headerDone = true;
      const rest = head.subarray(cut + sep);
      if (rest.length) forward(rest);
    });
    cgi.stdout.on("end", () => res.end());
  };

  const servers: http.Server[] = [];
  const urls: string[] = [];
  for (let i = 0; i < (opts.ports ?? 1); i++) {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  const bare = (repo: string) => path.join(root, repo);
  const git = (repo: string, ...args: string[]) =>
    execFileSync("git", ["--git-dir", bare(repo), ...args], { encoding: "utf8" }).trim();

  const createRepo: GitServer["createRepo"] = (repo, files, o = {}) => {
    const branch = o.branch ?? "main";
    const dir = bare(repo);
    mkdirSync(path.dirname(dir), { recursive: true });
    execFileSync("git", ["init", "-q", "--bare", `--initial-branch=${branch}`, dir]);
    const tree = mkdtempSync(path.join(work, "tree-"));
    execFileSync("git", ["init", "-q", `--initial-branch=${branch}`, tree]);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
      writeFileSync(path.join(tree, name), content);
    }
    execFileSync("git", ["-C", tree, "add", "-A"]);
    execFileSync("git", ["-C", tree, ...AUTHOR, "commit", "-q", "-m", "initial commit"]);
    execFileSync("git", ["-C", tree, "push", "-q", "--", dir, `refs/heads/${branch}:refs/heads/${branch}`]);
    for (const b of o.branches ?? []) {
      execFileSync("git", ["-C", tree, "switch", "-q", "-c", b, branch]);
      writeFileSync(path.join(tree, `${b.replace(/\W/g, "_")}.txt`), `on ${b}\n`);
      execFileSync("git", ["-C", tree, "add", "-A"]);
      execFileSync("git", ["-C", tree, ...AUTHOR, "commit", "-q", "-m", `work on ${b}`]);
      execFileSync("git", ["-C", tree, "push", "-q", "--", dir, `refs/heads/${b}:refs/heads/${b}`]);
    }
    return dir;
  };

  const commitOnServer: GitServer["commitOnServer"] = (repo, branch, file, content) => {
    const tree = mkdtempSync(path.join(work, "upd-"));
    execFileSync("git", ["clone", "-q", "--branch", branch, "--", bare(repo), tree]);
    writeFileSync(path.join(tree, file), content);
    execFileSync("git", ["-C", tree, "add", "-A"]);
    execFileSync("git", ["-C", tree, ...AUTHOR, "commit", "-q", "-m", `server-side change to ${file}`]);
    execFileSync("git", ["-C", tree, "push", "-q", "origin", `HEAD:refs/heads/${branch}`]);
    return execFileSync("git", ["-C", tree, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  };

  return {
    urls,
    url: urls[0] as string,
    root,
    requests,
    bare,
    createRepo,
    git,
    commitOnServer,
    async close() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      rmSync(root, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export type ExecInBox = (req: {
  cmd: string[];
  user: string;
  stdin: Buffer;
  onStdout: (c: Buffer) => void;
}) => Promise<{
  exitCode: number | null;
}>;

/**
 * Where the secrets appear in a box: files under the usual writable and config trees, and the environment
 * of every process. Runs once as boxuser and once as root; the secrets travel on stdin only (never in an
 * argument or variable of the probe itself), so the probe cannot find itself. Returns the hits ("" = none).
 */
export async function secretTraces(exec: ExecInBox, secrets: string[]): Promise<string> {
  const script = `pats=$(mktemp); trap 'rm -f "$pats"' EXIT; cat > "$pats"
grep -rlF -f "$pats" /workspace /tmp /etc /root /home /var /run /opt /srv /usr/local 2>/dev/null | grep -vx "$pats"
for f in /proc/[0-9]*/environ; do grep -qF -f "$pats" "$f" 2>/dev/null && echo "$f"; done
true`;
  let out = "";
  for (const user of ["1000:1000", "0"]) {
    await exec({
      cmd: ["/bin/bash", "-c", script],
      user,
      stdin: Buffer.from(`${secrets.join("\n")}\n`),
      onStdout: (c) => {
        out += c.toString("utf8");
      },
    });
  }
  return out.trim();
}
