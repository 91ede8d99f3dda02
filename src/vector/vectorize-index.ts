import { dot } from "../ai/embedder.ts";
import type { VectorRepo, VectorRow } from "../store/vector-repo.ts";
import {
  matchesVectorFilter,
  VECTOR_META_FIELDS,
  type VectorFilter,
  type VectorHit,
  type VectorIndex,
  type VectorQuery,
} from "./vector-index.ts";

/** Vectorize returns at most 100 matches when values and metadata are not returned. */
const VECTORIZE_MAX_TOP_K = 100;
/** Slack for clock skew between this Worker and Vectorize when confirming processed writes. */
const CONFIRM_SKEW_MS = 2_000;
/** How long a row may stay unsent before upkeep sends it (the write path normally does at once). */
const RESEND_AFTER_MS = 30_000;
const DESCRIBE_EVERY_MS = 5_000;

let lastDescribe = 0;

/**
 * Vectorize, fed from D1. Tenants are Vectorize namespaces; vector ids are hashes of
 * (tenant, memory id) so tenants can never overwrite each other's vectors.
 *
 * Vectorize makes an upsert queryable only seconds later, so rows stay 'pending'/'sent' in D1
 * until `describe()` reports the index has processed mutations past their send time. Until then
 * queries score those rows from D1 and merge them in (their D1 version wins over any stale
 * Vectorize copy): a memory is found by a search issued right after it was stored.
 */
export class VectorizeVectorIndex implements VectorIndex {
  readonly name = "vectorize";
  readonly remote = true;
  readonly maxTopK = VECTORIZE_MAX_TOP_K;

  constructor(
    private readonly index: Vectorize,
    private readonly repo: VectorRepo,
    private readonly defer: (p: Promise<unknown>) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  async queryMany(
    tenant: string,
    queries: { vector: Float32Array; filter: VectorFilter }[],
    q: Omit<VectorQuery, "filter">,
  ): Promise<VectorHit[][]> {
    return Promise.all(queries.map((x) => this.query(tenant, x.vector, { ...q, filter: x.filter })));
  }

  async query(tenant: string, vector: Float32Array, q: VectorQuery): Promise<VectorHit[]> {
    const topK = Math.min(q.topK, this.maxTopK);
    const [result, unconfirmed] = await Promise.all([
      this.index.query(Array.from(vector), {
        topK,
        namespace: tenant,
        filter: toVectorizeFilter(q.filter, q.model),
        returnValues: false,
        returnMetadata: "none",
      }),
      this.repo.unconfirmed(tenant, q.model),
    ]);
    const ids = await this.repo.memoryIdsForVectorIds(
      tenant,
      result.matches.map((m) => m.id),
    );
    const fresh = new Set(unconfirmed.map((r) => r.memory_id));
    const hits: VectorHit[] = [];
    for (const m of result.matches) {
      const id = ids.get(m.id);
      if (id !== undefined && !fresh.has(id)) hits.push({ id, score: m.score });
    }
    for (const row of unconfirmed) {
      if (matchesVectorFilter(row, q.filter)) hits.push({ id: row.memory_id, score: dot(vector, row.vector) });
    }
    if (unconfirmed.some((r) => r.state === "sent")) this.defer(this.confirm(tenant));
    return hits.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  /** From the vectors D1 keeps for every memory: no Vectorize round trip. */
  async similarities(
    tenant: string,
    vector: Float32Array,
    memoryIds: string[],
    model: string,
  ): Promise<Map<string, number>> {
    if (!memoryIds.length) return new Map();
    const rows = await this.repo.rowsFor(tenant, memoryIds);
    return new Map(rows.filter((r) => r.model === model).map((r) => [r.memory_id, dot(vector, r.vector)]));
  }

  async push(tenant: string, memoryIds: string[]): Promise<void> {
    const rows = (await this.repo.rowsFor(tenant, memoryIds)).filter((r) => r.state === "pending");
    await this.send(tenant, rows);
  }

  async flushDeletes(tenant: string): Promise<void> {
    await this.sendDeletes(await this.repo.pendingDeletes(1000, tenant), tenant);
  }

  async upkeep(now: number): Promise<{ sent: number; deleted: number; confirmed: number }> {
    let sent = 0;
    const byTenant = new Map<string, VectorRow[]>();
    for (const row of await this.repo.toSend(now - RESEND_AFTER_MS, 500)) {
      byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), row]);
    }
    for (const [tenant, rows] of byTenant) {
      await this.send(tenant, rows);
      sent += rows.length;
    }
    const deletes = await this.repo.pendingDeletes(1000);
    await this.sendDeletes(deletes);
    lastDescribe = 0;
    const confirmed = await this.confirm();
    return { sent, deleted: deletes.length, confirmed };
  }

  /** `tenant`: the deletes are that tenant's (a request); none: a sweep's, of any tenant. */
  private async sendDeletes(deletes: { vector_id: string }[], tenant?: string): Promise<void> {
    if (!deletes.length) return;
    const ids = deletes.map((d) => d.vector_id);
    await this.index.deleteByIds(ids);
    await this.repo.clearDeletes(ids, tenant);
  }

  private async send(tenant: string, rows: VectorRow[]): Promise<void> {
    if (!rows.length) return;
    const mutation = await this.index.upsert(
      rows.map((r) => ({
        id: r.vector_id,
        namespace: tenant,
        values: Array.from(r.vector),
        metadata: {
          model: r.model,
          namespace: r.namespace ?? "",
          user_id: r.user_id ?? "",
          session_id: r.session_id ?? "",
          memory_type: r.memory_type,
        },
      })),
    );
    await this.repo.markSent(tenant, rows, this.clock(), mutation.mutationId ?? null);
  }

  /**
   * Marks rows as indexed once `describe()` shows Vectorize has processed them: the rows of the
   * last processed mutation exactly, and rows acknowledged well before its time (skew allowed).
   * Rate-limited per isolate; unconfirmed rows are only slower to search, never wrong. In a
   * request, on the shard of `tenant` (every tenant's rows there); in a sweep, on the swept shard.
   */
  private async confirm(tenant?: string): Promise<number> {
    const now = this.clock();
    if (now - lastDescribe < DESCRIBE_EVERY_MS) return 0;
    lastDescribe = now;
    // Typed as numbers, documented (and returned) as an ISO-8601 string and a UUID: accept both.
    const info: { processedUpToDatetime?: string | number | null; processedUpToMutation?: string | number | null } =
      await this.index.describe();
    const upTo = info.processedUpToDatetime ? new Date(info.processedUpToDatetime).getTime() : NaN;
    const mutation = info.processedUpToMutation == null ? null : String(info.processedUpToMutation);
    if (mutation === null && Number.isNaN(upTo)) return 0;
    return this.repo.confirm(mutation, Number.isNaN(upTo) ? 0 : upTo - CONFIRM_SKEW_MS, tenant);
  }
}

/** One Vectorize operator per field; the full filter is re-applied in D1 anyway. */
function toVectorizeFilter(f: VectorFilter, model: string): VectorizeVectorMetadataFilter {
  const out: VectorizeVectorMetadataFilter = { model: { $eq: model } };
  for (const field of VECTOR_META_FIELDS) {
    const tf = f[field];
    if (!tf) continue;
    const eq = tf.eq[0] ?? tf.all[0];
    if (eq !== undefined) out[field] = { $eq: eq };
    else if (tf.any) out[field] = { $in: tf.any };
    else if (tf.ne.length) out[field] = { $nin: tf.ne };
  }
  return out;
}
