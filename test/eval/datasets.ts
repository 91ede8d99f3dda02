// Conversation benchmarks (LoCoMo and LongMemEval JSON layouts) loaded into one shape for the
// retrieval evaluation. Pure: no I/O, so the same code runs in Node (`npm run eval`) and in workerd
// (test/eval.test.ts).

/** One dialog turn: what is stored as one memory. */
export interface Turn {
  /** The dataset's turn id (LoCoMo `dia_id`), unique within its conversation. */
  id: string;
  speaker: string;
  text: string;
  /** When it was said (epoch ms, read as UTC), when the layout dates it. */
  date: number | null;
}

export interface Conversation {
  /** Also the namespace the conversation is stored in. */
  id: string;
  turns: Turn[];
}

export interface Question {
  conversation: string;
  id: string;
  question: string;
  answer: string;
  /** Ids of the turns that hold the answer (existing turns only). */
  evidence: string[];
  /** Question type: LoCoMo's category name or LongMemEval's `question_type`. */
  category: string;
  tags: string[];
  /** False for questions whose answer is not in memory (LoCoMo category 5, LongMemEval `_abs`): they get no recall. */
  answerable: boolean;
  /** When the question is asked (epoch ms), when the layout says. */
  date: number | null;
  /** `session`: no turn was flagged, so the evidence is every turn of the answer sessions (LongMemEval). */
  evidenceLevel: "turn" | "session";
}

export interface Dataset {
  layout: "locomo" | "longmemeval";
  conversations: Conversation[];
  questions: Question[];
  /** What was repaired or dropped while loading (malformed or unknown evidence ids, undated sessions). */
  warnings: string[];
}

/** LoCoMo's numeric categories. */
export const LOCOMO_CATEGORIES: Readonly<Record<number, string>> = {
  1: "multi-hop",
  2: "temporal",
  3: "open-domain",
  4: "single-hop",
  5: "adversarial",
};

/** Which layout `data` is in, or null. */
export function detectLayout(data: unknown): Dataset["layout"] | null {
  const first = Array.isArray(data) ? data[0] : data;
  if (!isObject(first)) return null;
  if (isObject(first.conversation) && Array.isArray(first.qa)) return "locomo";
  if (Array.isArray(first.haystack_sessions) && "question" in first) return "longmemeval";
  return null;
}

/** Loads parsed JSON in either layout (auto-detected); throws if it is neither. */
export function loadDataset(data: unknown): Dataset {
  const layout = detectLayout(data);
  if (layout === "locomo") return loadLocomo(data);
  if (layout === "longmemeval") return loadLongMemEval(data);
  throw new Error(
    "not a LoCoMo (samples with `conversation` and `qa`) or LongMemEval (instances with `haystack_sessions`) dataset",
  );
}

// ---------------------------------------------------------------------------------------------
// LoCoMo

/**
 * LoCoMo: an array of samples (`sample_id`, `conversation` of `session_N` turn arrays and
 * `session_N_date_time`, `qa`). A single sample object is accepted too.
 */
