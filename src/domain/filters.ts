import * as z from "zod";
import { timestamp } from "./input-limits.ts";

/**
 * The search filter language of the Agent Memory Server: tag filters (eq, ne, any, all, plus the
 * clients' in_, not_eq, not_in, none) and numeric/date filters (gt, lt, gte, lte, eq, ne, between).
 * Unknown operators are rejected (strict objects), so a typo never silently widens a search.
 */

const tagValue = z.string().max(512);
const tagList = z.array(tagValue).min(1).max(100);

export const tagFilterSchema = z
  .strictObject({
    eq: tagValue.optional(),
    ne: tagValue.optional(),
    not_eq: tagValue.optional(),
    any: tagList.optional(),
    in_: tagList.optional(),
    all: tagList.optional(),
    not_in: tagList.optional(),
    none: tagList.optional(),
  })
  .refine((f) => Object.values(f).some((v) => v !== undefined), { message: "a filter needs at least one operator" });

export const numericFilterSchema = z
  .strictObject({
    gt: timestamp.optional(),
    lt: timestamp.optional(),
    gte: timestamp.optional(),
    lte: timestamp.optional(),
    eq: timestamp.optional(),
    ne: timestamp.optional(),
    between: z.tuple([timestamp, timestamp]).optional(),
  })
  .refine((f) => Object.values(f).some((v) => v !== undefined), { message: "a filter needs at least one operator" });

export type TagFilter = z.output<typeof tagFilterSchema>;
export type NumericFilter = z.output<typeof numericFilterSchema>;

/** Scalar (one value per memory) tag fields. */
export const SCALAR_TAG_FIELDS = [
  "session_id",
  "namespace",
  "user_id",
  "agent_id",
  "memory_type",
  "scope",
  "extraction_strategy",
] as const;
/** Array-valued tag fields: a memory has many topics, entities and metadata tags. */
export const ARRAY_TAG_FIELDS = ["topics", "entities", "tags"] as const;
export const NUMERIC_FIELDS = ["created_at", "last_accessed", "updated_at", "event_date"] as const;

export type ScalarTagField = (typeof SCALAR_TAG_FIELDS)[number];
export type ArrayTagField = (typeof ARRAY_TAG_FIELDS)[number];
export type NumericField = (typeof NUMERIC_FIELDS)[number];

/**
 * Which memories a read sees by valid time (docs/temporal.md): `current` (the default: not closed),
 * those valid at some moment of [from, to] (`as_of` a time is from = to = it), or `all` (the
 * superseded ones too). `then` is what a question naming a period asks about: every memory not
 * closed before the period, except those that replaced another after it (a memory stored later
 * about that period still counts, where `during` would drop it for its later valid_from).
 */
export type Validity =
  | { kind: "current" }
  | { kind: "during"; from: number; to: number }
  | { kind: "then"; from: number; to: number }
  | { kind: "all" };

/** A conjunction of per-field filters; `validity` defaults to current memories only. */
export type MemoryFilter = Partial<Record<ScalarTagField | ArrayTagField, TagFilter>> &
  Partial<Record<NumericField, NumericFilter>> & { pinned?: boolean; validity?: Validity };

/** Current memories only (the default of every filtered read; reads by id see closed ones too). */
export const CURRENT_ONLY: MemoryFilter = { validity: { kind: "current" } };
/** Every memory, closed or current. */
export const ANY_VALIDITY: MemoryFilter = { validity: { kind: "all" } };

/** The validity a read asks for: `as_of` a time, every version with `include_superseded`, else current. */
export function validityOf(opts: { as_of?: number | null; include_superseded?: boolean | null }): Validity {
  if (opts.as_of !== undefined && opts.as_of !== null) return { kind: "during", from: opts.as_of, to: opts.as_of };
  return opts.include_superseded ? { kind: "all" } : { kind: "current" };
}

/** Whether a memory (or a graph fact) passes a validity: the same rule as the SQL of sql-filter.ts. */
export function validIn(
  m: { valid_from: number; valid_to: number | null; supersedes?: string | null },
  v: Validity = { kind: "current" },
): boolean {
  if (v.kind === "all") return true;
  if (v.kind === "current") return m.valid_to === null;
  const open = m.valid_to === null || m.valid_to > v.from;
  if (v.kind === "during") return open && m.valid_from <= v.to;
  return open && (!m.supersedes || m.valid_from <= v.to);
}

/** The normalised tag operators: every alias folded into four. */
export interface NormalTagFilter {
  eq: string[]; // each must hold (several `eq` values for a scalar field can only match if equal)
  ne: string[]; // none of these
  any: string[] | null; // at least one of these
  all: string[]; // all of these
}

export function normalizeTagFilter(f: TagFilter): NormalTagFilter {
  const ne = [f.ne, f.not_eq, ...(f.not_in ?? []), ...(f.none ?? [])].filter((v): v is string => v !== undefined);
  const anyLists = [f.any, f.in_].filter((v): v is string[] => v !== undefined);
  const any = anyLists.length ? intersect(anyLists) : null;
  return { eq: f.eq !== undefined ? [f.eq] : [], ne, any, all: f.all ?? [] };
}

function intersect(lists: string[][]): string[] {
  const [first, ...rest] = lists;
  return (first ?? []).filter((v) => rest.every((l) => l.includes(v)));
}

/** Whether a record value satisfies a numeric filter (null never satisfies a comparison, but satisfies `ne`). */
export function matchesNumeric(value: number | null, f: NumericFilter): boolean {
  if (value === null) return f.ne !== undefined && Object.keys(f).every((k) => k === "ne");
  if (f.gt !== undefined && !(value > f.gt)) return false;
  if (f.gte !== undefined && !(value >= f.gte)) return false;
  if (f.lt !== undefined && !(value < f.lt)) return false;
  if (f.lte !== undefined && !(value <= f.lte)) return false;
  if (f.eq !== undefined && value !== f.eq) return false;
  if (f.ne !== undefined && value === f.ne) return false;
  if (f.between !== undefined && !(value >= f.between[0] && value <= f.between[1])) return false;
  return true;
}

/** Whether a scalar value (possibly null) satisfies a tag filter. */
export function matchesScalarTag(value: string | null, f: NormalTagFilter): boolean {
  if (f.eq.some((v) => v !== value)) return false;
  if (value !== null && f.ne.includes(value)) return false;
  if (f.any && (value === null || !f.any.includes(value))) return false;
  if (f.all.some((v) => v !== value)) return false;
  return true;
}

/** Whether an array of values satisfies a tag filter: eq = contains, ne = does not contain. */
export function matchesArrayTag(values: string[], f: NormalTagFilter): boolean {
  if (f.eq.some((v) => !values.includes(v))) return false;
  if (f.ne.some((v) => values.includes(v))) return false;
  if (f.any && !f.any.some((v) => values.includes(v))) return false;
  if (f.all.some((v) => !values.includes(v))) return false;
  return true;
}

/** The filter of one owner: a namespace and/or a user (empty when neither is given). */
export function ownerFilter(o: { namespace?: string | null; user_id?: string | null }): MemoryFilter {
  const filter: MemoryFilter = {};
  if (o.namespace) filter.namespace = { eq: o.namespace };
  if (o.user_id) filter.user_id = { eq: o.user_id };
  return filter;
}
