import type { VectorRepo } from "../store/vector-repo.ts";
import type { VectorHit, VectorIndex, VectorQuery } from "./vector-index.ts";
import { VectorMatrix } from "./vector-matrix.ts";

/** Vectors kept in this isolate's cache across tenants (floats): 16 M floats = 64 MiB. */
const CACHE_BUDGET_FLOATS = 16 * 1024 * 1024;

/**
 * Module-level, so it lives as long as the isolate: each tenant's vectors are read from D1 once,
 * then only rows written since (vseq past the cached maximum). Map order doubles as LRU order.
 */
const cache = new Map<string, VectorMatrix>();

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

  async push(): Promise<void> {}

  async upkeep(): Promise<{ sent: number; deleted: number; confirmed: number }> {
    return { sent: 0, deleted: 0, confirmed: 0 };
  }

  private async matrixFor(tenant: string, model: string, dims: number): Promise<VectorMatrix> {
    const key = `${tenant}\u0000${model}`;
    let matrix = cache.get(key);
    if (!matrix || matrix.dims !== dims) matrix = new VectorMatrix(dims);
    cache.delete(key);

    const { maxVseq, count } = await this.repo.stats(tenant, model);
    // The database went backwards (restored or reset): start over.
    if (maxVseq < matrix.maxVseq) matrix = new VectorMatrix(dims);
    if (maxVseq > matrix.maxVseq) {
      for (const row of await this.repo.rowsSince(tenant, model, matrix.maxVseq)) matrix.upsert(row);
    }
    // Rewrites keep the count; a mismatch after loading the new rows means rows were deleted.
    if (matrix.size !== count) matrix.retainOnly(new Set(await this.repo.memoryIds(tenant, model)));

    if (matrix.size * dims <= CACHE_BUDGET_FLOATS) {
      cache.set(key, matrix);
      evictBeyondBudget();
    }
    return matrix;
  }
}

function evictBeyondBudget(): void {
  let total = 0;
  for (const m of cache.values()) total += m.size * m.dims;
  for (const [key, m] of cache) {
    if (total <= CACHE_BUDGET_FLOATS) return;
    cache.delete(key);
    total -= m.size * m.dims;
  }
}
