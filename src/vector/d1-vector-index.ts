import { dot } from "../ai/embedder.ts";
import type { VectorRepo, VectorRow } from "../store/vector-repo.ts";
import { TopK } from "./top-k.ts";
import {
  matchesVectorFilter,
  type VectorFilter,
  type VectorHit,
  type VectorIndex,
  type VectorQuery,
} from "./vector-index.ts";
import { VectorMatrix } from "./vector-matrix.ts";

/**
 * Bytes of quantised vectors this isolate keeps across tenants (VectorMatrix.bytes: typed arrays
 * as allocated, JavaScript objects estimated), out of the isolate's 128 MB. A 100,000-memory tenant
 * of the offline embedder's 256-d vectors holds about 34 MB (~340 bytes a vector); of dense 768-d
 * vectors (Workers AI), about 50,000 fit. The rest covers the code, the requests in flight and a
 * load's page (PAGE_BYTES of text, then its decoded rows).
 */
const CACHE_BUDGET_BYTES = 48 * 1024 * 1024;

/**
 * Bytes of rows one read of a load returns: D1 answers at most 50 MB per query and counts queries
 * per invocation (50 on the Free plan, 1,000 on Paid), so a page is large but far from the limit,
 * and small next to the isolate's memory. 100,000 rows of 256-d vectors are 19 pages.
 */
const PAGE_BYTES = 8 * 1024 * 1024;

/** Memory ids per read of rows by id (their vectors are re-scored exactly). */
const IDS_PER_READ = 500;

/** Tenants over the budget remembered (their queries stream from D1). */
const MAX_OVERSIZED = 64;

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
 * Tenants whose matrix outgrew the budget, with their deletion counter and size then: their
 * queries scan D1 page by page instead, until a tenth of them has been deleted.
 */
const oversized = new Map<string, { deletes: number; size: number; budget: number }>();

/**
 * The offline vector index: vectors live in D1 (`memory_vectors`, written in the memory's own
 * batch, so they are queryable the moment the write commits). Queries scan the tenant's vectors
 * in the Worker, quantised to int8 in an in-isolate cache that a cheap freshness check keeps
 * current, then re-score the best candidates exactly from their float32 vectors in D1: scores are
 * exact cosines, and the cache holds a byte per coordinate at most instead of four. Re-scoring
 * from D1 rather than from floats kept in memory costs one indexed read of a few dozen rows per
 * query (the candidates), and keeps a 100,000-memory tenant within an isolate's memory.
 */
export class D1VectorIndex implements VectorIndex {
  readonly name = "d1";
  readonly remote = false;
  readonly maxTopK = 1000;
  private readonly budget: number;
  private readonly pageBytes: number;

  /** The options (tests) replace {@link CACHE_BUDGET_BYTES} and {@link PAGE_BYTES} in this instance's decisions. */
  constructor(
    private readonly repo: VectorRepo,
    opts: { budgetBytes?: number; pageBytes?: number } = {},
  ) {
    this.budget = opts.budgetBytes ?? CACHE_BUDGET_BYTES;
    this.pageBytes = opts.pageBytes ?? PAGE_BYTES;
  }

  async query(tenant: string, vector: Float32Array, q: VectorQuery): Promise<VectorHit[]> {
    const [hits] = await this.queryMany(tenant, [{ vector, filter: q.filter }], q);
    return hits!;
  }

  async queryMany(
    tenant: string,
    queries: { vector: Float32Array; filter: VectorFilter }[],
    q: Omit<VectorQuery, "filter">,
  ): Promise<VectorHit[][]> {
    const k = Math.min(q.topK, this.maxTopK);
    if (!queries.length || k <= 0) return queries.map(() => []);
    const dims = queries[0]!.vector.length;
    const matrix = await this.matrixFor(tenant, q.model, dims);
    if (!matrix) return this.scan(tenant, q.model, dims, queries, k);
    const candidates = queries.map((x) => matrix.candidates(x.vector, k, x.filter).map((c) => c.id));
    const rows = await this.rowsOf(tenant, q.model, dims, candidates.flat());
    return queries.map((x, i) => {
      const hits: VectorHit[] = [];
      for (const id of candidates[i]!) {
        // The row read now may be newer than the one scanned: its metadata is checked again.
        const row = rows.get(id);
        if (row && matchesVectorFilter(row, x.filter)) hits.push({ id, score: dot(x.vector, row.vector) });
      }
      return hits.sort((a, b) => b.score - a.score).slice(0, k);
    });
  }

  /**
   * Exact, from the rows in D1 (no cached matrix needed): fusion puts these scores of keyword
   * candidates beside the vector list's, which are exact too.
   */
  async similarities(
    tenant: string,
    vector: Float32Array,
    memoryIds: string[],
    model: string,
  ): Promise<Map<string, number>> {
    const rows = await this.rowsOf(tenant, model, vector.length, memoryIds);
    return new Map([...rows].map(([id, row]) => [id, dot(vector, row.vector)]));
  }

  async push(): Promise<void> {}

  async flushDeletes(): Promise<void> {}

  async upkeep(): Promise<{ sent: number; deleted: number; confirmed: number }> {
    return { sent: 0, deleted: 0, confirmed: 0 };
  }

