/**
 * A quantised word-vector table (distilled from GloVe by scripts/distil-word-vectors.ts into
 * src/ai/word-vectors.bin) and the lookups the offline embedder makes in it.
 *
 * The table is a binary module (wrangler's default `Data` rule for `*.bin`, which the vitest
 * workerd pool honours too): an ArrayBuffer read in place, with nothing to parse, decode or index
 * when an isolate starts. As a string in a `.ts` module the same table cost V8 17 ms to compile at
 * every cold start, used or not.
 *
 * Layout (little-endian):
 *   0  "EMWV", u8 version (1), u8 dims, u8 bits (4 or 8), u8 longest word
 *   8  u32 rows
 *  12  f32 × dims   per-dimension scales: component = quantised value × scale
 *      u32 × longest   number of words of each length 1..longest
 *      words       grouped by length, each group sorted (byte order), concatenated without separators
 *      u8 × rows   SIF weight a / (a + p(w)) × 255
 *      vectors     rows × dims components: 4-bit (value + 8, low nibble first) or int8
 * Rows are numbered in the words' order (by length, then alphabetically).
 */

const MAGIC = 0x5657_4d45; // "EMWV" read as a little-endian u32
export const WORD_TABLE_VERSION = 1;

/** A table ready to look words up in. */
export interface WordTable {
  readonly dims: number;
  readonly bits: 4 | 8;
  /** Number of words (rows). */
  readonly size: number;
  readonly scales: Float32Array;
  readonly bytes: Uint8Array;
  /** Per word length: its group's first row and byte offset (index = length). */
  readonly groupRow: Int32Array;
  readonly groupAt: Int32Array;
  readonly weightsAt: number;
  readonly vectorsAt: number;
  readonly rowBytes: number;
}

/** Reads a table's header; the rest is read in place. */
export function openWordTable(buffer: ArrayBuffer): WordTable {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  if (buffer.byteLength < 12 || view.getUint32(0, true) !== MAGIC || bytes[4] !== WORD_TABLE_VERSION)
    throw new Error("not an edgemem word table (v1)");
  const dims = bytes[5]!;
  const bits = bytes[6]!;
  const longest = bytes[7]!;
  const size = view.getUint32(8, true);
  if (bits !== 4 && bits !== 8) throw new Error(`word table: unsupported ${bits}-bit components`);
  let at = 12;
  const scales = new Float32Array(dims);
  for (let j = 0; j < dims; j++, at += 4) scales[j] = view.getFloat32(at, true);
  const groupRow = new Int32Array(longest + 2);
  const groupAt = new Int32Array(longest + 2);
  let row = 0;
  let wordsAt = at + 4 * longest;
  for (let len = 1; len <= longest; len++, at += 4) {
    groupRow[len] = row;
    groupAt[len] = wordsAt;
    const count = view.getUint32(at, true);
    row += count;
    wordsAt += count * len;
  }
  groupRow[longest + 1] = row;
  groupAt[longest + 1] = wordsAt;
  const rowBytes = (dims * bits) / 8;
  if (row !== size || wordsAt + size + size * rowBytes !== buffer.byteLength)
    throw new Error("word table: sections disagree in size");
  return {
    dims,
    bits,
    size,
    scales,
    bytes,
    groupRow,
    groupAt,
    weightsAt: wordsAt,
    vectorsAt: wordsAt + size,
    rowBytes,
  };
}

/** The row of a word exactly as written, or -1 (binary search in its length's group). */
export function lookup(table: WordTable, word: string): number {
  const len = word.length;
  if (len === 0 || len >= table.groupRow.length - 1) return -1;
  const { bytes } = table;
  const base = table.groupAt[len]!;
  let lo = 0;
  let hi = table.groupRow[len + 1]! - table.groupRow[len]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const from = base + mid * len;
    let c = 0;
    for (let i = 0; i < len && c === 0; i++) c = bytes[from + i]! - word.charCodeAt(i);
    if (c === 0) return table.groupRow[len]! + mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The row of a word, or -1. A word missing as written is tried without a regular inflection
 * (plural -s/-es/-ies, -ing, -ed, with a doubled consonant undone or a dropped -e restored), so
 * forms rarer than the table's cut-off still find their stem's meaning.
 */
export function rowOf(table: WordTable, word: string): number {
  const hit = lookup(table, word);
  if (hit >= 0) return hit;
  const n = word.length;
  if (n < 4) return -1;
  let r = -1;
  if (word.endsWith("s") && !word.endsWith("ss")) {
    if (word.endsWith("ies")) r = lookup(table, word.slice(0, -3) + "y");
    if (r < 0 && word.endsWith("es")) r = lookup(table, word.slice(0, -2));
    if (r < 0) r = lookup(table, word.slice(0, -1));
  } else if (word.endsWith("ing") && n > 5) {
    r = stemRow(table, word.slice(0, -3));
  } else if (word.endsWith("ed") && n > 4) {
    if (word.endsWith("ied")) r = lookup(table, word.slice(0, -3) + "y");
    if (r < 0) r = stemRow(table, word.slice(0, -2));
  }
  return r;
}

/** The row of what -ing/-ed left: as is, with a doubled consonant undone ("stopp"), or with an -e restored ("mov"). */
function stemRow(table: WordTable, base: string): number {
  let r = lookup(table, base);
  const n = base.length;
  if (r < 0 && n > 2 && base[n - 1] === base[n - 2] && !"aeiousl".includes(base[n - 1]!))
    r = lookup(table, base.slice(0, -1));
  if (r < 0) r = lookup(table, base + "e");
  return r;
}

/** The SIF weight of a row. */
export function weightOf(table: WordTable, row: number): number {
  return table.bytes[table.weightsAt + row]! / 255;
}

/** Adds weight × the row's vector (its first `out.length` components, unscaled) to `out`. */
export function addRow(table: WordTable, row: number, weight: number, out: Float32Array): void {
  const { bytes } = table;
  const o = table.vectorsAt + row * table.rowBytes;
  const k = out.length;
  if (table.bits === 8) {
    for (let j = 0; j < k; j++) out[j]! += weight * ((bytes[o + j]! << 24) >> 24);
    return;
  }
  for (let j = 0; j < k; j++) {
    const b = bytes[o + (j >> 1)]!;
    out[j]! += weight * ((j & 1 ? b >> 4 : b & 15) - 8);
  }
}
