import type { Embedder } from "../ai/embedder.ts";
import type { Reranker } from "../ai/reranker.ts";
import type { Config } from "../config.ts";
import { DEFAULT_CONFIDENCE, type Memory } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import {
  boostInTime,
  fuseScores,
  recencyScore,
  rerankWithRecency,
  type Candidate,
  type Ranked,
} from "../domain/ranking.ts";
import type { SearchHit, SearchMode, SearchRequest, SearchResult } from "../domain/search.ts";
import { parseTimeQuery } from "../domain/time-query.ts";
import { keywordQuery, keywordScore, queryTerms, termOf, type KeywordQuery } from "../domain/text.ts";
import { errorMessage, type Logger } from "../log.ts";
import { withTimeout } from "../timeout.ts";
import { vectorFilterOf, type VectorHit, type VectorIndex } from "../vector/vector-index.ts";
import { inBackground } from "./background.ts";
import type { MemoryStore } from "./ports.ts";
import { unembeddedCount } from "./unembedded.ts";
import type { Upkeep } from "./upkeep.ts";

export interface MemorySearchDeps {
  memoryStore: Pick<
    MemoryStore,
    "searchCandidates" | "keywordStats" | "datedIn" | "list" | "touch" | "countNotEmbeddedWith"
  >;
  index: VectorIndex;
  embedder: Embedder;
  /** Optional second stage for hybrid search. */
  reranker: Reranker | null;
  upkeep: Upkeep;
  config: Pick<
    Config,
    "LAST_ACCESSED_MIN_INTERVAL_SECONDS" | "FEEDBACK_RANK_WEIGHT" | "RERANK_TOP_N" | "RERANK_TIMEOUT_MS"
  >;
  log: Logger;
  clock: () => number;
  /** Runs work after the response (ctx.waitUntil). */
  defer: (p: Promise<unknown>) => void;
}

/**
 * Candidates each list contributes to a search at least. Deeper lists found nothing more on the
 * eval corpus (recall@10 0.442 at 20, 0.441 at 30 and 50: completed scores already let each list's
 * candidates compete on both sides) and cost CPU on every search.
 */
const SEARCH_DEPTH = 20;
/** Candidates outside the vector list whose cosine is looked up (the keyword list's best first). */
const MAX_COMPLETED = 200;
/** Memories dated in a time the query names that join the candidates (the newest, if more). */
const DATED_CANDIDATES = 50;

/** Long-term memory search: hybrid (vector and keyword, fused, optionally reranked), semantic or keyword. */
export class MemorySearch {
  constructor(private readonly d: MemorySearchDeps) {}

  /**
   * Hybrid search: candidates from vector similarity and per-tenant BM25, every candidate scored on
   * both sides, fused by normalised scores, then the AMS recency re-rank. A failing embedder or
   * vector index degrades to keyword results with a warning.
   */
  async search(p: Principal, req: SearchRequest): Promise<SearchResult> {
    const now = this.d.clock();
    const warnings: string[] = [];
    const text = req.text?.trim() ?? "";
    this.d.upkeep.purgeOnRead(p.tenant);

    if (!text) return this.browse(p, req, now);

    // Candidates per list: enough for the requested page, with room for the lists to disagree.
    const depth = Math.max(SEARCH_DEPTH, (req.offset + req.limit) * 2);
    const wantVector = req.mode !== "keyword";
    // A time the question names ("in May 2024", "last week"): memories dated then join the
    // candidates and rank higher (hybrid mode: the single modes stay the plain lists AMS defines).
    // Its words stay in the query: on conversations, "September" in the question often names the
    // memory's own words ("the September race"), and dropping them lost more than it gained.
    const time = req.mode === "hybrid" ? parseTimeQuery(text, now) : null;
    const [weighted, vectorSide, missingVectors, dated] = await Promise.all([
      req.mode === "semantic" ? null : this.keywordQuery(p.tenant, text),
      wantVector ? this.vectorSearch(p.tenant, text, req, depth, warnings) : null,
      wantVector
        ? unembeddedCount(p.tenant, now, () => this.d.memoryStore.countNotEmbeddedWith(p.tenant, this.d.embedder.model))
        : 0,
      // A fixed number, so every page of a search ranks the same candidates.
      time ? this.d.memoryStore.datedIn(p.tenant, now, req.filter, time, DATED_CANDIDATES) : [],
    ]);
    if (missingVectors > 0 && vectorSide) {
      // Never mix vector spaces, and never do it silently: say what vector search cannot see.
      warnings.push(
        `${missingVectors} memories have no ${this.d.embedder.model} vector yet (stored while embedding failed, or before a model change); they match by keywords only until upkeep embeds them`,
      );
    }
    const degraded = wantVector && !vectorSide;
    // Semantic search with the vector side down still answers, from keywords.
    const keywordQ = degraded && req.mode === "semantic" ? await this.keywordQuery(p.tenant, text) : weighted;
    // The keyword ranking and the vector hits' rows in one round trip. Rows are re-checked against
    // the full filter there (the index applies only part of it).
    const found = await this.d.memoryStore.searchCandidates(
      p.tenant,
      keywordQ,
      vectorSide?.hits.map((h) => h.id) ?? [],
      now,
      req.filter,
      Math.min(1000, depth),
    );
    const keywordHits = found.keyword;

    const memories = new Map(keywordHits.map((h) => [h.memory.id, h.memory]));
    for (const m of found.rows) memories.set(m.id, m);
    for (const m of dated) memories.set(m.id, m);
    const vectorHits = (vectorSide?.hits ?? []).filter((h) => memories.has(h.id));
    const candidates = await this.completeScores(
      p.tenant,
      memories,
      vectorHits,
      keywordHits,
      keywordQ,
      req.mode === "hybrid" ? vectorSide : null,
    );

    let { ranked, alpha } = fuseScores(candidates, {
      alpha: req.mode === "hybrid" ? req.hybridAlpha : null,
      noiseFloor: this.d.embedder.noiseFloor,
      semantic: this.d.embedder.semantic,
    });
    // The threshold bounds vector distance; keyword matches have none and are kept.
    const threshold = req.distanceThreshold;
    if (threshold !== null)
      ranked = ranked.filter((r) => r.keyword > 0 || r.vector === null || 1 - r.vector <= threshold);
    if (time) ranked = boostInTime(ranked, memories, time);
    if (req.mode === "hybrid" && !degraded) ranked = await this.rerank(text, ranked, memories, warnings);
    const scoreType: SearchMode = degraded ? "keyword" : req.mode;
    const scored = this.score(ranked, memories, req, now, scoreType, keywordQ !== null, alpha);
    const hits = scored.slice(req.offset, req.offset + req.limit);
    this.touch(p.tenant, hits, now);
    const next = req.offset + req.limit;
    return { hits, total: scored.length, nextOffset: next < scored.length ? next : null, next: null, warnings };
  }

