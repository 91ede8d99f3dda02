import { describe, expect, it } from "vitest";
import { OfflineEmbedder } from "../src/ai/offline-embedder.ts";
import { runScheduled, search, store, tenantApi } from "./support/api.ts";
import { FakeVectorize } from "./support/fake-vectorize.ts";
import { dbOf } from "./support/shards.ts";

const ids = (r: { memories: { id: string }[] }) => r.memories.map((m) => m.id);

async function vectorStates(tenant: string): Promise<Record<string, string>> {
  const { results } = await (
    await dbOf(tenant)
  )
    .prepare("SELECT memory_id, state FROM memory_vectors WHERE tenant = ?")
    .bind(tenant)
    .all<{ memory_id: string; state: string }>();
  return Object.fromEntries(results.map((r) => [r.memory_id, r.state]));
}

describe("Vectorize (asynchronous index double)", () => {
  it("read-your-writes: a memory is found by a semantic search issued right after it is stored", async () => {
    const vectorize = new FakeVectorize("held");
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(api, [{ id: "fresh", text: "The deploy key rotates every ninety days" }]);

    // Vectorize has accepted the upsert but is not serving it yet.
    expect(vectorize.upserts.flat().length).toBe(1);
    expect(vectorize.has(vectorize.upserts[0]![0]!.id)).toBe(false);
    expect((await vectorStates(api.tenant)).fresh).toBe("sent");

    const res = await search(api, { text: "deploy key rotation", search_mode: "semantic" });
    expect(ids(res)).toEqual(["fresh"]);

    // Once Vectorize has processed it, upkeep confirms the row and Vectorize serves it.
    await vectorize.settle();
    await runScheduled(api.env);
    expect((await vectorStates(api.tenant)).fresh).toBe("indexed");
    expect(vectorize.has(vectorize.upserts[0]![0]!.id)).toBe(true);
    expect(ids(await search(api, { text: "deploy key rotation", search_mode: "semantic" }))).toEqual(["fresh"]);
  });

  it("an edited memory is scored by its new text, never by the stale vector Vectorize still holds", async () => {
    const vectorize = new FakeVectorize("held");
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(api, [{ id: "m", text: "Our cat Whiskers sleeps all day" }]);
    await vectorize.settle();
    await runScheduled(api.env);

    await api.call("PATCH", "/v1/long-term-memory/m", { text: "The rocket launch is scheduled for March" });
    expect(ids(await search(api, { text: "rocket launch", search_mode: "semantic" }))).toEqual(["m"]);
    expect(ids(await search(api, { text: "cat Whiskers sleeps", search_mode: "semantic" }))).toEqual([]);
  });

  it("vector ids never collide across tenants, whatever bytes tenant names and memory ids hold", async () => {
    const vectorize = new FakeVectorize(0);
    const suffix = crypto.randomUUID();
    const a = await tenantApi({ tenant: `v2-${suffix}`, env: { VECTORIZE: vectorize } });
    const b = await tenantApi({ tenant: `v2-${suffix}\u0000ww`, env: { VECTORIZE: vectorize } });
    await store(a, [{ id: "ww\u0000zz", text: "Tenant A keeps the staging password in the vault" }]);
    await store(b, [{ id: "zz", text: "Tenant B rotates its API keys monthly" }]);
    const [idA, idB] = vectorize.upserts.flat().map((v) => v.id);
    expect(idA).not.toBe(idB);

    // Deleting B's memory leaves A's vector (and A's semantic search) intact.
    await b.call("DELETE", "/v1/long-term-memory?memory_ids=zz");
    await runScheduled(b.env);
    await vectorize.settle();
    expect(vectorize.has(idB!)).toBe(false);
    expect(vectorize.has(idA!)).toBe(true);
    expect(ids(await search(a, { text: "staging password vault", search_mode: "semantic" }))).toEqual(["ww\u0000zz"]);
  });

  it("a deleted memory disappears at once and its vector is deleted from Vectorize", async () => {
    const vectorize = new FakeVectorize(50);
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(api, [{ id: "gone", text: "Temporary note about the quarterly offsite" }]);
    await vectorize.settle();
    await runScheduled(api.env);
    const vectorId = vectorize.upserts[0]![0]!.id;
    expect(vectorize.has(vectorId)).toBe(true);

    await api.call("DELETE", "/v1/long-term-memory?memory_ids=gone");
    expect(ids(await search(api, { text: "quarterly offsite", search_mode: "semantic" }))).toEqual([]);
    await vectorize.settle();
    expect(vectorize.has(vectorId)).toBe(false);
    const outbox = await (
      await dbOf(api.tenant)
    )
      .prepare("SELECT count(*) AS n FROM vector_deletes WHERE tenant = ?")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(outbox?.n).toBe(0);
  });

  it("tenants are Vectorize namespaces with distinct vector ids, even for the same memory id", async () => {
    const vectorize = new FakeVectorize(0);
    const a = await tenantApi({ env: { VECTORIZE: vectorize } });
    const b = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(a, [{ id: "same", text: "alpha tenant's launch plan" }]);
    await store(b, [{ id: "same", text: "beta tenant's launch plan" }]);
    const [va, vb] = vectorize.upserts.flat();
    expect(va!.namespace).toBe(a.tenant);
    expect(vb!.namespace).toBe(b.tenant);
    expect(va!.id).not.toBe(vb!.id);
    expect(new TextEncoder().encode(va!.id).length).toBeLessThanOrEqual(64);
    await vectorize.settle();
    await runScheduled(a.env);
    const res = await search(b, { text: "launch plan", search_mode: "semantic" });
    expect(res.memories.map((m) => m.text)).toEqual(["beta tenant's launch plan"]);
  });

  it("filters apply to pending rows and to Vectorize alike", async () => {
    const vectorize = new FakeVectorize(0);
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(api, [
      { id: "ns1-old", text: "release checklist item", namespace: "ns1" },
      { id: "ns2-old", text: "release checklist item", namespace: "ns2" },
    ]);
    await vectorize.settle();
    await runScheduled(api.env);
    await store(api, [
      { id: "ns1-new", text: "release checklist entry", namespace: "ns1" },
      { id: "ns2-new", text: "release checklist entry", namespace: "ns2" },
    ]);
    const res = await search(api, { text: "release checklist", search_mode: "semantic", namespace: { eq: "ns1" } });
    expect(ids(res).sort()).toEqual(["ns1-new", "ns1-old"]);
  });

  it("a failed upsert leaves the memory stored and searchable; upkeep sends it later", async () => {
    const vectorize = new FakeVectorize(0);
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    vectorize.failWrites = true;
    await store(api, [{ id: "retry", text: "Quarterly taxes are filed by the accountant" }]);
    expect((await vectorStates(api.tenant)).retry).toBe("pending");
    expect(ids(await search(api, { text: "quarterly taxes", search_mode: "semantic" }))).toEqual(["retry"]);

    vectorize.failWrites = false;
    // Upkeep resends rows left pending for 30 s (younger ones may still be in flight).
    await (
      await dbOf(api.tenant)
    )
      .prepare("UPDATE memory_vectors SET written_at = written_at - 60000 WHERE tenant = ?")
      .bind(api.tenant)
      .run();
    await runScheduled(api.env);
    await vectorize.settle();
    await runScheduled(api.env);
    expect((await vectorStates(api.tenant)).retry).toBe("indexed");
  });
});

