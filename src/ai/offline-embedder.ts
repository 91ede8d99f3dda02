import { stem, STOPWORDS, words } from "../domain/text.ts";
import { normalize, type Embedder } from "./embedder.ts";
import { addRow, openWordTable, rowOf, weightOf, type WordTable } from "./word-table.ts";
import WORD_VECTORS from "./word-vectors.bin";

/** Share of the similarity the lexical part decides (the rest is the word-vector part). */
export const DEFAULT_LEXICAL_WEIGHT = 0.6;
/** Share of a query vector's length given to its lexical part. */
export const QUERY_LEXICAL_WEIGHT = 0.3;
/** Below this many dimensions there is no room for both parts, and the vector is lexical only. */
const MIN_DIMS_FOR_SEMANTIC = 32;

export interface OfflineEmbedderOptions {
  /** Weight w of the lexical part: cosine = w × lexical cosine + (1 − w) × word-vector cosine. */
  lexicalWeight?: number;
  /** Weight of the lexical part in query vectors (see {@link OfflineEmbedder.embedQuery}). */
  queryLexicalWeight?: number;
  /** A word table other than the shipped one (measurement scripts). */
  table?: WordTable;
}

let shipped: WordTable | null = null;
/** The shipped table (opening it reads only its header: the rest is read in place). */
function shippedTable(): WordTable {
  return (shipped ??= openWordTable(WORD_VECTORS));
}

/**
 * The offline embedder: deterministic, no network, about 25 µs per sentence. Its vector has two
 * parts, each unit-length and scaled so that cosine = w × lexical + (1 − w) × semantic (w = 0.6):
 *
 * - lexical (the first `dimensions − semanticDims` components): lexical features hashed into a fixed
 *   number of dimensions (the "hashing trick", signed so collisions cancel on average): Porter word
 *   stems, adjacent-word pairs, and character trigrams of each word (so "caching" and "cache", or a
 *   typo, still overlap). Stopwords and contraction fragments count for little. It captures shared
 *   words, forms, names, numbers and phrases.
 * - semantic (the last `semanticDims`: 64 of the default 256): a SIF-weighted sum of GloVe word
 *   vectors (40,000 words, src/ai/word-vectors.bin, distilled by scripts/distil-word-vectors.ts):
 *   each word weighs a / (a + p(w)), p from its frequency rank, so frequent words count for little,
 *   and the vectors' common component was removed at distillation. It puts "Japan" near "Kyoto",
 *   "car" near "automobile", "diet" near "vegetarian". A word missing from the table is tried
 *   without a plural, -ing or -ed ending; numbers, names it lacks and non-Latin scripts count only
 *   lexically.
 *
 * w was chosen with scripts/embedder-quality.ts on test/eval/paraphrase.json and conversation
 * corpora: recall peaked at w = 0.2–0.3 and was 0.02–0.03 lower at 0.6, but dedup on write needs
 * w ≥ 0.6: the word vectors of co-hyponyms are close, and below that "Alice prefers tea in the
 * morning" / "... coffee ..." (distinct) scores as high as "We decided to use Redis for caching" /
 * "... in production" (a restatement).
 *
 * A text with no word in the table gets the lexical part alone (renormalised); a text with no word
 * at all gets the zero vector. Below 32 dimensions the vector is lexical only; below 128 the
 * semantic part takes half of them (its leading principal components).
 *
 * It is no neural model: word order, negation and word sense are beyond it (Workers AI in production).
 */
export class OfflineEmbedder implements Embedder {
  readonly model: string;
  readonly dimensions: number;
  /**
   * Texts sharing no word score 0.05 ± 0.08 here (hash collisions, and the weak relatedness of any
   * two word-vector averages), and unrelated sentences 0.06 ± 0.09; relevant ones 0.2 (median),
   * but matches by synonyms alone only 0.08–0.15 ("going to Japan" → "a ryokan in Kyoto" 0.10).
   * 0.08 keeps 81% of paraphrase targets and 86% of evidence turns (the lexical-only v1 kept 36%
   * and 64% at its 0.1) and drops 60% of unrelated pairs. Measured by scripts/embedder-quality.ts.
   */
  readonly noiseFloor = 0.08;
  /**
   * Restatements score 0.86–1.0 here; distinct facts on one subject up to 0.84 ("has a dog named
   * Max" / "has a cat named Max"). Measured on test/eval/near-duplicates.json and the dedup tests by
   * scripts/embedder-quality.ts. Negation is invisible to the word vectors: "likes jazz" /
   * "doesn't like jazz" scores 0.86 (a near-duplicate: the newer text replaces the older).
   */
  readonly nearDuplicate = 0.85;
  /** Word vectors give it some meaning: fusion trusts it as a semantic side. */
  readonly semantic = true;
  /**
   * Think answers from hits at or above it (or matching half the query's keyword weight). Chosen
   * with the keyword floor on the eval corpus (313 answerable questions, 39 off-topic ones): 0.35
   * answers 85% of answerable questions and abstains on 44% of off-topic ones; 0.3 answers 93%
   * but abstains on only 26%; 0.5 abstains on 85% but answers only 42%. Names and common words keep
   * off-topic questions about the same people ("What is Priya's blood type?") at 0.3–0.5.
   */
  readonly relevanceFloor = 0.35;
  /** Components of the word-vector part (0 when the vector is lexical only). */
  readonly semanticDims: number;
  readonly lexicalDims: number;
  private readonly scales: { lex: number; sem: number };
  private readonly queryScales: { lex: number; sem: number };
  private readonly table: WordTable;

