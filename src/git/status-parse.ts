// Parsers for git's machine-readable output: `git status --porcelain=v2 --branch -z` and
// `git diff --numstat -z`. NUL-separated forms only, so that any file name (spaces, newlines, leading
// dashes, quotes) comes through exactly. Pure: no I/O.

export const CHANGE_KINDS = ["changed", "renamed", "copied", "unmerged", "untracked"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface StatusEntry {
  path: string;
  /** The path before a rename or copy. */
  originalPath?: string;
  /** git's X (index, staged) and Y (worktree) letters; "." is unchanged, "?" untracked. */
  index: string;
  worktree: string;
  kind: ChangeKind;
}

export interface RepoStatus {
  branch: string | null;
  detached: boolean;
  commit: string | null;
  upstream: string | null;
  ahead: number;
  behind: number;
  entries: StatusEntry[];
  total: number;
  staged: number;
  unstaged: number;
  untracked: number;
  conflicted: number;
}

/** Splits `text` after the first `n` space-separated fields; the rest (the path) may contain spaces. */
function fields(record: string, n: number): { head: string[]; rest: string } {
  const head: string[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const sp = record.indexOf(" ", at);
    if (sp < 0) return { head, rest: "" };
    head.push(record.slice(at, sp));
    at = sp + 1;
  }
  return { head, rest: record.slice(at) };
}

export function parseStatus(out: string, maxEntries: number): RepoStatus {
  const s: RepoStatus = {
    branch: null,
    detached: false,
    commit: null,
    upstream: null,
    ahead: 0,
    behind: 0,
    entries: [],
    total: 0,
    staged: 0,
    unstaged: 0,
    untracked: 0,
    conflicted: 0,
  };
  const records = out.split("\0");
  const add = (e: StatusEntry) => {
    s.total += 1;
    if (e.kind === "untracked") s.untracked += 1;
    else if (e.kind === "unmerged") s.conflicted += 1;
    else {
      if (e.index !== ".") s.staged += 1;
      if (e.worktree !== ".") s.unstaged += 1;
    }
    if (s.entries.length < maxEntries) s.entries.push(e);
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as string;
    if (!r) continue;
    if (r.startsWith("# ")) headerLine(s, r);
    else {
      const entry = entryOf(r, records[i + 1] ?? "");
      if (entry?.kind === "renamed" || entry?.kind === "copied") i += 1; // the original path's record
      if (entry) add(entry);
    }
  }
  return s;
}

/** A `# branch.*` header line of `git status --porcelain=v2 --branch`. */
function headerLine(s: RepoStatus, r: string): void {
  const [key, ...rest] = r.slice(2).split(" ");
  const value = rest.join(" ");
  if (key === "branch.oid") s.commit = value === "(initial)" ? null : value;
  else if (key === "branch.head") {
    s.detached = value === "(detached)";
    s.branch = s.detached ? null : value;
  } else if (key === "branch.upstream") s.upstream = value;
  else if (key === "branch.ab") {
    const m = /^\+(\d+) -(\d+)$/.exec(value);
    if (m) {
      s.ahead = Number(m[1]);
      s.behind = Number(m[2]);
    }
  }
}

/** One entry record (`next` is the record after it: a rename's or copy's original path). */
function entryOf(r: string, next: string): StatusEntry | null {
  const type = r[0];
  if (type === "1") {
    const { head, rest } = fields(r, 8);
    const xy = head[1] ?? "..";
    return { path: rest, index: xy[0] ?? ".", worktree: xy[1] ?? ".", kind: "changed" };
  }
  if (type === "2") {
    const { head, rest } = fields(r, 9);
    const xy = head[1] ?? "..";
    const score = head[8] ?? "";
    return {
      path: rest,
      originalPath: next,
      index: xy[0] ?? ".",
      worktree: xy[1] ?? ".",
      kind: score.startsWith("C") ? "copied" : "renamed",
    };
  }
  if (type === "u") {
    const { head, rest } = fields(r, 10);
    const xy = head[1] ?? "UU";
    return { path: rest, index: xy[0] ?? "U", worktree: xy[1] ?? "U", kind: "unmerged" };
  }
  if (type === "?") return { path: r.slice(2), index: "?", worktree: "?", kind: "untracked" };
  return null;
}

export interface DiffFileStat {
  path: string;
  originalPath?: string;
  /** null for binary files (git counts no lines). */
  additions: number | null;
  deletions: number | null;
  binary: boolean;
}

/** `git diff --numstat -z`: "A\tD\tpath\0", or "A\tD\t\0old\0new\0" for a rename. */
export function parseNumstat(out: string): DiffFileStat[] {
  const parts = out.split("\0");
  const files: DiffFileStat[] = [];
  for (let i = 0; i < parts.length; i++) {
    const rec = parts[i] as string;
    if (!rec) continue;
    const m = /^(-|\d+)\t(-|\d+)\t([\s\S]*)$/.exec(rec);
    if (!m) continue;
    const binary = m[1] === "-";
    const stat = {
      additions: binary ? null : Number(m[1]),
      deletions: binary ? null : Number(m[2]),
      binary,
    };
    if (m[3] === "") {
      files.push({ ...stat, originalPath: parts[i + 1] ?? "", path: parts[i + 2] ?? "" });
      i += 2;
    } else {
      files.push({ ...stat, path: m[3] as string });
    }
  }
  return files;
}
