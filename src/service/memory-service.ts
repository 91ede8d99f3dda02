import type { Embedder } from "../ai/embedder.ts";
import type { Reranker } from "../ai/reranker.ts";
import { withTimeout } from "../timeout.ts";
import type { Config } from "../config.ts";
import { AppError, WriteConflict } from "../domain/errors.ts";
import { ownerFilter, type MemoryFilter } from "../domain/filters.ts";
import { selectForForgetting, type ForgetRequest, type ForgetResult } from "../domain/forget.ts";
import { byteLength, MAX_ID_BYTES, newId, sha256Hex } from "../domain/ids.ts";
import {
  applyPatch,
  buildMemory,
  contentHash,
  DEFAULT_CONFIDENCE,
  sameList,
  vectorInputsChanged,
  type CreateOptions,
  type Deduplication,
  type HistoryEntry,
  type ListOptions,
  type Memory,
  type MemoryPatch,
  type NewMemory,
  type Scope,
  type WriteResult,
} from "../domain/memory.ts";
import type { MemoryEvent } from "../domain/events.ts";
import type { Principal } from "../domain/principal.ts";
import type { ScoreDetails, SearchHit, SearchMode, SearchRequest, SearchResult } from "../domain/search.ts";
import {
  boostInTime,
  fuseScores,
  recencyScore,
  rerankWithRecency,
  type Candidate,
  type Ranked,
  type RecencyParams,
} from "../domain/ranking.ts";
import { entityTypes, tagText, type EntityType } from "../domain/extract.ts";
import { parseTimeQuery, type TimeQuery } from "../domain/time-query.ts";
import { compatibleFacts, keywordQuery, keywordScore, queryTerms, termOf, type KeywordQuery } from "../domain/text.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { GraphRepo } from "../store/graph-repo.ts";
import type { MemoryRepo, PutOp, WriteOp } from "../store/memory-repo.ts";
import type { VectorWrite } from "../store/vector-repo.ts";
import { vectorFilterOf, type VectorFilter, type VectorHit, type VectorIndex } from "../vector/vector-index.ts";
import type { EventSink } from "./events.ts";
import { retryOnConflict } from "./retry.ts";

export interface ServiceDeps {
  repo: MemoryRepo;
  graph: GraphRepo;
  index: VectorIndex;
  embedder: Embedder;
  /** Optional second stage for hybrid search. */
  reranker: Reranker | null;
  events: EventSink;
  config: Pick<
    Config,
    | "LAST_ACCESSED_MIN_INTERVAL_SECONDS"
    | "DEDUP_ON_WRITE"
    | "DEDUP_SIMILARITY"
    | "FEEDBACK_RANK_WEIGHT"
    | "RERANK_TOP_N"
    | "RERANK_TIMEOUT_MS"
  >;
  log: Logger;
  clock: () => number;
  /** Runs work after the response (ctx.waitUntil). */
  defer: (p: Promise<unknown>) => void;
}

/** What rides along with a write: statements for the same D1 transaction (graph rows, feedback)
 * and events to publish just before the write's own (e.g. feedback_recorded). */
export interface WriteExtras {
  statements?: D1PreparedStatement[];
  events?: MemoryEvent[];
}

/** What a read-modify-write (`MemoryService.change`) does with the memory it read. */
export type Change =
  | { kind: "update"; patch: MemoryPatch; reason?: string; extras?: WriteExtras }
  | { kind: "delete"; reason?: string; extras?: WriteExtras };

const KEY_TAKEN = "another memory already has this (agent_id, scope, key)";

/** A create lost the race for a CRUD key (agent_id, scope, key) to another memory. */
function isKeyTaken(e: unknown): boolean {
  return e instanceof AppError && e.code === "conflict" && e.message === KEY_TAKEN;
}

/** Expired memories of a tenant are purged on read at most this often (per isolate). */
const PURGE_ON_READ_EVERY_MS = 60_000;
const lastPurge = new Map<string, number>();
/** Per tenant: how many memories lack a vector of the current model (cached per isolate for a minute). */
const UNEMBEDDED_TTL_MS = 60_000;
const unembedded = new Map<string, { n: number; at: number }>();

