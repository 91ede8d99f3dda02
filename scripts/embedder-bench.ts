/**
 * Micro-benchmark of the offline embedder: µs per sentence over 1,000 realistic sentences (the
 * paraphrase and near-duplicate sets, then conversation turns from any LoCoMo-layout corpora
 * given), before (edgemem-hash-v1) and after (edgemem-lexsem-v2), and the cost of opening the
 * word table.
 *
 * Run: node scripts/embedder-bench.ts [corpus.json ...]
 */
import "./lib/bin-modules.ts";
import { readFileSync } from "node:fs";
import type { Embedder } from "../src/ai/embedder.ts";
import { HashV1Embedder } from "./lib/hash-v1-embedder.ts";

const { OfflineEmbedder } = await import("../src/ai/offline-embedder.ts");
const { openWordTable } = await import("../src/ai/word-table.ts");

const readJson = (path: string | URL) => JSON.parse(readFileSync(path, "utf8")) as unknown;
const root = new URL("../", import.meta.url);
const para = readJson(new URL("test/eval/paraphrase.json", root)) as {
  items: { query: string; target: string; distractors: string[] }[];
};
const near = readJson(new URL("test/eval/near-duplicates.json", root)) as { pairs: { a: string; b: string }[] };
const pool = [
  ...para.items.flatMap((i) => [i.query, i.target, ...i.distractors]),
  ...near.pairs.flatMap((p) => [p.a, p.b]),
];
for (const path of process.argv.slice(2)) {
  for (const c of readJson(path) as { conversation: Record<string, unknown> }[]) {
    for (const [k, v] of Object.entries(c.conversation)) {
      if (/^session_\d+$/.test(k) && Array.isArray(v)) for (const t of v as { text: string }[]) pool.push(t.text);
    }
  }
}
const sentences = Array.from({ length: 1000 }, (_, i) => pool[i % pool.length]!);
const chars = sentences.reduce((n, s) => n + s.length, 0) / sentences.length;

/** µs per sentence: the median of 7 passes after one to warm up (the JIT and the stem cache, as a live isolate has them). */
async function bench(e: Embedder): Promise<number> {
  const pass = async () => {
    const t0 = performance.now();
    for (const s of sentences) await e.embed([s]);
    return ((performance.now() - t0) * 1000) / sentences.length;
  };
  await pass();
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) runs.push(await pass());
  return runs.sort((a, b) => a - b)[3]!;
}

const bytes = readFileSync(new URL("src/ai/word-vectors.bin", root));
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const t0 = performance.now();
openWordTable(buffer);
console.log(`word table: ${bytes.length} bytes; opening it: ${((performance.now() - t0) * 1000).toFixed(0)} µs`);
console.log(`${sentences.length} sentences (the first of ${pool.length}), ${chars.toFixed(0)} characters on average`);
for (const [name, e] of [
  ["before: edgemem-hash-v1-256", new HashV1Embedder(256)],
  ["after: edgemem-lexsem-v2-256", new OfflineEmbedder(256)],
] as const) {
  console.log(`${name}: ${(await bench(e)).toFixed(1)} µs/sentence`);
}
