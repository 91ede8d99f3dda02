import type { Embedder } from "../ai/embedder.ts";
import type { Config } from "../config.ts";
import { AppError, WriteConflict } from "../domain/errors.ts";
import { tagText } from "../domain/extract.ts";
import { claimsOf, planSupersession, probesOf, type NewStatement, type SupersessionPlan } from "../domain/temporal.ts";
import { ANY_VALIDITY, CURRENT_ONLY, ownerFilter, type MemoryFilter } from "../domain/filters.ts";
import { selectForForgetting, type ForgetRequest, type ForgetResult } from "../domain/forget.ts";
import { byteLength, MAX_ID_BYTES, newId } from "../domain/ids.ts";
import {
  applyPatch,
  buildMemory,
  contentHash,
  defaultValidFrom,
  sameOwner,
  type CreateOptions,
  type Deduplication,
  type HistoryOptions,
  type HistoryPage,
  type ListOptions,
  type Memory,
  type MemoryPage,
  type MemoryPatch,
  type NewMemory,
  type Scope,
  type WriteResult,
} from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import type { WriteOutcome, WritePlan } from "../domain/write-plan.ts";
import { compatibleFacts } from "../domain/text.ts";
import { vectorFilterOf, type VectorIndex } from "../vector/vector-index.ts";
import type { MemoryCommit, WriteExtras } from "./memory-commit.ts";
import type { GraphStore, MemoryStore } from "./ports.ts";
import { retryOnConflict } from "./retry.ts";
import type { Upkeep } from "./upkeep.ts";

export interface MemoriesDeps {
  memoryStore: Pick<
    MemoryStore,
    | "get"
    | "getMany"
    | "findByKey"
    | "findByIdsOrHashes"
    | "mentioning"
    | "changedSince"
    | "list"
    | "history"
    | "hasHistory"
    | "hasAgent"
    | "firstAgent"
  >;
  /** The current single-valued facts a new memory may contradict. */
  graphStore: Pick<GraphStore, "statedFacts">;
  index: VectorIndex;
  embedder: Embedder;
  commit: MemoryCommit;
  upkeep: Upkeep;
  config: Pick<Config, "DEDUP_ON_WRITE" | "DEDUP_SIMILARITY">;
  clock: () => number;
}

/** What a read-modify-write (`Memories.change`) does with the memory it read. */
export type Change =
  | { kind: "update"; patch: MemoryPatch; reason?: string; extras?: WriteExtras }
  | { kind: "delete"; reason?: string; extras?: WriteExtras }
  | { kind: "keep" };

/**
 * Memory writes and reads by id or list: every memory operation but search and upkeep,
 * implemented once, used by every transport. Creates deduplicate by content and by near-identical
 * vectors; every write is a compare-and-set retried on conflict.
 */
export class Memories {
  constructor(private readonly d: MemoriesDeps) {}

  /**
   * Creates or replaces memories by id (idempotent: the same id again updates, never duplicates).
   * With dedup, a new memory whose content (case and spacing aside) already exists in the same
   * namespace and user is not stored again, and one nearly identical to an existing memory
   * (cosine ≥ DEDUP_SIMILARITY, with no number or name the other lacks) updates that memory
   * instead — texts are never concatenated, so unrelated facts never merge.
   * Memories without topics and entities get them from the offline tagger.
   */
  async create(p: Principal, inputs: NewMemory[], opts: CreateOptions = {}): Promise<WriteResult> {
    return (await this.createWithPlan(p, inputs, opts)).result;
  }

  /** `create`, answering also with the plan it carried out (the one of its last attempt). */
  async createWithPlan(
    p: Principal,
    inputs: NewMemory[],
    opts: CreateOptions = {},
  ): Promise<{ plan: WritePlan; result: WriteResult }> {
    const req = await this.prepare(inputs, opts);
    // Vectors by text: computed once, reused by every attempt.
    const vectors = new Map<string, Float32Array>();
    return retryOnConflict("memory", async () => {
      const plan = await this.plan(p, req, vectors);
      const res = await this.d.commit.put(p, plan.pairs, {
        reason: opts.reason,
        known: vectors,
        extras: { intents: plan.intents },
      });
      return { plan, result: { ...res, deduplicated: plan.deduplicated } };
    });
  }

  /** What `create` would do now, without doing it (a dry run): reads only, writes and publishes nothing. */
  async planCreate(p: Principal, inputs: NewMemory[], opts: CreateOptions = {}): Promise<WritePlan> {
    return this.plan(p, await this.prepare(inputs, opts), new Map());
  }

