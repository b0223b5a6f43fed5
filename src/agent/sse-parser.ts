// Server-sent events framing (the WHATWG event-stream format: `event:` and `data:` fields, a blank line
// ends an event, `:` starts a comment), parsed incrementally from bytes with a cap on each event's size.
// It knows nothing of what the events mean: box-sse.ts maps them to the agent event model.
import { LineSplitter } from "./lines.js";

export interface SseMessage {
  event: string;
  data: string;
}

export class SseParser {
  private readonly lines: LineSplitter;
  private event = "";
  private data: string[] = [];
  private dataBytes = 0;
  private oversized = false;

  constructor(
    private readonly maxEventBytes: number,
    private readonly onMessage: (message: SseMessage) => void,
    private readonly onIssue: (problem: string) => void,
  ) {
    this.lines = new LineSplitter(
      maxEventBytes,
      (line) => this.line(line),
      // Only the line is lost: if it was part of an event's data, that event then fails to parse on its own.
      (bytes) => this.onIssue(`dropped a line of ${bytes} bytes (over the ${maxEventBytes}-byte event limit)`),
    );
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  /** End of stream. The format says an unfinished event is discarded; a harness that exits right after its
   * last `data:` line (no blank line) is common enough that it is dispatched instead. */
  end(): void {
    this.lines.end();
    this.dispatch();
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") {
      this.dataBytes += Buffer.byteLength(value) + 1;
      if (this.dataBytes > this.maxEventBytes) {
        if (!this.oversized) this.onIssue(`dropped an event over the ${this.maxEventBytes}-byte limit`);
        this.oversized = true;
        this.data = [];
      } else if (!this.oversized) this.data.push(value);
    } else if (field !== "id" && field !== "retry") {
      this.onIssue(`ignored a line that is not a server-sent event field: ${JSON.stringify(line.slice(0, 200))}`);
    }
  }

  private dispatch(): void {
    const had = this.event !== "" || this.data.length > 0 || this.oversized;
    const message = this.oversized ? null : { event: this.event || "message", data: this.data.join("\n") };
    this.event = "";
    this.data = [];
    this.dataBytes = 0;
    this.oversized = false;
    if (had && message) this.onMessage(message);
  }
}