  /**
   * The second stage: the reranker re-orders the best RERANK_TOP_N candidates,
   * which take over the relevance values of those places so the scale stays that of fusion. On
   * failure or timeout the fused order stands, with a warning.
   */
  private async rerank(
    text: string,
    ranked: Ranked[],
    memories: Map<string, Memory>,
    warnings: string[],
  ): Promise<Ranked[]> {
    const reranker = this.d.reranker;
    if (!reranker || ranked.length < 2) return ranked;
    // The same first N whatever the page, so pages past it stay in fused order and never overlap.
    const top = ranked.slice(0, this.d.config.RERANK_TOP_N);
    const ms = this.d.config.RERANK_TIMEOUT_MS;
    try {
      const scores = await withTimeout(
        reranker.rerank(
          text,
          top.map((r) => memories.get(r.id)!.text),
        ),
        ms,
        () => new Error(`timed out after ${ms} ms`),
      );
      const order = top.map((r, i) => ({ r, score: scores[i]! })).sort((a, b) => b.score - a.score);
      const reranked = order.map(({ r, score }, i): Ranked => ({ ...r, relevance: top[i]!.relevance, rerank: score }));
      return [...reranked, ...ranked.slice(top.length)];
    } catch (e) {
      this.d.log.warn("rerank failed; fused order kept", { model: reranker.model, error: errorMessage(e) });
      warnings.push(`reranker ${reranker.model} unavailable (${errorMessage(e)}); results are in fused order`);
      return ranked;
    }
  }

  /**
   * Every candidate with both sides' scores: BM25 and the matched share of the query from each
   * memory's own text, and (in hybrid mode) the cosine of keyword-only candidates from the index.
   */
  private async completeScores(
    tenant: string,
    memories: Map<string, Memory>,
    vectorHits: VectorHit[],
    keywordHits: { memory: Memory }[],
    keywordQ: KeywordQuery | null,
    vectorSide: { query: Float32Array } | null,
  ): Promise<Candidate[]> {
    // Every candidate is one of the memories read (vector hits were filtered to them).
    const byId = new Map<string, Candidate>(
      [...memories.keys()].map((id) => [
        id,
        { id, vector: null, vectorRank: null, keyword: 0, keywordMatch: 0, keywordRank: null },
      ]),
    );
    vectorHits.forEach((h, i) => Object.assign(byId.get(h.id)!, { vector: h.score, vectorRank: i + 1 }));
    keywordHits.forEach((h, i) => (byId.get(h.memory.id)!.keywordRank = i + 1));
    if (keywordQ) {
      for (const c of byId.values()) {
        const m = memories.get(c.id)!;
        const k = keywordScore(m.text, m.key, keywordQ);
        c.keyword = k.bm25;
        c.keywordMatch = k.match;
      }
    }
    if (vectorSide) {
      // Bounded: a deep page's keyword list can hold 1,000 candidates, and Vectorize reads each vector from D1.
      const missing = [...byId.values()]
        .filter((c) => c.vectorRank === null)
        .slice(0, MAX_COMPLETED)
        .map((c) => c.id);
      const sims = await this.d.index
        .similarities(tenant, vectorSide.query, missing, this.d.embedder.model)
        .catch((e: unknown) => {
          this.d.log.warn("vector scores for keyword candidates failed", { error: errorMessage(e) });
          return new Map<string, number>();
        });
      for (const [id, score] of sims) byId.get(id)!.vector = score;
    }
    return [...byId.values()];
  }