  /** A create's inputs with their ids (given or generated), tags and content hashes. */
  private async prepare(inputs: NewMemory[], opts: CreateOptions): Promise<CreateRequest> {
    const dedup = opts.dedup ?? this.d.config.DEDUP_ON_WRITE;
    const prepared = new Map<string, NewMemory>();
    for (const input of inputs) {
      const id = input.id ?? newId(this.d.clock());
      checkId(id);
      if (input.valid_to !== undefined && input.valid_to !== null) {
        const now = this.d.clock();
        const from =
          input.valid_from ?? defaultValidFrom({ event_date: input.event_date, created_at: input.created_at ?? now });
        checkValidTo("valid_to", input.valid_to, from, now);
      }
      prepared.set(id, withTags({ ...input, id }));
    }
    const supplied = inputs.flatMap((i) => (i.id === undefined ? [] : [i.id]));
    const hashes = new Map<string, string>();
    if (dedup) for (const [id, input] of prepared) hashes.set(id, await contentHash(input.text));
    return { prepared, supplied, hashes, dedup, relations: opts.relations, judged: opts.judged };
  }

  /**
   * One attempt's decisions: reads what exists and plans the writes (exact and near dedup, with
   * the similarity). Writes nothing; the commit applies only if nothing changed meanwhile.
   */
  private async plan(p: Principal, req: CreateRequest, vectors: Map<string, Float32Array>): Promise<WritePlan> {
    const { supplied, hashes, dedup } = req;
    const byId = new Map(req.prepared);
    const now = this.d.clock();
    // The lookup by id and hash and the nearest-neighbour query are independent: run them together.
    const [found, nearHits] = await Promise.all([
      this.d.memoryStore.findByIdsOrHashes(p.tenant, supplied, dedup ? [...hashes.values()] : [], now),
      dedup ? this.nearHits(p.tenant, [...byId], vectors) : new Map<string, NearHit[]>(),
    ]);
    const existing = new Map(found.filter((m) => byId.has(m.id)).map((m) => [m.id, m]));

    const deduplicated: Deduplication[] = [];
    const pairs: { before: Memory | null; after: Memory }[] = [];
    const outcomes = new Map<string, WriteOutcome>();
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
          outcomes.set(id, { id, outcome: "merged", memory_id: same, merged_into: { memory_id: same, kind: "exact" } });
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
        outcomes.set(near.id, {
          id: near.id,
          outcome: "merged",
          memory_id: near.existing.id,
          merged_into: { memory_id: near.existing.id, kind: "near", similarity: near.similarity },
        });
        byId.delete(near.id);
      }
    }
    for (const [id, input] of byId) {
      const before = existing.get(id) ?? null;
      const fresh = await buildMemory(p.tenant, id, input, now);
      // Replacing keeps the original creation time and validity (and its supersession links)
      // unless the caller sets them.
      const after = before ? replaced(before, fresh, input) : fresh;
      pairs.push({ before, after });
      outcomes.set(id, { id, outcome: "kept", memory_id: id });
    }
    const { intents, closed } = await this.supersede(p.tenant, pairs, req, now);
    for (const x of closed) {
      outcomes.set(x.id, {
        ...outcomes.get(x.id)!,
        outcome: "superseding",
        supersedes: { memory_id: x.older.id, text: x.older.text, reason: x.reason },
      });
    }
    return { pairs, deduplicated, outcomes: [...req.prepared.keys()].map((id) => outcomes.get(id)!), intents };
  }

  /**
   * Contradiction on write (domain/temporal.ts): each new memory's claims — single-valued
   * properties it states — are checked against the current facts of its owner (and against the
   * batch's earlier memories); a memory stating another value of the same property is closed
   * (`valid_to`, `superseded_by`, the reason) in this same write, and the new one says which it
   * superseded. `pairs` are updated in place (closed memories join as updates). Returns the graph
   * intents that record the claims as relations (closing the old relations), and which new
   * memory superseded which.
   */
  private async supersede(
    tenant: string,
    pairs: { before: Memory | null; after: Memory }[],
    opts: Pick<CreateOptions, "relations" | "judged">,
    now: number,
  ): Promise<Pick<SupersessionPlan, "intents" | "closed">> {
    const statements: NewStatement[] = pairs
      .filter((x) => !x.before)
      .map(({ after: m }) => ({
        memory: m,
        claims: claimsOf(m.text, m.user_id ?? "user", opts.relations?.get(m.id)).filter(
          (c) => c.subject !== null || c.from,
        ),
        verdict: opts.judged?.get(m.id),
      }));
    const probes = statements.flatMap(({ memory, claims }) => claims.flatMap((c) => probesOf(c, memory)));
    const judged = statements.flatMap((x) => x.verdict ?? []);
    if (!probes.length && !judged.length) return { intents: [], closed: [] };
    const facts = probes.length ? await this.d.graphStore.statedFacts(tenant, probes) : [];
    const ids = [...facts.map((f) => f.memory_id), ...judged];
    const stored = new Map((await this.d.memoryStore.getMany(tenant, ids, now, CURRENT_ONLY)).map((m) => [m.id, m]));
    const plan = planSupersession(statements, facts, stored, now);
    for (const pair of pairs) pair.after = plan.versions.get(pair.after.id) ?? pair.after;
    for (const [id, after] of plan.versions) {
      const before = stored.get(id);
      if (before && !pairs.some((x) => x.after.id === id)) pairs.push({ before, after });
    }
    return plan;
  }

  /**
   * Creates one memory (with dedup as `create`); returns the memory created, or the one it was
   * deduplicated into.
   */
  async createOne(
    p: Principal,
    input: NewMemory,
    opts: CreateOptions = {},
  ): Promise<{ memory: Memory; deduplicated: boolean; warnings: string[] }> {
    const res = await this.create(p, [input], opts);
    const memory = res.memories[0] ?? (await this.get(p, res.deduplicated[0]!.existing_id));
    return { memory, deduplicated: res.deduplicated.length > 0, warnings: res.warnings };
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
        const before = await this.d.memoryStore.findByKey(
          p.tenant,
          input.agent_id ?? null,
          input.scope,
          input.key,
          now,
        );
        if (before) {
          const { id: _ignored, ...patch } = input;
          const after = await applyPatch(before, patch, now);
          const res = await this.d.commit.put(p, [{ before, after }], { known });
          return { memory: res.memories[0]!, created: false, warnings: res.warnings };
        }
        try {
          const res = await this.create(p, [input], { dedup: false });
          return { memory: res.memories[0]!, created: true, warnings: res.warnings };
        } catch (e) {
          // The key's holder may be an expired memory (reads skip it; the unique index does not):
          // purge it (with its history and event) so the retry creates.
          if (isKeyTaken(e)) await this.d.upkeep.purgeExpired(p.tenant);
          throw e;
        }
      },
      // A create that lost the race for the key retries as an update of the winner.
      (e) => e instanceof WriteConflict || isKeyTaken(e),
    );
  }

  async get(p: Principal, id: string, namespace?: string | null): Promise<Memory> {
    const m = await this.d.memoryStore.get(p.tenant, id, this.d.clock());
    if (!m || (namespace != null && m.namespace !== namespace)) throw AppError.notFound(`memory ${id}`, "memory");
    return m;
  }

  /** Live memories among `ids` (ids that do not exist are left out). */
  async getMany(p: Principal, ids: string[]): Promise<Memory[]> {
    return this.d.memoryStore.getMany(p.tenant, [...new Set(ids)], this.d.clock());
  }

  async update(
    p: Principal,
    id: string,
    patch: MemoryPatch,
    reason?: string,
  ): Promise<WriteResult & { memory: Memory }> {
    const res = await this.change(p, id, (before, now) => {
      if (patch.valid_to !== undefined && patch.valid_to !== null)
        checkValidTo("valid_to", patch.valid_to, patch.valid_from ?? before.valid_from, now);
      return { kind: "update", patch, reason };
    });
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
      const before = await this.d.memoryStore.get(p.tenant, id, now);
      if (!before) throw AppError.notFound(`memory ${id}`, "memory");
      const c = await decide(before, now);
      if (c.kind === "keep") return { memory: before, deleted: false, warnings: [] };
      if (c.kind === "delete") {
        await this.d.commit.delete(p.tenant, [before], p.subject, c.reason, c.extras);
        return { memory: before, deleted: true, warnings: [] };
      }
      const after = await applyPatch(before, c.patch, now);
      const res = await this.d.commit.put(p, [{ before, after }], { reason: c.reason, extras: c.extras, known });
      return { memory: res.memories[0]!, deleted: false, warnings: res.warnings };
    });
  }

  /**
   * Closes a memory by hand (it stopped being true at `at`, default now): `valid_to` and the
   * reason are set, history and a `memory_updated` event say so. A closed memory is left as it is.
   */
  async invalidate(p: Principal, id: string, reason: string, at?: number): Promise<Memory> {
    const res = await this.change(p, id, (before, now) => {
      if (before.valid_to !== null) return { kind: "keep" };
      const until = at ?? now;
      checkValidTo("at", until, before.valid_from, now);
      return { kind: "update", patch: { valid_to: until, invalid_reason: reason }, reason: `invalidated: ${reason}` };
    });
    return res.memory;
  }

  /** Deletes the given ids; returns those that existed. */
  async remove(p: Principal, ids: string[], reason?: string): Promise<string[]> {
    return retryOnConflict("memory", async () => {
      const found = await this.d.memoryStore.getMany(p.tenant, [...new Set(ids)], this.d.clock());
      await this.d.commit.delete(p.tenant, found, p.subject, reason);
      return found.map((m) => m.id);
    });
  }

  /** Live memories passing `filter` that name any of the entities (by their `entities`), most recently updated first. */
  async mentioning(p: Principal, names: string[], limit: number, filter: MemoryFilter = {}): Promise<Memory[]> {
    return this.d.memoryStore.mentioning(p.tenant, names, this.d.clock(), limit, filter);
  }

  /** A tenant's live memories after `cursor` in (updated_at, id) order (for consolidation). */
  async changedSince(tenant: string, cursor: { at: number; id: string }, limit: number): Promise<Memory[]> {
    return this.d.memoryStore.changedSince(tenant, cursor, this.d.clock(), limit);
  }

  /**
   * The owner's current memories nearest a text, best first (what an LLM judging contradictions
   * is shown). Empty when the embedder or the index fails: the write then goes unjudged.
   */
  async nearCurrent(
    p: Principal,
    owner: { namespace?: string | null; user_id?: string | null },
    text: string,
    limit: number,
  ): Promise<Memory[]> {
    try {
      const [vector] = await this.d.embedder.embed([text]);
      const hits = await this.d.index.query(p.tenant, vector!, {
        topK: limit * 2,
        model: this.d.embedder.model,
        filter: vectorFilterOf(ownerFilter(owner)),
      });
      const rows = new Map(
        (
          await this.d.memoryStore.getMany(
            p.tenant,
            hits.map((h) => h.id),
            this.d.clock(),
            CURRENT_ONLY,
          )
        ).map((m) => [m.id, m]),
      );
      return hits
        .flatMap((h) => rows.get(h.id) ?? [])
        .filter((m) => sameOwner(m, owner))
        .slice(0, limit);
    } catch {
      return [];
    }
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
    const rows = await this.d.memoryStore.getMany(p.tenant, ids, this.d.clock(), CURRENT_ONLY);
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
    await this.d.commit.put(p, [{ before: keep, after }], {
      reason: "consolidated",
      removed: others,
      removedReason: reason,
    });
  }

  async list(p: Principal, opts: ListOptions): Promise<MemoryPage> {
    const res = await this.d.memoryStore.list(p.tenant, this.d.clock(), opts);
    this.d.upkeep.purgeOnRead(p.tenant);
    return res;
  }

  /** An agent exists when the tenant has live memories of it; otherwise this throws `not_found` (missing `agent`). */
  async requireAgent(p: Principal, agent: string): Promise<void> {
    if (!(await this.d.memoryStore.hasAgent(p.tenant, agent, this.d.clock()))) {
      throw AppError.notFound(`agent '${agent}'`, "agent");
    }
  }

  /** The tenant's first agent: the agent of its earliest live memory that names one (null when none does). */
  async firstAgent(p: Principal): Promise<string | null> {
    return this.d.memoryStore.firstAgent(p.tenant, this.d.clock());
  }

  /**
   * A page of a memory's history. A memory that was never written (or whose history was purged)
   * is `not_found`; a page past the last entry of one that was is empty.
   */
  async history(p: Principal, id: string, opts: HistoryOptions): Promise<HistoryPage> {
    const page = await this.d.memoryStore.history(p.tenant, id, opts);
    if (!page.entries.length && !(opts.after && (await this.d.memoryStore.hasHistory(p.tenant, id))))
      throw AppError.notFound(`memory ${id}`, "memory");
    return page;
  }

  /** Runs a forgetting pass (AMS policy); dry_run only reports what would go. */
  async forget(p: Principal, req: ForgetRequest): Promise<ForgetResult> {
    return retryOnConflict("memories", () => this.forgetOnce(p, req));
  }

  private async forgetOnce(p: Principal, req: ForgetRequest): Promise<ForgetResult> {
    const now = this.d.clock();
    // Superseded memories are forgotten by the same policy as current ones.
    const filter: MemoryFilter = { ...ANY_VALIDITY };
    if (req.namespace) filter.namespace = { eq: req.namespace };
    if (req.user_id) filter.user_id = { eq: req.user_id };
    if (req.session_id) filter.session_id = { eq: req.session_id };
    const { memories } = await this.d.memoryStore.list(p.tenant, now, {
      filter,
      limit: req.limit,
      order: "created_asc",
    });
    const ids = selectForForgetting(memories, req.policy, now, new Set(req.pinned_ids));
    if (!req.dry_run && ids.length) {
      const chosen = new Set(ids);
      await this.d.commit.delete(
        p.tenant,
        memories.filter((m) => chosen.has(m.id)),
        p.subject,
        "forget",
      );
    }
    return { scanned: memories.length, deleted: ids.length, deleted_ids: ids, dry_run: req.dry_run };
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
  ): Promise<Map<string, NearHit[]>> {
    const hits = new Map<string, NearHit[]>();
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
      const near = results[i]!.filter((h) => h.score >= threshold && h.id !== id).map((h) => ({
        id: h.id,
        score: h.score,
      }));
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
    nearHits: Map<string, NearHit[]>,
    batch: Set<string>,
    now: number,
  ): Promise<{ id: string; existing: Memory; similarity: number }[]> {
    const candidates = fresh.flatMap(([id]) =>
      (nearHits.get(id) ?? [])
        .filter((hit) => !batch.has(hit.id))
        .map((hit) => ({ id, hit: hit.id, score: hit.score })),
    );
    if (!candidates.length) return [];
    const rows = new Map(
      (
        await this.d.memoryStore.getMany(
          tenant,
          candidates.map((c) => c.hit),
          now,
          CURRENT_ONLY,
        )
      ).map((m) => [m.id, m]),
    );
    const taken = new Set<string>();
    const out: { id: string; existing: Memory; similarity: number }[] = [];
    for (const c of candidates) {
      const existing = rows.get(c.hit);
      const input = fresh.find(([id]) => id === c.id)![1];
      if (out.some((o) => o.id === c.id) || !existing || taken.has(existing.id)) continue;
      if (!sameOwner(existing, input) || !compatibleFacts(existing.text, input.text)) continue;
      taken.add(existing.id);
      out.push({ id: c.id, existing, similarity: c.score });
    }
    return out;
  }
}

