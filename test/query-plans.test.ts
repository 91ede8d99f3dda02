import { describe, expect, it } from "vitest";
import type { TenantDb } from "../src/store/databases.ts";
import { VectorRepo } from "../src/store/vector-repo.ts";
import { runScheduled, store, tenantApi } from "./support/api.ts";
import { FakeVectorize } from "./support/fake-vectorize.ts";
import { routed } from "./support/shards.ts";

// Rows read are what D1 bills and what a query costs as a tenant grows: a per-query lookup must
// read the rows it needs, not scan the tenant. SQLite plans without statistics (no ANALYZE), so a
// query with a two-column equality on the wrong index reads every row of the tenant; these pin
// the plans of the per-search and per-write bookkeeping with real D1's `meta.rows_read`.

/** The D1 `rows_read` of every statement run through `dbs`. */
function counting(dbs: TenantDb): { dbs: TenantDb; rowsRead: () => number } {
  let rows = 0;
  const record = <T>(r: T): T => {
    rows += (r as { meta?: { rows_read?: number } }).meta?.rows_read ?? 0;
    return r;
  };
  const statement = (s: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(s, {
      get(target, key) {
        if (key === "bind") return (...v: unknown[]) => statement(target.bind(...v));
        if (key === "all" || key === "run") return async () => record(await target[key]());
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  return {
    dbs: {
      async of(tenant) {
        const db = await dbs.of(tenant);
        return { prepare: (sql) => statement(db.prepare(sql)), batch: (s) => db.batch(s) };
      },
      sweep: () => dbs.sweep(),
    },
    rowsRead: () => rows,
  };
}

describe("per-operation lookups read what they need, not the tenant (D1 rows_read)", () => {
  it("Vectorize bookkeeping: unconfirmed rows, vector id → memory id, marking sent", async () => {
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
    // Indexed and confirmed: nothing is left unconfirmed, so a lookup of unconfirmed rows has nothing to read.
    await vectorize.settle();
    await runScheduled(api.env);
    const { dbs, rowsRead } = counting(routed());
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