export function loadLocomo(data: unknown): Dataset {
  const samples = Array.isArray(data) ? data : [data];
  const warnings: string[] = [];
  const conversations: Conversation[] = [];
  const questions: Question[] = [];
  samples.forEach((sample, si) => {
    if (!isObject(sample) || !isObject(sample.conversation)) throw new Error(`LoCoMo sample ${si}: no conversation`);
    const id = str(sample.sample_id) || `conv-${si}`;
    const conv = sample.conversation;
    const sessions = Object.keys(conv)
      .map((k) => /^session_(\d+)$/.exec(k))
      .filter((m): m is RegExpExecArray => m !== null && Array.isArray(conv[m[0]]))
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const turns: Turn[] = [];
    const known = new Set<string>();
    for (const n of sessions) {
      const rawDate = conv[`session_${n}_date_time`];
      const date = typeof rawDate === "string" ? parseLocomoDate(rawDate) : null;
      if (date === null) warnings.push(`${id}: session_${n} has no readable date (${JSON.stringify(rawDate ?? null)})`);
      for (const t of conv[`session_${n}`] as unknown[]) {
        if (!isObject(t)) continue;
        const caption = str(t.blip_caption);
        const text = str(t.text) + (caption ? ` [shares a photo: ${caption}]` : "");
        // Turn ids become memory ids, which are idempotent: a repeated (or missing) dia_id gets a
        // suffix so that both turns are stored; evidence naming it means the first.
        let tid = str(t.dia_id);
        if (!tid) {
          tid = `S${n}:?`;
          warnings.push(`${id}: a turn of session_${n} has no dia_id`);
        }
        if (known.has(tid)) {
          const base = tid;
          for (let k = 2; known.has(tid); k++) tid = `${base}#${k}`;
          warnings.push(`${id}: turn ${JSON.stringify(str(t.dia_id))} of session_${n} repeats an id; stored as ${tid}`);
        }
        known.add(tid);
        turns.push({ id: tid, speaker: str(t.speaker), text, date });
      }
    }
    conversations.push({ id, turns });

    const qa = Array.isArray(sample.qa) ? sample.qa : [];
    qa.forEach((q: unknown, qi: number) => {
      if (!isObject(q)) return;
      const qid = str(q.id) || `${id}-q${qi + 1}`;
      const category = locomoCategory(q.category);
      questions.push({
        conversation: id,
        id: qid,
        question: str(q.question),
        answer: str(q.answer ?? q.adversarial_answer),
        evidence: locomoEvidence(q.evidence, known, `${id} ${qid}`, warnings),
        category,
        tags: Array.isArray(q.tags) ? q.tags.map(str).filter(Boolean) : [],
        answerable: category !== LOCOMO_CATEGORIES[5],
        date: null,
        evidenceLevel: "turn",
      });
    });
  });
  return { layout: "locomo", conversations, questions, warnings };
}

function locomoCategory(c: unknown): string {
  if (typeof c === "number") return LOCOMO_CATEGORIES[c] ?? `category-${c}`;
  if (typeof c === "string" && /^\d+$/.test(c)) return LOCOMO_CATEGORIES[Number(c)] ?? `category-${c}`;
  return str(c) || "uncategorized";
}

/**
 * Real LoCoMo evidence is not always a clean list of dia_ids: some entries hold several ids
 * ("D1:3 D1:4", "D8:6; D9:17"), some are cut short ("D10:") or zero-padded ("D30:05"), some name
 * turns that do not exist. Ids are split, repaired when their canonical form exists, and dropped
 * otherwise, each noted in `warnings`.
 */
function locomoEvidence(raw: unknown, known: ReadonlySet<string>, where: string, warnings: string[]): string[] {
  const list = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  const out: string[] = [];
  for (const entry of list) {
    for (const part of str(entry)
      .split(/[\s;,]+/)
      .filter(Boolean)) {
      let id = part;
      if (!known.has(id)) {
        const m = /^D:?(\d+):(\d+)$/.exec(part);
        const canonical = m ? `D${Number(m[1])}:${Number(m[2])}` : null;
        if (canonical && known.has(canonical)) {
          warnings.push(`${where}: evidence ${JSON.stringify(part)} read as ${canonical}`);
          id = canonical;
        } else {
          warnings.push(`${where}: evidence ${JSON.stringify(part)} is not a turn of the conversation; dropped`);
          continue;
        }
      }
      if (!out.includes(id)) out.push(id);
    }
  }
  return out;
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];

/** "1:56 pm on 8 May, 2023" → epoch ms (UTC); also without the time; null if unreadable. */
export function parseLocomoDate(s: string): number | null {
  const m = /^\s*(?:(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?\s+on\s+)?(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})\s*$/i.exec(s);
  if (!m) return null;
  const word = m[5]!.toLowerCase();
  // Full names or abbreviations ("Sept" included), nothing longer.
  const month = word.length >= 3 ? MONTHS.findIndex((name) => name.startsWith(word)) : -1;
  if (month < 0) return null;
  let hour = m[1] ? Number(m[1]) % 12 : 0;
  if (m[3]?.toLowerCase() === "p") hour += 12;
  return Date.UTC(Number(m[6]), month, Number(m[4]), hour, Number(m[2] ?? 0));
}

