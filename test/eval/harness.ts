// Retrieval evaluation through edgemem's public REST API: seeds every conversation of a dataset
// (one memory per turn, one namespace per conversation), asks every question in each search mode
// and scores evidence recall@5/@10. Runtime-neutral (a `fetch` is passed in), so the same code runs
// in Node against `wrangler dev` or a deployment (test/eval/run.ts) and inside workerd with
// `exports.default.fetch` (test/eval.test.ts).
import { packInOrder } from "../../src/domain/pack.ts";
import type { Conversation, Dataset, Question } from "./datasets.ts";

export type SearchMode = "hybrid" | "semantic" | "keyword";
export const SEARCH_MODES: readonly SearchMode[] = ["hybrid", "semantic", "keyword"];

/** The part of `fetch` the harness uses: Node's global fetch and workerd's `exports.default.fetch` both fit. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface EvalOptions {
  /** Where edgemem answers, e.g. "http://127.0.0.1:8787" (no trailing slash needed). */
  baseUrl: string;
  fetch: FetchLike;
  /** Extra request headers, e.g. `authorization` for a JWT deployment. */
  headers?: Record<string, string>;
  /** Default: all three. */
  modes?: readonly SearchMode[];
  /** Memories per create request (default 100, the server's MAX_BATCH default). */
  batchSize?: number;
  /** Conversations seeded at once (default 2). */
  seedConcurrency?: number;
  /** Search (and think) requests in flight at once (default 4). */
  askConcurrency?: number;
  /** Also ask every question through `POST /v1/think`. */
  think?: boolean;
  /** Extra search body fields for experiments (e.g. `hybrid_alpha`); the harness's own fields win. */
  searchOptions?: Record<string, unknown>;
  /** Progress lines (seeding, asking). */
  log?: (line: string) => void;
}

/** A request that did not answer 200, or could not be sent (status 0). */
export interface EvalError {
  phase: "seed" | "search" | "think";
  conversation: string;
  question?: string;
  mode?: SearchMode;
  status: number;
  body: string;
}

/** One question asked in one mode. */
export interface ModeResult {
  /** Turn ids of the hits, best first (hits that map to no turn of the conversation appear as their memory id). */
  ranked: string[];
  /** Null when the question has no evidence to find (unanswerable) or the request failed. */
  recall_at_5: number | null;
  recall_at_10: number | null;
  latency_ms: number;
  /** The top hit's `score`, `score_type` and `score_details` (explain), if any hit. */
  top: { turn: string; score: number; score_type: string; score_details: unknown } | null;
  /** The server's `warnings` (degraded search). */
  warnings?: string[];
  error?: { status: number; body: string };
}

export interface ThinkResult {
  /** True when think cited at least one memory; false when it abstained (no citations). */
  answered: boolean;
  answer: string;
  /** Turn ids of the citations. */
  cited: string[];
  /** Some citation is an evidence turn. */
  cited_evidence: boolean;
  latency_ms: number;
  error?: { status: number; body: string };
}

export interface QuestionResult {
  conversation: string;
  id: string;
  question: string;
  answer: string;
  category: string;
  tags: string[];
  answerable: boolean;
  evidence: string[];
  modes: Partial<Record<SearchMode, ModeResult>>;
  think?: ThinkResult;
}

export interface SeedResult {
  conversations: number;
  memories: number;
  requests: number;
  ms: number;
  errors: EvalError[];
}

/** Mean recall over the questions of a group that have evidence to find. */
export interface RecallCell {
  /** Questions in the group. */
  questions: number;
  /** Of them, scored: answerable, with evidence, and answered without error. */
  scored: number;
  recall_at_5: number | null;
  recall_at_10: number | null;
  errors: number;
}

export interface ThinkCell {
  questions: number;
  answered: number;
  abstained: number;
  cited_evidence: number;
  errors: number;
}

