// Persistence of each box's agent defaults (box_create { agent }): the harness, model and options a
// box_agent_run in that box uses when it names none.
import type { Db } from "./db.js";

export interface AgentDefaults {
  /** One of HARNESSES (src/agent/events.ts), checked before it is stored. */
  harness?: "claude-code" | "codex" | "custom";
  model?: string;
  options?: Record<string, unknown>;
}

export class AgentDefaultsStore {
  constructor(private readonly db: Db) {}

  set(boxId: string, d: AgentDefaults): void {
    this.db
      .prepare("INSERT OR REPLACE INTO box_agent_defaults (box_id, defaults) VALUES (?, ?)")
      .run(boxId, JSON.stringify(d));
  }

  get(boxId: string): AgentDefaults | null {
    const row = this.db.prepare("SELECT defaults FROM box_agent_defaults WHERE box_id = ?").get(boxId) as
      | { defaults: string }
      | undefined;
    return row ? (JSON.parse(row.defaults) as AgentDefaults) : null;
  }

  delete(boxId: string): void {
    this.db.prepare("DELETE FROM box_agent_defaults WHERE box_id = ?").run(boxId);
  }
}