/** A create's inputs, prepared once for all its attempts (`Memories.prepare`). */
interface CreateRequest {
  /** By id (given or generated), in input order. */
  prepared: Map<string, NewMemory>;
  /** The ids the caller gave. */
  supplied: string[];
  /** Content hashes by id (with dedup only). */
  hashes: Map<string, string>;
  dedup: boolean;
  relations: CreateOptions["relations"];
  judged: CreateOptions["judged"];
}

/** An existing memory whose vector is near a new one's, with the cosine similarity. */
interface NearHit {
  id: string;
  score: number;
}

/** A memory replaced by id: the new content, with what the caller did not set kept from the old one. */
function replaced(before: Memory, fresh: Memory, input: NewMemory): Memory {
  const validity =
    input.valid_from === undefined && input.valid_to === undefined
      ? {
          valid_from: before.valid_from,
          valid_to: before.valid_to,
          superseded_by: before.superseded_by,
          invalid_reason: before.invalid_reason,
        }
      : {};
  return {
    ...fresh,
    created_at: input.created_at ?? before.created_at,
    supersedes: before.supersedes,
    ...validity,
  };
}

/** A create lost the race for a CRUD key (agent_id, scope, key) to another memory. */
function isKeyTaken(e: unknown): boolean {
  return e instanceof AppError && e.reason.code === "conflict" && e.reason.clash === "key";
}