export interface EvalReport {
  dataset: {
    layout: string;
    conversations: number;
    turns: number;
    questions: number;
    answerable: number;
    warnings: string[];
  };
  seeding: { memories: number; requests: number; ms: number; errors: number };
  asking: { searches: number; thinks: number; ms: number };
  modes: SearchMode[];
  overall: Partial<Record<SearchMode, RecallCell>>;
  by_category: Partial<Record<SearchMode, Record<string, RecallCell>>>;
  by_tag: Partial<Record<SearchMode, Record<string, RecallCell>>>;
  latency: Partial<Record<SearchMode, { p50: number; p95: number; max: number }>>;
  /** Searches that came back with `warnings` (degraded), per mode. */
  degraded: Partial<Record<SearchMode, number>>;
  think?: { answerable: ThinkCell; unanswerable: ThinkCell; latency: { p50: number; p95: number; max: number } };
  errors: EvalError[];
}

export interface EvalRun {
  report: EvalReport;
  results: QuestionResult[];
}

const SEARCH_LIMIT = 10;
/** Under the default MAX_BODY_BYTES (1 MiB): long turns (LongMemEval's assistant answers) end a batch early. */
const MAX_BATCH_BYTES = 900_000;
const MAX_ID_BYTES = 64;

/** Seeds the dataset, asks every question in every mode (and think, if asked), and scores the answers. */
export async function runEval(dataset: Dataset, opts: EvalOptions): Promise<EvalRun> {
  const seed = await seedDataset(dataset, opts);
  const started = now();
  const results = await askQuestions(dataset, opts);
  const askMs = now() - started;
  const report = summarize(dataset, results, seed, askMs, opts.modes ?? SEARCH_MODES);
  return { report, results };
}

/**
 * The memory id of a turn: `<conversation>:<turn>` when that fits the 64-byte id limit, otherwise
 * a hash of the conversation id in its place. Any string is a valid id (src/wire/ams.ts).
 */
export function memoryIdFor(conversation: string, turn: string): string {
  const plain = `${conversation}:${turn}`;
  if (utf8Bytes(plain) <= MAX_ID_BYTES) return plain;
  const short = `${fnv1a(conversation)}:${turn}`;
  return utf8Bytes(short) <= MAX_ID_BYTES ? short : `${fnv1a(conversation)}:${fnv1a(turn)}`;
}

/**
 * Stores every turn as an episodic memory in its conversation's namespace: text
 * "<speaker>: <text>", dated by `event_date` and `created_at` when the turn has a date, dedup off
 * (turns repeat: "ok", "thanks"). `last_accessed` is the seeding time, so that the recency boost
 * starts equal for every memory: left to default it is `created_at` (years ago), and each search
 * touching its hits would then lift them for later questions, making scores depend on question order.
 */
export async function seedDataset(dataset: Dataset, opts: EvalOptions): Promise<SeedResult> {
  const started = now();
  const seededAt = new Date().toISOString();
  const batchSize = opts.batchSize ?? 100;
  const errors: EvalError[] = [];
  let memories = 0;
  let requests = 0;
  await pool(dataset.conversations, opts.seedConcurrency ?? 2, async (conv) => {
    const batches = batchesOf(conv, batchSize, seededAt);
    for (const batch of batches) {
      requests++;
      const res = await send(opts, "/v1/long-term-memory/", { memories: batch, deduplicate: false });
      if (res.status === 200) memories += batch.length;
      else errors.push({ phase: "seed", conversation: conv.id, status: res.status, body: res.body });
    }
    opts.log?.(`seeded ${conv.id}: ${conv.turns.length} turns in ${batches.length} request(s)`);
  });
  return { conversations: dataset.conversations.length, memories, requests, ms: now() - started, errors };
}

function batchesOf(conv: Conversation, size: number, seededAt: string): Record<string, unknown>[][] {
  const memories = conv.turns.map((t): Record<string, unknown> => {
    const date = t.date === null ? null : new Date(t.date).toISOString();
    return {
      id: memoryIdFor(conv.id, t.id),
      text: `${t.speaker}: ${t.text}`,
      namespace: conv.id,
      memory_type: "episodic",
      last_accessed: seededAt,
      metadata: { turn: t.id },
      ...(date ? { event_date: date, created_at: date } : {}),
    };
  });
  // Each memory's JSON and its comma: the batch body stays under the request limit.
  return packInOrder(memories, (m) => utf8Bytes(JSON.stringify(m)) + 1, MAX_BATCH_BYTES, size);
}

