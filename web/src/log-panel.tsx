// The box's live log (GET /console/api/boxes/<id>/log, SSE event `entry`): newest at the bottom, the last
// MAX_LINES kept in the DOM, following the end unless the reader has scrolled up.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { type LogEntry, streams } from "./api";
import { formatDateTime, formatTimeOfDay } from "./format";
import { StreamBadge, useEventStream } from "./sse";

export const MAX_LINES = 2000;

const LEVELS = new Set(["debug", "info", "warn", "warning", "error"]);

export function LogPanel({ boxId }: { boxId: string }) {
  const [lines, setLines] = useState<LogEntry[]>([]);
  const [paused, setPaused] = useState(false);
  const pending = useRef<LogEntry[]>([]);
  const lastSeq = useRef(-Infinity);
  const frame = useRef(0);
  const scroller = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  const flush = () => {
    frame.current = 0;
    const batch = pending.current;
    pending.current = [];
    if (batch.length) setLines((prev) => prev.concat(batch).slice(-MAX_LINES));
  };

  const state = useEventStream<LogEntry>(streams.log(boxId), "entry", (entry) => {
    if (!entry || typeof entry !== "object") return;
    const seq = typeof entry.seq === "number" ? entry.seq : null;
    if (seq !== null) {
      if (seq <= lastSeq.current) return; // replayed after a reconnect
      lastSeq.current = seq;
    }
    pending.current.push(entry);
    if (pending.current.length > MAX_LINES) pending.current = pending.current.slice(-MAX_LINES);
    if (!frame.current) frame.current = requestAnimationFrame(flush);
  });
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && follow.current && !paused) el.scrollTop = el.scrollHeight;
  }, [lines, paused]);

  const onScroll = () => {
    const el = scroller.current;
    if (el) follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  return (
    <section class="card log-card" aria-labelledby="log-title">
      <div class="card-head">
        <h2 id="log-title">Log</h2>
        <StreamBadge state={state} />
        <span class="spacer" />
        <span class="muted">{lines.length === MAX_LINES ? `last ${MAX_LINES} lines` : `${lines.length} lines`}</span>
        <button type="button" class="btn btn-small" onClick={() => setPaused((p) => !p)}>
          {paused ? "Follow log" : "Stop following"}
        </button>
        <button type="button" class="btn btn-small" onClick={() => setLines([])} disabled={lines.length === 0}>
          Clear
        </button>
      </div>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <div class="log" role="log" aria-label="Box log" aria-live="off" tabIndex={0} ref={scroller} onScroll={onScroll}>
        {lines.length === 0 ? (
          <p class="muted log-empty">No log entries yet.</p>
        ) : (
          lines.map((l, i) => {
            const level = l.level && LEVELS.has(l.level) ? l.level : "other";
            return (
              <div class={`log-line log-${level}`} key={l.seq ?? `i${i}`}>
                <time class="log-ts" dateTime={l.ts} title={formatDateTime(l.ts)}>
                  {formatTimeOfDay(l.ts)}
                </time>
                <span class="log-level">{l.level ?? ""}</span>
                <span class="log-source">{l.source ?? ""}</span>
                <span class="log-msg">{typeof l.message === "string" ? l.message : JSON.stringify(l.message)}</span>
              </div>
            );
          })
        )}
      </div>
    </section>
  );
}