// ---------------------------------------------------------------------------------------------
// LongMemEval

/**
 * LongMemEval: an array of instances, each one question over its own haystack of dated sessions,
 * so each instance is its own conversation (and namespace), named by `question_id`. Turn ids are
 * `<session id>:<index>` (`s<n>` when a session has no id; a repeated session id gets `#<n>`).
 */
export function loadLongMemEval(data: unknown): Dataset {
  const instances = Array.isArray(data) ? data : [data];
  const warnings: string[] = [];
  const conversations: Conversation[] = [];
  const questions: Question[] = [];
  let sessionLevel = 0;
  instances.forEach((inst, ii) => {
    if (!isObject(inst) || !Array.isArray(inst.haystack_sessions))
      throw new Error(`LongMemEval instance ${ii}: no haystack_sessions`);
    const id = str(inst.question_id) || `q-${ii}`;
    const sessionIds = Array.isArray(inst.haystack_session_ids) ? inst.haystack_session_ids.map(str) : [];
    const dates = Array.isArray(inst.haystack_dates) ? inst.haystack_dates : [];
    const answerSessions = new Set(Array.isArray(inst.answer_session_ids) ? inst.answer_session_ids.map(str) : []);
    const turns: Turn[] = [];
    const flagged: string[] = [];
    const inAnswerSessions: string[] = [];
    const used = new Set<string>();
    let undated = 0;
    inst.haystack_sessions.forEach((session: unknown, si: number) => {
      const rawId = sessionIds[si] || `s${si}`;
      const sid = used.has(rawId) ? `${rawId}#${si}` : rawId;
      used.add(sid);
      const rawDate = dates[si];
      const date = typeof rawDate === "string" ? parseLongMemEvalDate(rawDate) : null;
      if (date === null) undated++;
      if (!Array.isArray(session)) return;
      session.forEach((t: unknown, ti: number) => {
        if (!isObject(t)) return;
        const turn: Turn = { id: `${sid}:${ti}`, speaker: str(t.role), text: str(t.content), date };
        turns.push(turn);
        if (t.has_answer === true) flagged.push(turn.id);
        if (answerSessions.has(rawId)) inAnswerSessions.push(turn.id);
      });
    });
    if (undated) warnings.push(`${id}: ${undated} session(s) without a readable date`);
    conversations.push({ id, turns });
    const evidenceLevel = flagged.length ? "turn" : "session";
    if (!flagged.length && inAnswerSessions.length) sessionLevel++;
    const type = str(inst.question_type) || "uncategorized";
    questions.push({
      conversation: id,
      id,
      question: str(inst.question),
      answer: str(inst.answer),
      evidence: flagged.length ? flagged : inAnswerSessions,
      category: type,
      tags: [],
      answerable: !id.endsWith("_abs"),
      date: typeof inst.question_date === "string" ? parseLongMemEvalDate(inst.question_date) : null,
      evidenceLevel,
    });
  });
  if (sessionLevel) {
    warnings.push(
      `${sessionLevel} question(s) have no turn flagged has_answer: their evidence is every turn of their answer sessions`,
    );
  }
  return { layout: "longmemeval", conversations, questions, warnings };
}

/** "2023/05/20 (Sat) 02:21" → epoch ms (UTC); null if unreadable. */
export function parseLongMemEvalDate(s: string): number | null {
  const m = /^\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:\s*\([a-z]+\))?(?:\s+(\d{1,2}):(\d{2}))?\s*$/i.exec(s);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0));
}

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Datasets hold numbers where strings are expected (LoCoMo answers like 2022). */
function str(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}
