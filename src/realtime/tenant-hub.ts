import { DurableObject } from "cloudflare:workers";
import * as z from "zod";
import type { DomainEvent } from "../service/events.ts";

/** Events kept for replay to clients that reconnect (per tenant). */
const REPLAY_LOG_SIZE = 1000;

const common = { at: z.number(), actor: z.string(), reason: z.string().optional() };
const eventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.enum(["memory_created", "memory_updated", "memory_deleted", "feedback_recorded"]),
    memory: z.looseObject({ id: z.string(), text: z.string() }),
    ...common,
  }),
  z.object({
    type: z.enum(["session_updated", "session_deleted"]),
    session: z.looseObject({ session_id: z.string() }),
    ...common,
  }),
]);
const publishInput = z.array(eventSchema).max(1000);

export type SequencedEvent = DomainEvent & { seq: number };

/**
 * One per tenant: numbers the tenant's memory and session events, keeps a bounded replay log in its SQLite
 * storage, and (with the WebSocket dialects) fans them out to the tenant's sockets.
 */
export class TenantHub extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL)",
      );
    });
  }

  /** Records events in order; returns the sequence number of the last. */
  async publish(input: DomainEvent[]): Promise<number> {
    const events = publishInput.parse(input) as unknown as DomainEvent[];
    let seq = 0;
    for (const e of events) {
      const row = this.ctx.storage.sql
        .exec<{ seq: number }>("INSERT INTO events (at, body) VALUES (?, ?) RETURNING seq", e.at, JSON.stringify(e))
        .one();
      seq = row.seq;
    }
    if (seq > REPLAY_LOG_SIZE) this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", seq - REPLAY_LOG_SIZE);
    return seq;
  }

  /** Events after `since`, oldest first (at most the replay log's size). */
  async replay(since: number): Promise<SequencedEvent[]> {
    return this.ctx.storage.sql
      .exec<{ seq: number; body: string }>("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq", since)
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.body) as DomainEvent), seq: r.seq }));
  }
}