/**
 * The memory service: every memory operation, implemented once, used by every transport.
 * It validates invariants, orchestrates D1, the embedder and the vector index, and emits
 * domain events; it knows nothing of HTTP or sockets.
 */
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

export class MemoryService {
  constructor(private readonly d: ServiceDeps) {}

  /**
   * Creates or replaces memories by id (idempotent: the same id again updates, never duplicates).
   * With dedup, a new memory whose content (case and spacing aside) already exists in the same
   * namespace and user is not stored again, and one nearly identical to an existing memory
   * (cosine ≥ DEDUP_SIMILARITY, with no number or name the other lacks) updates that memory
   * instead — texts are never concatenated, so unrelated facts never merge.
   * Memories without topics and entities get them from the offline tagger.
   */
  async create(p: Principal, inputs: NewMemory[], opts: CreateOptions = {}): Promise<WriteResult> {
    const dedup = opts.dedup ?? this.d.config.DEDUP_ON_WRITE;
    const prepared = new Map<string, NewMemory>();
    for (const input of inputs) {
      const id = input.id ?? newId(this.d.clock());
      checkId(id);
      prepared.set(id, withTags({ ...input, id }));
    }
    const supplied = inputs.flatMap((i) => (i.id === undefined ? [] : [i.id]));
    const hashes = new Map<string, string>();
    if (dedup) for (const [id, input] of prepared) hashes.set(id, await contentHash(input.text));
    // Vectors by text: computed once, reused by every attempt.
    const vectors = new Map<string, Float32Array>();
    return retryOnConflict("memory", () =>
      this.createOnce(p, new Map(prepared), supplied, hashes, dedup, vectors, opts),
    );
  }

  /** One attempt of `create`: reads what exists, decides, and writes if nothing changed meanwhile. */
  private async createOnce(
    p: Principal,
    byId: Map<string, NewMemory>,
    supplied: string[],
    hashes: Map<string, string>,
    dedup: boolean,
    vectors: Map<string, Float32Array>,
    opts: CreateOptions,
  ): Promise<WriteResult> {
    const now = this.d.clock();
    // The lookup by id and hash and the nearest-neighbour query are independent: run them together.
    const [found, nearHits] = await Promise.all([
      this.d.repo.findByIdsOrHashes(p.tenant, supplied, dedup ? [...hashes.values()] : [], now),
      dedup ? this.nearHits(p.tenant, [...byId], vectors) : new Map<string, string[]>(),
    ]);
    const existing = new Map(found.filter((m) => byId.has(m.id)).map((m) => [m.id, m]));

    const deduplicated: Deduplication[] = [];
    const pairs: { before: Memory | null; after: Memory }[] = [];
    if (dedup) {
      const seen = new Map<string, string>();
      for (const [id, input] of byId) {
        if (existing.has(id)) continue;
        const hash = hashes.get(id)!;
        const same =
          found.find((m) => m.memory_hash === hash && sameOwner(m, input) && !byId.has(m.id))?.id ??
          seen.get(`${hash}\u0000${input.namespace ?? ""}\u0000${input.user_id ?? ""}`);
        if (same) {
          deduplicated.push({ requested_id: input.id === undefined ? null : id, existing_id: same, kind: "exact" });
          byId.delete(id);
        } else seen.set(`${hash}\u0000${input.namespace ?? ""}\u0000${input.user_id ?? ""}`, id);
      }
      const fresh = [...byId].filter(([id]) => !existing.has(id));
      for (const near of await this.nearDuplicates(p.tenant, fresh, nearHits, new Set(byId.keys()), now)) {
        const input = byId.get(near.id)!;
        const after = await applyPatch(
          near.existing,
          {
            text: input.text,
            memory_type: input.memory_type ?? near.existing.memory_type,
            topics: [...near.existing.topics, ...(input.topics ?? [])],
            entities: [...near.existing.entities, ...(input.entities ?? [])],
          },
          now,
        );
        pairs.push({ before: near.existing, after });
        deduplicated.push({
          requested_id: input.id === undefined ? null : near.id,
          existing_id: near.existing.id,
          kind: "near",
        });
        byId.delete(near.id);
      }
    }
    for (const [id, input] of byId) {
      const before = existing.get(id) ?? null;
      const fresh = await buildMemory(p.tenant, id, input, now);
      // Replacing keeps the original creation time unless the caller sets one.
      const after = before ? { ...fresh, created_at: input.created_at ?? before.created_at } : fresh;
      pairs.push({ before, after });
    }
    const res = await this.put(p, pairs, { reason: opts.reason, known: vectors });
    return { ...res, deduplicated };
  }

