/**
 * Offline quality of the offline embedder, before (edgemem-hash-v1, lexical only) and after
 * (edgemem-lexsem-v2), in Node with no server:
 *
 * - paraphrase retrieval on test/eval/paraphrase.json: each query's target ranked among every
 *   target and distractor of the set (MRR, recall@1, recall@5, MRR by kind);
 * - exact-cosine evidence recall on conversation corpora in the LoCoMo layout: every turn
 *   "<speaker>: <text>" is a document, every question with evidence a query, recall@k = share of
 *   its evidence turns in its conversation's top k;
 * - a grid over the lexical weight w;
 * - calibration: similarity of unrelated sentences (noise floor) and of the pairs of
 *   test/eval/near-duplicates.json (near-duplicate threshold).
 *
 * Run: node scripts/embedder-quality.ts [corpus.json ...] [--grid 0,0.3,0.5,0.7,1]
 */
import "./lib/bin-modules.ts";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { dot, type Embedder } from "../src/ai/embedder.ts";
import { BM25_B, BM25_K1, idf, indexTerms, queryTerms, termOf } from "../src/domain/text.ts";
import { HashV1Embedder } from "./lib/hash-v1-embedder.ts";

interface ParaphraseItem {
  kind: string;
  query: string;
  target: string;
  distractors: string[];
}
interface Turn {
  speaker: string;
  dia_id: string;
  text: string;
}
interface Conversation {
  sample_id: string;
  conversation: Record<string, unknown>;
  qa: { question: string; evidence?: string[]; category?: number | string; tags?: string[] }[];
}
interface NearPair {
  same: boolean;
  check?: boolean;
  a: string;
  b: string;
}

const root = new URL("../", import.meta.url);
const readJson = <T>(path: string | URL): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** Ranks each query's target among all candidates. */
export async function paraphraseScores(e: Embedder, items: ParaphraseItem[]) {
  const docs = items.flatMap((i) => [i.target, ...i.distractors]);
  const dv = await e.embed(docs);
  const qv = await e.embed(items.map((i) => i.query));
  const byKind = new Map<string, number[]>();
  const rr = items.map((it, qi) => {
    const t = docs.indexOf(it.target);
    const st = dot(qv[qi]!, dv[t]!);
    let rank = 1;
    for (let j = 0; j < docs.length; j++) if (j !== t && dot(qv[qi]!, dv[j]!) > st) rank++;
    byKind.set(it.kind, [...(byKind.get(it.kind) ?? []), 1 / rank]);
    return rank;
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    mrr: mean(rr.map((r) => 1 / r)),
    r1: mean(rr.map((r) => (r === 1 ? 1 : 0))),
    r5: mean(rr.map((r) => (r <= 5 ? 1 : 0))),
    kinds: Object.fromEntries([...byKind].map(([k, v]) => [k, mean(v)])),
  };
}

function turnsOf(c: Conversation): Turn[] {
  return Object.entries(c.conversation)
    .filter(([k, v]) => /^session_\d+$/.test(k) && Array.isArray(v))
    .flatMap(([, v]) => v as Turn[]);
}

/** BM25 over a conversation's turns, as the keyword index ranks (per-tenant statistics, Lucene idf). */
function bm25(docs: string[]): (query: string) => { index: number; score: number }[] {
  const indexed = docs.map((d) => indexTerms(d, null));
  const df = new Map<string, number>();
  for (const d of indexed) for (const [t] of d.terms) df.set(t, (df.get(t) ?? 0) + 1);
  const avg = indexed.reduce((n, d) => n + d.length, 0) / Math.max(1, docs.length);
  return (query) => {
    const terms = [...new Set(queryTerms(query).map(termOf))];
    return indexed
      .map((d, index) => {
        let score = 0;
        for (const [t, tf] of d.terms) {
          if (!terms.includes(t)) continue;
          score +=
            (idf(docs.length, df.get(t)!) * tf * (BM25_K1 + 1)) /
            (tf + BM25_K1 * (1 - BM25_B + (BM25_B * d.length) / avg));
        }
        return { index, score };
      })
      .filter((h) => h.score > 0)
      .sort((a, b) => b.score - a.score);
  };
}

/** Depth of the BM25 list reported beside the embedder. */
const DEPTH = 20;

/**
 * Evidence recall@5/@10 over the questions with evidence, overall and by category and tag: of the
 * embedder alone (exact cosine, queries embedded as search queries), and of BM25 alone. The
 * server's hybrid ranking is measured end to end by `npm run eval`.
 */
export async function corpusRecall(e: Embedder, convs: Conversation[]) {
  const per: { at5: number; at10: number; keyword10: number; groups: string[] }[] = [];
  for (const c of convs) {
    const turns = turnsOf(c);
    const docs = turns.map((t) => `${t.speaker}: ${t.text}`);
    const tv = await e.embed(docs);
    const keyword = bm25(docs);
    const questions = c.qa.filter((q) => q.evidence?.length);
    const qv = await Promise.all(questions.map((q) => e.embedQuery(q.question)));
    questions.forEach((q, i) => {
      const ranked = tv
        .map((v, j) => ({ id: turns[j]!.dia_id, score: dot(qv[i]!, v) }))
        .sort((a, b) => b.score - a.score);
      const kw = keyword(q.question)
        .slice(0, DEPTH)
        .map((h) => ({ id: turns[h.index]!.dia_id, score: h.score }));
      const share = (ids: string[], k: number) => {
        const t = new Set(ids.slice(0, k));
        return q.evidence!.filter((id) => t.has(id)).length / q.evidence!.length;
      };
      const ids = ranked.map((r) => r.id);
      per.push({
        at5: share(ids, 5),
        at10: share(ids, 10),
        keyword10: share(
          kw.map((r) => r.id),
          10,
        ),
        groups: [`cat ${q.category ?? "?"}`, ...(q.tags ?? []).map((t) => `tag ${t}`)],
      });
    });
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const groups = new Map<string, number[]>();
  for (const p of per) for (const g of p.groups) groups.set(g, [...(groups.get(g) ?? []), p.at10]);
  return {
    questions: per.length,
    at5: mean(per.map((p) => p.at5)),
    at10: mean(per.map((p) => p.at10)),
    keyword10: mean(per.map((p) => p.keyword10)),
    byGroup: Object.fromEntries([...groups].sort().map(([g, v]) => [g, mean(v)])),
  };
}

/** Similarity of each question to its evidence turns, and to the other turns of its conversation. */
export async function evidenceSimilarities(
  e: Embedder,
  convs: Conversation[],
): Promise<{ evidence: number[]; others: number[] }> {
  const evidence: number[] = [];
  const others: number[] = [];
  for (const c of convs) {
    const turns = turnsOf(c);
    const tv = await e.embed(turns.map((t) => `${t.speaker}: ${t.text}`));
    const questions = c.qa.filter((q) => q.evidence?.length);
    const qv = await Promise.all(questions.map((q) => e.embedQuery(q.question)));
    questions.forEach((q, i) => {
      const ev = new Set(q.evidence);
      turns.forEach((t, j) => (ev.has(t.dia_id) ? evidence : others).push(dot(qv[i]!, tv[j]!)));
    });
  }
  return { evidence, others };
}

/** Similarities of unrelated texts: every pair from different groups (items, conversations). */
export async function unrelatedSimilarities(e: Embedder, groups: string[][]): Promise<number[]> {
  const vecs = await Promise.all(groups.map((g) => e.embed(g)));
  const sims: number[] = [];
  for (let a = 0; a < vecs.length; a++) {
    for (let b = a + 1; b < vecs.length; b++) {
      for (const x of vecs[a]!) for (const y of vecs[b]!) sims.push(dot(x, y));
    }
  }
  return sims;
}

function quantiles(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length);
  return { n: s.length, mean, sd, p10: q(0.1), p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99) };
}

