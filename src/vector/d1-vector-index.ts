import type { VectorRepo } from "../store/vector-repo.ts";
import type { VectorFilter, VectorHit, VectorIndex, VectorQuery } from "./vector-index.ts";
import { VectorMatrix } from "./vector-matrix.ts";

/** Vectors kept in this isolate's cache across tenants (floats): 16 M floats = 64 MiB. */
const CACHE_BUDGET_FLOATS = 16 * 1024 * 1024;

interface Entry {
  matrix: VectorMatrix;
  /** The tenant's vector-deletion counter when the matrix was last reconciled. */
  deletes: number;
}

/**
 * Module-level, so it lives as long as the isolate: each tenant's vectors are read from D1 once,
 * then only rows written since (vseq past the cached maximum). Map order doubles as LRU order.
 */
const cache = new Map<string, Entry>();

/**
 * The offline vector index: vectors live in D1 (`memory_vectors`, written in the memory's own
 * batch, so they are queryable the moment the write commits); queries scan the tenant's vectors
 * in the Worker, from an in-isolate cache that a cheap freshness check keeps exact.
 */
export class D1VectorIndex implements VectorIndex {
  readonly name = "d1";
  readonly remote = false;
  readonly maxTopK = 1000;

  constructor(private readonly repo: VectorRepo) {}

  async query(tenant: string, vector: Float32Array, q: VectorQuery): Promise<VectorHit[]> {
    const matrix = await this.matrixFor(tenant, q.model, vector.length);
    return matrix.topK(vector, Math.min(q.topK, this.maxTopK), q.filter);
  }

  async queryMany(
    tenant: string,
    queries: { vector: Float32Array; filter: VectorFilter }[],
    q: Omit<VectorQuery, "filter">,
  ): Promise<VectorHit[][]> {
    if (!queries.length) return [];
    const matrix = await this.matrixFor(tenant, q.model, queries[0]!.vector.length);
    return queries.map((x) => matrix.topK(x.vector, Math.min(q.topK, this.maxTopK), x.filter));
  }

  async similarities(
    tenant: string,
    vector: Float32Array,
    memoryIds: string[],
    model: string,
  ): Promise<Map<string, number>> {
    if (!memoryIds.length) return new Map();
    const matrix = await this.matrixFor(tenant, model, vector.length);
    return matrix.similarities(vector, memoryIds);
  }

  async push(): Promise<void> {}

  async flushDeletes(): Promise<void> {}

  async upkeep(): Promise<{ sent: number; deleted: number; confirmed: number }> {
    return { sent: 0, deleted: 0, confirmed: 0 };
  }

  /**
   * Brings the cached matrix up to date. Each request refreshes on its own (workerd forbids
   * awaiting another request's I/O, so there is no shared in-flight promise); concurrent
   * refreshes are safe because applying a snapshot is monotonic: a row replaces its slot only
   * with a newer vseq, and a deletion snapshot only drops rows it could have seen.
   */
  private async matrixFor(tenant: string, model: string, dims: number): Promise<VectorMatrix> {
    const key = `${tenant}\u0000${model}`;
    let e = cache.get(key);
    if (!e || e.matrix.dims !== dims) {
      e = { matrix: new VectorMatrix(dims), deletes: 0 };
      cache.set(key, e);
    }
    const { maxVseq, deletes } = await this.repo.stats(tenant, model);
    // The deletion counter only grows: a smaller one means the database was reset or restored.
    if (deletes < e.deletes) e = { matrix: new VectorMatrix(dims), deletes: 0 };
    const { matrix } = e;
    if (maxVseq > matrix.maxVseq) {
      for (const row of await this.repo.rowsSince(tenant, model, matrix.maxVseq)) matrix.upsert(row);
    }
    // Rewrites replace rows in place; only deletions need the id list to drop what is gone.
    if (deletes !== e.deletes) {
      const { ids, asOf } = await this.repo.memoryIds(tenant, model);
      matrix.retainOnly(new Set(ids), asOf);
      e.deletes = Math.max(e.deletes, deletes);
    }

    // Bump to most recently used (synchronously: no await between delete and set).
    cache.delete(key);
    if (matrix.size * dims <= CACHE_BUDGET_FLOATS) {
      cache.set(key, e);
      evictBeyondBudget();
    }
    return matrix;
  }
}

function evictBeyondBudget(): void {
  let total = 0;
  for (const { matrix } of cache.values()) total += matrix.size * matrix.dims;
  for (const [key, { matrix }] of cache) {
    if (total <= CACHE_BUDGET_FLOATS) return;
    cache.delete(key);
    total -= matrix.size * matrix.dims;
  }
}
