// The box's files: a folder browser starting at /workspace/home (GET .../files?path=), a file's text
// (GET .../file?path=, shown as text in a <pre>; binary files are named, not shown) and a download link per
// file (GET .../download?path=, sent as an attachment).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, downloadUrl, errorMessage, type FileEntry, type FileText } from "./api";
import { formatBytes, formatDateTime } from "./format";

export const HOME = "/workspace/home";

function parentOf(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i <= 0 ? "/" : trimmed.slice(0, i);
}

/** "/a/b" → [["/", "/"], ["a", "/a"], ["b", "/a/b"]] */
function crumbs(p: string): Array<[string, string]> {
  const parts = p.split("/").filter(Boolean);
  const out: Array<[string, string]> = [["/", "/"]];
  let acc = "";
  for (const part of parts) {
    acc += `/${part}`;
    out.push([part, acc]);
  }
  return out;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

export function FilesPanel({ boxId }: { boxId: string }) {
  const [path, setPath] = useState(HOME);
  const [entries, setEntries] = useState<FileEntry[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [file, setFile] = useState<(FileText & { name: string }) | null>(null);
  const [fileLoading, setFileLoading] = useState("");
  const seq = useRef(0);
  const fileSeq = useRef(0);
  const here = useRef<HTMLSpanElement>(null);
  const viewHead = useRef<HTMLHeadingElement>(null);
  const moveFocus = useRef(false);

  const load = useCallback(
    async (p: string) => {
      const n = ++seq.current;
      setLoading(true);
      setError("");
      try {
        const r = await api.files(boxId, p);
        if (n !== seq.current) return;
        const list = Array.isArray(r?.entries) ? [...r.entries] : [];
        list.sort((a, b) => {
          const da = a.type === "directory" ? 0 : 1;
          const db = b.type === "directory" ? 0 : 1;
          return da - db || a.name.localeCompare(b.name);
        });
        setPath(typeof r?.path === "string" && r.path ? r.path : p);
        setEntries(list);
        setTruncated(Boolean(r?.truncated));
      } catch (e) {
        if (n !== seq.current) return;
        setError(errorMessage(e));
      } finally {
        if (n === seq.current) setLoading(false);
      }
    },
    [boxId],
  );

  useEffect(() => {
    void load(HOME);
  }, [load]);

  useEffect(() => {
    if (moveFocus.current && !loading) {
      moveFocus.current = false;
      here.current?.focus();
    }
  }, [path, loading]);

  const go = (p: string) => {
    moveFocus.current = true;
    void load(p);
  };

  const view = async (entry: FileEntry) => {
    const n = ++fileSeq.current;
    setFileLoading(entry.path);
    setError("");
    try {
      const r = await api.file(boxId, entry.path);
      if (n !== fileSeq.current) return;
      setFile({ ...r, path: typeof r?.path === "string" ? r.path : entry.path, name: entry.name });
      requestAnimationFrame(() => viewHead.current?.focus());
    } catch (e) {
      if (n !== fileSeq.current) return;
      setError(errorMessage(e));
    } finally {
      if (n === fileSeq.current) setFileLoading("");
    }
  };

  return (
    <section class="card" aria-labelledby="files-title">
      <div class="card-head">
        <h2 id="files-title">Files</h2>
        {loading ? <span class="muted">Loading…</span> : null}
        <span class="spacer" />
        <button type="button" class="btn btn-small" onClick={() => go(path)} disabled={loading}>
          Refresh
        </button>
      </div>
      <nav class="file-crumbs" aria-label="Folder path">
        <button type="button" class="btn btn-small" onClick={() => go(parentOf(path))} disabled={path === "/"}>
          Up
        </button>
        <ol>
          {crumbs(path).map(([name, p], i, all) =>
            i === all.length - 1 ? (
              <li key={p}>
                <span class="mono crumb-here" aria-current="location" tabIndex={-1} ref={here} data-testid="files-path">
                  {name}
                </span>
              </li>
            ) : (
              <li key={p}>
                <button type="button" class="linkish mono" onClick={() => go(p)}>
                  {name}
                </button>
              </li>
            ),
          )}
        </ol>
      </nav>
      {error ? (
        <p class="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
      {entries === null ? null : entries.length === 0 ? (
        <p class="muted">This folder is empty.</p>
      ) : (
        <div class="table-wrap files-wrap">
          <table class="table files" aria-label={`Files in ${path}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Modified</th>
                <th scope="col">
                  <span class="visually-hidden">Download</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.path} data-type={e.type}>
                  <td class="file-name">
                    {e.type === "directory" ? (
                      <button type="button" class="linkish" onClick={() => go(e.path)}>
                        {e.name}/
                      </button>
                    ) : e.type === "file" || e.type === "symlink" ? (
                      <button
                        type="button"
                        class="linkish"
                        onClick={() => void view(e)}
                        aria-busy={fileLoading === e.path}
                      >
                        {e.name}
                      </button>
                    ) : (
                      <span>{e.name}</span>
                    )}
                    {e.type === "symlink" ? <span class="muted"> (link)</span> : null}
                    {e.type === "other" ? <span class="muted"> (special)</span> : null}
                  </td>
                  <td class="num">{e.type === "directory" ? "—" : formatBytes(e.size)}</td>
                  <td>
                    <time dateTime={e.modifiedAt}>{formatDateTime(e.modifiedAt)}</time>
                  </td>
                  <td>
                    {e.type === "file" || e.type === "symlink" ? (
                      <a href={downloadUrl(boxId, e.path)} download={e.name} aria-label={`Download ${e.name}`}>
                        Download
                      </a>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {truncated ? <p class="muted">Only the first {entries?.length ?? 0} entries are shown.</p> : null}
      {file ? <FileView file={file} headRef={viewHead} onClose={() => setFile(null)} boxId={boxId} /> : null}
    </section>
  );
}

function FileView({
  file,
  headRef,
  onClose,
  boxId,
}: {
  file: FileText & { name: string };
  headRef: { current: HTMLHeadingElement | null };
  onClose: () => void;
  boxId: string;
}) {
  const name = file.name;
  const size = typeof file.size === "number" ? file.size : null;
  return (
    <section class="file-view" aria-labelledby="file-view-title">
      <div class="card-head">
        <h3 id="file-view-title" tabIndex={-1} ref={headRef} class="mono">
          {file.path}
        </h3>
        <span class="spacer" />
        <a class="btn btn-small" href={downloadUrl(boxId, file.path)} download={name}>
          Download
        </a>
        <button type="button" class="btn btn-small" onClick={onClose}>
          Close file
        </button>
      </div>
      {file.binary ? (
        <p class="muted" data-testid="file-binary">
          Binary file ({size ?? "?"} bytes): not shown
        </p>
      ) : (
        <>
          {file.truncated ? (
            <p class="muted" data-testid="file-truncated">
              Showing the first {byteLength(file.text ?? "")} bytes
              {size !== null ? ` of ${size} bytes` : ""}.
            </p>
          ) : null}
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
          {/* biome-ignore lint/a11y/useSemanticElements: the text stays a <pre>, named as a region */}
          <pre class="file-text" role="region" aria-label={`Contents of ${name}`} tabIndex={0} data-testid="file-text">
            {file.text ?? ""}
          </pre>
        </>
      )}
    </section>
  );
}