/** Asks every question in every mode (question × mode requests, `askConcurrency` at a time). */
export async function askQuestions(dataset: Dataset, opts: EvalOptions): Promise<QuestionResult[]> {
  const modes = opts.modes ?? SEARCH_MODES;
  const turnOf = new Map<string, Map<string, string>>();
  for (const c of dataset.conversations) turnOf.set(c.id, new Map(c.turns.map((t) => [memoryIdFor(c.id, t.id), t.id])));
  const results: QuestionResult[] = dataset.questions.map((q) => ({
    conversation: q.conversation,
    id: q.id,
    question: q.question,
    answer: q.answer,
    category: q.category,
    tags: q.tags,
    answerable: q.answerable,
    evidence: q.evidence,
    modes: {},
  }));
  const tasks: { i: number; mode: SearchMode | "think" }[] = [];
  dataset.questions.forEach((_, i) => {
    for (const mode of modes) tasks.push({ i, mode });
    if (opts.think) tasks.push({ i, mode: "think" });
  });
  let done = 0;
  await pool(tasks, opts.askConcurrency ?? 4, async ({ i, mode }) => {
    const q = dataset.questions[i]!;
    const turns = turnOf.get(q.conversation) ?? new Map<string, string>();
    const result = results[i]!;
    if (mode === "think") result.think = await think(opts, q, turns);
    else result.modes[mode] = await search(opts, q, mode, turns);
    if (++done % 100 === 0) opts.log?.(`asked ${done}/${tasks.length}`);
  });
  return results;
}

interface Hit {
  id: string;
  score?: number;
  score_type?: string;
  score_details?: unknown;
}

async function search(
  opts: EvalOptions,
  q: Question,
  mode: SearchMode,
  turns: Map<string, string>,
): Promise<ModeResult> {
  const body = {
    ...opts.searchOptions,
    text: q.question,
    namespace: { eq: q.conversation },
    limit: SEARCH_LIMIT,
    search_mode: mode,
    explain: true,
  };
  const res = await send(opts, "/v1/long-term-memory/search", body);
  const failed = (error: { status: number; body: string }): ModeResult => ({
    ranked: [],
    recall_at_5: null,
    recall_at_10: null,
    latency_ms: res.ms,
    top: null,
    error,
  });
  if (res.status !== 200) return failed({ status: res.status, body: res.body });
  const parsed = parseJson(res.body) as { memories?: Hit[]; warnings?: string[] } | null;
  if (!parsed || !Array.isArray(parsed.memories))
    return failed({ status: res.status, body: `unexpected body: ${res.body.slice(0, 500)}` });
  const ranked = parsed.memories.map((h) => turns.get(h.id) ?? h.id);
  const scored = q.answerable && q.evidence.length > 0;
  const first = parsed.memories[0];
  return {
    ranked,
    recall_at_5: scored ? recall(q.evidence, ranked, 5) : null,
    recall_at_10: scored ? recall(q.evidence, ranked, 10) : null,
    latency_ms: res.ms,
    top: first
      ? {
          turn: ranked[0]!,
          score: first.score ?? 0,
          score_type: first.score_type ?? "",
          score_details: first.score_details ?? null,
        }
      : null,
    ...(parsed.warnings?.length ? { warnings: parsed.warnings } : {}),
  };
}

async function think(opts: EvalOptions, q: Question, turns: Map<string, string>): Promise<ThinkResult> {
  const res = await send(opts, "/v1/think", { question: q.question, namespace: q.conversation });
  const parsed =
    res.status === 200
      ? (parseJson(res.body) as { answer?: string; citations?: { memory_id: string }[] } | null)
      : null;
  if (!parsed || !Array.isArray(parsed.citations)) {
    return {
      answered: false,
      answer: "",
      cited: [],
      cited_evidence: false,
      latency_ms: res.ms,
      error: { status: res.status, body: res.body },
    };
  }
  const cited = parsed.citations.map((c) => turns.get(c.memory_id) ?? c.memory_id);
  return {
    answered: cited.length > 0,
    answer: parsed.answer ?? "",
    cited,
    cited_evidence: cited.some((t) => q.evidence.includes(t)),
    latency_ms: res.ms,
  };
}

/** |evidence ∩ top k| / |evidence| (LoCoMo's convention: partial credit for multi-turn evidence). */
export function recall(evidence: readonly string[], ranked: readonly string[], k: number): number {
  const top = new Set(ranked.slice(0, k));
  return evidence.filter((e) => top.has(e)).length / evidence.length;
}