  /** The CRUD API's create: upsert on (agent_id, scope, key). */
  async upsertByKey(
    p: Principal,
    input: NewMemory & { key: string; scope: Scope },
  ): Promise<{ memory: Memory; created: boolean; warnings: string[] }> {
    const known = new Map<string, Float32Array>();
    return retryOnConflict(
      "memory",
      async () => {
        const now = this.d.clock();
        const before = await this.d.repo.findByKey(p.tenant, input.agent_id ?? null, input.scope, input.key, now);
        if (before) {
          const { id: _ignored, ...patch } = input;
          const after = await applyPatch(before, patch, now);
          const res = await this.put(p, [{ before, after }], { known });
          return { memory: res.memories[0]!, created: false, warnings: res.warnings };
        }
        try {
          const res = await this.create(p, [input], { dedup: false });
          return { memory: res.memories[0]!, created: true, warnings: res.warnings };
        } catch (e) {
          // The key's holder may be an expired memory (reads skip it; the unique index does not):
          // purge it (with its history and event) so the retry creates.
          if (isKeyTaken(e)) await this.purgeExpired(p.tenant);
          throw e;
        }
      },
      // A create that lost the race for the key retries as an update of the winner.
      (e) => e instanceof WriteConflict || isKeyTaken(e),
    );
  }

  async get(p: Principal, id: string, namespace?: string | null): Promise<Memory> {
    const m = await this.d.repo.get(p.tenant, id, this.d.clock());
    if (!m || (namespace != null && m.namespace !== namespace)) throw AppError.notFound(`memory ${id}`);
    return m;
  }

  /** Live memories among `ids` (ids that do not exist are left out). */
  async getMany(p: Principal, ids: string[]): Promise<Memory[]> {
    return this.d.repo.getMany(p.tenant, [...new Set(ids)], this.d.clock());
  }

  async update(
    p: Principal,
    id: string,
    patch: MemoryPatch,
    reason?: string,
    extras: WriteExtras = {},
  ): Promise<WriteResult & { memory: Memory }> {
    const res = await this.change(p, id, () => ({ kind: "update", patch, reason, extras }));
    return { memories: [res.memory], warnings: res.warnings, deduplicated: [], memory: res.memory };
  }

  /**
   * A read-modify-write of one memory that never loses a concurrent write: `decide` sees the
   * memory as it is now and says what to do; the write applies only if nobody wrote the memory
   * in between, else the memory is read again and `decide` runs again (so its extras, e.g. a
   * feedback row, always describe the state actually written). 404 if the memory does not exist.
   */
  async change(
    p: Principal,
    id: string,
    decide: (before: Memory, now: number) => Change | Promise<Change>,
  ): Promise<{ memory: Memory; deleted: boolean; warnings: string[] }> {
    const known = new Map<string, Float32Array>();
    return retryOnConflict(`memory ${id}`, async () => {
      const now = this.d.clock();
      const before = await this.d.repo.get(p.tenant, id, now);
      if (!before) throw AppError.notFound(`memory ${id}`);
      const c = await decide(before, now);
      if (c.kind === "delete") {
        await this.deleteMemories(p.tenant, [before], p.subject, c.reason, c.extras);
        return { memory: before, deleted: true, warnings: [] };
      }
      const after = await applyPatch(before, c.patch, now);
      const res = await this.put(p, [{ before, after }], { reason: c.reason, extras: c.extras, known });
      return { memory: res.memories[0]!, deleted: false, warnings: res.warnings };
    });
  }

