// The box's terminal: "Open terminal" loads the xterm chunk (./terminal) and connects it to the box;
// "Close terminal" closes the connection. Errors from the server show in an alert; the state in a status.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage } from "./api";
import type { TerminalSession, TerminalState } from "./terminal";

type PanelState = "idle" | "loading" | TerminalState;

export function TerminalPanel({ boxId }: { boxId: string }) {
  const [state, setState] = useState<PanelState>("idle");
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const container = useRef<HTMLElement>(null);
  const session = useRef<TerminalSession | null>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const openButton = useRef<HTMLButtonElement>(null);
  const alive = useRef(true);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      session.current?.dispose();
      session.current = null;
    };
  }, []);

  const open = async () => {
    setError("");
    setNote("");
    setState("loading");
    session.current?.dispose();
    session.current = null;
    let mod: typeof import("./terminal");
    try {
      mod = await import("./terminal");
    } catch (e) {
      setError(`Could not load the terminal: ${errorMessage(e)}`);
      setState("idle");
      return;
    }
    const el = container.current;
    if (!alive.current || !el) return;
    el.replaceChildren();
    session.current = mod.openTerminal(el, boxId, {
      onState: (s) => alive.current && setState(s),
      onError: (message) => alive.current && setError(message),
      onExit: (code) => alive.current && setNote(`[process exited${code === null ? "" : ` with code ${code}`}]`),
      onLost: (opened) => {
        if (!alive.current) return;
        setNote(opened ? "The connection to the terminal was lost." : "");
        if (!opened) {
          setError((prev) => prev || "Could not connect to the terminal.");
          // A refused upgrade says nothing to the page: a 401 from the session check signs out.
          api.session().catch(() => {});
        }
      },
      onEscape: () => (closeButton.current?.disabled ? openButton.current : closeButton.current)?.focus(),
    });
  };

  const close = () => {
    session.current?.close();
    setNote("Terminal closed.");
    setTimeout(() => openButton.current?.focus(), 0);
  };

  const running = state === "connecting" || state === "open" || state === "loading";
  return (
    // Not a named region itself: the terminal inside is the region "Terminal".
    <div class="card terminal-card">
      <div class="card-head">
        <h2 id="terminal-title">Terminal</h2>
        <span class="muted" role="status" data-testid="terminal-state">
          {state === "loading"
            ? "Loading…"
            : state === "connecting"
              ? "Connecting…"
              : state === "open"
                ? "Connected"
                : state === "closed"
                  ? note || "Closed"
                  : ""}
        </span>
        <span class="spacer" />
        <button type="button" class="btn btn-small" ref={openButton} onClick={() => void open()} disabled={running}>
          Open terminal
        </button>
        <button type="button" class="btn btn-small" ref={closeButton} onClick={close} disabled={!running}>
          Close terminal
        </button>
      </div>
      {error ? (
        <p class="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
      {state === "idle" ? (
        <p class="muted">A shell in the box, in your browser. Esc then Tab moves focus out of the terminal.</p>
      ) : null}
      <section
        class="terminal"
        hidden={state === "idle"}
        aria-label="Terminal"
        data-testid="terminal"
        ref={container}
      />
    </div>
  );
}