  constructor(dimensions = 256, options: OfflineEmbedderOptions = {}) {
    this.dimensions = dimensions;
    const w = options.lexicalWeight ?? DEFAULT_LEXICAL_WEIGHT;
    if (!(w >= 0 && w <= 1)) throw new RangeError(`lexicalWeight must be within [0, 1], got ${w}`);
    this.table = options.table ?? shippedTable();
    this.semanticDims =
      w >= 1 || dimensions < MIN_DIMS_FOR_SEMANTIC ? 0 : Math.min(this.table.dims, Math.floor(dimensions / 2));
    this.lexicalDims = dimensions - this.semanticDims;
    const scales = (weight: number) => ({ lex: this.semanticDims ? Math.sqrt(weight) : 1, sem: Math.sqrt(1 - weight) });
    this.scales = scales(w);
    this.queryScales = scales(options.queryLexicalWeight ?? QUERY_LEXICAL_WEIGHT);
    // Another weight or table is another vector space.
    const tuned = options.lexicalWeight !== undefined || options.table ? "-custom" : "";
    this.model = `edgemem-lexsem-v2-${dimensions}${tuned}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  /**
   * A search query leans on meaning more than stored texts do: with parts weighted wq (query) and
   * w (memory), cosine = √(wq·w)·lexical + √((1−wq)(1−w))·semantic. Memories keep w = 0.6, which
   * dedup needs; queries use wq = {@link QUERY_LEXICAL_WEIGHT}.
   */
  async embedQuery(text: string): Promise<Float32Array> {
    return this.embedOne(text, this.queryScales);
  }

  embedOne(text: string, scales: { lex: number; sem: number } = this.scales): Float32Array {
    const tokens = words(text);
    const v = new Float32Array(this.dimensions);
    const lex = v.subarray(0, this.lexicalDims);
    this.lexical(tokens, lex);
    if (!this.semanticDims) return normalize(v);
    const sem = v.subarray(this.lexicalDims);
    this.wordVectors(tokens, sem);
    // Either part may be empty (no word in the table; or, at w = 0, no lexical part): the other then
    // takes the whole length, so every non-empty text is unit-length.
    const both = norm(lex) > 0 && norm(sem) > 0;
    scaleToUnit(lex, both ? scales.lex : 1);
    scaleToUnit(sem, both ? scales.sem : 1);
    return v;
  }

  /** Hashed lexical features (edgemem-hash-v1's, with contraction fragments as light as stopwords). */
  private lexical(tokens: string[], v: Float32Array): void {
    let prev: string | null = null;
    for (const w of tokens) {
      const stop = STOPWORDS.has(w) || isFragment(w);
      const s = stem(w);
      add(v, `w:${s}`, stop ? 0.15 : 1);
      if (!stop) {
        if (prev) add(v, `b:${prev} ${s}`, 0.5);
        const padded = `#${w}#`;
        const n = padded.length - 2;
        const weight = 1 / Math.sqrt(n);
        for (let i = 0; i < n; i++) add(v, `c:${padded.slice(i, i + 3)}`, weight);
        prev = s;
      } else {
        prev = null;
      }
    }
  }

  /** Adds the SIF-weighted sum of the tokens' word vectors (their first `v.length` components) to v. */
  private wordVectors(tokens: string[], v: Float32Array): void {
    const table = this.table;
    for (const w of tokens) {
      const row = rowOf(table, w);
      if (row >= 0) addRow(table, row, weightOf(table, row), v);
    }
    for (let j = 0; j < v.length; j++) v[j]! *= table.scales[j]!;
  }
}

/**
 * Pieces of contractions as `words()` splits them ("I'm" → "i", "m"; "we've" → "we", "ve") and "am":
 * "I'm allergic" and "I am allergic" should differ by no more than a stopword (as content words
 * they scored 0.58). One-letter words other than digits say nothing either. The negative ones
 * ("didn", "doesn", "isn") stay content words: they are most of what tells "likes jazz" from
 * "doesn't like jazz".
 */
const FRAGMENTS = new Set(["am", "ve", "re", "ll"]);
function isFragment(w: string): boolean {
  return w.length === 1 ? !(w >= "0" && w <= "9") : FRAGMENTS.has(w);
}

function norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** Scales a vector in place to the given length (a zero vector stays zero). */
function scaleToUnit(v: Float32Array, length: number): void {
  const n = norm(v);
  if (n === 0) return;
  const f = length / n;
  for (let i = 0; i < v.length; i++) v[i]! *= f;
}

function add(v: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature);
  const idx = h % v.length;
  v[idx]! += (h & 0x80000000 ? -1 : 1) * weight;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so that the low bits (used for the index) and the top bit (the sign) are independent.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