  /** Deletes the given ids; returns those that existed. */
  async remove(p: Principal, ids: string[], reason?: string, extras: WriteExtras = {}): Promise<string[]> {
    return retryOnConflict("memory", async () => {
      const found = await this.d.repo.getMany(p.tenant, [...new Set(ids)], this.d.clock());
      await this.deleteMemories(p.tenant, found, p.subject, reason, extras);
      return found.map((m) => m.id);
    });
  }

  /** Live memories passing `filter` that name any of the entities (by their `entities`), most recently updated first. */
  async mentioning(p: Principal, names: string[], limit: number, filter: MemoryFilter = {}): Promise<Memory[]> {
    return this.d.repo.mentioning(p.tenant, names, this.d.clock(), limit, filter);
  }

  /** A tenant's live memories after `cursor` in (updated_at, id) order (for consolidation). */
  async changedSince(tenant: string, cursor: { at: number; id: string }, limit: number): Promise<Memory[]> {
    return this.d.repo.changedSince(tenant, cursor, this.d.clock(), limit);
  }

  /** Memories of the same owner whose vectors are at least `threshold` similar to `m`'s. */
  async similar(p: Principal, m: Memory, threshold: number): Promise<Memory[]> {
    const [vector] = await this.d.embedder.embed([m.text]);
    const hits = await this.d.index.query(p.tenant, vector!, {
      topK: 10,
      model: this.d.embedder.model,
      filter: vectorFilterOf(ownerFilter(m)),
    });
    const ids = hits.filter((h) => h.id !== m.id && h.score >= threshold).map((h) => h.id);
    const rows = await this.d.repo.getMany(p.tenant, ids, this.d.clock());
    return rows.filter((o) => sameOwner(o, m));
  }

  /**
   * Merges near-duplicates into one memory in one transaction: `keep` is rewritten as `after`
   * and the others are deleted (history and events say `consolidated into <id>`). Throws
   * WriteConflict, writing nothing, if any of them changed since it was read.
   */
  async merge(tenant: string, keep: Memory, after: Memory, others: Memory[], actor: string): Promise<void> {
    const reason = `consolidated into ${keep.id}`;
    const p: Principal = { tenant, subject: actor, scopes: null };
    if (after.text !== keep.text) after = { ...after, memory_hash: await contentHash(after.text) };
    await this.put(p, [{ before: keep, after }], { reason: "consolidated", removed: others, removedReason: reason });
  }

  async list(p: Principal, opts: ListOptions): Promise<{ memories: Memory[]; total: number }> {
    const res = await this.d.repo.list(p.tenant, this.d.clock(), opts);
    this.purgeOnRead(p.tenant);
    return res;
  }

  /** The tenant's first agent: the agent of its earliest live memory that names one (null when none does). */
  async firstAgent(p: Principal): Promise<string | null> {
    return this.d.repo.firstAgent(p.tenant, this.d.clock());
  }

  async history(p: Principal, id: string): Promise<HistoryEntry[]> {
    const entries = await this.d.repo.history(p.tenant, id);
    if (!entries.length) throw AppError.notFound(`memory ${id}`);
    return entries;
  }

