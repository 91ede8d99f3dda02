import type { Embedder } from "../ai/embedder.ts";
import { WriteConflict } from "../domain/errors.ts";
import type { Memory } from "../domain/memory.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { PutOp } from "../domain/writes.ts";
import type { VectorIndex } from "../vector/vector-index.ts";
import { inBackground } from "./background.ts";
import type { MemoryCommit } from "./memory-commit.ts";
import type { MemoryStore } from "./ports.ts";
import { retryOnConflict } from "./retry.ts";
import { forgetUnembedded } from "./unembedded.ts";

export interface UpkeepDeps {
  memoryStore: Pick<MemoryStore, "expired" | "needingEmbedding" | "write">;
  index: VectorIndex;
  embedder: Embedder;
  commit: MemoryCommit;
  log: Logger;
  clock: () => number;
  /** Runs work after the response (ctx.waitUntil). */
  defer: (p: Promise<unknown>) => void;
}

/** Expired memories of a tenant are purged on read at most this often (per isolate). */
const PURGE_ON_READ_EVERY_MS = 60_000;
const lastPurge = new Map<string, number>();

/** Memory upkeep: expired memories purged, missing vectors embedded, the vector index kept in sync. */
export class Upkeep {
  constructor(private readonly d: UpkeepDeps) {}

  /** Purges the tenant's expired memories after the response, at most once a minute per isolate. */
  purgeOnRead(tenant: string): void {
    const now = this.d.clock();
    if (now - (lastPurge.get(tenant) ?? 0) < PURGE_ON_READ_EVERY_MS) return;
    lastPurge.set(tenant, now);
    inBackground(this.d, this.purgeExpired(tenant), "purge on read");
  }

  /** Deletes expired memories (of one tenant, or all); returns how many. */
  async purgeExpired(tenant?: string, limit = 200): Promise<number> {
    const expired = await this.d.memoryStore.expired(this.d.clock(), limit, tenant);
    let purged = 0;
    // Each tenant's purge retries on its own: one tenant's conflict never redoes (or miscounts) another's.
    for (const t of groupByTenant(expired).keys()) {
      purged += await retryOnConflict("expired memories", async () => {
        const memories = await this.d.memoryStore.expired(this.d.clock(), limit, t);
        await this.d.commit.delete(t, memories, "system", "expired");
        return memories.length;
      });
    }
    return purged;
  }

  /** Re-embeds memories that have no vector, or one from another model (after a model change). */
  async reembed(limit = 100): Promise<number> {
    const now = this.d.clock();
    const stale = await this.d.memoryStore.needingEmbedding(this.d.embedder.model, limit);
    if (!stale.length) return 0;
    const model = this.d.embedder.model;
    const vectors = await this.d.embedder.embed(stale.map((m) => m.text));
    const byId = new Map(stale.map((m, i) => [m.id, vectors[i]!]));
    let done = 0;
    for (const [tenant, memories] of groupByTenant(stale)) {
      const ops: PutOp[] = [];
      for (const m of memories) {
        const vector = { kind: "set" as const, model, vector: byId.get(m.id)! };
        ops.push({ kind: "put", before: m, after: { ...m, embedding_model: model }, vector, audit: false });
      }
      try {
        await this.d.memoryStore.write(tenant, ops, "system", now);
      } catch (e) {
        // A memory was written meanwhile (that write embedded it, or the next upkeep will).
        if (e instanceof WriteConflict) continue;
        throw e;
      }
      forgetUnembedded(tenant);
      done += memories.length;
      if (this.d.index.remote)
        await this.d.index.push(
          tenant,
          memories.map((m) => m.id),
        );
    }
    return done;
  }

  /**
   * Scheduled upkeep: purges expired memories, embeds memories stored without a vector (or with
   * another model's), and lets the vector index retry and confirm. Each step runs even if another fails.
   */
  async upkeep(): Promise<{ purged: number; reembedded: number; index: Record<string, number>; errors: string[] }> {
    const errors: string[] = [];
    const step = async <T>(what: string, f: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        this.d.log.error(`upkeep: ${what} failed`, { error: errorMessage(e) });
        errors.push(`${what}: ${errorMessage(e)}`);
        return fallback;
      }
    };
    const purged = await step("purge", () => this.purgeExpired(undefined, 500), 0);
    const reembedded = await step("re-embed", () => this.reembed(100), 0);
    const index = await step("vector index", () => this.d.index.upkeep(this.d.clock()), {
      sent: 0,
      deleted: 0,
      confirmed: 0,
    });
    return { purged, reembedded, index, errors };
  }
}

function groupByTenant(memories: Memory[]): Map<string, Memory[]> {
  const groups = new Map<string, Memory[]>();
  for (const m of memories) {
    const group = groups.get(m.tenant);
    if (group) group.push(m);
    else groups.set(m.tenant, [m]);
  }
  return groups;
}
