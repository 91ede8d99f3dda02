import { contentStems, keyTerms } from "./text.ts";

/**
 * Extractive summarization: the offline summarizer. It keeps the conversation's most
 * informative sentences verbatim (so names, numbers and decisions survive exactly), in their
 * original order, attributed to their speaker, within a token budget. Deterministic.
 */

export interface SummaryInput {
  /** The previous summary (the session's context), folded into the new one. */
  previous: string | null;
  messages: { role: string; content: string }[];
  maxTokens: number;
}

interface Unit {
  line: string;
  order: number;
  stems: Set<string>;
  /** Stems of its numbers and capitalised words: what tells one fact from a similar one. */
  keys: Set<string>;
  score: number;
}

/** Commitments, decisions, preferences and facts worth keeping. */
const CUES =
  /\b(decided?|decisions?|agreed?|chose|choose|chosen|will|won't|going to|plan(?:s|ned)?|must|need(?:s)? to|should|deadline|due|prefer(?:s|red)?|likes?|dislikes?|hates?|always|never|remember|important|confirm(?:ed)?|schedul\w*|budget|todo|action items?|next steps?|let's|we'll|i'll|allergic|birthday|lives? in|works? (?:at|for|on)|name is|my \w+ is|(?:is|are) (?:the|our|my|in charge)|owns?|handles?|responsible|starts?|begins?|ends?|moved|changed|switch(?:ed)? to|use[sd]?|using)\b/i;