  /**
   * Hybrid search: candidates from vector similarity and per-tenant BM25, every candidate scored on
   * both sides, fused by normalised scores, then the AMS recency re-rank. A failing embedder or
   * vector index degrades to keyword results with a warning.
   */
  async search(p: Principal, req: SearchRequest): Promise<SearchResult> {
    const now = this.d.clock();
    const warnings: string[] = [];
    const text = req.text?.trim() ?? "";
    this.purgeOnRead(p.tenant);

    if (!text) return this.browse(p, req, now);

    // Candidates per list: enough for the requested page, with room for the lists to disagree.
    const depth = Math.max(SEARCH_DEPTH, (req.offset + req.limit) * 2);
    const wantVector = req.mode !== "keyword";
    // A time the question names ("in May 2024", "last week"): memories dated then join the
    // candidates and rank higher (hybrid mode: the single modes stay the plain lists AMS defines).
    // Its words stay in the query: on conversations, "September" in the question often names the
    // memory's own words ("the September race"), and dropping them lost more than it gained.
    const time = req.mode === "hybrid" ? parseTimeQuery(text, now) : null;
    const keywordSide = async (q: KeywordQuery | null) =>
      q ? { q, hits: await this.d.repo.keywordSearch(p.tenant, q, now, req.filter, Math.min(1000, depth)) } : null;
    const [keywords, vectorSide, missingVectors, dated] = await Promise.all([
      req.mode === "semantic" ? null : this.keywordQuery(p.tenant, text).then(keywordSide),
      // The vector side reads its hits' rows as soon as it has them, without waiting for the keyword side.
      // Rows are re-checked against the full filter there (the index applies only part of it).
      wantVector
        ? this.vectorSearch(p.tenant, text, req, depth, warnings).then(async (side) =>
            side
              ? {
                  ...side,
                  rows: await this.d.repo.getMany(
                    p.tenant,
                    side.hits.map((h) => h.id),
                    now,
                    req.filter,
                  ),
                }
              : null,
          )
        : null,
      wantVector ? this.unembeddedCount(p.tenant, now) : 0,
      // A fixed number, so every page of a search ranks the same candidates.
      time ? this.d.repo.datedIn(p.tenant, now, req.filter, time, DATED_CANDIDATES) : [],
    ]);
    if (missingVectors > 0 && vectorSide) {
      // Never mix vector spaces, and never do it silently: say what vector search cannot see.
      warnings.push(
        `${missingVectors} memories have no ${this.d.embedder.model} vector yet (stored while embedding failed, or before a model change); they match by keywords only until upkeep embeds them`,
      );
    }
    const degraded = wantVector && !vectorSide;
    // Semantic search with the vector side down still answers, from keywords.
    const keywordSearch =
      keywords ??
      (degraded && req.mode === "semantic" ? await keywordSide(await this.keywordQuery(p.tenant, text)) : null);
    const keywordQ = keywordSearch?.q ?? null;
    const keywordHits = keywordSearch?.hits ?? [];

    const memories = new Map(keywordHits.map((h) => [h.memory.id, h.memory]));
    for (const m of vectorSide?.rows ?? []) memories.set(m.id, m);
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
    return { hits, total: scored.length, nextOffset: next < scored.length ? next : null, warnings };
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

  /** Runs a forgetting pass (AMS policy); dry_run only reports what would go. */
  async forget(p: Principal, req: ForgetRequest): Promise<ForgetResult> {
    return retryOnConflict("memories", () => this.forgetOnce(p, req));
  }

  private async forgetOnce(p: Principal, req: ForgetRequest): Promise<ForgetResult> {
    const now = this.d.clock();
    const filter: MemoryFilter = {};
    if (req.namespace) filter.namespace = { eq: req.namespace };
    if (req.user_id) filter.user_id = { eq: req.user_id };
    if (req.session_id) filter.session_id = { eq: req.session_id };
    const { memories } = await this.d.repo.list(p.tenant, now, { filter, limit: req.limit, order: "created_asc" });
    const ids = selectForForgetting(memories, req.policy, now, new Set(req.pinned_ids));
    if (!req.dry_run && ids.length) {
      const chosen = new Set(ids);
      await this.deleteMemories(
        p.tenant,
        memories.filter((m) => chosen.has(m.id)),
        p.subject,
        "forget",
      );
    }
    return { scanned: memories.length, deleted: ids.length, deleted_ids: ids, dry_run: req.dry_run };
  }

  /** Deletes expired memories (of one tenant, or all); returns how many. */
  async purgeExpired(tenant?: string, limit = 200): Promise<number> {
    const expired = await this.d.repo.expired(this.d.clock(), limit, tenant);
    let purged = 0;
    // Each tenant's purge retries on its own: one tenant's conflict never redoes (or miscounts) another's.
    for (const t of groupByTenant(expired).keys()) {
      purged += await retryOnConflict("expired memories", async () => {
        const memories = await this.d.repo.expired(this.d.clock(), limit, t);
        await this.deleteMemories(t, memories, "system", "expired");
        return memories.length;
      });
    }
    return purged;
  }

  /** Re-embeds memories that have no vector, or one from another model (after a model change). */
  async reembed(limit = 100): Promise<number> {
    const now = this.d.clock();
    const stale = await this.d.repo.needingEmbedding(this.d.embedder.model, limit);
    if (!stale.length) return 0;
    const model = this.d.embedder.model;
    const vectors = await this.d.embedder.embed(stale.map((m) => m.text));
    const byId = new Map(stale.map((m, i) => [m.id, vectors[i]!]));
    let done = 0;
    for (const [tenant, memories] of groupByTenant(stale)) {
      const ops: PutOp[] = [];
      for (const m of memories) {
        const vector = { kind: "set" as const, model, vectorId: await vectorId(tenant, m.id), vector: byId.get(m.id)! };
        ops.push({ kind: "put", before: m, after: { ...m, embedding_model: model }, vector, audit: false });
      }
      try {
        await this.d.repo.write(tenant, ops, "system", now);
      } catch (e) {
        // A memory was written meanwhile (that write embedded it, or the next upkeep will).
        if (e instanceof WriteConflict) continue;
        throw e;
      }
      unembedded.delete(tenant);
      done += memories.length;
      if (this.d.index.remote)
        await this.d.index.push(
          tenant,
          memories.map((m) => m.id),
        );
    }
    return done;
  }

  /**
   * Scheduled upkeep: purges expired memories, embeds memories stored without a vector (or with
   * another model's), and lets the vector index retry and confirm. Each step runs even if another fails.
   */
  async upkeep(): Promise<{ purged: number; reembedded: number; index: Record<string, number>; errors: string[] }> {
    const errors: string[] = [];
    const step = async <T>(what: string, f: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        this.d.log.error(`upkeep: ${what} failed`, { error: errorMessage(e) });
        errors.push(`${what}: ${errorMessage(e)}`);
        return fallback;
      }
    };
    const purged = await step("purge", () => this.purgeExpired(undefined, 500), 0);
    const reembedded = await step("re-embed", () => this.reembed(100), 0);
    const index = await step("vector index", () => this.d.index.upkeep(this.d.clock()), {
      sent: 0,
      deleted: 0,
      confirmed: 0,
    });
    return { purged, reembedded, index, errors };
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Writes new versions of memories with their vectors, history, graph entities and events (and
   * deletes `removed` in the same transaction). `known` holds vectors already computed, by text.
   */
  private async put(
    p: Principal,
    pairs: { before: Memory | null; after: Memory }[],
    opts: {
      reason?: string;
      extras?: WriteExtras;
      known?: Map<string, Float32Array>;
      removed?: Memory[];
      removedReason?: string;
    } = {},
  ): Promise<WriteResult> {
    const { reason, extras = {}, known = new Map<string, Float32Array>(), removed = [], removedReason } = opts;
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
        unembedded.delete(p.tenant);
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
        vector = { kind: "set", model, vectorId: await vectorId(p.tenant, after.id), vector: vectors[i]! };
      } else if (i >= 0) {
        after.embedding_model = null;
        vector = { kind: "drop" };
      } else {
        vector = before && vectorInputsChanged(before, after) ? { kind: "refresh" } : { kind: "keep" };
      }
      ops.push({ kind: "put", before, after, vector, reason });
    }
    const deletes: WriteOp[] = removed.map((m) => ({ kind: "delete", before: m, reason: removedReason }));
    // Every entity a memory names exists in the knowledge graph (written in the same transaction).
    const entities = new Map<string, { name: string; type: EntityType }>();
    for (const { before, after } of pairs) {
      if (before && sameList(before.entities, after.entities)) continue;
      const fresh = after.entities.filter((name) => !entities.has(name.toLowerCase()));
      for (const [name, type] of entityTypes(fresh, after.text)) entities.set(name.toLowerCase(), { name, type });
    }
    const graph = this.d.graph.ensureEntities(p.tenant, [...entities.values()], now);
    let memories: Memory[];
    try {
      memories = await this.d.repo.write(p.tenant, [...ops, ...deletes], p.subject, now, [
        ...graph,
        ...(extras.statements ?? []),
      ]);
    } catch (e) {
      // The one constraint a caller can break: the CRUD API's unique (agent_id, scope, key).
      if (/UNIQUE constraint failed/.test(errorMessage(e))) throw new AppError("conflict", KEY_TAKEN);
      throw e;
    }