  /** The rows of these memories with a vector of this model and size, by memory id. */
  private async rowsOf(tenant: string, model: string, dims: number, ids: string[]): Promise<Map<string, VectorRow>> {
    const unique = [...new Set(ids)];
    const reads: Promise<VectorRow[]>[] = [];
    for (let i = 0; i < unique.length; i += IDS_PER_READ)
      reads.push(this.repo.rowsFor(tenant, unique.slice(i, i + IDS_PER_READ)));
    const out = new Map<string, VectorRow>();
    for (const rows of await Promise.all(reads)) {
      for (const row of rows) if (row.model === model && row.vector.length === dims) out.set(row.memory_id, row);
    }
    return out;
  }

  /**
   * A tenant too big to cache: every row read page by page and scored exactly, keeping only the
   * best k per query, so memory stays bounded by a page whatever the tenant's size (at the cost
   * of reading all its vectors per query).
   */
  private async scan(
    tenant: string,
    model: string,
    dims: number,
    queries: { vector: Float32Array; filter: VectorFilter }[],
    k: number,
  ): Promise<VectorHit[][]> {
    const best = queries.map(() => new TopK<{ id: string; vseq: number }>(k));
    const limit = this.pageRows(dims);
    for (let cursor = 0; ;) {
      const rows = await this.repo.rowsSince(tenant, model, cursor, limit);
      for (const row of rows) {
        if (row.vector.length !== dims) continue;
        queries.forEach((x, i) => {
          if (matchesVectorFilter(row, x.filter))
            best[i]!.offer(dot(x.vector, row.vector), { id: row.memory_id, vseq: row.vseq });
        });
      }
      if (rows.length < limit) break;
      cursor = rows.at(-1)!.vseq;
    }
    // A memory rewritten during the scan may have been read twice: its newer row stands.
    return best.map((heap) => {
      const newest = new Map<string, { score: number; vseq: number }>();
      for (const { score, item } of heap.drain()) {
        const seen = newest.get(item.id);
        if (!seen || seen.vseq < item.vseq) newest.set(item.id, { score, vseq: item.vseq });
      }
      return [...newest].map(([id, { score }]) => ({ id, score })).sort((a, b) => b.score - a.score);
    });
  }

  /**
   * Brings the cached matrix up to date, or returns null for a tenant over the budget. Each
   * request refreshes on its own (workerd forbids awaiting another request's I/O, so there is no
   * shared in-flight promise); concurrent refreshes are safe because applying a snapshot is
   * monotonic: a row replaces its slot only with a newer vseq, and a deletion snapshot only drops
   * rows it could have seen.
   */
  private async matrixFor(tenant: string, model: string, dims: number): Promise<VectorMatrix | null> {
    const key = `${tenant}\u0000${model}`;
    const { maxVseq, deletes } = await this.repo.stats(tenant, model);
    const big = oversized.get(key);
    // (A smaller deletion counter: the database was reset or restored. A larger budget: a test's.)
    if (big) {
      if (deletes >= big.deletes && deletes - big.deletes < big.size / 10 && this.budget <= big.budget) return null;
      oversized.delete(key);
    }
    let e = cache.get(key);
    // The deletion counter only grows: a smaller one means the database was reset or restored.
    if (!e || e.matrix.dims !== dims || deletes < e.deletes) {
      e = { matrix: new VectorMatrix(dims), deletes: 0 };
      cache.set(key, e);
    }
    const { matrix } = e;
    // In pages: a cold load of a big tenant would exceed D1's result size and the isolate's memory.
    const limit = this.pageRows(dims);
    let loaded = 0;
    for (let cursor = matrix.maxVseq; cursor < maxVseq;) {
      const rows = await this.repo.rowsSince(tenant, model, cursor, limit);
      for (const row of rows) matrix.upsert(row);
      loaded += rows.length;
      if (matrix.bytes > this.budget) return this.tooBig(key, deletes, matrix);
      if (rows.length < limit) break;
      cursor = rows.at(-1)!.vseq;
    }
    // Rewrites replace rows in place; only deletions need the id list to drop what is gone.
    if (deletes !== e.deletes) {
      const { ids, asOf } = await this.repo.memoryIds(tenant, model);
      matrix.retainOnly(new Set(ids), asOf);
      e.deletes = Math.max(e.deletes, deletes);
    }
    if (loaded > 0) matrix.fit();
    if (matrix.bytes > this.budget) return this.tooBig(key, deletes, matrix);

    // Bump to most recently used (synchronously: no await between delete and set).
    cache.delete(key);
    cache.set(key, e);
    this.evictBeyondBudget();
    return matrix;
  }

  /** Rows per page of a load: about `pageBytes` of base64 float32 text and the other columns. */
  private pageRows(dims: number): number {
    return Math.max(100, Math.floor(this.pageBytes / (4 * Math.ceil((4 * dims) / 3) + 200)));
  }

  private tooBig(key: string, deletes: number, matrix: VectorMatrix): null {
    cache.delete(key);
    oversized.delete(key);
    oversized.set(key, { deletes, size: matrix.size, budget: this.budget });
    for (const k of oversized.keys()) {
      if (oversized.size <= MAX_OVERSIZED) break;
      oversized.delete(k);
    }
    return null;
  }

  private evictBeyondBudget(): void {
    let total = 0;
    for (const { matrix } of cache.values()) total += matrix.bytes;
    for (const [key, { matrix }] of cache) {
      if (total <= this.budget) return;
      cache.delete(key);
      total -= matrix.bytes;
    }
  }
}