const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const gridAt = args.indexOf("--grid");
  const grid =
    gridAt >= 0 ? args.splice(gridAt, 2)[1]!.split(",").map(Number) : [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1];
  const items = readJson<{ items: ParaphraseItem[] }>(new URL("test/eval/paraphrase.json", root)).items;
  const pairs = readJson<{ pairs: NearPair[] }>(new URL("test/eval/near-duplicates.json", root)).pairs;
  const seen = new Set<string>();
  const corpora = args.map((path) => ({
    path,
    convs: readJson<Conversation[]>(path).filter((c) => !seen.has(c.sample_id) && seen.add(c.sample_id)),
  }));
  const corpora_ = corpora.filter((c) => c.convs.length);

  const { OfflineEmbedder } = await import("../src/ai/offline-embedder.ts");
  const old = new HashV1Embedder(256);
  const fresh = new OfflineEmbedder(256);
  const embedders: [string, Embedder][] = [
    ["before: edgemem-hash-v1-256", old],
    [`after: ${fresh.model}`, fresh],
  ];

  console.log(`# Paraphrase set: ${items.length} queries, ${items.length * 3} candidates`);
  for (const [name, e] of embedders) {
    const p = await paraphraseScores(e, items);
    const kinds = Object.entries(p.kinds)
      .map(([k, v]) => `${k} ${f3(v)}`)
      .join(", ");
    console.log(`${name}: MRR ${f3(p.mrr)} R@1 ${f3(p.r1)} R@5 ${f3(p.r5)} (MRR by kind: ${kinds})`);
  }

  for (const { path, convs } of corpora_) {
    const turns = convs.reduce((n, c) => n + turnsOf(c).length, 0);
    console.log(`\n# Corpus ${path}: ${convs.length} conversations, ${turns} turns`);
    for (const [name, e] of embedders) {
      const r = await corpusRecall(e, convs);
      const groups = Object.entries(r.byGroup)
        .map(([g, v]) => `${g} ${f3(v)}`)
        .join(", ");
      console.log(`${name}: ${r.questions} questions, R@5 ${f3(r.at5)} R@10 ${f3(r.at10)} (R@10 ${groups})`);
      console.log(`  BM25 alone R@10 ${f3(r.keyword10)} (hybrid: npm run eval)`);
    }
  }

  console.log(`\n# Grid over the lexical weight w (w = 1 lexical part alone; w = 0 word vectors alone)`);
  console.log(
    [
      "w",
      "para MRR",
      "para R@1",
      "para R@5",
      ...corpora_.flatMap((c) => [`R@10 ${c.path.replace(/^.*\//, "")}`, "BM25 R@10"]),
    ].join("\t"),
  );
  for (const w of grid) {
    const e = new OfflineEmbedder(256, { lexicalWeight: w });
    const p = await paraphraseScores(e, items);
    const rs = [];
    for (const c of corpora_) {
      const r = await corpusRecall(e, c.convs);
      rs.push(f3(r.at10), f3(r.keyword10));
    }
    console.log([w, f3(p.mrr), f3(p.r1), f3(p.r5), ...rs].join("\t"));
  }

  console.log(`\n# Calibration`);
  const unrelated = [
    ...items.map((i) => [i.target]),
    ...corpora_.flatMap((c) =>
      c.convs.map((conv) =>
        turnsOf(conv)
          .slice(0, 60)
          .map((t) => t.text),
      ),
    ),
  ];
  for (const [name, e] of embedders) {
    const unrelatedSims = await unrelatedSimilarities(e, unrelated);
    const u = quantiles(unrelatedSims);
    const qv = await Promise.all(items.map((i) => e.embedQuery(i.query)));
    const tv = await e.embed(items.map((i) => i.target));
    const relevantSims = qv.map((q, i) => dot(q, tv[i]!));
    const r = quantiles(relevantSims);
    const share = (xs: number[], floor: number) => f3(xs.filter((x) => x >= floor).length / xs.length);
    console.log(
      `${name}: unrelated pairs (${u.n}) mean ${f3(u.mean)} sd ${f3(u.sd)} p90 ${f3(u.p90)} p95 ${f3(u.p95)} p99 ${f3(u.p99)}; ` +
        `paraphrase query→target p10 ${f3(r.p10)} median ${f3(r.p50)}`,
    );
    const ev = await evidenceSimilarities(
      e,
      corpora_.flatMap((c) => c.convs),
    );
    if (ev.evidence.length) {
      const a = quantiles(ev.evidence);
      const b = quantiles(ev.others);
      console.log(
        `  corpus question→evidence turn p10 ${f3(a.p10)} median ${f3(a.p50)}; →other turns mean ${f3(b.mean)} p90 ${f3(b.p90)} p99 ${f3(b.p99)}`,
      );
    }
    for (const floor of [0.05, 0.08, 0.1, 0.15, 0.2]) {
      console.log(
        `  floor ${floor}${floor === e.noiseFloor ? " (noiseFloor)" : ""}: passes ${share(unrelatedSims, floor)} of unrelated pairs` +
          (ev.evidence.length ? ` and ${share(ev.others, floor)} of question→other turns` : "") +
          `; keeps ${share(relevantSims, floor)} of paraphrase query→target` +
          (ev.evidence.length ? ` and ${share(ev.evidence, floor)} of question→evidence` : ""),
      );
    }
    const va = await e.embed(pairs.map((p) => p.a));
    const vb = await e.embed(pairs.map((p) => p.b));
    const sims = pairs.map((p, i) => ({ ...p, s: dot(va[i]!, vb[i]!) }));
    const same = sims.filter((p) => p.same).map((p) => p.s);
    const distinct = sims.filter((p) => !p.same && p.check !== false).map((p) => p.s);
    console.log(
      `  near-duplicates: restatements ${f3(Math.min(...same))}..${f3(Math.max(...same))}, distinct facts ${f3(Math.min(...distinct))}..${f3(Math.max(...distinct))}; ` +
        `threshold ${e.nearDuplicate}: ${same.filter((s) => s >= e.nearDuplicate).length}/${same.length} restatements at or above, ` +
        `${distinct.filter((s) => s >= e.nearDuplicate).length}/${distinct.length} distinct facts at or above`,
    );
    for (const p of sims.sort((x, y) => y.s - x.s))
      console.log(
        `    ${f3(p.s)} ${p.same ? "same    " : p.check === false ? "distinct*" : "distinct"} ${p.a} | ${p.b}`,
      );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