    if (this.d.index.remote)
      this.background(
        this.d.index.push(
          p.tenant,
          memories.map((m) => m.id),
        ),
        "vector push",
      );
    if (this.d.index.remote && removed.length) this.background(this.d.index.flushDeletes(p.tenant), "vector delete");
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

  /**
   * For each input, the memories of the same owner whose vectors are at least DEDUP_SIMILARITY
   * similar (one index query for the batch). Vectors computed here are kept in `vectors` (by
   * text) for the write; an embedder failure only skips the check (the write reports it).
   */
  private async nearHits(
    tenant: string,
    inputs: [string, NewMemory][],
    vectors: Map<string, Float32Array>,
  ): Promise<Map<string, string[]>> {
    const hits = new Map<string, string[]>();
    if (!inputs.length) return hits;
    const threshold = this.d.config.DEDUP_SIMILARITY ?? this.d.embedder.nearDuplicate;
    // A retried create has its vectors already.
    const missing = [...new Set(inputs.map(([, m]) => m.text).filter((t) => !vectors.has(t)))];
    try {
      const embedded = missing.length ? await this.d.embedder.embed(missing) : [];
      missing.forEach((t, i) => vectors.set(t, embedded[i]!));
    } catch {
      return hits;
    }
    // The index filters what it can; rows are re-checked for the same owner afterwards.
    const queries = inputs.map(([, m]) => ({ vector: vectors.get(m.text)!, filter: vectorFilterOf(ownerFilter(m)) }));
    const results = await this.d.index.queryMany(tenant, queries, { topK: 5, model: this.d.embedder.model });
    for (const [i, [id]] of inputs.entries()) {
      const near = results[i]!.filter((h) => h.score >= threshold && h.id !== id).map((h) => h.id);
      if (near.length) hits.set(id, near);
    }
    return hits;
  }

