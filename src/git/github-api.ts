// The two GitHub REST calls box_git_pull_request needs: GET /repos/{owner}/{repo} (the default branch) and
// POST /repos/{owner}/{repo}/pulls. Called from the server with the configured token (Node's fetch); the
// base URL is configurable for GitHub Enterprise (https://HOST/api/v3) and for tests.
import { BoxdError, type ErrorCode } from "../errors.js";

const TIMEOUT_MS = 30_000;

export interface PullRequestInput {
  owner: string;
  repo: string;
  title: string;
  head: string;
  base: string;
  body?: string;
  draft?: boolean;
}

export interface PullRequest {
  url: string;
  number: number;
  title: string;
  base: string;
  head: string;
}

interface ApiError {
  message?: string;
  errors?: { message?: string; code?: string; field?: string }[];
}

export class GitHubApi {
  readonly base: URL;

  constructor(
    baseUrl: string,
    private readonly token: string | null,
    private readonly redact: (text: string) => string,
  ) {
    this.base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  }

  async defaultBranch(owner: string, repo: string, signal?: AbortSignal): Promise<string> {
    const data = (await this.call("GET", repoPath(owner, repo), undefined, signal)) as { default_branch?: unknown };
    if (typeof data.default_branch !== "string" || !data.default_branch) {
      throw new BoxdError("INTERNAL", `the GitHub API named no default branch for ${owner}/${repo}: pass base`);
    }
    return data.default_branch;
  }

  async createPullRequest(pr: PullRequestInput, signal?: AbortSignal): Promise<PullRequest> {
    const body: Record<string, unknown> = { title: pr.title, head: pr.head, base: pr.base };
    if (pr.body !== undefined) body.body = pr.body;
    if (pr.draft !== undefined) body.draft = pr.draft;
    const data = (await this.call("POST", `${repoPath(pr.owner, pr.repo)}/pulls`, body, signal)) as {
      html_url?: unknown;
      number?: unknown;
      title?: unknown;
      base?: { ref?: unknown };
      head?: { ref?: unknown };
    };
    if (typeof data.html_url !== "string" || typeof data.number !== "number") {
      throw new BoxdError("INTERNAL", "the GitHub API created a pull request but its answer lacks html_url or number");
    }
    return {
      url: data.html_url,
      number: data.number,
      title: typeof data.title === "string" ? data.title : pr.title,
      base: typeof data.base?.ref === "string" ? data.base.ref : pr.base,
      head: typeof data.head?.ref === "string" ? data.head.ref : pr.head,
    };
  }

  private async call(method: string, rel: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    if (!this.token) {
      throw new BoxdError(
        "UNAUTHENTICATED",
        `no token is configured for the GitHub API at ${this.base.host}: set BOXD_GIT_TOKEN (or BOXD_GIT_TOKENS for that host) on the server`,
      );
    }
    const url = new URL(rel, this.base);
    const timeout = AbortSignal.timeout(TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          Accept: "application/vnd.github+json",
          Authorization: `Bearer ${this.token}`,
          "X-GitHub-Api-Version": "2022-11-28",
          "User-Agent": "boxd",
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        redirect: "error",
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (timeout.aborted) throw new BoxdError("TIMEOUT", `the GitHub API at ${url.host} did not answer in time`);
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? String(err);
      throw new BoxdError(
        "INTERNAL",
        `the GitHub API at ${url.origin} is unreachable (${cause}): check BOXD_GITHUB_API_URL`,
      );
    }
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // keep data null: a non-JSON answer is reported with its status below
    }
    if (res.ok) return data ?? {};
    throw this.apiError(method, url, res.status, data as ApiError | null, text);
  }

  private apiError(method: string, url: URL, status: number, data: ApiError | null, text: string): BoxdError {
    const details = (data?.errors ?? []).map((e) => e.message ?? [e.field, e.code].filter(Boolean).join(" "));
    const said = this.redact([data?.message ?? text.slice(0, 300), ...details].filter(Boolean).join("; "));
    const where = `${method} ${url.pathname}`;
    const pick = (code: ErrorCode, hint: string) =>
      new BoxdError(code, `GitHub API ${where}: ${hint} (${status}: ${said})`);
    if (status === 401) return pick("UNAUTHENTICATED", "the token was refused; check BOXD_GIT_TOKEN");
    if (status === 403) return pick("FORBIDDEN", "the token may not do this (permissions or rate limit)");
    if (status === 404) return pick("NOT_FOUND", "no such repository, or the token cannot see it");
    if (status === 422) {
      if (/already exists/i.test(said)) return pick("ALREADY_EXISTS", "a pull request for this branch already exists");
      if (/head|base/i.test(said)) {
        return pick("INVALID_ARGUMENT", "GitHub refused head or base: push the branch first (box_git_push)");
      }
      return pick("INVALID_ARGUMENT", "GitHub refused the request");
    }
    return pick("INTERNAL", "unexpected answer");
  }
}

function repoPath(owner: string, repo: string): string {
  return `repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
}
