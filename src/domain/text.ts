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
  return (
    text
      .toLowerCase()
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
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

/** Below this many documents, term statistics are too noisy to act on (and ranking is cheap). */
const MIN_DOCS_FOR_PRUNING = 500;

/**
 * Drops query terms found in more than `maxShare` of the documents (the tenant's own). BM25 gives
 * such terms little weight, yet ranking them reads their whole posting list: at 10,000
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

/** Longer tokens are left unstemmed, as FTS5's porter tokenizer did (FTS5_PORTER_MAX_TOKEN in fts5_tokenize.c). */
const PORTER_MAX_TOKEN = 64;
/** Stems of recent words: text repeats its words, and stemming is most of the cost of reading it. */
const stems = new Map<string, string>();
const STEM_CACHE_SIZE = 20_000;

/** The Porter stem of a word (as FTS5's `porter` tokenizer stems it, so rows backfilled from FTS5 by migration 0004 agree). */
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

/**
 * Longest index term. Longer words are cut and not stemmed (FTS5's porter tokenizer also leaves
 * words over 64 characters alone): a 99,000-letter word neither bloats the index nor feeds the stemmer.
 */
const MAX_TERM_CHARS = 64;

/** The keyword-index term of a word as {@link words} yields it: its Porter stem. */
export function termOf(word: string): string {
  return word.length <= MAX_TERM_CHARS ? stem(word) : Array.from(word).slice(0, MAX_TERM_CHARS).join("");
}

/** Weight of a word of a memory's key relative to one of its text (as the former FTS5 bm25 weights were). */
const KEY_WEIGHT = 0.5;

/**
 * What the keyword index holds for a memory: each distinct term with its weighted frequency
 * (text words 1, key words 0.5), and the memory's length in words (BM25's document length).
 */
export function indexTerms(text: string, key: string | null): { terms: [string, number][]; length: number } {
  const tf = new Map<string, number>();
  const textWords = words(text);
  const keyWords = key ? words(key) : [];
  for (const w of textWords) tf.set(termOf(w), (tf.get(termOf(w)) ?? 0) + 1);
  for (const w of keyWords) tf.set(termOf(w), (tf.get(termOf(w)) ?? 0) + KEY_WEIGHT);
  return { terms: [...tf], length: textWords.length + keyWords.length };
}

/** BM25's term-frequency saturation and length normalisation (FTS5's and Lucene's defaults). */
export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

/**
 * BM25 inverse document frequency of a term found in `df` of `docs` documents. Lucene's variant,
 * always positive: FTS5's log((N - df + 0.5) / (df + 0.5)) is zero or less for any term in half the
 * documents, which in a tenant of a few memories is nearly every term.
 */
export function idf(docs: number, df: number): number {
  const n = Math.max(docs, df);
  return Math.log(1 + (n - df + 0.5) / (df + 0.5));
}

/** A keyword query ready to rank: its terms with their weights, and the average document length. */
export interface KeywordQuery {
  terms: { term: string; idf: number }[];
  avgLength: number;
}

/** A tenant's keyword statistics: its documents, their total length, and document frequencies. */
export interface KeywordStats {
  docs: number;
  length: number;
  df: Map<string, number>;
}

/**
 * The keyword query for a text's terms, weighted by the tenant's own statistics only (so no
 * tenant's ranking or scores depend on another's data), without terms too common to rank by.
 */
export function keywordQuery(terms: string[], stats: KeywordStats): KeywordQuery | null {
  const df = (t: string) => stats.df.get(t) ?? 0;
  const kept = pruneCommonTerms([...new Set(terms)], df, stats.docs);
  if (!kept.length) return null;
  return {
    terms: kept.map((term) => ({ term, idf: idf(stats.docs, df(term)) })),
    avgLength: stats.docs > 0 && stats.length > 0 ? stats.length / stats.docs : 1,
  };
}

/** A memory's keyword score for a query: its BM25 and the share of the query's IDF weight it matched. */
export interface KeywordScore {
  bm25: number;
  match: number;
}

/**
 * Scores one memory against a keyword query from its text, exactly as the index would (the same
 * terms and lengths `indexTerms` stores): fusion needs a keyword score for memories that only the
 * vector list found, and the match share says how much of the question a memory speaks to.
 */
export function keywordScore(text: string, key: string | null, q: KeywordQuery): KeywordScore {
  const { terms, length } = indexTerms(text, key);
  const tf = new Map(terms);
  let bm25 = 0;
  let matched = 0;
  let total = 0;
  for (const { term, idf: w } of q.terms) {
    total += w;
    const f = tf.get(term);
    if (!f) continue;
    matched += w;
    bm25 += (w * f * (BM25_K1 + 1)) / (f + BM25_K1 * (1 - BM25_B + (BM25_B * length) / q.avgLength));
  }
  return { bm25, match: total > 0 ? matched / total : 0 };
}

/** Porter stems of a text's content words (stopwords and one-letter words out, numbers in). */
export function contentStems(text: string): Set<string> {
  return new Set(
    words(text)
      .filter((w) => (w.length > 1 || /\d/.test(w)) && !STOPWORDS.has(w))
      .map(stem),
  );
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
