import type { MemoryFilter } from "./filters.ts";
import type { MemoryKey } from "./cursor.ts";
import type { Memory } from "./memory.ts";
import type { RecencyParams } from "./ranking.ts";

export type SearchMode = "hybrid" | "semantic" | "keyword";

export interface SearchRequest {
  text?: string | null;
  limit: number;
  offset: number;
  /** A search without text (a browse): the memories after this key, newest first (instead of `offset`). */
  after?: MemoryKey | null;
  filter: MemoryFilter;
  mode: SearchMode;
  /** Weight of the vector side in the fusion (1 - alpha goes to keywords); null lets the fusion choose. */
  hybridAlpha: number | null;
  /** Recency re-rank parameters, or null for none. */
  recency: RecencyParams | null;
  /** Drop vector hits whose distance (1 - cosine) exceeds this (keyword matches are kept). */
  distanceThreshold: number | null;
  explain: boolean;
}

export interface ScoreDetails {
  vector: number | null;
  vector_rank: number | null;
  keyword: number | null;
  keyword_rank: number | null;
  /** Share of the query's IDF weight the memory matched. */
  keyword_match: number | null;
  /** Weight the fusion gave the vector side (hybrid_alpha, or chosen by trust). */
  vector_weight: number | null;
  /** The reranker's score, when it re-ordered this hit. */
  rerank: number | null;
  /** How well the memory's date fits a time the query names (null when it names none). */
  time: number | null;
  relevance: number;
  recency: number | null;
  final: number;
}

export interface SearchHit {
  memory: Memory;
  dist: number;
  score: number;
  scoreType: SearchMode;
  details?: ScoreDetails;
}

export interface SearchResult {
  hits: SearchHit[];
  total: number;
  nextOffset: number | null;
  /** A browse's next page (`after`); null on its last page and for a ranked search. */
  next: MemoryKey | null;
  warnings: string[];
}

/** A plain recall (engram's, SYMindX's, think's): hybrid, from the first hit, no recency boost, unexplained. */
export function hybridSearch(text: string | null, limit: number, filter: MemoryFilter): SearchRequest {
  return {
    text,
    limit,
    offset: 0,
    filter,
    mode: "hybrid",
    hybridAlpha: null,
    recency: null,
    distanceThreshold: null,
    explain: false,
  };
}
