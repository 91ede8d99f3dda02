import type { LlmProvider } from "../ai/llm.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import { factOf, type GraphFact } from "../domain/graph.ts";
import { sha256Hex } from "../domain/ids.ts";
import type { Principal } from "../domain/principal.ts";
import {
  buildProfile,
  checkedSummary,
  dedupeById,
  fingerprintSource,
  PROFILE_LIMITS,
  STABLE_TYPES,
  TASK_TYPES,
  type CachedProfile,
  type Profile,
} from "../domain/profile.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { GraphStore, MemoryStore, ProfileStore } from "./ports.ts";

export interface ProfilesDeps {
  memoryStore: Pick<MemoryStore, "list">;
  graphStore: Pick<GraphStore, "findByNames" | "getEntities" | "relationsOf">;
  profileStore: ProfileStore;
  llm: LlmProvider;
  /** Whether the LLM can summarize (false offline: the rule profile is the profile, and nothing is cached). */
  summarize: boolean;
  log: Logger;
  clock: () => number;
}

/** Which user's profile, and in which namespace (null: all of them). */
export interface ProfileQuery {
  userId: string;
  namespace: string | null;
}

/**
 * Per-user profiles: built by rules (domain/profile.ts) from a bounded read of the user's current
 * memories and the graph facts about them; with an LLM, restated by it and cached until what the
 * profile is built from changes. An LLM failure returns the rule profile with a warning.
 */
export class Profiles {
  constructor(private readonly d: ProfilesDeps) {}

  /**
   * The profile of a user. One that edgemem knows nothing about is empty (not an error). Reads at
   * most PROFILE_LIMITS' pages of memories (newest first: overall, and per stable and task type)
   * and the current relations whose subject is the user's entity, all under the user (and
   * namespace) filter, so another user's memories and facts never enter it.
   */
  async get(p: Principal, q: ProfileQuery): Promise<Profile> {
    const now = this.d.clock();
    const filter: MemoryFilter = {
      user_id: { eq: q.userId },
      ...(q.namespace !== null ? { namespace: { eq: q.namespace } } : {}),
    };
    const L = PROFILE_LIMITS;
    const page = (limit: number, f: MemoryFilter) =>
      this.d.memoryStore.list(p.tenant, now, { filter: f, order: "updated_desc", limit }).then((r) => r.memories);
    const [pages, facts, cached] = await Promise.all([
      Promise.all([
        page(L.recentRead, filter),
        ...STABLE_TYPES.map((t) => page(L.stablePerType, { ...filter, memory_type: { eq: t } })),
        ...TASK_TYPES.map((t) => page(L.tasksPerType, { ...filter, memory_type: { eq: t } })),
      ]),
      this.facts(p, q.userId, filter, now),
      this.d.summarize ? this.cached(p, q) : null,
    ]);
    const memories = dedupeById(pages.flat());
    const rules = buildProfile({ userId: q.userId, memories, facts });
    const fingerprint = await sha256Hex(fingerprintSource(memories, facts));
    const base: Profile = {
      user_id: q.userId,
      namespace: q.namespace,
      ...rules,
      generated_by: "rules",
      generated_at: now,
      fingerprint,
      memories_read: memories.length,
      warnings: [],
    };
    if (!this.d.summarize || (!rules.stable.length && !rules.recent.length)) return base;
    const llm = this.d.llm;
    if (cached && cached.fingerprint === fingerprint && cached.provider === llm.name)
      return { ...base, ...cached.sections, generated_by: "llm", generated_at: cached.generated_at };

    let summary;
    try {
      const raw = await llm.summarizeProfile({ userId: q.userId, rules });
      summary = raw && checkedSummary(raw, rules);
      if (raw && !summary) throw new Error("the summary cited none of the profile's memories");
    } catch (e) {
      this.d.log.warn("profile summary failed; rule profile returned", { tenant: p.tenant, error: errorMessage(e) });
      return {
        ...base,
        warnings: [`LLM profile summary failed (${errorMessage(e)}); the rule-built profile is returned`],
      };
    }
    if (!summary) return base;
    try {
      await this.d.profileStore.put(p.tenant, {
        user_id: q.userId,
        namespace: q.namespace,
        fingerprint,
        provider: llm.name,
        sections: summary,
        generated_at: now,
      });
    } catch (e) {
      // A cache write refused (a tenant move's fence) costs the next read an LLM call, nothing more.
      this.d.log.warn("profile cache write failed", { tenant: p.tenant, error: errorMessage(e) });
    }
    return { ...base, ...summary, generated_by: "llm" };
  }

  /** The cached summary; a cache that cannot be read is a miss (the LLM is asked again), never an error. */
  private async cached(p: Principal, q: ProfileQuery): Promise<CachedProfile | null> {
    try {
      return await this.d.profileStore.get(p.tenant, q.userId, q.namespace);
    } catch (e) {
      this.d.log.warn("profile cache read failed", { tenant: p.tenant, error: errorMessage(e) });
      return null;
    }
  }

  /** Current facts whose subject is the user's entity (the speaker of first-person statements), under `filter`. */
  private async facts(p: Principal, userId: string, filter: MemoryFilter, now: number): Promise<GraphFact[]> {
    const users = await this.d.graphStore.findByNames(p.tenant, [userId]);
    if (!users.length) return [];
    const ids = new Set(users.map((e) => e.id));
    const relations = (await this.d.graphStore.relationsOf(p.tenant, [...ids], false, { filter, now })).filter((r) =>
      ids.has(r.subject_id),
    );
    const objects = await this.d.graphStore.getEntities(p.tenant, [...new Set(relations.map((r) => r.object_id))]);
    const entities = new Map([...users, ...objects].map((e) => [e.id, e]));
    return relations.filter((r) => entities.has(r.object_id)).map((r) => factOf(r, entities));
  }
}
