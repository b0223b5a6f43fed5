// The terminal chunk (loaded only when "Open terminal" is pressed): xterm.js in a container, connected to
// GET /console/api/boxes/<id>/terminal as a WebSocket. Server → client: binary frames are output bytes, text
// frames are JSON ({type:"exit",code} or {type:"error",message}). Client → server: JSON text frames
// {type:"input",data} and {type:"resize",cols,rows}.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { terminalUrl } from "./api";
import { installStyleShim } from "./style-shim";

export type TerminalState = "connecting" | "open" | "closed";

export interface TerminalHandlers {
  onState: (state: TerminalState) => void;
  onError: (message: string) => void;
  onExit: (code: number | null) => void;
  /** The connection closed without an exit message (refused, or lost). */
  onLost: (opened: boolean) => void;
  /** Esc then Tab: leave the terminal for the next control. */
  onEscape: () => void;
}

export interface TerminalSession {
  close: () => void;
  dispose: () => void;
  focus: () => void;
}

declare global {
  interface Window {
    __boxdTerminal?: Terminal;
  }
}

export function openTerminal(container: HTMLElement, boxId: string, h: TerminalHandlers): TerminalSession {
  installStyleShim();
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: false,
    theme: { background: "#11151e", foreground: "#d7dce6", cursor: "#d7dce6" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  try {
    fit.fit();
  } catch {
    // not laid out yet: the server's default size stands until the next fit
  }
  window.__boxdTerminal = term;

  // Esc then Tab (within a second) leaves the terminal, which otherwise keeps Tab for the shell.
  let escAt = 0;
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== "keydown") return true;
    if (e.key === "Escape") {
      escAt = Date.now();
      return true;
    }
    if (e.key === "Tab" && Date.now() - escAt < 1000) {
      escAt = 0;
      e.preventDefault();
      h.onEscape();
      return false;
    }
    escAt = 0;
    return true;
  });

  let state: TerminalState = "connecting";
  let exited = false;
  let opened = false;
  const setState = (s: TerminalState) => {
    state = s;
    h.onState(s);
  };
  setState("connecting");

  const ws = new WebSocket(terminalUrl(boxId, term.cols, term.rows));
  ws.binaryType = "arraybuffer";
  const send = (msg: unknown) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };
  const sendSize = () => send({ type: "resize", cols: term.cols, rows: term.rows });

  ws.onopen = () => {
    opened = true;
    setState("open");
    try {
      fit.fit();
    } catch {
      // ignore
    }
    sendSize();
    term.focus();
  };
  ws.onmessage = (e: MessageEvent) => {
    if (typeof e.data !== "string") {
      term.write(new Uint8Array(e.data as ArrayBuffer));
      return;
    }
    let msg: { type?: unknown; code?: unknown; message?: unknown };
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg?.type === "exit") {
      exited = true;
      const code = typeof msg.code === "number" ? msg.code : null;
      // Reported once the line is in the terminal's buffer (writes are parsed asynchronously).
      term.write(`\r\n[process exited${code === null ? "" : ` with code ${code}`}]\r\n`, () => {
        h.onExit(code);
        setState("closed");
      });
    } else if (msg?.type === "error") {
      h.onError(typeof msg.message === "string" && msg.message ? msg.message : "The terminal failed.");
    }
  };
  ws.onclose = () => {
    if (state !== "closed") setState("closed");
    if (!exited) h.onLost(opened);
  };

  const input = term.onData((data) => send({ type: "input", data }));
  const resized = term.onResize(() => sendSize());
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      try {
        fit.fit();
      } catch {
        // hidden or detached
      }
    });
  });
  observer.observe(container);

  return {
    close: () => {
      exited = true; // closed on purpose: not "lost"
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000, "closed");
      setState("closed");
    },
    dispose: () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
      input.dispose();
      resized.dispose();
      ws.onclose = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000, "closed");
      if (window.__boxdTerminal === term) window.__boxdTerminal = undefined;
      term.dispose();
    },
    focus: () => term.focus(),
  };
}
