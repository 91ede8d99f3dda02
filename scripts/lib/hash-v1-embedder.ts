import { normalize, type Embedder } from "../../src/ai/embedder.ts";
import { stem, STOPWORDS, words } from "../../src/domain/text.ts";

/**
 * Frozen copy of the offline embedder before word vectors (edgemem-hash-v1, commit 2810a2a): the
 * baseline scripts/embedder-quality.ts and scripts/embedder-bench.ts compare against.
 *
 * The offline embedder: deterministic, no network, ~20 µs per sentence.
 *
 * It hashes lexical features into a fixed number of dimensions (the "hashing trick", signed so
 * collisions cancel on average): Porter word stems, adjacent-word pairs, and character trigrams of each
 * word (so "caching" and "cache", or a typo, still overlap). Stopwords count for little.
 *
 * What it captures: shared words, word forms and phrases — lexical similarity.
 * What it does not: meaning. "car" and "automobile" share nothing here; a neural model
 * (Workers AI in production) is needed for synonyms and paraphrase.
 */
export class HashV1Embedder implements Embedder {
  readonly model: string;
  /**
   * Texts sharing no feature still score about ±1/√dims from signed hash collisions (rms 0.07 at
   * 256 dimensions, measured on unrelated sentences); 0.1 drops most of that noise.
   */
  readonly noiseFloor = 0.1;
  /** Restatements score 0.88–1.0 here; distinct facts on the same subject 0.4–0.75. */
  readonly nearDuplicate = 0.85;
  readonly semantic = false;
  readonly relevanceFloor = 0.3;

  readonly dimensions: number;

  constructor(dimensions = 256) {
    this.dimensions = dimensions;
    this.model = `edgemem-hash-v1-${dimensions}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return this.embedOne(text);
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const tokens = words(text);
    let prev: string | null = null;
    for (const w of tokens) {
      const stop = STOPWORDS.has(w);
      const s = stem(w);
      this.add(v, `w:${s}`, stop ? 0.15 : 1);
      if (!stop) {
        if (prev) this.add(v, `b:${prev} ${s}`, 0.5);
        const padded = `#${w}#`;
        const n = padded.length - 2;
        const weight = 1 / Math.sqrt(n);
        for (let i = 0; i < n; i++) this.add(v, `c:${padded.slice(i, i + 3)}`, weight);
        prev = s;
      } else {
        prev = null;
      }
    }
    return normalize(v);
  }

  private add(v: Float32Array, feature: string, weight: number): void {
    const h = fnv1a(feature);
    const idx = h % this.dimensions;
    v[idx]! += (h & 0x80000000 ? -1 : 1) * weight;
  }
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
