import type { VectorRepo } from "../store/vector-repo.ts";
import type { VectorHit, VectorIndex, VectorQuery } from "./vector-index.ts";
import { VectorMatrix } from "./vector-matrix.ts";

/** Vectors kept in this isolate's cache across tenants (floats): 16 M floats = 64 MiB. */
const CACHE_BUDGET_FLOATS = 16 * 1024 * 1024;

interface Entry {
  matrix: VectorMatrix;
  /** The tenant's vector-deletion counter when the matrix was last reconciled. */
  deletes: number;
  /** Refreshes run one after another: a caller's refresh starts after its own writes committed. */
  queue: Promise<unknown>;
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

  async push(): Promise<void> {}

  async upkeep(): Promise<{ sent: number; deleted: number; confirmed: number }> {
    return { sent: 0, deleted: 0, confirmed: 0 };
  }

  private async matrixFor(tenant: string, model: string, dims: number): Promise<VectorMatrix> {
    const key = `${tenant}\u0000${model}`;
    // The entry stays in the map while refreshing: removing it across an await made every
    // overlapping request miss the cache and reload the tenant's vectors (20× slower at 10k).
    let entry = cache.get(key);
    if (!entry || entry.matrix.dims !== dims) {
      entry = { matrix: new VectorMatrix(dims), deletes: 0, queue: Promise.resolve() };
      cache.set(key, entry);
    }
    const e = entry;
    const refresh = e.queue.then(() => this.refresh(e, tenant, model));
    e.queue = refresh.catch(() => undefined);
    await refresh;

    // Bump to most recently used (synchronously: no await between delete and set).
    cache.delete(key);
    if (e.matrix.size * dims <= CACHE_BUDGET_FLOATS) {
      cache.set(key, e);
      evictBeyondBudget();
    }
    return e.matrix;
  }

  private async refresh(e: Entry, tenant: string, model: string): Promise<void> {
    const { maxVseq, deletes } = await this.repo.stats(tenant, model);
    // The database went backwards (restored or reset): start over.
    if (maxVseq < e.matrix.maxVseq || deletes < e.deletes) {
      e.matrix = new VectorMatrix(e.matrix.dims);
      e.deletes = 0;
    }
    if (maxVseq > e.matrix.maxVseq) {
      for (const row of await this.repo.rowsSince(tenant, model, e.matrix.maxVseq)) e.matrix.upsert(row);
    }
    // Rewrites replace rows in place; only deletions need the id list to drop what is gone.
    if (deletes !== e.deletes) {
      e.matrix.retainOnly(new Set(await this.repo.memoryIds(tenant, model)));
      e.deletes = deletes;
    }
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
