import * as z from "zod";
import type { MemoryFilter } from "../domain/filters.ts";
import { isoTimestamp, jsonObject } from "../domain/input-limits.ts";
import { MEMORY_TYPES, SCOPES, type Memory, type MemoryPatch, type NewMemory, type Scope } from "../domain/memory.ts";
import { formatIso, formatIsoOrNull } from "../domain/stored-values.ts";
import { cursorParam } from "./paging.ts";

/** Wire schemas of the memory CRUD API (`/api/memories`). `value` is the memory's text. */

const agentId = z.string().min(1).max(256);
const key = z.string().min(1).max(512);
const value = z.string().trim().min(1, { message: "must not be empty" }).max(100_000);
const metadata = jsonObject.refine(
  (m) => m.tags === undefined || (Array.isArray(m.tags) && m.tags.every((t) => typeof t === "string")),
  {
    message: "metadata.tags must be an array of strings",
  },
);
/** An absolute expiry time (ISO-8601, before the year 10000), or null for none. */
const ttl = isoTimestamp.refine((ms) => ms > Date.now(), { message: "must be in the future" }).nullable();

export const createCrudBody = z.object({
  agent_id: agentId.nullish(),
  scope: z.enum(SCOPES).optional(),
  key,
  value,
  metadata: metadata.nullish(),
  ttl: ttl.optional(),
  session_id: z.string().min(1).max(256).nullish(),
  memory_type: z.enum(MEMORY_TYPES).optional(),
});

/** Unknown fields are a 422 (as AMS's PATCH): a misspelt field must not be a silent no-op. */
export const updateCrudBody = z.strictObject({
  agent_id: agentId.nullish(),
  scope: z.enum(SCOPES).optional(),
  key: key.optional(),
  value: value.optional(),
  metadata: metadata.nullish(),
  ttl: ttl.optional(),
  session_id: z.string().min(1).max(256).nullish(),
  memory_type: z.enum(MEMORY_TYPES).optional(),
});

const csv = z.union([z.string(), z.array(z.string())]).transform((v) =>
  (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean),
);

export const listCrudQuery = z.object({
  agent_id: agentId.optional(),
  scope: z.enum(SCOPES).optional(),
  /** Memories carrying any of these tags (comma-separated or repeated). */
  tags: csv.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .meta({ description: "Memories to skip: each is read, so a deep page costs O(offset); prefer `cursor`." }),
  cursor: cursorParam("memories").optional(),
});

/** The header of a CRUD list answer (an array, as the API's document shows) holding the next page's cursor. */
export const NEXT_CURSOR_HEADER = "x-edgemem-next-cursor";

export const searchCrudBody = z.object({
  agent_id: agentId.nullish(),
  query: z.string().trim().min(1, { message: "must not be empty" }).max(1000),
  scope: z.enum(SCOPES).nullish(),
  limit: z.number().int().min(1).max(100).default(10),
});

// ---------------------------------------------------------------------------------------------
// Wire → service

/** A create body as a keyed memory (value is the text; the scope defaults from the agent id). */
export function toKeyedMemory(b: z.output<typeof createCrudBody>): NewMemory & { key: string; scope: Scope } {
  return {
    key: b.key,
    scope: b.scope ?? (b.agent_id ? "agent" : "global"),
    text: b.value,
    agent_id: b.agent_id ?? null,
    session_id: b.session_id ?? null,
    metadata: b.metadata ?? {},
    expires_at: b.ttl ?? null,
    ...(b.memory_type ? { memory_type: b.memory_type } : {}),
  };
}

/** A PUT body as a patch: only the fields present change. */
export function toCrudPatch(b: z.output<typeof updateCrudBody>): MemoryPatch {
  const patch: MemoryPatch = {};
  if (b.value !== undefined) patch.text = b.value;
  if (b.key !== undefined) patch.key = b.key;
  if (b.scope !== undefined) patch.scope = b.scope;
  if (b.agent_id !== undefined) patch.agent_id = b.agent_id;
  if (b.session_id !== undefined) patch.session_id = b.session_id;
  if (b.metadata !== undefined) patch.metadata = b.metadata ?? {};
  if (b.ttl !== undefined) patch.expires_at = b.ttl;
  if (b.memory_type !== undefined) patch.memory_type = b.memory_type;
  return patch;
}

/** The list and search filters: agent, scope, and any of the given tags. */
export function crudFilter(q: { agent_id?: string | null; scope?: Scope | null; tags?: string[] }): MemoryFilter {
  const filter: MemoryFilter = {};
  if (q.agent_id) filter.agent_id = { eq: q.agent_id };
  if (q.scope) filter.scope = { eq: q.scope };
  if (q.tags?.length) filter.tags = { any: q.tags };
  return filter;
}

// ---------------------------------------------------------------------------------------------
// Service → wire

export const crudRecordOut = z
  .object({
    id: z.string(),
    agent_id: z.string().nullable(),
    scope: z.enum(SCOPES),
    key: z.string().nullable(),
    value: z.string(),
    embedding: z.null().meta({ description: "Vectors are not returned." }),
    metadata: z.record(z.string(), z.unknown()),
    ttl: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: "CrudMemory" });
export const crudListOut = z.array(crudRecordOut);

/** A memory as the CRUD API shows it. */
export function crudRecord(m: Memory): z.input<typeof crudRecordOut> {
  return {
    id: m.id,
    agent_id: m.agent_id,
    scope: m.scope,
    key: m.key,
    value: m.text,
    embedding: null,
    metadata: m.metadata,
    ttl: formatIsoOrNull(m.expires_at),
    created_at: formatIso(m.created_at),
    updated_at: formatIso(m.updated_at),
  };
}
