import type { Embedder } from "../ai/embedder.ts";
import type { MemoryEvent } from "../domain/events.ts";
import { entityTypes, type EntityType } from "../domain/extract.ts";
import { sameList, vectorInputsChanged, type Memory, type WriteResult } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { PutOp, VectorWrite, WriteIntent, WriteOp } from "../domain/writes.ts";
import type { VectorIndex } from "../vector/vector-index.ts";
import { inBackground } from "./background.ts";
import type { EventSink, MemoryStore } from "./ports.ts";
import { forgetUnembedded } from "./unembedded.ts";

export interface MemoryCommitDeps {
  memoryStore: Pick<MemoryStore, "write">;
  index: VectorIndex;
  embedder: Embedder;
  events: EventSink;
  log: Logger;
  clock: () => number;
  /** Runs work after the response (ctx.waitUntil). */
  defer: (p: Promise<unknown>) => void;
}

/** What rides along with a write: intents recorded in the same transaction (e.g. a feedback row)
 * and events to publish just before the write's own (e.g. feedback_recorded). */
export interface WriteExtras {
  intents?: WriteIntent[];
  events?: MemoryEvent[];
}

/**
 * The commit step of memory writes and deletes, shared by Memories and Upkeep: each write in one
 * transaction with its vectors, history and graph entities, then its events and the vector index's
 * sync after the response. (Re-embedding alone, which changes no content, writes through the
 * store directly: no history, no event.)
 */
export class MemoryCommit {
  constructor(private readonly d: MemoryCommitDeps) {}

  /**
   * Writes new versions of memories with their vectors, history, graph entities and events (and
   * deletes `removed` in the same transaction). `known` holds vectors already computed, by text.
   * `restore` writes records as an export carried them (an import): no history row (the export
   * carries the history) and no graph entities (it carries the graph).
   */
  async put(
    p: Principal,
    pairs: { before: Memory | null; after: Memory }[],
    opts: {
      reason?: string;
      extras?: WriteExtras;
      known?: Map<string, Float32Array>;
      removed?: Memory[];
      removedReason?: string;
      restore?: boolean;
    } = {},
  ): Promise<WriteResult> {
    const { reason, extras = {}, known = new Map<string, Float32Array>(), removed = [], removedReason } = opts;
    const restore = opts.restore ?? false;
    const now = this.d.clock();
    const warnings: string[] = [];
    const model = this.d.embedder.model;
    const toEmbed = pairs.filter(
      ({ before, after }) => !before || before.text !== after.text || before.embedding_model !== model,
    );
    let vectors: Float32Array[] | null = null;
    if (toEmbed.length) {
      try {
        const missing = [...new Set(toEmbed.map((x) => x.after.text).filter((t) => !known.has(t)))];
        const fresh = missing.length ? await this.d.embedder.embed(missing) : [];
        missing.forEach((t, i) => known.set(t, fresh[i]!));
        vectors = toEmbed.map((x) => known.get(x.after.text)!);
      } catch (e) {
        // The memory is still stored (keyword-searchable now); upkeep embeds it later.
        this.d.log.warn("embedding failed; storing without vectors", { error: errorMessage(e) });
        forgetUnembedded(p.tenant);
        warnings.push(`embedding failed (${errorMessage(e)}); stored without a vector, it will be embedded later`);
      }
    }
    const ops: PutOp[] = [];
    for (const pair of pairs) {
      const { before } = pair;
      const after = { ...pair.after };
      const i = toEmbed.indexOf(pair);
      let vector: VectorWrite;
      if (i >= 0 && vectors) {
        after.embedding_model = model;
        vector = { kind: "set", model, vector: vectors[i]! };
      } else if (i >= 0) {
        after.embedding_model = null;
        vector = { kind: "drop" };
      } else {
        vector = before && vectorInputsChanged(before, after) ? { kind: "refresh" } : { kind: "keep" };
      }
      ops.push({ kind: "put", before, after, vector, reason, ...(restore ? { audit: false } : {}) });
    }
    const deletes: WriteOp[] = removed.map((m) => ({ kind: "delete", before: m, reason: removedReason }));
    // Every entity a memory names exists in the knowledge graph (written in the same transaction).
    const entities = new Map<string, { name: string; type: EntityType }>();
    for (const { before, after } of restore ? [] : pairs) {
      if (before && sameList(before.entities, after.entities)) continue;
      const fresh = after.entities.filter((name) => !entities.has(name.toLowerCase()));
      for (const [name, type] of entityTypes(fresh, after.text)) entities.set(name.toLowerCase(), { name, type });
    }
    const memories = await this.d.memoryStore.write(p.tenant, [...ops, ...deletes], p.subject, now, [
      ...(entities.size ? [{ kind: "entities" as const, entities: [...entities.values()] }] : []),
      ...(extras.intents ?? []),
    ]);

    if (this.d.index.remote)
      inBackground(
        this.d,
        this.d.index.push(
          p.tenant,
          memories.map((m) => m.id),
        ),
        "vector push",
      );
    if (this.d.index.remote && removed.length)
      inBackground(this.d, this.d.index.flushDeletes(p.tenant), "vector delete");
    this.emit(p.tenant, [
      ...(extras.events ?? []),
      ...ops.map((o, i): MemoryEvent => ({
        type: o.before ? "memory_updated" : "memory_created",
        at: now,
        memory: memories[i]!,
        actor: p.subject,
        reason,
      })),
      ...removed.map((m): MemoryEvent => ({
        type: "memory_deleted",
        at: now,
        memory: m,
        actor: p.subject,
        reason: removedReason,
      })),
    ]);
    return { memories, warnings, deduplicated: [] };
  }

  /** Deletes memories as read (WriteConflict if any changed since), with their history and events. */
  async delete(
    tenant: string,
    memories: Memory[],
    actor: string,
    reason?: string,
    extras: WriteExtras = {},
  ): Promise<void> {
    if (!memories.length) return;
    const now = this.d.clock();
    await this.d.memoryStore.write(
      tenant,
      memories.map((m) => ({ kind: "delete", before: m, reason })),
      actor,
      now,
      extras.intents,
    );
    if (this.d.index.remote) inBackground(this.d, this.d.index.flushDeletes(tenant), "vector delete");
    this.emit(tenant, [
      ...(extras.events ?? []),
      ...memories.map((m): MemoryEvent => ({ type: "memory_deleted", at: now, memory: m, actor, reason })),
    ]);
  }

  private emit(tenant: string, events: MemoryEvent[]): void {
    if (events.length) this.d.events.publish(tenant, events);
  }
}
