import { describe, expect, it } from "vitest";
import { buildMemory } from "../src/domain/memory.ts";
import { keywordQuery } from "../src/domain/text.ts";
import type { WriteOp } from "../src/domain/writes.ts";
import { GraphRepo } from "../src/store/graph-repo.ts";
import { MemoryRepo } from "../src/store/memory-repo.ts";
import { VectorRepo } from "../src/store/vector-repo.ts";
import { runScheduled, store, tenantApi } from "./support/api.ts";
import { FakeVectorize } from "./support/fake-vectorize.ts";
import { metered } from "./support/metered.ts";
import { oneShard, routed } from "./support/shards.ts";

// Rows read are what D1 bills and what a query costs as a tenant grows: a per-query lookup must
// read the rows it needs, not scan the tenant. SQLite plans without statistics (no ANALYZE), so a
// query with a two-column equality on the wrong index reads every row of the tenant; these pin
// the plans of the per-search and per-write bookkeeping with real D1's `meta.rows_read`.

describe("per-operation lookups read what they need, not the tenant (D1 rows_read)", () => {
  // 300 stores through the Vectorize double: slow on a loaded machine, hence its own timeout.
  it("Vectorize bookkeeping: unconfirmed rows, vector id → memory id, marking sent", { timeout: 60_000 }, async () => {
    const vectorize = new FakeVectorize();
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    for (let batch = 0; batch < 3; batch++)
      await store(
        api,
        Array.from({ length: 100 }, (_, i) => ({
          id: `m${i}-${batch}`,
          text: `Fact ${i} of batch ${batch} about tea`,
        })),
      );
    // Indexed, and confirmed as far as upkeep's describe() allows: most rows leave the unconfirmed index.
    await vectorize.settle();
    await runScheduled(api.env);
    const { dbs, meter } = metered(routed());
    const rowsRead = () => meter.rowsRead;
    const repo = new VectorRepo(dbs);
    const rows = await repo.rowsFor(api.tenant, ["m1-0", "m2-0"]);
    const some = rows.map((r) => r.vector_id);
    const model = rows[0]!.model;
    expect((await repo.memoryIds(api.tenant, model)).ids.length).toBeGreaterThan(250);

    const before = rowsRead();
    const unconfirmed = (await repo.unconfirmed(api.tenant, model)).length;
    expect(unconfirmed).toBeLessThan(200);
    // Reads the unconfirmed rows (the partial index), not all 300 of the tenant.
    expect(rowsRead() - before).toBeLessThanOrEqual(unconfirmed + 2);

    const lookup = rowsRead();
    expect([...(await repo.memoryIdsForVectorIds(api.tenant, some)).values()].sort()).toEqual(["m1-0", "m2-0"]);
    expect(rowsRead() - lookup).toBeLessThan(10);

    const mark = rowsRead();
    await repo.markSent(api.tenant, [{ vseq: 1 }, { vseq: 2 }], Date.now(), null);
    expect(rowsRead() - mark).toBeLessThan(10);
  });
});

describe("a create's dedup lookup reads by index, not the tenant (D1 rows_read)", () => {
  it("finds memories by id and by content hash, each once, reading a few rows of a 300-memory tenant", async () => {
    const { dbs, meter } = metered(oneShard());
    const repo = new MemoryRepo(dbs, false);
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    const memories = await Promise.all(
      Array.from({ length: 300 }, (_, i) => buildMemory(tenant, `m-${i}`, { text: `fact number ${i}` }, now)),
    );
    for (let i = 0; i < memories.length; i += 100) {
      const ops = memories
        .slice(i, i + 100)
        .map((after): WriteOp => ({ kind: "put", before: null, after, vector: { kind: "keep" }, audit: false }));
      await repo.write(tenant, ops, "test", now);
    }
    meter.rowsRead = 0;
    // m-7 by its id and by its hash, m-42 by its hash only.
    const found = await repo.findByIdsOrHashes(
      tenant,
      ["m-7", "m-unknown"],
      [memories[7]!.memory_hash, memories[42]!.memory_hash],
      now,
    );
    expect(found.map((m) => m.id).sort()).toEqual(["m-42", "m-7"]);
    // Three index entries and their rows. As a UNION, SQLite merged the halves over the tenant's
    // (tenant, id) index and read all 300.
    expect(meter.rowsRead).toBeLessThan(20);
  });
});

