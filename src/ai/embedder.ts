/** Turns texts into vectors. Every vector an embedder returns is L2-normalised (cosine = dot product). */
export interface Embedder {
  /** Identifies the vector space; stored with every vector so spaces are never mixed. */
  readonly model: string;
  readonly dimensions: number;
  /** Similarity below which a hit says nothing about relevance (hash noise); 0 to keep every hit. */
  readonly noiseFloor: number;
  /** Whether it models meaning (synonyms, paraphrase) rather than only shared words: fusion trusts it more. */
  readonly semantic: boolean;
  /** Similarity at or above which two texts say the same thing (dedup on write, consolidation). */
  readonly nearDuplicate: number;
  /**
   * Similarity at or above which a memory is relevant to a question (`think` answers only from
   * such memories, or from strong keyword matches, and abstains otherwise). Each model spreads
   * similarity differently, so each states its own.
   */
  readonly relevanceFloor: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  /** The vector of a search query (a model may embed queries differently from the texts they find). */
  embedQuery(text: string): Promise<Float32Array>;
}

export function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
