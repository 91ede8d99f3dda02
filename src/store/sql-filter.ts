import {
  ARRAY_TAG_FIELDS,
  normalizeTagFilter,
  NUMERIC_FIELDS,
  SCALAR_TAG_FIELDS,
  type MemoryFilter,
  type NormalTagFilter,
} from "../domain/filters.ts";
import { andAll, IN_JSON } from "./d1-limits.ts";

/** A memory (aliased `m`) not expired at the bound time. */
export const LIVE = "(m.expires_at IS NULL OR m.expires_at > ?)";

/** A memory's valid_from (rows from before migration 0012 have none: domain/memory.ts `defaultValidFrom`). */
export const VALID_FROM = "coalesce(m.valid_from, min(coalesce(m.event_date, m.created_at), m.created_at))";

/** A WHERE fragment and its parameters. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * Compiles a memory filter into SQL over the `memories` table aliased `m`. Every field name
 * comes from a fixed list (never from input), every value is a bound parameter. Within D1's
 * limits for any filter the schemas accept: lists are one parameter each, so a filter binds at
 * most 68 (7 scalar fields × 3, 3 array fields × 4, 4 numeric fields × 8, pinned, validity 2), and the
 * conditions are AND-ed as a balanced tree.
 */
export function compileFilter(f: MemoryFilter): SqlFragment {
  const parts: string[] = [];
  const params: unknown[] = [];

  for (const field of SCALAR_TAG_FIELDS) {
    const tf = f[field];
    if (tf) scalarTag(`m.${field}`, normalizeTagFilter(tf), parts, params);
  }
  for (const field of ARRAY_TAG_FIELDS) {
    const tf = f[field];
    if (!tf) continue;
    const source = field === "tags" ? "json_extract(m.metadata, '$.tags')" : `m.${field}`;
    arrayTag(source, normalizeTagFilter(tf), parts, params);
  }
  for (const field of NUMERIC_FIELDS) {
    const nf = f[field];
    if (!nf) continue;
    const col = `m.${field}`;
    const cmp: [string, number | undefined][] = [
      [">", nf.gt],
      [">=", nf.gte],
      ["<", nf.lt],
      ["<=", nf.lte],
      ["=", nf.eq],
    ];
    for (const [op, v] of cmp) {
      if (v === undefined) continue;
      parts.push(`${col} ${op} ?`);
      params.push(v);
    }
    if (nf.ne !== undefined) {
      parts.push(`(${col} IS NULL OR ${col} != ?)`);
      params.push(nf.ne);
    }
    if (nf.between) {
      parts.push(`${col} BETWEEN ? AND ?`);
      params.push(nf.between[0], nf.between[1]);
    }
  }
  if (f.pinned !== undefined) {
    parts.push("m.pinned = ?");
    params.push(f.pinned ? 1 : 0);
  }
  const v = f.validity ?? { kind: "current" };
  if (v.kind === "current") parts.push("m.valid_to IS NULL");
  else if (v.kind === "during") {
    parts.push(`${VALID_FROM} <= ?`, "(m.valid_to IS NULL OR m.valid_to > ?)");
    params.push(v.to, v.from);
  } else if (v.kind === "then") {
    parts.push(`(m.supersedes IS NULL OR ${VALID_FROM} <= ?)`, "(m.valid_to IS NULL OR m.valid_to > ?)");
    params.push(v.to, v.from);
  }
  return { sql: andAll(parts), params };
}

function scalarTag(col: string, f: NormalTagFilter, parts: string[], params: unknown[]): void {
  // A scalar equals each required value only if they are all one value; one condition either way
  // (one per value overflowed the expression depth at `all` of 100 values).
  const required = [...new Set([...f.eq, ...f.all])];
  if (required.length > 1) parts.push("0");
  else if (required.length === 1) {
    parts.push(`${col} = ?`);
    params.push(required[0]);
  }
  if (f.ne.length) {
    parts.push(`(${col} IS NULL OR ${col} NOT IN ${IN_JSON})`);
    params.push(JSON.stringify(f.ne));
  }
  if (f.any) {
    parts.push(`${col} IN ${IN_JSON}`);
    params.push(JSON.stringify(f.any));
  }
}

function arrayTag(source: string, f: NormalTagFilter, parts: string[], params: unknown[]): void {
  const each = `json_each(CASE WHEN json_type(${source}) = 'array' THEN ${source} ELSE '[]' END)`;
  const required = [...new Set([...f.eq, ...f.all])];
  if (required.length) {
    parts.push(`(SELECT count(DISTINCT value) FROM ${each} WHERE value IN ${IN_JSON}) = ?`);
    params.push(JSON.stringify(required), required.length);
  }
  if (f.ne.length) {
    parts.push(`NOT EXISTS (SELECT 1 FROM ${each} WHERE value IN ${IN_JSON})`);
    params.push(JSON.stringify(f.ne));
  }
  if (f.any) {
    parts.push(`EXISTS (SELECT 1 FROM ${each} WHERE value IN ${IN_JSON})`);
    params.push(JSON.stringify(f.any));
  }
}
