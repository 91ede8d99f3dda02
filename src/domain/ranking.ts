/**
 * Ranking: reciprocal rank fusion of the vector and keyword lists, then the Agent Memory
 * Server's recency re-rank (score = semantic_weight * relevance + recency_weight * recency).
 */

const DAY_MS = 86_400_000;

/** RRF constant: damps the difference between the first few ranks (Cormack et al. use 60). */
export const RRF_K = 60;

export interface RecencyParams {
  semantic_weight: number;
  recency_weight: number;
  freshness_weight: number;
  novelty_weight: number;
  half_life_last_access_days: number;
  half_life_created_days: number;
}

/** The AMS defaults. */
export const DEFAULT_RECENCY: RecencyParams = {
  semantic_weight: 0.8,
  recency_weight: 0.2,
  freshness_weight: 0.6,
  novelty_weight: 0.4,
  half_life_last_access_days: 7,
  half_life_created_days: 30,
};

/**
 * Recency in [0, 1]: freshness decays with time since last access, novelty with age, each
 * halving every half-life; weighted as AMS does.
 */
export function recencyScore(
  m: { created_at: number; last_accessed: number },
  now: number,
  p: RecencyParams,
): number {
  const daysSinceAccess = Math.max(0, (now - m.last_accessed) / DAY_MS);
  const daysSinceCreated = Math.max(0, (now - m.created_at) / DAY_MS);
  const freshness = Math.pow(0.5, daysSinceAccess / Math.max(p.half_life_last_access_days, 0.001));
  const novelty = Math.pow(0.5, daysSinceCreated / Math.max(p.half_life_created_days, 0.001));
  return clamp01(p.freshness_weight * freshness + p.novelty_weight * novelty);
}

export interface Ranked {
  id: string;
  /** Cosine similarity from the vector index, if the memory was a vector hit. */
  vector: number | null;
  vectorRank: number | null;
  /** The keyword (BM25) score, if the memory was a keyword hit. */
  keyword: number | null;
  keywordRank: number | null;
  /** Relevance in [0, 1] before recency. */
  relevance: number;
}

/**
 * Fuses ranked id lists by weighted reciprocal rank: alpha weights the vector list, 1 - alpha the
 * keyword list. The sum is scaled by (k + 1) so a memory first in both lists scores 1: relevance
 * stays in [0, 1] whatever the weights, which keeps it commensurable with the recency score.
 */
export function fuseRanks(
  vectorHits: { id: string; score: number }[],
  keywordHits: { id: string; score: number }[],
  alpha: number,
  k = RRF_K,
): Ranked[] {
  const byId = new Map<string, Ranked>();
  const entry = (id: string): Ranked => {
    let r = byId.get(id);
    if (!r) {
      r = { id, vector: null, vectorRank: null, keyword: null, keywordRank: null, relevance: 0 };
      byId.set(id, r);
    }
    return r;
  };
  // When only one list is present (semantic or keyword mode, or a degraded search) it gets the full weight.
  const wv = keywordHits.length === 0 ? 1 : vectorHits.length === 0 ? 0 : alpha;
  const wk = 1 - wv;
  vectorHits.forEach((h, i) => {
    const r = entry(h.id);
    r.vector = h.score;
    r.vectorRank = i + 1;
    r.relevance += (wv * (k + 1)) / (k + i + 1);
  });
  keywordHits.forEach((h, i) => {
    const r = entry(h.id);
    r.keyword = h.score;
    r.keywordRank = i + 1;
    r.relevance += (wk * (k + 1)) / (k + i + 1);
  });
  return [...byId.values()].sort((a, b) => b.relevance - a.relevance);
}

export interface Scored<T> {
  item: T;
  relevance: number;
  recency: number;
  score: number;
}

/** Re-ranks by semantic_weight * relevance + recency_weight * recency (stable on ties). */
export function rerankWithRecency<T extends { created_at: number; last_accessed: number }>(
  items: { item: T; relevance: number }[],
  now: number,
  p: RecencyParams,
): Scored<T>[] {
  return items
    .map(({ item, relevance }) => {
      const recency = recencyScore(item, now, p);
      return { item, relevance, recency, score: p.semantic_weight * relevance + p.recency_weight * recency };
    })
    .sort((a, b) => b.score - a.score);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