  /**
   * New memories nearly identical to an existing one: a near hit of the same owner stating the
   * same fact (no number or name the other lacks). Each existing memory absorbs at most one, and
   * none the batch itself writes (two compare-and-sets on one row would conflict on every retry).
   */
  private async nearDuplicates(
    tenant: string,
    fresh: [string, NewMemory][],
    nearHits: Map<string, string[]>,
    batch: Set<string>,
    now: number,
  ): Promise<{ id: string; existing: Memory }[]> {
    const candidates = fresh.flatMap(([id]) =>
      (nearHits.get(id) ?? []).filter((hit) => !batch.has(hit)).map((hit) => ({ id, hit })),
    );
    if (!candidates.length) return [];
    const rows = new Map(
      (
        await this.d.repo.getMany(
          tenant,
          candidates.map((c) => c.hit),
          now,
        )
      ).map((m) => [m.id, m]),
    );
    const taken = new Set<string>();
    const out: { id: string; existing: Memory }[] = [];
    for (const c of candidates) {
      const existing = rows.get(c.hit);
      const input = fresh.find(([id]) => id === c.id)![1];
      if (out.some((o) => o.id === c.id) || !existing || taken.has(existing.id)) continue;
      if (!sameOwner(existing, input) || !compatibleFacts(existing.text, input.text)) continue;
      taken.add(existing.id);
      out.push({ id: c.id, existing });
    }
    return out;
  }