describe("a keyword search reads a row per term for its statistics, and one round trip for its candidates", () => {
  it("statistics of a term every memory has, then the keyword ranking and the vector hits' rows together", async () => {
    const { dbs, meter } = metered(oneShard());
    const repo = new MemoryRepo(dbs, false);
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    const memories = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        buildMemory(tenant, `m-${i}`, { text: `note ${i} about caching${i % 10 ? "" : " with Redis"}` }, now),
      ),
    );
    for (let i = 0; i < memories.length; i += 100) {
      const ops = memories
        .slice(i, i + 100)
        .map((after): WriteOp => ({ kind: "put", before: null, after, vector: { kind: "keep" }, audit: false }));
      await repo.write(tenant, ops, "test", now);
    }
    meter.rowsRead = 0;
    const stats = await repo.keywordStats(tenant, ["cach", "redi"]);
    expect([stats.docs, stats.df.get("cach"), stats.df.get("redi")]).toEqual([300, 300, 30]);
    // The totals and a row per term. Counted from the postings, "cach" alone read 300.
    expect(meter.rowsRead).toBeLessThan(10);

    const trips = meter.roundTrips;
    const found = await repo.searchCandidates(
      tenant,
      keywordQuery(["cach", "redi"], stats),
      ["m-1", "m-2"],
      now,
      {},
      20,
    );
    expect(meter.roundTrips - trips).toBe(1);
    expect(found.keyword).toHaveLength(20);
    expect(found.keyword[0]!.memory.text).toContain("Redis");
    expect(found.rows.map((m) => m.id).sort()).toEqual(["m-1", "m-2"]);

    // The ranking reads its term's postings (30) and the top rows, not the tenant's 300 memories.
    meter.rowsRead = 0;
    const redis = await repo.searchCandidates(tenant, keywordQuery(["redi"], stats), [], now, {}, 20);
    expect(redis.keyword).toHaveLength(20);
    expect(meter.rowsRead).toBeLessThan(150);
  });
});

describe("a write's contradiction check reads the facts it asks about, not the tenant's graph (D1 rows_read)", () => {
  it(
    "looks up one subject's current value and one value's holders among 300 facts of one owner",
    { timeout: 60_000 },
    async () => {
      const api = await tenantApi();
      for (let batch = 0; batch < 3; batch++)
        await store(
          api,
          Array.from({ length: 100 }, (_, i) => ({
            text: `We use Tool${batch}x${i} for area${letters(batch * 100 + i)}`,
          })),
        );
      const { dbs, meter } = metered(routed());
      const graph = new GraphRepo(dbs);
      const owner = { namespace: null, user_id: null, predicate: "uses" };
      const facts = await graph.statedFacts(api.tenant, [
        { ...owner, name: `area${letters(107)}`, by: "s" },
        { ...owner, name: "Tool2x9", by: "o" },
      ]);
      expect(facts.map((f) => `${f.subject} ${f.object}`).sort()).toEqual([
        `area${letters(107)} Tool1x7`,
        `area${letters(209)} Tool2x9`,
      ]);
      // Each probe: its name, the relations of that entity and predicate, their entities and sources.
      // Joined the other way round, SQLite read every relation of the tenant (300+).
      expect(meter.rowsRead).toBeLessThan(40);
    },
  );
});

/** A number in letters (a topic name holds no digits): 0 → a, 26 → ba. */
function letters(n: number): string {
  return [...n.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join("");
}
