// Output plumbing for runs: a capped buffer that keeps the head of a stream and counts the rest, and the
// filter that takes boxd-run's trailer line (ASCII RS + "boxd-...") off the end of stderr.

/** What bash in boxd-run prints when the box's pids limit leaves it no process to fork. */
export const OUT_OF_PROCESSES = "Resource temporarily unavailable";
/** What the engine answers on the exec's output when it cannot start the process in the container. */
export const EXEC_FAILED = "OCI runtime exec failed";

export class CappedBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(piece);
    this.kept += piece.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  toBuffer(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
}

export interface Trailer {
  kind: "usage" | "error";
  fields: string[];
}

const RS = 0x1e;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the RS byte marks the trailer; output rarely has it
const TRAILER = /^\u001eboxd-(usage|error) ([^\n]*)\n?$/;

/**
 * Passes stderr through, holding back anything from an RS byte on (the trailer can only be the last bytes
 * of the stream). Only the trailer the stream ends with counts: the command itself can print one too (it
 * shares boxd-run's stderr), so a trailer followed by more output is output, and `trailer` is set at end().
 */
export class TrailerFilter {
  private held: Buffer = Buffer.alloc(0);
  private candidate: Trailer | null = null;
  /** The candidate's bytes as they came, given back as output if more follows. */
  private candidateBytes: Buffer = Buffer.alloc(0);
  trailer: Trailer | null = null;

  constructor(private readonly emit: (chunk: Buffer) => void) {}

  /** Called when a trailer arrives (the command has probably exited), and with null if output follows it. */
  onTrailer?: (t: Trailer | null) => void;

  push(chunk: Buffer): void {
    if (this.candidate) {
      // Output after a trailer: that trailer was the command's own text.
      this.emit(this.candidateBytes);
      this.candidate = null;
      this.onTrailer?.(null);
    }
    const data = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const at = data.lastIndexOf(RS);
    if (at < 0) {
      this.held = Buffer.alloc(0);
      this.emit(data);
      return;
    }
    if (at > 0) this.emit(data.subarray(0, at));
    this.held = Buffer.from(data.subarray(at));
    const m = TRAILER.exec(this.held.toString("latin1"));
    if (m && this.held.at(-1) === 0x0a) {
      this.candidate = { kind: m[1] as Trailer["kind"], fields: (m[2] ?? "").trim().split(/\s+/) };
      this.candidateBytes = this.held;
      this.held = Buffer.alloc(0);
      this.onTrailer?.(this.candidate);
    } else if (this.held.length > 256) {
      // Not a trailer (too long): it was output after all.
      this.emit(this.held);
      this.held = Buffer.alloc(0);
    }
  }

  end(): void {
    if (this.held.length) this.emit(this.held);
    this.held = Buffer.alloc(0);
    this.trailer = this.candidate;
  }
}

/** boxd-run's usage trailer: elapsed s, user s, sys s, max RSS KiB. */
export function usageFromTrailer(t: Trailer | null): { cpuNs: number; memoryPeakBytes: number } | null {
  if (t?.kind !== "usage") return null;
  const [, user, sys, rssKb] = t.fields.map(Number);
  if ([user, sys, rssKb].some((n) => n === undefined || Number.isNaN(n))) return null;
  return { cpuNs: Math.round(((user ?? 0) + (sys ?? 0)) * 1e9), memoryPeakBytes: (rssKb ?? 0) * 1024 };
}

/**
 * A failed run whose output says fork failed, in a box whose process count is at its limit (`usage` reads
 * the container's). Needs both: a command can print the words, but cannot fake the box's process count.
 */
export async function saidOutOfProcesses(
  stdout: CappedBuffer,
  stderr: CappedBuffer,
  couldNotStart: boolean | undefined,
  usage: () => Promise<{ pids: number; pidsLimit: number } | null>,
): Promise<boolean> {
  const said =
    couldNotStart === true ||
    stderr.toBuffer().includes(OUT_OF_PROCESSES) ||
    stdout.toBuffer().includes(EXEC_FAILED) ||
    stdout.toBuffer().includes(OUT_OF_PROCESSES);
  if (!said) return false;
  const u = await usage().catch(() => null);
  return !!u && u.pidsLimit > 0 && u.pids >= u.pidsLimit - 8;
}