  private async deleteMemories(
    tenant: string,
    memories: Memory[],
    actor: string,
    reason?: string,
    extras: WriteExtras = {},
  ): Promise<void> {
    if (!memories.length) return;
    const now = this.d.clock();
    await this.d.repo.write(
      tenant,
      memories.map((m) => ({ kind: "delete", before: m, reason })),
      actor,
      now,
      extras.statements,
    );
    if (this.d.index.remote) this.background(this.d.index.flushDeletes(tenant), "vector delete");
    this.emit(tenant, [
      ...(extras.events ?? []),
      ...memories.map((m): MemoryEvent => ({ type: "memory_deleted", at: now, memory: m, actor, reason })),
    ]);
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

  private async unembeddedCount(tenant: string, now: number): Promise<number> {
    const hit = unembedded.get(tenant);
    if (hit && now - hit.at < UNEMBEDDED_TTL_MS) return hit.n;
    const n = await this.d.repo.countNotEmbeddedWith(tenant, this.d.embedder.model);
    unembedded.set(tenant, { n, at: now });
    return n;
  }

  /** A query's keyword terms weighted by the tenant's own statistics, without terms too common to rank by. */
  private async keywordQuery(tenant: string, text: string): Promise<KeywordQuery | null> {
    const terms = queryTerms(text).map(termOf);
    if (!terms.length) return null;
    return keywordQuery(terms, await this.d.repo.keywordStats(tenant, terms));
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
    const { memories, total } = await this.d.repo.list(p.tenant, now, {
      filter: req.filter,
      limit: req.limit,
      offset: req.offset,
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
    const next = req.offset + req.limit;
    return { hits, total, nextOffset: next < total ? next : null, warnings: [] };
  }

  /**
   * Updates last_accessed of returned hits after the response, at most once per interval per
   * memory (no write at all when every hit was touched recently).
   */
  private touch(tenant: string, hits: SearchHit[], now: number): void {
    const interval = this.d.config.LAST_ACCESSED_MIN_INTERVAL_SECONDS * 1000;
    const ids = hits.filter((h) => h.memory.last_accessed < now - interval).map((h) => h.memory.id);
    if (ids.length) this.background(this.d.repo.touch(tenant, ids, now, interval), "last_accessed update");
  }

  private purgeOnRead(tenant: string): void {
    const now = this.d.clock();
    if (now - (lastPurge.get(tenant) ?? 0) < PURGE_ON_READ_EVERY_MS) return;
    lastPurge.set(tenant, now);
    this.background(this.purgeExpired(tenant), "purge on read");
  }

  private emit(tenant: string, events: MemoryEvent[]): void {
    if (events.length) this.d.events.publish(tenant, events);
  }

  private background(work: Promise<unknown>, what: string): void {
    this.d.defer(work.catch((e) => this.d.log.warn(`${what} failed`, { error: errorMessage(e) })));
  }
}

/** Same namespace and user: only such memories are duplicates of each other. */
function sameOwner(m: Memory, input: Pick<NewMemory, "namespace" | "user_id">): boolean {
  return m.namespace === (input.namespace ?? null) && m.user_id === (input.user_id ?? null);
}

/** The part of "same namespace and user" a vector index can apply itself. */
/** A memory with neither topics nor entities gets them from the offline tagger. */
function withTags(m: NewMemory): NewMemory {
  if (m.topics?.length || m.entities?.length) return m;
  const tags = tagText(m.text);
  return { ...m, topics: tags.topics, entities: tags.entities.map((e) => e.name) };
}

function groupByTenant(memories: Memory[]): Map<string, Memory[]> {
  const groups = new Map<string, Memory[]>();
  for (const m of memories) {
    const group = groups.get(m.tenant);
    if (group) group.push(m);
    else groups.set(m.tenant, [m]);
  }
  return groups;
}

function checkId(id: string): void {
  if (!id || byteLength(id) > MAX_ID_BYTES) {
    throw new AppError("validation_error", `id must be 1 to ${MAX_ID_BYTES} bytes`, [
      { field: "id", message: `must be 1 to ${MAX_ID_BYTES} bytes` },
    ]);
  }
}

/**
 * The Vectorize id of a memory: unique across tenants (hashed, so any tenant and id fit in 64 bytes).
 * The pair is encoded unambiguously: with a separator, tenant `v2` + id `ww\0zz` and tenant
 * `v2\0ww` + id `zz` hashed alike.
 */
async function vectorId(tenant: string, id: string): Promise<string> {
  const hex = await sha256Hex(JSON.stringify([tenant, id]));
  return hex.slice(0, 48);
}
