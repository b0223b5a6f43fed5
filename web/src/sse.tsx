// EventSource with the console's rules: JSON payloads, a visible connection state, and a check of the
// session when the server refuses the stream (a 401 there signs the user out through the API client).
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";

export type StreamState = "connecting" | "live" | "reconnecting";

export function useEventStream<T>(url: string | null, event: string, onData: (data: T) => void): StreamState {
  const [state, setState] = useState<StreamState>("connecting");
  const handler = useRef(onData);
  handler.current = onData;

  useEffect(() => {
    if (!url) return;
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;

    const open = () => {
      if (closed) return;
      es = new EventSource(url);
      es.onopen = () => setState("live");
      es.addEventListener(event, (e) => {
        let data: T;
        try {
          data = JSON.parse((e as MessageEvent<string>).data) as T;
        } catch {
          return;
        }
        handler.current(data);
      });
      es.onerror = () => {
        if (closed || !es) return;
        setState("reconnecting");
        if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
        es = null;
        // The server refused the stream: a 401 from the session check signs out; otherwise retry later.
        api
          .session()
          .then(() => {
            if (!closed) retry = setTimeout(open, 3000);
          })
          .catch(() => {
            if (!closed) retry = setTimeout(open, 5000);
          });
      };
    };
    setState("connecting");
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      es?.close();
    };
  }, [url, event]);

  return state;
}

export function StreamBadge({ state }: { state: StreamState }) {
  const text = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  return (
    <span class={`stream stream-${state}`} role="status">
      {text}
    </span>
  );
}