describe("embedding model changes", () => {
  it("never compares vectors of different models; upkeep re-embeds into the new model", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "old-model", text: "The wifi password is on the fridge" }]);
    const ai = {
      run: async (_m: string, input: { text: string[] }) => ({
        data: (await big.embed(input.text)).map((v) => Array.from(v)),
      }),
    };
    const big = new OfflineEmbedder(768);
    const switched = await tenantApi({ tenant: api.tenant, env: { AI: ai } });

    // The 256-dimension vector is not in the new model's space: no semantic hit, no error.
    const before = await search(switched, { text: "wifi password", search_mode: "semantic" });
    expect(ids(before)).toEqual([]);
    expect(before.warnings?.[0]).toMatch(/1 memories have no @cf\/baai\/bge-base-en-v1.5 vector yet/);
    expect(ids(await search(switched, { text: "wifi password", search_mode: "keyword" }))).toEqual(["old-model"]);

    for (let i = 0; i < 10; i++) await runScheduled(switched.env);
    const row = await (
      await dbOf(api.tenant)
    )
      .prepare("SELECT embedding_model FROM memories WHERE tenant = ? AND id = 'old-model'")
      .bind(api.tenant)
      .first<{ embedding_model: string }>();
    expect(row?.embedding_model).toBe("@cf/baai/bge-base-en-v1.5");
    const after = await search(switched, { text: "wifi password", search_mode: "semantic" });
    expect(ids(after)).toEqual(["old-model"]);
    expect(after.warnings).toBeUndefined();
  });

  it("hybrid search scores keyword-only candidates on the vector side from D1's rows, with the query's vector", async () => {
    const vectorize = new FakeVectorize(0);
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    // Many memories close to the query in meaning, so Vectorize's top k (here at most 100) is full of
    // them and the one sharing the query's rare word is found by keywords only.
    const near = Array.from({ length: 100 }, (_, i) => ({
      id: `n${i}`,
      text: `The team rotates the staging deploy keys on schedule ${i}`,
    }));
    await store(api, near);
    await store(api, [{ id: "rare", text: "Zeppelin notes from the airship museum visit" }]);
    await vectorize.settle();
    await runScheduled(api.env);
    const res = await search(api, {
      text: "zeppelin deploy keys rotation",
      explain: true,
      limit: 20,
      recency_boost: false,
    });
    const rare = res.memories.find((m: { id: string }) => m.id === "rare");
    expect(rare.score_details.keyword_rank).toBe(1);
    expect(rare.score_details.vector_rank).toBeNull();
    // Completed from the row D1 keeps, not left empty.
    const e = new OfflineEmbedder();
    const [q, v] = [await e.embedQuery("zeppelin deploy keys rotation"), (await e.embed([rare.text]))[0]!];
    expect(rare.score_details.vector).toBeCloseTo(
      q.reduce((s, x, i) => s + x * v[i]!, 0),
      5,
    );
  });
});
