import { describe, expect, it } from "vitest";
import type { Dataset } from "../eval/datasets.ts";
import { formatReport, memoryIdFor, recall, runEval, type FetchLike } from "../eval/harness.ts";

const DATASET: Dataset = {
  layout: "locomo",
  warnings: [],
  conversations: [
    {
      id: "c1",
      turns: [
        { id: "D1:1", speaker: "Ann", text: "I love Kyoto.", date: Date.UTC(2023, 4, 8) },
        { id: "D1:2", speaker: "Ben", text: "Me too.", date: null },
        { id: "D1:3", speaker: "Ann", text: "I'm vegetarian.", date: Date.UTC(2023, 4, 8) },
      ],
    },
  ],
  questions: [
    {
      conversation: "c1",
      id: "q1",
      question: "Where?",
      answer: "Kyoto",
      evidence: ["D1:1", "D1:3"],
      category: "multi-hop",
      tags: ["t"],
      answerable: true,
      date: null,
      evidenceLevel: "turn",
    },
    {
      conversation: "c1",
      id: "q2",
      question: "Piano?",
      answer: "-",
      evidence: [],
      category: "adversarial",
      tags: [],
      answerable: false,
      date: null,
      evidenceLevel: "turn",
    },
  ],
};

interface Sent {
  url: string;
  body: Record<string, unknown>;
}

/** A stand-in server: stores nothing, answers search with fixed hits, fails keyword mode. */
function fakeServer(): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  const reply = (status: number, body: unknown) => ({ status, text: async () => JSON.stringify(body) });
  const fetch: FetchLike = async (url, init) => {
    const body = JSON.parse(init.body ?? "{}") as Record<string, unknown>;
    sent.push({ url, body });
    if (url.endsWith("/v1/long-term-memory/")) return reply(200, { status: "ok" });
    if (body.search_mode === "keyword") return reply(500, { error: { code: "internal", message: "boom" } });
    if (body.search_mode === "semantic") throw new Error("connection reset");
    return reply(200, {
      memories: [
        { id: memoryIdFor("c1", "D1:2"), score: 0.9, score_type: "hybrid", score_details: { relevance: 0.9 } },
        { id: memoryIdFor("c1", "D1:1"), score: 0.5, score_type: "hybrid" },
        { id: "stranger", score: 0.1, score_type: "keyword" },
      ],
      total: 3,
      next_offset: null,
    });
  };
  return { fetch, sent };
}

describe("eval harness", () => {
  it("seeds one episodic memory per turn, dated, in the conversation's namespace", async () => {
    const server = fakeServer();
    const { report } = await runEval(DATASET, {
      baseUrl: "http://x/",
      fetch: server.fetch,
      modes: ["hybrid"],
      batchSize: 2,
    });
    const creates = server.sent.filter((s) => s.url === "http://x/v1/long-term-memory/");
    expect(creates.map((c) => (c.body.memories as unknown[]).length)).toEqual([2, 1]);
    expect(creates[0]!.body.deduplicate).toBe(false);
    const [first, second] = creates[0]!.body.memories as Record<string, unknown>[];
    expect(first).toMatchObject({
      id: "c1:D1:1",
      text: "Ann: I love Kyoto.",
      namespace: "c1",
      memory_type: "episodic",
      event_date: "2023-05-08T00:00:00.000Z",
      created_at: "2023-05-08T00:00:00.000Z",
    });
    expect(second).not.toHaveProperty("event_date");
    expect(report.seeding).toMatchObject({ memories: 3, requests: 2, errors: 0 });
  });

  it("scores recall by turn, keeps unanswerable questions unscored, and reports errors without throwing", async () => {
    const server = fakeServer();
    const { report, results } = await runEval(DATASET, { baseUrl: "http://x", fetch: server.fetch });
    const search = server.sent.find((s) => s.body.search_mode === "hybrid")!;
    expect(search.body).toEqual({
      text: "Where?",
      namespace: { eq: "c1" },
      limit: 10,
      search_mode: "hybrid",
      explain: true,
    });

    const hybrid = results[0]!.modes.hybrid!;
    expect(hybrid.ranked).toEqual(["D1:2", "D1:1", "stranger"]);
    expect(hybrid.recall_at_10).toBe(0.5);
    expect(hybrid.top).toEqual({ turn: "D1:2", score: 0.9, score_type: "hybrid", score_details: { relevance: 0.9 } });
    expect(results[1]!.modes.hybrid!.recall_at_10).toBeNull();
    expect(results[1]!.modes.hybrid!.ranked).toHaveLength(3);

    expect(report.overall.hybrid).toEqual({ questions: 2, scored: 1, recall_at_5: 0.5, recall_at_10: 0.5, errors: 0 });
    expect(report.by_category.hybrid!["multi-hop"]!.recall_at_10).toBe(0.5);
    expect(report.by_tag.hybrid!.t!.scored).toBe(1);
    expect(report.overall.keyword).toMatchObject({ scored: 0, recall_at_10: null, errors: 2 });
    expect(report.errors.filter((e) => e.mode === "keyword").map((e) => e.status)).toEqual([500, 500]);
    expect(report.errors.find((e) => e.mode === "semantic")).toMatchObject({ status: 0, body: "connection reset" });
    expect(formatReport(report)).toContain("errors: 4");
  });

  it("keeps memory ids within 64 bytes", () => {
    expect(memoryIdFor("conv-26", "D1:3")).toBe("conv-26:D1:3");
    const long = memoryIdFor("x".repeat(60), "answer_4be1b6b4_2:12");
    expect(new TextEncoder().encode(long).length).toBeLessThanOrEqual(64);
    expect(long.endsWith(":answer_4be1b6b4_2:12")).toBe(true);
    expect(new TextEncoder().encode(memoryIdFor("y".repeat(80), "z".repeat(80))).length).toBeLessThanOrEqual(64);
  });

  it("recall is the share of evidence in the top k", () => {
    expect(recall(["a", "b"], ["x", "a", "y", "b"], 2)).toBe(0.5);
    expect(recall(["a", "b"], ["x", "a", "y", "b"], 10)).toBe(1);
  });
});