const NUMBER = /\d/;
/** Dates and days: `September 14`, `Aug 3`, `2026-09-14`, `Mondays`. */
const DATE =
  /\b(?:(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}\b|\d{4}-\d{2}-\d{2}|(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b)/i;
/** Amounts: `$45,000`, `12%`, `3 kg`. */
const AMOUNT = /[$€£¥]\s?\d|\d\s?(?:%|percent|k\b|m\b|kg|km|hours?|days?|weeks?|months?|years?)/i;
/** Capitalised words that are not the first word of the sentence: names, places, products. */
const PROPER = /(?<=\s)(?:[A-Z][\p{L}\d]+|[A-Z]{2,}\d*)\b/gu;
/** Runs of capitalised words (`Maria Lopez`, `New York`), wherever they stand: people and places. */
const NAME = /\b[A-Z][\p{Ll}]+(?:\s+[A-Z][\p{Ll}]+)+\b/gu;
/** Greetings, thanks and acknowledgements carry nothing once the moment has passed. */
const FILLER =
  /^(?:(?:hi|hello|hey|thanks|thank you|thx|ok|okay|sure|great|cool|nice|got it|sounds good|perfect|yes|no|yep|nope|right|alright|awesome|no problem|you're welcome|bye|goodbye)\b[\s,!.]*)+$/i;
const MAX_SENTENCE_WORDS = 80;
/** No line is shorter than this; with less room left, selection stops. */
const MIN_LINE_TOKENS = 6;
/** Sentences sharing this share of their content words with a kept one are redundant. */
const REDUNDANT = 0.6;

/** Splits text into sentences (after . ! ? or a line break, before what looks like a new sentence). */
export function sentences(text: string): string[] {
  return text
    .split(/\n+|(?<=[.!?])\s+(?=["'(\[]?[\p{Lu}\p{N}])/u)
    .map((s) => s.replace(/\s+/g, " ").trim())
    .filter((s) => s.length > 0);
}

function clip(sentence: string): string {
  const parts = sentence.split(" ");
  return parts.length > MAX_SENTENCE_WORDS ? `${parts.slice(0, MAX_SENTENCE_WORDS).join(" ")} …` : sentence;
}

/**
 * The part of a sentence's score that does not change during selection: cues for decisions,
 * numbers and names; filler and fragments score below zero.
 */
function cueScore(sentence: string, stems: Set<string>): number {
  if (FILLER.test(sentence)) return -10;
  let score = 0;
  if (CUES.test(sentence)) score += 2;
  if (NUMBER.test(sentence)) score += 1;
  if (DATE.test(sentence)) score += 1.5;
  if (AMOUNT.test(sentence)) score += 1;
  score += Math.min(2, (sentence.match(PROPER) ?? []).length * 0.75 + (sentence.match(NAME) ?? []).length * 0.75);
  if (stems.size < 3 && !NUMBER.test(sentence)) score -= 2;
  if (sentence.endsWith("?")) score -= 0.5;
  return score;
}

/** Words already covered by kept sentences count this much: a restatement adds little. */
const COVERED_WEIGHT = 0.2;

/**
 * A sentence's worth given what is already kept: its cues plus the conversation vocabulary it
 * carries that kept sentences do not cover yet (recurring words, the topics, weigh more), scaled
 * down by how much of it is already said, so a restatement loses to a new fact.
 */
function worth(u: Unit, weight: Map<string, number>, covered: Set<string>): number {
  if (!u.stems.size || u.score < 0) return u.score;
  let sum = 0;
  let fresh = 0;
  for (const s of u.stems) {
    const isCovered = covered.has(s);
    sum += (isCovered ? COVERED_WEIGHT : 1) * weight.get(s)!;
    if (!isCovered) fresh++;
  }
  return (u.score + sum / Math.sqrt(u.stems.size)) * (0.4 + (0.6 * fresh) / u.stems.size);
}

/**
 * Summarizes a conversation (and its previous summary) by selecting sentences greedily: each
 * step keeps the sentence with the best cue score plus uncovered vocabulary (so restatements
 * lose to new facts), skipping near-repeats and what does not fit, until the budget is full.
 * The kept lines come back in conversation order as `- role: sentence`. `count` measures tokens.
 */
export function extractiveSummary(input: SummaryInput, count: (text: string) => number): string {
  const units: Unit[] = [];
  const add = (line: string, sentence: string, bonus: number) => {
    const stems = contentStems(sentence);
    const keys = keyTerms(sentence);
    units.push({ line, order: units.length, stems, keys, score: cueScore(sentence, stems) + bonus });
  };
  for (const line of sentences(input.previous ?? "")) {
    const text = line.replace(/^[-*•]\s*/, "");
    // What an earlier summary kept was judged important then: keep continuity.
    add(`- ${text}`, text.replace(/^\w+:\s*/, ""), 2);
  }
  for (const m of input.messages) {
    for (const s of sentences(m.content)) add(`- ${m.role}: ${clip(s)}`, s, 0);
  }

  const freq = new Map<string, number>();
  for (const u of units) for (const s of u.stems) freq.set(s, (freq.get(s) ?? 0) + 1);
  const weight = new Map([...freq].map(([s, n]) => [s, 0.5 + Math.min(2.5, n - 1)]));

  const covered = new Set<string>();
  const kept: Unit[] = [];
  let used = 0;
  let candidates = units.filter((u) => u.score > -5);
  while (candidates.length && input.maxTokens - used >= MIN_LINE_TOKENS) {
    let at = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const score = worth(candidates[i]!, weight, covered);
      // Ties go to the earlier sentence (candidates stay in conversation order).
      if (score > bestScore) {
        at = i;
        bestScore = score;
      }
    }
    if (bestScore <= 0 && kept.length) break;
    const best = candidates[at]!;
    candidates.splice(at, 1);
    const cost = count(best.line) + 1;
    if (used + cost > input.maxTokens) continue;
    kept.push(best);
    used += cost;
    for (const s of best.stems) covered.add(s);
    // What repeats the kept sentence will never be kept: drop it now rather than rediscover it.
    candidates = candidates.filter((u) => !redundant(u, best));
  }
  kept.sort((a, b) => a.order - b.order);
  return fitLines(
    kept.map((u) => u.line),
    input.maxTokens,
    count,
  );
}

/**
 * Whether a sentence repeats a kept one: most of its words are the same and it adds no number
 * or name (`item 12 costs $120` is not a repeat of `item 10 costs $100`, nor `Bob uses Redis`
 * of `Alice uses Redis`).
 */
function redundant(u: Unit, kept: Unit): boolean {
  if (overlap(u.stems, kept.stems) < REDUNDANT) return false;
  for (const k of u.keys) if (!kept.stems.has(k)) return false;
  return true;
}

/** Jaccard overlap of two sets of stems (0 when either is empty). */
function overlap(a: Set<string>, b: Set<string>): number {
  if (!a.size || !b.size) return 0;
  let both = 0;
  for (const s of a) if (b.has(s)) both++;
  return both / (a.size + b.size - both);
}

/**
 * Joins lines and guarantees the token budget on the joined text (BPE merges across line
 * breaks can differ from the per-line sums): drops leading lines, then cuts words, until it fits.
 */
export function fitLines(lines: string[], maxTokens: number, count: (text: string) => number): string {
  const kept = [...lines];
  while (kept.length > 1 && count(kept.join("\n")) > maxTokens) kept.shift();
  let text = kept.join("\n");
  if (count(text) <= maxTokens) return text;
  const parts = text.split(" ");
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(parts.slice(0, mid).join(" ")) <= maxTokens) lo = mid;
    else hi = mid - 1;
  }
  text = parts.slice(0, lo).join(" ");
  return text;
}
