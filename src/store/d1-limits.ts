import type { Db } from "./databases.ts";
import { AppError } from "../domain/errors.ts";
import { byteLength } from "../domain/ids.ts";

/**
 * D1's limits, and the helpers every SQL builder in src/store uses so that no input can reach them.
 *
 * Source: Cloudflare's D1 "Limits" page (developers.cloudflare.com/d1/platform/limits/), which lists
 * the SQLite compile-time limits D1 sets. Local SQLite (wrangler, vitest) enforces the parameter,
 * compound-SELECT, LIKE-pattern and expression-depth limits too, so tests catch a breach.
 */
export const D1_LIMITS = {
  /** SQLITE_MAX_VARIABLE_NUMBER: bound parameters per statement. */
  params: 100,
  /** SQLITE_MAX_COMPOUND_SELECT: terms of a UNION / UNION ALL / INTERSECT / EXCEPT. */
  compoundSelect: 5,
  /** SQLITE_MAX_EXPR_DEPTH: depth of an expression tree (`a AND b AND c` nests one level per AND). */
  exprDepth: 100,
  /** SQLITE_MAX_SQL_LENGTH: bytes of SQL text (bound values do not count). */
  sqlBytes: 100_000,
  /** SQLITE_MAX_LIKE_PATTERN_LENGTH: bytes of a LIKE or GLOB pattern. */
  likePatternBytes: 50,
  /** Maximum row (and string or BLOB) size. */
  rowBytes: 2_000_000,
} as const;

/**
 * Refuses (413) a row whose values would not fit D1's row limit, before D1 does with an opaque
 * error. Strings count as UTF-8; numbers and nulls are small. `what` names the record.
 */
export function checkRowSize<T extends readonly unknown[]>(values: T, what: string): T {
  let bytes = 0;
  for (const v of values) bytes += typeof v === "string" ? byteLength(v) : 8;
  if (bytes > D1_LIMITS.rowBytes) {
    throw new AppError(
      "payload_too_large",
      `${what} would take ${bytes} bytes stored; a row holds at most ${D1_LIMITS.rowBytes}`,
    );
  }
  return values;
}

/**
 * A list bound as ONE parameter: `col IN ${IN_JSON}` with `jsonList(values)`. Lists never become
 * one `?` each (parameter limit) nor one `OR` term each (expression depth).
 */
export const IN_JSON = "(SELECT value FROM json_each(?))";

/** The parameter for {@link IN_JSON}. */
export function jsonList(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}

/** Splits `items` into runs of at most `size` (e.g. rows per multi-row statement). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be at least 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * AND-joins conditions as a balanced tree: SQLite parses `a AND b AND c …` left-deep, one
 * expression level per term, so 100 conditions in a row exceed the depth limit; balanced, n
 * conditions add only ⌈log2 n⌉ levels. An empty list is true.
 */
export function andAll(conditions: readonly string[]): string {
  if (!conditions.length) return "1";
  if (conditions.length === 1) return conditions[0]!;
  const mid = Math.ceil(conditions.length / 2);
  return `(${andAll(conditions.slice(0, mid))} AND ${andAll(conditions.slice(mid))})`;
}

/**
 * A condition true when every word occurs in at least one of `columns` (SQL expressions),
 * case-insensitively as far as SQLite's ASCII-only lower() allows: a word is found in its
 * ASCII-lower-cased or its fully lower-cased form. One parameter whatever the number of words,
 * and `instr` instead of LIKE: it has no pattern-length limit (a URL, an e-mail address or a run of
 * CJK characters is longer than LIKE's 50 bytes) and no wildcards to escape.
 */
export function containsAllWords(
  columns: readonly string[],
  words: readonly string[],
): { sql: string; params: unknown[] } {
  if (!words.length) return { sql: "1", params: [] };
  const missing = columns
    .map((c) => `instr(lower(${c}), w.value ->> 0) = 0 AND instr(lower(${c}), w.value ->> 1) = 0`)
    .join(" AND ");
  const forms = [...new Set(words)].map((w) => [asciiLower(w), w.toLowerCase()]);
  return { sql: `NOT EXISTS (SELECT 1 FROM json_each(?) w WHERE ${missing})`, params: [JSON.stringify(forms)] };
}

/** SQLite's lower() without ICU: ASCII letters only. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

/**
 * Binds a statement after checking the limits a builder can compute: parameter count and SQL
 * length. A breach is a bug in the builder, so it throws (a 500) here, naming the statement,
 * instead of D1 failing with a message that does not.
 */
export function bindChecked(db: Db, sql: string, params: readonly unknown[]): D1PreparedStatement {
  if (params.length > D1_LIMITS.params) {
    throw new Error(
      `SQL builder bug: ${params.length} parameters (D1 allows ${D1_LIMITS.params}) in ${sql.slice(0, 80)}`,
    );
  }
  const bytes = byteLength(sql);
  if (bytes > D1_LIMITS.sqlBytes)
    throw new Error(`SQL builder bug: ${bytes} bytes of SQL (D1 allows ${D1_LIMITS.sqlBytes})`);
  return db.prepare(sql).bind(...params);
}
