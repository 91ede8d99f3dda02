import * as z from "zod";
import { byteLength } from "./ids.ts";

/**
 * Limits every API applies to dates and free-form JSON at the edge, once: the REST schemas use
 * these, and MCP tools and WebSocket commands reuse the REST schemas. Values outside them could
 * be stored but not read back (`toISOString()` throws past ±8.64e15 ms; a deeply nested value
 * overflows the stack when serialized), so they are refused with a 422 naming the field.
 */

/** Earliest accepted date, 1000-01-01T00:00:00.000Z: four-digit years keep ISO 8601 unambiguous. */
export const MIN_DATE_MS = Date.UTC(1000, 0, 1);
/** Latest accepted date, 9999-12-31T23:59:59.999Z. */
export const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const DATE_WINDOW = "between 1000-01-01 and 9999-12-31";
const DAY_MS = 86_400_000;
/** The longest span within the window, in days (an age or inactivity threshold cannot usefully exceed it). */
export const MAX_SPAN_DAYS = Math.ceil((MAX_DATE_MS - MIN_DATE_MS) / DAY_MS);
/** Longest time-to-live of a long-term memory (100 years): now + ttl stays inside the window. */
export const MAX_TTL_SECONDS = 100 * 365 * 86_400;

/** Nesting levels of a free-form JSON field (`metadata`, `data`): the object itself is level 1. */
export const MAX_JSON_DEPTH = 32;
/** Serialized (UTF-8 JSON) size of a free-form JSON field: 64 KiB, under the 100,000-character text cap. */
export const MAX_JSON_BYTES = 64 * 1024;

export function inDateWindow(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_DATE_MS && ms <= MAX_DATE_MS;
}

/**
 * A date as the AMS APIs take it: epoch seconds (the seed) or an ISO-8601 string (the official
 * clients), within years 1000–9999 → epoch milliseconds.
 */
export const timestamp = z
  .union([z.number(), z.string().min(1)])
  .transform((v, ctx) => {
    const ms = typeof v === "number" ? Math.round(v * 1000) : Date.parse(v);
    if (typeof v === "string" && Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: `not an ISO-8601 date: ${JSON.stringify(v.slice(0, 64))}` });
      return z.NEVER;
    }
    if (!inDateWindow(ms)) {
      ctx.addIssue({ code: "custom", message: `must be a date ${DATE_WINDOW} (Unix seconds or ISO 8601)` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: `Unix seconds or an ISO-8601 date-time, ${DATE_WINDOW}.` });

/** An ISO-8601 date-time string within years 1000–9999 → epoch milliseconds. */
export const isoTimestamp = z
  .string()
  .transform((s, ctx) => {
    const ms = Date.parse(s);
    if (Number.isNaN(ms)) ctx.addIssue({ code: "custom", message: "must be an ISO-8601 date-time" });
    else if (!inDateWindow(ms)) ctx.addIssue({ code: "custom", message: `must be a date ${DATE_WINDOW}` });
    else return ms;
    return z.NEVER;
  })
  .meta({ description: `An ISO-8601 date-time, ${DATE_WINDOW}.` });

/**
 * How deeply a JSON value nests (a scalar is 0, `{}` and `[]` are 1), walked without recursion
 * so no value can overflow the stack; stops as soon as the depth passes `limit`.
 */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, parent] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    const depth = parent + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth]);
  }
  return max;
}

const SURROGATE = /[\ud800-\udfff]/;
const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The dotted path of the first string (or key) in a value holding an unpaired surrogate, or null.
 * JSON can carry one (`"\ud800"`), but UTF-8 cannot: D1 would store bytes that read back as
 * replacement characters, so what was accepted would not read back. Walked without recursion.
 */
export function unpairedSurrogatePath(value: unknown): string | null {
  const bad = (s: string) => SURROGATE.test(s) && UNPAIRED.test(s);
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (bad(v)) return path;
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    for (const [k, child] of Object.entries(v)) {
      const at = path ? `${path}.${k}` : k;
      if (bad(k)) return at;
      stack.push([child, at]);
    }
  }
  return null;
}

/** Adds an issue when a free-form value nests deeper than MAX_JSON_DEPTH or serializes larger than MAX_JSON_BYTES. */
export function checkJsonBounds(
  value: unknown,
  ctx: { addIssue(issue: { code: "custom"; message: string }): void },
): void {
  if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    ctx.addIssue({ code: "custom", message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  // Only now is serializing safe: the depth is bounded.
  const bytes = byteLength(JSON.stringify(value));
  if (bytes > MAX_JSON_BYTES)
    ctx.addIssue({ code: "custom", message: `is ${bytes} bytes as JSON; at most ${MAX_JSON_BYTES}` });
}

const JSON_BOUNDS = `At most ${MAX_JSON_DEPTH} levels deep and ${MAX_JSON_BYTES} bytes as JSON.`;

/** A free-form JSON object (`metadata`, `data`), bounded in depth and size. */
export const jsonObject = z
  .record(z.string(), z.unknown())
  .superRefine(checkJsonBounds)
  .meta({ description: `Free-form JSON object. ${JSON_BOUNDS}` });
