import { relationsOf, SINGLE_VALUED, type EntityType, type ExtractedRelation } from "./extract.ts";
import { nameKey, relationEntityTypes } from "./graph.ts";
import { sameOwner, type Memory } from "./memory.ts";
import { sentences } from "./summarize.ts";
import type { GraphIntent } from "./writes.ts";

/**
 * Contradiction on write (docs/temporal.md): the rules that decide whether a new memory closes a
 * current one. A memory states claims — single-valued properties of a subject (the graph's `uses`,
 * `lives_in`, `works_at`, `role`, `deadline`, `owned_by`) — and a newer claim about the same subject
 * and property with another value supersedes the memory that stated the old value. The rules are
 * conservative: only a property that holds one value at a time, only the same owner (namespace and
 * user), and a change of value stated outright ("switched from Redis to Memcached"). Pure.
 */

/** A single-valued property of a subject as a memory states it; `from`: the value it replaces, when said. */
export interface Claim {
  subject: string | null;
  predicate: string;
  object: string;
  from?: string;
}

/** A change stated outright: "switched from X to Y [for S]", "moved from X to Y". */
const REPLACES: [RegExp, (m: RegExpExecArray, speaker: string) => Claim | null][] = [
  [
    /\b(?:switch(?:ed|ing)?|migrat(?:ed|ing)|mov(?:ed|ing)|chang(?:ed|ing)|went)\s+(?:over\s+)?from\s+(?<X>[\p{L}\d.+#-]+(?:\s[\p{Lu}][\p{L}\d.+#-]*)?)\s+to\s+(?<Y>[\p{L}\d.+#-]+(?:\s[\p{Lu}][\p{L}\d.+#-]*)?)(?:\s+(?:for|as)\s+(?:the\s+|our\s+)?(?<S>[a-z][a-z-]+))?/iu,
    (m, speaker) => {
      const { X, Y, S } = m.groups!;
      // "I moved from Berlin to Munich": where the speaker lives; otherwise a tool replaced.
      if (
        /^mov/i.test(m[0]) &&
        !S &&
        /^[\p{Lu}]/u.test(X!) &&
        /\b(?:I|we)\s+(?:just\s+)?$/i.test(m.input.slice(0, m.index))
      )
        return { subject: speaker, predicate: "lives_in", object: Y!, from: X! };
      return { subject: S ?? null, predicate: "uses", object: Y!, from: X! };
    },
  ],
  [
    /\breplac(?:ed|ing|e)\s+(?<X>[\p{L}\d.+#-]+(?:\s[\p{Lu}][\p{L}\d.+#-]*)?)\s+with\s+(?<Y>[\p{L}\d.+#-]+(?:\s[\p{Lu}][\p{L}\d.+#-]*)?)(?:\s+(?:for|as)\s+(?:the\s+|our\s+)?(?<S>[a-z][a-z-]+))?/iu,
    (m) => ({ subject: m.groups!.S ?? null, predicate: "uses", object: m.groups!.Y!, from: m.groups!.X! }),
  ],
];

/**
 * The claims of a memory's text (`speaker`: who "I" is), or of the relations an extractor found
 * in it: single-valued ones only, and changes stated outright.
 */
export function claimsOf(text: string, speaker: string, extracted?: readonly ExtractedRelation[]): Claim[] {
  const out: Claim[] = [];
  const relations = extracted ?? sentences(text).flatMap((s) => relationsOf(s, speaker));
  for (const r of relations) {
    if (SINGLE_VALUED.has(r.predicate)) out.push({ subject: r.subject, predicate: r.predicate, object: r.object });
  }
  for (const s of sentences(text)) {
    if (s.length > 500) continue;
    for (const [re, build] of REPLACES) {
      const m = re.exec(s);
      const built = m && build(m, speaker);
      if (!built) continue;
      // "…to Memcached." : the sentence's full stop is not part of the name.
      const bare = (name: string) => name.replace(/[.]+$/, "");
      const c: Claim = { ...built, object: bare(built.object), from: bare(built.from!) };
      if (nameKey(c.object) === nameKey(c.from!)) continue;
      // "switched to Memcached for caching" also matched the plain pattern: keep the one that says what it replaced.
      const same = out.findIndex((o) => o.predicate === c.predicate && nameKey(o.object) === nameKey(c.object));
      if (same >= 0) out[same] = { ...c, subject: c.subject ?? out[same]!.subject };
      else out.push(c);
    }
  }
  return out;
}

/** A current fact a claim contradicts: the relation's subject and value, and a memory stating it. */
export interface StatedFact {
  subject: string;
  predicate: string;
  object: string;
  memory_id: string;
}

/** What a write looks up: the current facts of an owner's property, by subject or by value. */
export interface FactProbe {
  namespace: string | null;
  user_id: string | null;
  predicate: string;
  name: string;
  by: "s" | "o";
}

/** The lookups a claim needs: its subject's current value, and (for a stated change) who holds the old value. */
export function probesOf(claim: Claim, owner: { namespace: string | null; user_id: string | null }): FactProbe[] {
  const base = { namespace: owner.namespace, user_id: owner.user_id, predicate: claim.predicate };
  return [
    ...(claim.subject !== null ? [{ ...base, name: claim.subject, by: "s" as const }] : []),
    ...(claim.from !== undefined ? [{ ...base, name: claim.from, by: "o" as const }] : []),
  ];
}

/**
 * Whether `claim` contradicts `fact`: same property, another value, and the same subject — or,
 * for a change that names the value it replaces, any subject holding that value.
 */
export function contradicts(claim: Claim, fact: StatedFact): boolean {
  if (claim.predicate !== fact.predicate || nameKey(claim.object) === nameKey(fact.object)) return false;
  if (claim.subject !== null && nameKey(claim.subject) === nameKey(fact.subject)) return true;
  return claim.from !== undefined && nameKey(claim.from) === nameKey(fact.object);
}

/** What a supersession records as the reason: the property and its change of value. */
export function supersessionReason(claim: Claim, fact: StatedFact): string {
  return `superseded: ${fact.subject} ${fact.predicate} ${fact.object} → ${claim.object}`;
}

/**
 * The two versions a supersession writes: `older` closed when `newer` became true (or, for a
 * newer memory whose valid time is earlier — a past fact stored late — that one closed instead).
 * A memory superseding several names the first in `supersedes`; each closed one names it back.
 */
export function supersede(newer: Memory, older: Memory, reason: string, now: number): { newer: Memory; older: Memory } {
  if (newer.valid_from >= older.valid_from) {
    return {
      newer: { ...newer, supersedes: newer.supersedes ?? older.id },
      older: { ...older, valid_to: newer.valid_from, superseded_by: newer.id, invalid_reason: reason, updated_at: now },
    };
  }
  // The new memory tells of an earlier time: it held until the known one began.
  return {
    newer: { ...newer, valid_to: older.valid_from, superseded_by: older.id, invalid_reason: reason },
    older: older.supersedes ? older : { ...older, supersedes: newer.id, updated_at: now },
  };
}

/** A new memory of a write, what it claims, and (with an LLM) the memories the model judged it makes untrue. */
export interface NewStatement {
  memory: Memory;
  claims: Claim[];
  verdict?: readonly string[];
}

/** What a write's supersessions come to: new versions of memories, who closed whom, the facts to record. */
export interface SupersessionPlan {
  /** The latest version of every memory the plan changed (new ones and closed ones), by id. */
  versions: Map<string, Memory>;
  closed: { id: string; older: Memory; reason: string }[];
  /** The graph facts the new memories state, with their valid time (closing the old values). */
  intents: GraphIntent[];
}

/**
 * Supersession for a write's new memories, in order (pure; the service reads `facts` — the current
 * facts the claims probe — and `stored`, the current memories stating them):
 * - a memory stated already closed (its own `valid_to`) closes nothing;
 * - with a verdict (an LLM's), the memories it names are closed, and only they;
 * - otherwise each claim closes every current memory of the same owner stating a contradicted
 *   value — unless that memory also states another single-valued fact the new one does not
 *   contradict ("I work at Acme and live in Lisbon" stays when only the job changes; the job's
 *   relation is closed all the same);
 * - a later memory of the write supersedes an earlier one.
 */
export function planSupersession(
  statements: NewStatement[],
  facts: StatedFact[],
  stored: ReadonlyMap<string, Memory>,
  now: number,
): SupersessionPlan {
  const versions = new Map<string, Memory>();
  const latest = (id: string) => versions.get(id) ?? stored.get(id);
  const closed: SupersessionPlan["closed"] = [];
  const known = [...facts];
  const close = (newerId: string, olderId: string, reason: string) => {
    const newer = latest(newerId)!;
    const older = latest(olderId);
    if (!older || older.id === newer.id || older.valid_to !== null || !sameOwner(older, newer)) return;
    const both = supersede(newer, older, reason, now);
    if (both.newer.supersedes === older.id) closed.push({ id: newer.id, older, reason });
    versions.set(newer.id, both.newer);
    versions.set(older.id, both.older);
  };
  for (const { memory, claims, verdict } of statements) {
    versions.set(memory.id, memory);
    if (memory.valid_to === null) {
      for (const olderId of verdict ?? []) close(memory.id, olderId, `superseded: ${memory.text}`.slice(0, 1000));
      for (const claim of verdict ? [] : claims) {
        for (const fact of known.filter((f) => contradicts(claim, f))) {
          const older = latest(fact.memory_id);
          if (older && !statesOtherFacts(older, claims)) close(memory.id, older.id, supersessionReason(claim, fact));
        }
      }
    }
    // What it states is now known to the write's later memories (a closed memory states nothing current).
    if (latest(memory.id)!.valid_to === null) {
      for (const c of claims) if (c.subject !== null) known.push({ ...c, subject: c.subject, memory_id: memory.id });
    }
  }
  return { versions, closed, intents: claimIntents(statements, facts, versions) };
}

/** Whether `m` states a single-valued fact none of `claims` contradicts (closing it would lose that fact). */
function statesOtherFacts(m: Memory, claims: Claim[]): boolean {
  return claimsOf(m.text, m.user_id ?? "user").some(
    (own) =>
      own.subject !== null && !claims.some((c) => contradicts(c, { ...own, subject: own.subject!, memory_id: m.id })),
  );
}

/**
 * The graph facts the new memories state, at the memory's valid time (recorded closed for a
 * memory stored closed), with their entities. A stated change without a subject ("switched from
 * Redis to Memcached") takes the subject of the fact it replaced.
 */
function claimIntents(
  statements: NewStatement[],
  facts: StatedFact[],
  versions: ReadonlyMap<string, Memory>,
): GraphIntent[] {
  const entities = new Map<string, { name: string; type: EntityType }>();
  const relations: GraphIntent[] = [];
  for (const { memory, claims } of statements) {
    const m = versions.get(memory.id)!;
    for (const claim of claims) {
      const subject = claim.subject ?? facts.find((f) => contradicts(claim, f))?.subject;
      if (!subject) continue;
      const fact = { subject, predicate: claim.predicate, object: claim.object };
      for (const [name, type] of relationEntityTypes(fact)) entities.set(nameKey(name), { name, type });
      relations.push({
        kind: "relation",
        relation: {
          ...fact,
          source_memory_id: m.id,
          confidence: 0.8,
          namespace: m.namespace,
          user_id: m.user_id,
          valid_from: m.valid_from,
          valid_to: m.valid_to,
        },
        singleValued: true,
      });
    }
  }
  return relations.length ? [{ kind: "entities", entities: [...entities.values()] }, ...relations] : [];
}