/** A memory with neither topics nor entities gets them from the offline tagger. */
function withTags(m: NewMemory): NewMemory {
  if (m.topics?.length || m.entities?.length) return m;
  const tags = tagText(m.text);
  return { ...m, topics: tags.topics, entities: tags.entities.map((e) => e.name) };
}

/**
 * A time a memory stopped being true must lie between when it became true and now: "current"
 * means not closed, so a closing time still to come would hide a memory that still holds.
 */
function checkValidTo(field: string, validTo: number, validFrom: number, now: number): void {
  if (validTo < validFrom) {
    const message = `must not be before the memory's valid_from (${new Date(validFrom).toISOString()})`;
    throw AppError.validation([{ field, message }]);
  }
  if (validTo > now + CLOCK_SKEW_MS) throw AppError.validation([{ field, message: "must not be in the future" }]);
}

/** How far ahead of the server a client's clock may be when it says "now". */
const CLOCK_SKEW_MS = 5 * 60_000;

function checkId(id: string): void {
  if (!id || byteLength(id) > MAX_ID_BYTES) {
    throw new AppError("validation_error", `id must be 1 to ${MAX_ID_BYTES} bytes`, [
      { field: "id", message: `must be 1 to ${MAX_ID_BYTES} bytes` },
    ]);
  }
}
