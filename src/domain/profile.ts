import type { GraphFact } from "./graph.ts";
import type { Memory, MemoryType } from "./memory.ts";

/**
 * A user's profile: what edgemem knows about one user, assembled by rules from their current
 * memories and the graph facts whose subject is them. Pure and deterministic: the same memories
 * and facts give the same lines in the same order. Every line cites the memories it rests on.
 */

export const PROFILE_KINDS = [
  "name",
  "location",
  "work",
  "role",
  "preference",
  "tool",
  "fact",
  "topic",
  "task",
  "recent",
  // A line an LLM wrote when it gave no kind edgemem knows.
  "summary",
] as const;
export type ProfileKind = (typeof PROFILE_KINDS)[number];

export interface ProfileLine {
  kind: ProfileKind;
  text: string;
  /** The memories the line rests on, newest first (never empty). */
  memory_ids: string[];
}

export interface ProfileSections {
  /** Who the user is and what lasts: name, location, work, role, preferences, tools, facts. */
  stable: ProfileLine[];
  /** What is going on: active topics, open tasks, recent decisions and events. */
  recent: ProfileLine[];
}

export interface Profile extends ProfileSections {
  user_id: string;
  namespace: string | null;
  generated_by: "rules" | "llm";
  generated_at: number;
  /** Of the memories and facts the profile was built from (the LLM summary's cache key). */
  fingerprint: string;
  /** How many memories were read to build it (bounded by PROFILE_LIMITS, however many the user has). */
  memories_read: number;
  warnings: string[];
}

/** An LLM summary as cached: current while `fingerprint` and `provider` are those of a fresh build. */
export interface CachedProfile {
  user_id: string;
  namespace: string | null;
  fingerprint: string;
  /** The LLM provider that wrote it (another model's summary is not reused). */
  provider: string;
  sections: ProfileSections;
  generated_at: number;
}

/** Bounds on what a profile reads and says. */
export const PROFILE_LIMITS = {
  /** The user's most recently updated memories (topics, location, work, …). */
  recentRead: 100,
  /** Their most recently updated memories of each stable type (STABLE_TYPES). */
  stablePerType: 40,
  /** Their most recently updated memories of each task type (TASK_TYPES). */
  tasksPerType: 25,
  maxStable: 12,
  maxRecent: 12,
  preferences: 6,
  facts: 4,
  topics: 5,
  tasks: 5,
  recentEvents: 3,
  idsPerLine: 5,
  /** Characters of a line; a longer memory is cut at a word. */
  lineChars: 280,
} as const;

export const STABLE_TYPES: readonly MemoryType[] = ["preference", "fact", "semantic"];
export const TASK_TYPES: readonly MemoryType[] = ["todo", "goal"];
const RECENT_TYPES: readonly MemoryType[] = ["decision", "event", "episodic"];

/** What the rules read: the user's memories (any order, no duplicates needed) and graph facts about them. */
export interface ProfileInput {
  userId: string;
  memories: Memory[];
  /** Current facts whose subject is the user's entity. */
  facts: GraphFact[];
}

interface Candidate {
  value: string;
  id: string;
  at: number;
}

const SINGLE_KINDS = ["name", "location", "work", "role"] as const;
type SingleKind = (typeof SINGLE_KINDS)[number];

const ROLE_WORDS =
  "engineer|developer|designer|manager|scientist|researcher|student|teacher|professor|doctor|nurse|lawyer|founder|co-founder|cto|ceo|cfo|analyst|architect|consultant|writer|editor|lead|director|administrator|admin|intern|accountant|programmer|freelancer|artist|photographer|product owner|recruiter";

/**
 * Statement patterns about the user. `S` is the subject: I, the user, or the user's id; values
 * must start with a capital (names, places, organisations), so no case-insensitive flag.
 */