// ---------------------------------------------------------------------------------------------
// Report

/** Aggregates per-question results: mode × category (and × tag) recall, latency, errors. */
export function summarize(
  dataset: Dataset,
  results: readonly QuestionResult[],
  seed: SeedResult,
  askMs: number,
  modes: readonly SearchMode[] = SEARCH_MODES,
): EvalReport {
  const errors: EvalError[] = [...seed.errors];
  const report: EvalReport = {
    dataset: {
      layout: dataset.layout,
      conversations: dataset.conversations.length,
      turns: dataset.conversations.reduce((n, c) => n + c.turns.length, 0),
      questions: dataset.questions.length,
      answerable: dataset.questions.filter((q) => q.answerable).length,
      warnings: dataset.warnings,
    },
    seeding: { memories: seed.memories, requests: seed.requests, ms: round(seed.ms), errors: seed.errors.length },
    asking: {
      searches: results.length * modes.length,
      thinks: results.filter((r) => r.think).length,
      ms: round(askMs),
    },
    modes: [...modes],
    overall: {},
    by_category: {},
    by_tag: {},
    latency: {},
    degraded: {},
    errors,
  };
  for (const mode of modes) {
    const rows = results.map((r) => ({ r, m: r.modes[mode] }));
    report.overall[mode] = cell(rows.map((x) => x.m));
    report.by_category[mode] = group(rows, (r) => [r.category]);
    report.by_tag[mode] = group(rows, (r) => r.tags);
    report.latency[mode] = quantiles(rows.flatMap((x) => (x.m ? [x.m.latency_ms] : [])));
    report.degraded[mode] = rows.filter((x) => x.m?.warnings?.length).length;
    for (const { r, m } of rows) {
      if (m?.error) errors.push({ phase: "search", conversation: r.conversation, question: r.id, mode, ...m.error });
    }
  }
  if (results.some((r) => r.think)) {
    const thinkCell = (answerable: boolean): ThinkCell => {
      const ts = results.filter((r) => r.answerable === answerable && r.think).map((r) => r.think!);
      const ok = ts.filter((t) => !t.error);
      return {
        questions: ts.length,
        answered: ok.filter((t) => t.answered).length,
        abstained: ok.filter((t) => !t.answered).length,
        cited_evidence: ok.filter((t) => t.cited_evidence).length,
        errors: ts.length - ok.length,
      };
    };
    report.think = {
      answerable: thinkCell(true),
      unanswerable: thinkCell(false),
      latency: quantiles(results.flatMap((r) => (r.think ? [r.think.latency_ms] : []))),
    };
    for (const r of results) {
      if (r.think?.error)
        errors.push({ phase: "think", conversation: r.conversation, question: r.id, ...r.think.error });
    }
  }
  return report;
}

function group(
  rows: { r: QuestionResult; m: ModeResult | undefined }[],
  keys: (r: QuestionResult) => string[],
): Record<string, RecallCell> {
  const by = new Map<string, (ModeResult | undefined)[]>();
  for (const { r, m } of rows) {
    for (const k of keys(r)) by.set(k, [...(by.get(k) ?? []), m]);
  }
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)).map(([k, ms]) => [k, cell(ms)]));
}

function cell(ms: (ModeResult | undefined)[]): RecallCell {
  const scored = ms.filter(
    (m): m is ModeResult & { recall_at_5: number; recall_at_10: number } =>
      m?.recall_at_5 != null && m.recall_at_10 != null,
  );
  const mean = (xs: number[]) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 4) : null);
  return {
    questions: ms.length,
    scored: scored.length,
    recall_at_5: mean(scored.map((m) => m.recall_at_5)),
    recall_at_10: mean(scored.map((m) => m.recall_at_10)),
    errors: ms.filter((m) => m?.error).length,
  };
}

function quantiles(xs: number[]): { p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!) : 0);
  return { p50: q(0.5), p95: q(0.95), max: s.length ? round(s.at(-1)!) : 0 };
}

