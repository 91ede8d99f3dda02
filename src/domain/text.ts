import { stemmer } from "stemmer";
import { byteLength } from "./ids.ts";

/** Text helpers shared by keyword search and the offline embedder. */

export const STOPWORDS = new Set(
  (
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in into " +
    "is it its me my no not of on or our she so than that the their them then there these they this those to " +
    "us was we were what when where which who whom why will with would you your about after also any just over " +
    "should some such very"
  ).split(" "),
);

/** Lower-cased word tokens (letters and digits, Unicode-aware), in order. */
export function words(text: string): string[] {
  return text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * The terms of a free-text query: its distinct words without stopwords (all of them when the
 * query is only stopwords), at most `maxTerms`.
 */
export function queryTerms(text: string, maxTerms = 32): string[] {
  const all = [...new Set(words(text))];
  const content = all.filter((w) => !STOPWORDS.has(w));
  return (content.length ? content : all).slice(0, maxTerms);
}

/**
 * An FTS5 MATCH expression: each term quoted (so no user text is ever parsed as FTS syntax),
 * OR-ed together; BM25 then ranks documents that match more and rarer terms higher.
 */
export function matchExpression(terms: string[]): string | null {
  return terms.length ? terms.map((t) => `"${t}"`).join(" OR ") : null;
}

/** Below this many documents, term statistics are too noisy to act on (and ranking is cheap). */
const MIN_DOCS_FOR_PRUNING = 500;

/**
 * Drops query terms found in more than `maxShare` of all documents. BM25 gives such terms
 * almost no weight (IDF near zero), yet ranking them reads their whole posting list: at 10,000
 * memories one such word cost 5 ms of the 7 ms a search took. When every term is that common,
 * the rarest one is kept so the query still matches.
 */
export function pruneCommonTerms(
  terms: string[],
  docFreq: (term: string) => number,
  docs: number,
  maxShare = 1 / 3,
): string[] {
  if (docs < MIN_DOCS_FOR_PRUNING || terms.length < 2) return terms;
  const kept = terms.filter((t) => docFreq(t) <= docs * maxShare);
  if (kept.length) return kept;
  return [terms.reduce((rarest, t) => (docFreq(t) < docFreq(rarest) ? t : rarest))];
}

/** Escapes LIKE wildcards for use with `ESCAPE '\'`. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** FTS5's porter tokenizer leaves tokens of more bytes unstemmed (FTS5_PORTER_MAX_TOKEN in fts5_tokenize.c). */
const PORTER_MAX_TOKEN = 64;
/** Stems of recent words: text repeats its words, and stemming is most of the cost of reading it. */
const stems = new Map<string, string>();
const STEM_CACHE_SIZE = 20_000;

/** The Porter stem of a word, exactly as FTS5's `porter` tokenizer indexes it. */
export function stem(word: string): string {
  if (word.length > PORTER_MAX_TOKEN / 3 && byteLength(word) > PORTER_MAX_TOKEN) return word;
  let s = stems.get(word);
  if (s === undefined) {
    if (stems.size >= STEM_CACHE_SIZE) stems.clear();
    s = stemmer(word);
    stems.set(word, s);
  }
  return s;
}

/** Porter stems of a text's content words (stopwords and one-letter words out, numbers in). */
export function contentStems(text: string): Set<string> {
  return new Set(words(text).filter((w) => (w.length > 1 || /\d/.test(w)) && !STOPWORDS.has(w)).map(stem));
}

/**
 * Stems of a text's numbers and capitalised words: what tells one fact from a similar one. A run
 * of letters and digits counts whole when it has a digit, else from its first capital on
 * ("iPhone" → "Phone"). One pass over the text: a single regex with both cases backtracked
 * quadratically on long letter runs (11 s on a 99,000-letter word).
 */
export function keyTerms(text: string): Set<string> {
  const out = new Set<string>();
  for (const run of text.match(/[\p{L}\d]+/gu) ?? []) {
    const from = /\d/.test(run) ? 0 : run.search(/\p{Lu}/u);
    if (from >= 0) for (const s of contentStems(run.slice(from))) out.add(s);
  }
  return out;
}

/**
 * Whether two texts can state the same fact: neither has a number or name the other lacks
 * (`Redis for caching` vs `Memcached for caching`, `item 10` vs `item 12` cannot).
 */
export function compatibleFacts(a: string, b: string): boolean {
  const sa = contentStems(a);
  const sb = contentStems(b);
  for (const k of keyTerms(a)) if (!sb.has(k)) return false;
  for (const k of keyTerms(b)) if (!sa.has(k)) return false;
  return true;
}

/**
 * Whether `merged` is a faithful merge of `sources`: it keeps every number and name of each
 * source, adds none of its own, and is not much longer than the longest source (a merge that
 * grows is a concatenation: AMS issue #200's "mega-memory").
 */
export function faithfulMerge(merged: string, sources: string[]): boolean {
  const stems = contentStems(merged);
  const allowed = new Set(sources.flatMap((s) => [...contentStems(s)]));
  for (const s of sources) for (const k of keyTerms(s)) if (!stems.has(k)) return false;
  for (const k of keyTerms(merged)) if (!allowed.has(k)) return false;
  return merged.length <= Math.max(...sources.map((s) => s.length)) * 1.5;
}
