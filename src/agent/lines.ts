// Splits a byte stream into lines, decoding each whole line as UTF-8 (so a character split across two
// chunks is never mangled). A line longer than the cap is dropped, not kept growing: an agent that prints
// megabytes without a newline costs at most `maxLineBytes` of memory here.

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Bytes of the current line seen beyond the cap (the line is being dropped). */
  private dropped = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOversize: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      this.take(chunk.subarray(start, nl < 0 ? chunk.length : nl));
      if (nl < 0) return;
      this.flush();
      start = nl + 1;
    }
  }

  /** End of stream: a last line without a newline still counts. */
  end(): void {
    if (this.size > 0 || this.dropped > 0) this.flush();
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.dropped > 0) {
      this.dropped += piece.length;
      return;
    }
    if (this.size + piece.length > this.maxLineBytes) {
      this.dropped = this.size + piece.length;
      this.parts = [];
      this.size = 0;
      return;
    }
    // A copy: keeping a view would pin the whole (possibly large) chunk it came from.
    this.parts.push(Buffer.from(piece));
    this.size += piece.length;
  }

  private flush(): void {
    if (this.dropped > 0) {
      const bytes = this.dropped;
      this.dropped = 0;
      this.onOversize(bytes);
      return;
    }
    const buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    let line = buf.toString("utf8");
    if (line.endsWith("\r")) line = line.slice(0, -1);
    this.onLine(line);
  }
}

/** JSON Lines (claude stream-json, codex --json): one object per line; anything else is reported, skipped. */
export function jsonLines(
  maxLineBytes: number,
  onObject: (value: Record<string, unknown>) => void,
  issue: (problem: string) => void,
): { push(chunk: Buffer): void; end(): void } {
  const splitter = new LineSplitter(
    maxLineBytes,
    (line) => {
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        issue(`a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
        return;
      }
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        onObject(value as Record<string, unknown>);
      } else issue(`a JSON line that is not an object: ${JSON.stringify(line.slice(0, 200))}`);
    },
    (bytes) => issue(`dropped a line of ${bytes} bytes (over the ${maxLineBytes}-byte limit)`),
  );
  return { push: (chunk) => splitter.push(chunk), end: () => splitter.end() };
}

/** The last `max` bytes of a stream, for error messages ("what did it print last?"). */
export class Tail {
  private buf = Buffer.alloc(0);

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    if (chunk.length >= this.max) this.buf = Buffer.from(chunk.subarray(chunk.length - this.max));
    else {
      const keep = Math.min(this.buf.length, this.max - chunk.length);
      this.buf = Buffer.concat([this.buf.subarray(this.buf.length - keep), chunk]);
    }
  }

  /** The tail as text (a character cut at the start shows as U+FFFD). */
  text(): string {
    return this.buf.toString("utf8");
  }
}
