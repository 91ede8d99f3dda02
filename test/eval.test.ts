import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import baseline from "./eval/baseline.json";
import corpus from "./eval/corpus.json";
import { loadDataset } from "./eval/datasets.ts";
import { formatReport, runEval, SEARCH_MODES, type EvalReport, type SearchMode } from "./eval/harness.ts";

/**
 * The retrieval evaluation on the project's own labelled corpus (test/eval/corpus.json, LoCoMo
 * layout), through the real Worker: every turn stored through the REST API, every question asked in
 * every search mode (`npm run eval -- test/eval/corpus.json` runs the same against wrangler dev).
 * After an improvement, raise test/eval/baseline.json to the figures printed here.
 *
 * The figures hardly depend on the day it runs: every turn is dated 2024–2025, so a question naming
 * a month without a year ("the September race") resolves to a recent one that no turn is near, for
 * all turns alike; and recency treats every turn alike (last_accessed = seeding time).
 */
describe("retrieval evaluation", () => {
  let report: EvalReport;
  const r10 = (m: SearchMode) => report.overall[m]?.recall_at_10 ?? 0;

  // 1,395 turns, 397 questions × 3 modes: ~20 s on a 2-core machine.
  beforeAll(async () => {
    ({ report } = await runEval(loadDataset(corpus), {
      baseUrl: "https://edgemem.test",
      fetch: (url, init) => exports.default.fetch(url, init),
      askConcurrency: 4,
    }));
    console.log(formatReport(report));
  }, 300_000);

  it("stores every turn and answers every question without a request error", () => {
    expect(report.errors, "request errors").toEqual([]);
    expect(report.seeding.memories).toBe(report.dataset.turns);
  });

  it("keeps each mode's recall@10 at or above the baseline, less its margin", () => {
    for (const m of SEARCH_MODES) {
      expect(
        r10(m),
        `${m} recall@10 vs baseline ${baseline.recall_at_10[m]} − ${baseline.margin}`,
      ).toBeGreaterThanOrEqual(baseline.recall_at_10[m] - baseline.margin);
    }
  });

  // Fusion must not let a weak list displace a strong one (issue 11 §2).
  it("ranks hybrid at least as well as the better of semantic and keyword", () => {
    expect(r10("hybrid"), "hybrid recall@10 vs the better single mode").toBeGreaterThanOrEqual(
      Math.max(r10("semantic"), r10("keyword")) - 0.005,
    );
  });
});
