import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { OfflineEmbedder } from "../src/ai/offline-embedder.ts";
import { VectorRepo } from "../src/store/vector-repo.ts";
import { D1VectorIndex } from "../src/vector/d1-vector-index.ts";
import { store, tenantApi } from "./support/api.ts";

const embedder = new OfflineEmbedder(256);

async function hits(tenant: string, text: string, topK = 10): Promise<string[]> {
  const index = new D1VectorIndex(new VectorRepo(env.DB));
  const [q] = await embedder.embed([text]);
  return (await index.query(tenant, q!, { topK, model: embedder.model, filter: {} })).map((h) => h.id);
}

describe("D1 vector index cache", () => {
  it("stays exact across inserts, rewrites and deletes (by other writers, between queries)", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "a", text: "solar panels on the roof" },
      { id: "b", text: "wind turbines offshore" },
    ]);
    expect(await hits(api.tenant, "solar panels")).toContain("a");

    await store(api, [{ id: "c", text: "solar farm in the desert" }]);
    expect(await hits(api.tenant, "solar")).toEqual(expect.arrayContaining(["a", "c"]));

    await api.call("PATCH", "/v1/long-term-memory/a", { text: "a heat pump in the basement" });
    expect((await hits(api.tenant, "heat pump basement", 1))[0]).toBe("a");
    // The old text's vector is gone: "solar" now matches c best, and only a's new vector is cached.
    expect((await hits(api.tenant, "solar panels roof", 1))[0]).toBe("c");

    await api.call("DELETE", "/v1/long-term-memory?memory_ids=c");
    expect(await hits(api.tenant, "solar farm desert", 10)).not.toContain("c");
    const remaining = await new VectorRepo(env.DB).memoryIds(api.tenant, embedder.model);
    expect(remaining.sort()).toEqual(["a", "b"]);
  });

  it("serves concurrent queries from one load", async () => {
    const api = await tenantApi();
    await store(api, Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, text: `memory number ${i} about tides` })));
    const results = await Promise.all(Array.from({ length: 8 }, () => hits(api.tenant, "tides", 50)));
    for (const r of results) expect(r).toHaveLength(50);
  });
});