/** The report as a plain-text table: category rows, a recall@5/@10 column pair per mode; then latency and errors. */
export function formatReport(report: EvalReport): string {
  const modes = report.modes;
  const num = (x: number | null) => (x === null ? "    –" : x.toFixed(3));
  const head = ["".padEnd(22), "n".padStart(5), ...modes.map((m) => `${m} @5`.padStart(14) + "@10".padStart(7))].join(
    " ",
  );
  const line = (label: string, cells: (RecallCell | undefined)[], n: number) =>
    [
      label.slice(0, 22).padEnd(22),
      String(n).padStart(5),
      ...cells.map((c) => `${num(c?.recall_at_5 ?? null)}`.padStart(14) + num(c?.recall_at_10 ?? null).padStart(7)),
    ].join(" ");
  const out: string[] = [];
  const d = report.dataset;
  out.push(
    `${d.layout}: ${d.conversations} conversation(s), ${d.turns} turns, ${d.questions} questions (${d.answerable} answerable); ` +
      `seeded ${report.seeding.memories} memories in ${report.seeding.requests} requests, ${(report.seeding.ms / 1000).toFixed(1)} s; ` +
      `${report.asking.searches} searches${report.asking.thinks ? ` and ${report.asking.thinks} thinks` : ""} in ${(report.asking.ms / 1000).toFixed(1)} s`,
  );
  out.push("", "evidence recall (answerable questions with evidence; n = questions in the row)", head);
  const categories = [...new Set(modes.flatMap((m) => Object.keys(report.by_category[m] ?? {})))].sort();
  for (const c of categories) {
    const cells = modes.map((m) => report.by_category[m]?.[c]);
    out.push(line(c, cells, cells[0]?.questions ?? 0));
  }
  out.push(
    line(
      "overall",
      modes.map((m) => report.overall[m]),
      report.dataset.questions,
    ),
  );
  const tags = [...new Set(modes.flatMap((m) => Object.keys(report.by_tag[m] ?? {})))].sort();
  if (tags.length) {
    out.push("", "by tag", head);
    for (const t of tags) {
      const cells = modes.map((m) => report.by_tag[m]?.[t]);
      out.push(line(t, cells, cells[0]?.questions ?? 0));
    }
  }
  out.push("");
  for (const m of modes) {
    const l = report.latency[m];
    out.push(
      `${m.padEnd(9)} latency p50 ${l?.p50 ?? 0} ms, p95 ${l?.p95 ?? 0} ms, max ${l?.max ?? 0} ms; ` +
        `${report.overall[m]?.errors ?? 0} error(s), ${report.degraded[m] ?? 0} degraded (warnings)`,
    );
  }
  if (report.think) {
    const t = report.think;
    const c = (x: ThinkCell) =>
      `${x.answered} answered (${x.cited_evidence} citing evidence), ${x.abstained} abstained, ${x.errors} error(s) of ${x.questions}`;
    out.push(
      `think     answerable: ${c(t.answerable)}; unanswerable: ${c(t.unanswerable)}; p50 ${t.latency.p50} ms, p95 ${t.latency.p95} ms`,
    );
  }
  out.push(
    `errors: ${report.errors.length}${report.seeding.errors ? ` (${report.seeding.errors} while seeding)` : ""}`,
  );
  for (const e of report.errors.slice(0, 10)) {
    out.push(
      `  ${e.phase} ${e.conversation}${e.question ? ` ${e.question}` : ""}${e.mode ? ` ${e.mode}` : ""}: ${e.status} ${e.body.slice(0, 200)}`,
    );
  }
  if (report.errors.length > 10) out.push(`  … ${report.errors.length - 10} more`);
  if (d.warnings.length) {
    out.push(`dataset warnings: ${d.warnings.length}`);
    for (const w of d.warnings.slice(0, 10)) out.push(`  ${w}`);
    if (d.warnings.length > 10) out.push(`  … ${d.warnings.length - 10} more`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------

/** One request; a failure to send is status 0 with the error's message, never a throw. */
async function send(
  opts: EvalOptions,
  path: string,
  body: unknown,
): Promise<{ status: number; body: string; ms: number }> {
  const started = now();
  try {
    const res = await opts.fetch(`${opts.baseUrl.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...opts.headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text, ms: now() - started };
  } catch (e) {
    return { status: 0, body: e instanceof Error ? e.message : String(e), ms: now() - started };
  }
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

function now(): number {
  return performance.now();
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** 32-bit FNV-1a as 8 hex digits: a short, stable stand-in for a long id. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
