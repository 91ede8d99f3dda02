import type { Db, TenantDb } from "../../src/store/databases.ts";

/** What queries cost D1: round trips, and the rows SQLite read for them (`meta.rows_read`). */
export interface Meter {
  roundTrips: number;
  rowsRead: number;
}

/**
 * `dbs` with every query metered: each statement run and each batch adds its round trip and the
 * rows D1 reports it read. A plan that scans the tenant shows here as thousands of rows where an
 * index lookup reads a few, without timing anything.
 */
export function metered(dbs: TenantDb): { dbs: TenantDb; meter: Meter } {
  const meter: Meter = { roundTrips: 0, rowsRead: 0 };
  const count = (results: D1Result[]) => {
    meter.roundTrips++;
    for (const r of results) meter.rowsRead += r.meta.rows_read ?? 0;
  };
  // A batch must be given the runtime's own statements, not these wrappers.
  const unwrapped = new WeakMap<D1PreparedStatement, D1PreparedStatement>();
  const statement = (s: D1PreparedStatement): D1PreparedStatement => {
    const all = async () => {
      const r = await s.all();
      count([r]);
      return r;
    };
    const wrapper = {
      bind: (...values: unknown[]) => statement(s.bind(...values)),
      all,
      run: all,
      first: async (column?: string) => {
        const row = ((await all()).results[0] ?? null) as Record<string, unknown> | null;
        return column === undefined ? row : (row?.[column] ?? null);
      },
      raw: () => Promise.reject(new Error("raw() is not metered")),
    } as unknown as D1PreparedStatement;
    unwrapped.set(wrapper, s);
    return wrapper;
  };
  const wrap = (db: Db): Db => ({
    prepare: (sql) => statement(db.prepare(sql)),
    batch: async <T>(statements: D1PreparedStatement[]) => {
      const results = await db.batch<T>(statements.map((s) => unwrapped.get(s) ?? s));
      count(results);
      return results;
    },
  });
  return {
    meter,
    dbs: {
      of: async (tenant) => wrap(await dbs.of(tenant)),
      sweep: () => wrap(dbs.sweep()),
    },
  };
}