  private async vectorSearch(
    tenant: string,
    text: string,
    req: SearchRequest,
    depth: number,
    warnings: string[],
  ): Promise<{ query: Float32Array; hits: VectorHit[] } | null> {
    try {
      const query = await this.d.embedder.embedQuery(text);
      const hits = await this.d.index.query(tenant, query, {
        topK: Math.min(this.d.index.maxTopK, depth),
        model: this.d.embedder.model,
        filter: vectorFilterOf(req.filter),
      });
      return { query, hits: hits.filter((h) => h.score >= this.d.embedder.noiseFloor) };
    } catch (e) {
      this.d.log.warn("vector search failed; keyword results only", { error: errorMessage(e) });
      warnings.push(`vector search unavailable (${errorMessage(e)}); results are keyword matches only`);
      return null;
    }
  }

  /** A query's keyword terms weighted by the tenant's own statistics, without terms too common to rank by. */
  private async keywordQuery(tenant: string, text: string): Promise<KeywordQuery | null> {
    const terms = queryTerms(text).map(termOf);
    if (!terms.length) return null;
    return keywordQuery(terms, await this.d.memoryStore.keywordStats(tenant, terms));
  }

  private score(
    ranked: Ranked[],
    memories: Map<string, Memory>,
    req: SearchRequest,
    now: number,
    scoreType: SearchMode,
    keywordScored: boolean,
    alpha: number,
  ): SearchHit[] {
    // Confidence (which feedback moves) scales relevance; at the default confidence it is neutral.
    const w = this.d.config.FEEDBACK_RANK_WEIGHT;
    const items = ranked.map((r) => {
      const m = memories.get(r.id)!;
      return { item: m, relevance: r.relevance * (1 + w * (m.confidence - DEFAULT_CONFIDENCE)) };
    });
    const rankOf = new Map(ranked.map((r) => [r.id, r]));
    const scored = req.recency
      ? rerankWithRecency(items, now, req.recency)
      : items
          .map((x) => ({ item: x.item, relevance: x.relevance, recency: null, score: x.relevance }))
          .sort((a, b) => b.score - a.score);
    return scored.map((s) => {
      const r = rankOf.get(s.item.id)!;
      const hit: SearchHit = { memory: s.item, dist: 1 - (r.vector ?? s.relevance), score: s.score, scoreType };
      if (req.explain) {
        hit.details = {
          vector: r.vector,
          vector_rank: r.vectorRank,
          keyword: keywordScored ? r.keyword : null,
          keyword_rank: r.keywordRank,
          keyword_match: keywordScored ? r.keywordMatch : null,
          vector_weight: alpha,
          rerank: r.rerank ?? null,
          time: r.time ?? null,
          relevance: s.relevance,
          recency: s.recency,
          final: s.score,
        };
      }
      return hit;
    });
  }

  /** A search without text: the filtered memories, most recent first. */
  private async browse(p: Principal, req: SearchRequest, now: number): Promise<SearchResult> {
    // AMS's answer has the total, so a browse counts its matches on every page.
    const { memories, total, next } = await this.d.memoryStore.list(p.tenant, now, {
      filter: req.filter,
      limit: req.limit,
      ...(req.after ? { after: req.after } : { offset: req.offset }),
      count: true,
    });
    const hits = memories.map((m) => {
      const recency = req.recency ? recencyScore(m, now, req.recency) : null;
      const hit: SearchHit = { memory: m, dist: 0, score: recency ?? 1, scoreType: req.mode };
      if (req.explain) {
        hit.details = {
          vector: null,
          vector_rank: null,
          keyword: null,
          keyword_rank: null,
          keyword_match: null,
          vector_weight: null,
          rerank: null,
          time: null,
          relevance: 1,
          recency,
          final: hit.score,
        };
      }
      return hit;
    });
    this.touch(p.tenant, hits, now);
    const n = total ?? 0;
    const nextOffset = req.offset + req.limit;
    return { hits, total: n, nextOffset: !req.after && nextOffset < n ? nextOffset : null, next, warnings: [] };
  }

  /**
   * Updates last_accessed of returned hits after the response, at most once per interval per
   * memory (no write at all when every hit was touched recently).
   */
  private touch(tenant: string, hits: SearchHit[], now: number): void {
    const interval = this.d.config.LAST_ACCESSED_MIN_INTERVAL_SECONDS * 1000;
    const ids = hits.filter((h) => h.memory.last_accessed < now - interval).map((h) => h.memory.id);
    if (ids.length) inBackground(this.d, this.d.memoryStore.touch(tenant, ids, now, interval), "last_accessed update");
  }
}
