import { matchesScalarTag, normalizeTagFilter, type MemoryFilter, type NormalTagFilter } from "../domain/filters.ts";

/** Index metadata every vector carries, for the filters an index can apply itself. */
export const VECTOR_META_FIELDS = ["namespace", "user_id", "session_id", "memory_type"] as const;
export type VectorMetaField = (typeof VECTOR_META_FIELDS)[number];
export type VectorMeta = Record<VectorMetaField, string | null>;

/** The part of a memory filter an index can apply while searching (the rest is applied in D1). */
export type VectorFilter = Partial<Record<VectorMetaField, NormalTagFilter>>;

export interface VectorHit {
  /** Memory id. */
  id: string;
  /** Cosine similarity. */
  score: number;
}

export interface VectorQuery {
  topK: number;
  /** Only vectors of this embedding model are compared (vector spaces never mix). */
  model: string;
  filter: VectorFilter;
}

/** Semantic search over memory vectors. Implementations: D1 (offline) and Vectorize (production). */
export interface VectorIndex {
  readonly name: "d1" | "vectorize";
  /** Remote indexes are fed asynchronously from D1; local ones serve D1 rows directly. */
  readonly remote: boolean;
  readonly maxTopK: number;
  query(tenant: string, vector: Float32Array, q: VectorQuery): Promise<VectorHit[]>;
  /** Several queries at once (one freshness check for the D1 index; parallel for Vectorize). */
  queryMany(
    tenant: string,
    queries: { vector: Float32Array; filter: VectorFilter }[],
    q: Omit<VectorQuery, "filter">,
  ): Promise<VectorHit[][]>;
  /**
   * Cosine similarity of the query to some memories' vectors (of `model`; memories without one are
   * left out): fusion scores the keyword list's candidates on the vector side too.
   */
  similarities(tenant: string, vector: Float32Array, memoryIds: string[], model: string): Promise<Map<string, number>>;
  /** Sends just-written vector rows to the index (no-op for a local index). */
  push(tenant: string, memoryIds: string[]): Promise<void>;
  /** Sends a tenant's queued vector deletions to the index (no-op for a local index). */
  flushDeletes(tenant: string): Promise<void>;
  /** Upkeep: retries unsent rows and queued deletions, confirms what the index has processed. */
  upkeep(now: number): Promise<{ sent: number; deleted: number; confirmed: number }>;
}

export function vectorFilterOf(f: MemoryFilter): VectorFilter {
  const out: VectorFilter = {};
  for (const field of VECTOR_META_FIELDS) {
    const tf = f[field];
    if (tf) out[field] = normalizeTagFilter(tf);
  }
  return out;
}

export function matchesVectorFilter(meta: VectorMeta, f: VectorFilter): boolean {
  for (const field of VECTOR_META_FIELDS) {
    const tf = f[field];
    if (tf && !matchesScalarTag(meta[field], tf)) return false;
  }
  return true;
}
