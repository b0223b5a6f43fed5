// A fake GitHub API (stand-in) on 127.0.0.1 for tests: only the two endpoints boxd calls,
// GET /repos/{owner}/{repo} and POST /repos/{owner}/{repo}/pulls. It checks the Authorization header and
// the JSON body as GitHub would (401 bad token, 404 unknown repo, 422 missing fields or a duplicate pull
// request) and records every request so that tests can inspect exactly what boxd sent.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeGitHubRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakeGitHub {
  url: string;
  requests: FakeGitHubRequest[];
  /** Pull requests created so far. */
  pulls: { owner: string; repo: string; number: number; title: string; head: string; base: string; body?: string }[];
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: {
  token: string;
  /** "owner/repo" -> default branch */
  repos: Record<string, string>;
}): Promise<FakeGitHub> {
  const requests: FakeGitHubRequest[] = [];
  const pulls: FakeGitHub["pulls"] = [];
  const send = (res: http.ServerResponse, status: number, data: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(data));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      requests.push({ method: req.method ?? "", path: url.pathname, headers: req.headers, body });
      const auth = req.headers.authorization;
      if (auth !== `Bearer ${opts.token}` && auth !== `token ${opts.token}`) {
        send(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
        return;
      }
      const m = /^\/repos\/([^/]+)\/([^/]+)(\/pulls)?$/.exec(url.pathname);
      const full = m ? `${decodeURIComponent(m[1] as string)}/${decodeURIComponent(m[2] as string)}` : "";
      const defaultBranch = opts.repos[full];
      if (!m || defaultBranch === undefined) {
        send(res, 404, { message: "Not Found" });
        return;
      }
      if (!m[3] && req.method === "GET") {
        send(res, 200, { full_name: full, default_branch: defaultBranch, private: true });
        return;
      }
      if (m[3] && req.method === "POST") {
        if (!String(req.headers["content-type"]).startsWith("application/json")) {
          send(res, 415, { message: "Unsupported Media Type" });
          return;
        }
        const b = (body ?? {}) as Record<string, unknown>;
        const missing = ["title", "head", "base"].filter((k) => typeof b[k] !== "string" || !b[k]);
        if (missing.length) {
          send(res, 422, {
            message: "Validation Failed",
            errors: missing.map((field) => ({ resource: "PullRequest", field, code: "missing_field" })),
          });
          return;
        }
        const [owner, repo] = full.split("/") as [string, string];
        if (pulls.some((p) => p.owner === owner && p.repo === repo && p.head === b.head && p.base === b.base)) {
          send(res, 422, {
            message: "Validation Failed",
            errors: [
              {
                resource: "PullRequest",
                code: "custom",
                message: `A pull request already exists for ${owner}:${b.head}.`,
              },
            ],
          });
          return;
        }
        const number = pulls.length + 1;
        const pr = {
          owner,
          repo,
          number,
          title: b.title as string,
          head: b.head as string,
          base: b.base as string,
          ...(typeof b.body === "string" ? { body: b.body } : {}),
        };
        pulls.push(pr);
        send(res, 201, {
          number,
          html_url: `https://github.example/${full}/pull/${number}`,
          title: pr.title,
          state: "open",
          draft: b.draft === true,
          head: { ref: pr.head },
          base: { ref: pr.base },
        });
        return;
      }
      send(res, 404, { message: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    pulls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
