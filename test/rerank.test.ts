import { describe, expect, it } from "vitest";
import { WorkersAiReranker } from "../src/ai/workers-ai-reranker.ts";
import { search, store, tenantApi, type Api } from "./support/api.ts";
import { FakeWorkersAi } from "./support/fake-workers-ai.ts";

const ids = (r: { memories: { id: string }[] }) => r.memories.map((m) => m.id);

/** A tenant whose deployment has the AI binding (stand-in) and the given reranker settings. */
async function seeded(ai: FakeWorkersAi, vars: Record<string, unknown>): Promise<Api> {
  const api = await tenantApi({ env: { AI: ai, ...vars } });
  await store(api, [
    { id: "kyoto", text: "Booked the ryokan in Kyoto for the October trip" },
    { id: "noise", text: "Japan trip reimbursement forms go to finance" },
    { id: "other", text: "The printer on the second floor is out of toner" },
  ]);
  return api;
}

const query = { text: "when is the trip to Japan", explain: true, recency_boost: false };

describe("reranker (RERANK, Workers AI cross-encoder)", () => {
  it("re-orders the fused candidates, keeps fusion's relevance scale, and explains its score", async () => {
    const ai = new FakeWorkersAi();
    const fused = await search(await seeded(ai, {}), query);
    // Off by default: fusion alone puts the memory sharing both query words first.
    expect(ai.rerankCalls).toBe(0);
    expect(ids(fused)[0]).toBe("noise");
    expect(fused.memories[0].score_details.rerank).toBeNull();

    const res = await search(await seeded(ai, { RERANK: "true" }), query);
    expect(ai.rerankCalls).toBe(1);
    expect(ids(res)[0]).toBe("kyoto");
    const [first, second] = res.memories.map(
      (m: { score_details: { rerank: number; relevance: number } }) => m.score_details,
    );
    expect(first!.rerank).toBeGreaterThan(second!.rerank);
    expect(first!.relevance).toBeCloseTo(fused.memories[0].score_details.relevance, 6);
    expect(res.warnings ?? []).toEqual([]);
  });

  it("falls back to the fused order with a warning when the reranker fails or times out", async () => {
    const fused = ids(await search(await seeded(new FakeWorkersAi(), {}), query));

    const slowAi = new FakeWorkersAi();
    const slowApi = await seeded(slowAi, { RERANK: "true", RERANK_TIMEOUT_MS: "200" });
    slowAi.rerankHangs = true;
    const started = Date.now();
    const slow = await search(slowApi, query);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(slowAi.rerankCalls).toBe(1);
    expect(ids(slow)).toEqual(fused);
    expect(slow.warnings?.[0]).toMatch(/reranker .*timed out after 200 ms.*fused order/);

    const broken = new FakeWorkersAi();
    const brokenApi = await seeded(broken, { RERANK: "true" });
    broken.run = async (model, input) => {
      if (Array.isArray(input.contexts)) throw new Error("3040: capacity exceeded");
      return FakeWorkersAi.prototype.run.call(broken, model, input);
    };
    const res = await search(brokenApi, query);
    expect(ids(res)).toEqual(fused);
    expect(res.warnings?.[0]).toMatch(/capacity exceeded/);
  });

  it("reranks the same first RERANK_TOP_N on every page, so pages never overlap", async () => {
    const ai = new FakeWorkersAi();
    const api = await seeded(ai, { RERANK: "true", RERANK_TOP_N: "2" });
    await store(
      api,
      Array.from({ length: 6 }, (_, i) => ({ id: `trip${i}`, text: `Trip note ${i}: the Japan itinerary draft` })),
    );
    const pages = [];
    for (const offset of [0, 2, 4, 6]) pages.push(...ids(await search(api, { ...query, limit: 2, offset })));
    expect(new Set(pages).size).toBe(pages.length);
    expect(pages.length).toBe((await search(api, { ...query, limit: 100 })).memories.length);
  });

  it("is off without the AI binding, whatever RERANK says", async () => {
    const api = await tenantApi({ env: { RERANK: "true" } });
    await store(api, [
      { id: "a", text: "trip to Kyoto" },
      { id: "b", text: "the trip budget" },
    ]);
    const res = await search(api, query);
    expect(res.memories.length).toBe(2);
    expect(
      res.memories.every((m: { score_details: { rerank: number | null } }) => m.score_details.rerank === null),
    ).toBe(true);
    expect(res.warnings ?? []).toEqual([]);
  });

  it("maps the model's {id, score} answer back to the texts, and refuses a malformed one", async () => {
    const answer = (response: unknown) =>
      new WorkersAiReranker({ run: async () => response }, "@cf/baai/bge-reranker-base");
    expect(
      await answer({
        response: [
          { id: 1, score: 0.9 },
          { id: 0, score: 0.2 },
        ],
      }).rerank("q", ["a", "b"]),
    ).toEqual([0.2, 0.9]);
    await expect(answer({ response: [{ id: 0, score: 0.2 }] }).rerank("q", ["a", "b"])).rejects.toThrow(/unscored/);
    await expect(answer({ result: "nope" }).rerank("q", ["a"])).rejects.toThrow(/unexpected shape/);
  });
});