function patterns(userId: string): [SingleKind, RegExp][] {
  // The id matches in any case ("alice" in "Alice lives in Paris"), other characters as they are.
  const id = [...userId]
    .map((c) =>
      /\p{L}/u.test(c) && c.toLowerCase() !== c.toUpperCase()
        ? `[${c.toLowerCase()}${c.toUpperCase()}]`
        : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  const s = `(?:\\b[Ii]|\\b[Tt]he user|\\b[Uu]ser|(?<![\\p{L}\\d_-])${id})`;
  const proper = "[\\p{Lu}][\\p{L}\\d&'.-]*(?:\\s(?:of\\s|de\\s)?[\\p{Lu}][\\p{L}\\d&'.-]*)*";
  const now = "(?:\\s+(?:now|currently|recently))?";
  return [
    [
      "name",
      new RegExp(
        `(?:\\b[Mm]y name is|\\b[Cc]all me|${s}(?:'s name is| is named| is called| am called))\\s+(${proper})`,
        "u",
      ),
    ],
    [
      "location",
      new RegExp(
        `${s}${now}\\s+(?:live|lives|am living|is living|am based|is based|moved|has moved|have moved|relocated)\\s+(?:in|to)\\s+(${proper})`,
        "u",
      ),
    ],
    [
      "work",
      new RegExp(`${s}${now}\\s+(?:(?:work|works|am working|is working)\\s+(?:at|for)|joined)\\s+(${proper})`, "u"),
    ],
    [
      "role",
      new RegExp(
        `${s}${now}\\s+(?:am|is|works?\\s+as|works?\\s+(?:at|for)\\s+${proper}\\s+as)\\s+(?:a|an|the)\\s+((?:[a-z][a-z-]*\\s){0,3}(?:${ROLE_WORDS}))\\b`,
        "u",
      ),
    ],
  ];
}

/** Contractions spelt out, so one pattern reads "I'm based in" and "I am based in". */
function expand(text: string): string {
  return text.replace(/\u2019/g, "'").replace(/\b([Ii])'m\b/g, "$1 am");
}

const FACT_KIND: Record<string, SingleKind | "preference" | "tool" | "fact"> = {
  lives_in: "location",
  works_at: "work",
  role: "role",
  prefers: "preference",
  uses: "tool",
  owns: "fact",
};

const LINE_TEXT: Record<SingleKind, (v: string) => string> = {
  name: (v) => `Name: ${v}`,
  location: (v) => `Lives in ${v}`,
  work: (v) => `Works at ${v}`,
  role: (v) => `Role: ${v}`,
};

/**
 * The rule-built profile. Stable: for each of name, location, work and role the newest statement
 * wins (a graph fact counts as stated when it became valid), citing every memory that states the
 * same value; then preferences (preference memories and `prefers` facts), tools (`uses` facts),
 * facts (fact and semantic memories not cited yet), pinned, then higher priority, confidence and
 * newer first. Recent: the most frequent topics of the most recent memories, open tasks (todo and
 * goal memories, newest first), then recent decisions and events. Capped per section
 * (PROFILE_LIMITS); a memory cited by a stable line is not repeated as a fact or recent line.
 */
export function buildProfile(input: ProfileInput): ProfileSections {
  const L = PROFILE_LIMITS;
  const memories = dedupeById(input.memories).sort(newestFirst);
  const cited = new Set<string>();
  const cite = (ids: string[]) => {
    const out = [...new Set(ids)].slice(0, L.idsPerLine);
    for (const id of out) cited.add(id);
    return out;
  };

  // Single-valued facts: candidates from memory texts and from graph facts.
  const single = new Map<SingleKind, Candidate[]>(SINGLE_KINDS.map((k) => [k, []]));
  const rules = patterns(input.userId);
  for (const m of memories) {
    const text = expand(m.text);
    for (const [kind, re] of rules) {
      const match = re.exec(text);
      const value = match?.[1] && cleanValue(match[1]);
      // Valid time: a back-dated move does not beat a later one.
      if (value) single.get(kind)!.push({ value, id: m.id, at: m.valid_from });
    }
  }
  const multi = { preference: [] as Candidate[], tool: [] as Candidate[], fact: [] as Candidate[] };
  for (const f of input.facts) {
    if (f.valid_to !== null || !f.source_memory_id) continue;
    const kind = FACT_KIND[f.predicate];
    if (!kind) continue;
    const c = { value: f.object.name, id: f.source_memory_id, at: f.valid_from };
    if (kind === "preference" || kind === "tool" || kind === "fact") multi[kind].push(c);
    else single.get(kind)!.push(c);
  }

  const stable: ProfileLine[] = [];
  const outdated = new Set<string>();
  for (const kind of SINGLE_KINDS) {
    const cands = single.get(kind)!.sort((a, b) => b.at - a.at || cmp(b.id, a.id));
    const best = cands[0];
    if (!best) continue;
    const ids = cands.filter((c) => sameValue(c.value, best.value)).map((c) => c.id);
    // A memory stating an older value (a former city) is not offered again as a fact.
    for (const c of cands) outdated.add(c.id);
    stable.push({ kind, text: LINE_TEXT[kind](best.value), memory_ids: cite(ids) });
  }

  // Preferences: the memories themselves, then preferred things no cited memory states.
  const prefs: ProfileLine[] = [];
  const prefTexts = new Set<string>();
  for (const m of memories.filter((m) => m.memory_type === "preference").sort(byWeight)) {
    const key = normal(m.text);
    if (prefTexts.has(key)) continue;
    prefTexts.add(key);
    prefs.push({ kind: "preference", text: lineText(m.text), memory_ids: [m.id] });
  }
  for (const [kind, label] of [
    ["preference", "Prefers"],
    ["tool", "Uses"],
    ["fact", "Owns"],
  ] as const) {
    const grouped = groupValues(multi[kind]);
    for (const g of grouped) {
      if (kind === "preference" && g.ids.some((id) => prefs.some((p) => p.memory_ids.includes(id)))) continue;
      prefs.push({ kind, text: `${label} ${g.value}`, memory_ids: g.ids });
    }
  }
  for (const line of prefs.filter((l) => l.kind === "preference").slice(0, L.preferences))
    stable.push({ ...line, memory_ids: cite(line.memory_ids) });
  for (const line of prefs.filter((l) => l.kind !== "preference"))
    stable.push({ ...line, memory_ids: cite(line.memory_ids) });

  const facts = memories
    .filter(
      (m) => (m.memory_type === "fact" || m.memory_type === "semantic") && !cited.has(m.id) && !outdated.has(m.id),
    )
    .sort(byWeight)
    .slice(0, L.facts);
  for (const m of facts) stable.push({ kind: "fact", text: lineText(m.text), memory_ids: cite([m.id]) });

  // Recent context: topics of the most recent memories.
  const recent: ProfileLine[] = [];
  const window = [...memories].sort((a, b) => b.updated_at - a.updated_at || cmp(b.id, a.id)).slice(0, L.recentRead);
  const topics = new Map<string, { name: string; ids: string[]; first: number }>();
  window.forEach((m, rank) => {
    for (const t of m.topics) {
      const key = t.trim().toLowerCase();
      if (!key) continue;
      const e = topics.get(key) ?? { name: t.trim(), ids: [], first: rank };
      if (!e.ids.includes(m.id)) e.ids.push(m.id);
      topics.set(key, e);
    }
  });
  const active = [...topics.values()]
    .sort((a, b) => b.ids.length - a.ids.length || a.first - b.first || cmp(a.name, b.name))
    .slice(0, L.topics);
  for (const t of active) {
    const n = t.ids.length;
    recent.push({
      kind: "topic",
      text: `Active topic: ${t.name} (${n} recent ${n === 1 ? "memory" : "memories"})`,
      memory_ids: t.ids.slice(0, L.idsPerLine),
    });
  }
  const tasks = memories.filter((m) => TASK_TYPES.includes(m.memory_type)).slice(0, L.tasks);
  for (const m of tasks)
    recent.push({
      kind: "task",
      text: `${m.memory_type === "goal" ? "Goal" : "To do"}: ${lineText(m.text)}`,
      memory_ids: [m.id],
    });
  const events = memories
    .filter((m) => RECENT_TYPES.includes(m.memory_type) && !cited.has(m.id))
    .slice(0, L.recentEvents);
  for (const m of events) recent.push({ kind: "recent", text: lineText(m.text), memory_ids: [m.id] });

  return { stable: stable.slice(0, L.maxStable), recent: recent.slice(0, L.maxRecent) };
}

/** Every memory id a profile cites. */
export function citedIds(p: ProfileSections): Set<string> {
  return new Set([...p.stable, ...p.recent].flatMap((l) => l.memory_ids));
}

/**
 * An LLM's summary kept to what the rules cited: ids the rules did not cite are dropped (a model
 * must not invent citations), then lines left citing nothing, and each line is cut like a rule
 * line. Null when nothing is left of a summary of a profile that had lines (the rules stand).
 */
export function checkedSummary(summary: ProfileSections, rules: ProfileSections): ProfileSections | null {
  const known = citedIds(rules);
  const keep = (lines: ProfileLine[], max: number) =>
    lines
      .map((l) => ({
        ...l,
        text: lineText(l.text),
        memory_ids: [...new Set(l.memory_ids.filter((id) => known.has(id)))],
      }))
      .filter((l) => l.text && l.memory_ids.length)
      .slice(0, max);
  const out = {
    stable: keep(summary.stable, PROFILE_LIMITS.maxStable),
    recent: keep(summary.recent, PROFILE_LIMITS.maxRecent),
  };
  if (known.size && !out.stable.length && !out.recent.length) return null;
  return out;
}

/**
 * What the profile was built from, as one string to hash: the memories (id, version, updated_at)
 * and facts (id, source, end) read, and the rules' limits. Equal inputs give equal profiles, so an
 * LLM summary cached under it is current exactly while none of them changed.
 */
export function fingerprintSource(memories: Memory[], facts: GraphFact[]): string {
  const ms = dedupeById(memories)
    .map((m) => `${m.id}:${m.version}:${m.updated_at}`)
    .sort();
  const fs = facts.map((f) => `${f.id}:${f.source_memory_id ?? ""}:${f.valid_to ?? ""}`).sort();
  return JSON.stringify([PROFILE_LIMITS, ms, fs]);
}

// ---------------------------------------------------------------------------------------------

/** Each memory once (the first of an id), in order. */
export function dedupeById(memories: Memory[]): Memory[] {
  const seen = new Map<string, Memory>();
  for (const m of memories) if (!seen.has(m.id)) seen.set(m.id, m);
  return [...seen.values()];
}

function newestFirst(a: Memory, b: Memory): number {
  return b.created_at - a.created_at || cmp(b.id, a.id);
}

/** Pinned first, then priority, confidence, newest. */
function byWeight(a: Memory, b: Memory): number {
  return (
    Number(b.pinned) - Number(a.pinned) || b.priority - a.priority || b.confidence - a.confidence || newestFirst(a, b)
  );
}

function groupValues(cands: Candidate[]): { value: string; ids: string[] }[] {
  const groups = new Map<string, { value: string; ids: string[]; at: number }>();
  for (const c of [...cands].sort((a, b) => b.at - a.at || cmp(b.id, a.id))) {
    const key = normal(c.value);
    const g = groups.get(key) ?? { value: c.value, ids: [], at: c.at };
    if (!g.ids.includes(c.id)) g.ids.push(c.id);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.at - a.at || cmp(a.value, b.value));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const normal = (s: string) => s.trim().replace(/\s+/g, " ").toLowerCase();
const sameValue = (a: string, b: string) => normal(a) === normal(b);

/** A captured value without trailing punctuation or a dangling function word. */
function cleanValue(v: string): string {
  return v
    .trim()
    .replace(/[.'&-]+$/, "")
    .replace(/\s+(?:and|but|or|since|for|in|at)$/i, "")
    .trim();
}

/** A memory's text as a profile line: one line, cut at a word within PROFILE_LIMITS.lineChars. */
export function lineText(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const max = PROFILE_LIMITS.lineChars;
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
