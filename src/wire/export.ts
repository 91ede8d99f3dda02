import * as z from "zod";
import { AppError } from "../domain/errors.ts";
import {
  decodeExportCursor,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  MAX_IMPORT_RECORDS,
  RECORD_KINDS,
  type ExportRecord,
  type ImportItem,
  type RecordKind,
} from "../domain/export.ts";
import { ENTITY_TYPES } from "../domain/extract.ts";
import { byteLength, MAX_ID_BYTES, sha256Hex } from "../domain/ids.ts";
import { inDateWindow, jsonObject, timestamp } from "../domain/input-limits.ts";
import { MEMORY_TYPES, SCOPES, type NewMemory } from "../domain/memory.ts";
import { MESSAGE_ROLES } from "../domain/session.ts";
import { label, memoryId, memoryRecordInput, toNewMemory } from "./ams.ts";
import { parse } from "./parse.ts";

/**
 * The `edgemem-export` JSON Lines format on the wire: one zod schema per record type (an import
 * validates every line with them; the OpenAPI document and the SDK's types come from them), the
 * export's query, the import's query and answer, and the readers of mem0's and AMS's exports.
 */

/** Epoch milliseconds, an integer within years 1000–9999. */
const ms = z
  .number()
  .int()
  .refine(inDateWindow, { message: "must be epoch milliseconds between 1000-01-01 and 9999-12-31" });
const name = z.string().min(1).max(256);
const stringList = z.array(z.string().min(1).max(256)).max(100);
const count = z.number().int().min(0);

const memoryFields = {
  id: memoryId,
  namespace: label.nullable(),
  user_id: label.nullable(),
  session_id: label.nullable(),
  agent_id: label.nullable(),
  scope: z.enum(SCOPES),
  key: z.string().min(1).max(512).nullable(),
  text: z
    .string()
    .max(100_000)
    .refine((t) => t.trim().length > 0, { message: "must not be empty" }),
  memory_type: z.enum(MEMORY_TYPES),
  topics: stringList,
  entities: stringList,
  priority: z.number().int().min(1).max(10),
  confidence: z.number().min(0).max(1),
  pinned: z.boolean(),
  metadata: jsonObject,
  memory_hash: z.string().max(128).meta({ description: "Recomputed from `text` on import." }),
  created_at: ms,
  updated_at: ms,
  last_accessed: ms,
  persisted_at: ms.nullable(),
  event_date: ms.nullable(),
  expires_at: ms.nullable(),
  extracted_from: z.array(memoryId).max(1000),
  discrete_memory_extracted: z.enum(["t", "f"]),
  extraction_strategy: z.string().max(64),
  // Valid time and supersession (docs/temporal.md); absent in an export of a server without them:
  // an import then makes the memory current since it happened (domain/export.ts `memoryOf`).
  valid_from: ms.optional(),
  valid_to: ms.nullable().optional(),
  superseded_by: memoryId.nullable().optional(),
  supersedes: memoryId.nullable().optional(),
  invalid_reason: z.string().max(1000).nullable().optional(),
};

/** A memory as stored, every field but the tenant, its write counter and its embedding model. */
export const memoryLine = z
  .strictObject({ type: z.literal("memory"), ...memoryFields })
  .meta({ id: "ExportMemory", description: "A stored memory (times in epoch ms)." });

/** A memory as a history entry or a session stored it: the same fields, and whatever else it held then. */
const memorySnapshot = z.looseObject(memoryFields).meta({
  id: "ExportMemorySnapshot",
  description: "A memory as a history entry or a session stored it (other fields it held then kept as they are).",
});

export const historyLine = z
  .strictObject({
    type: z.literal("history"),
    memory_id: memoryId,
    n: z.number().int().min(0).meta({ description: "Its place in the memory's history (0: the first write)." }),
    op: z.enum(["create", "update", "delete"]),
    actor: z.string().min(1).max(512),
    at: ms,
    reason: z.string().max(10_000).nullable(),
    before: memorySnapshot.nullable(),
    after: memorySnapshot.nullable(),
  })
  .meta({ id: "ExportHistory", description: "One entry of a memory's history (deleted memories' too)." });

export const entityLine = z
  .strictObject({
    type: z.literal("entity"),
    id: memoryId,
    name,
    entity_type: z.enum(ENTITY_TYPES),
    aliases: stringList,
    created_at: ms,
    updated_at: ms,
  })
  .meta({ id: "ExportEntity", description: "An entity of the knowledge graph." });

export const relationLine = z
  .strictObject({
    type: z.literal("relation"),
    id: memoryId,
    subject_id: memoryId,
    predicate: name,
    object_id: memoryId,
    source_memory_id: memoryId.nullable(),
    confidence: z.number().min(0).max(1),
    valid_from: ms,
    valid_to: ms.nullable(),
    created_at: ms,
    namespace: label.nullable(),
    user_id: label.nullable(),
    sources: z.array(memoryId).max(100_000).meta({ description: "Every memory that stated the relation." }),
  })
  .meta({ id: "ExportRelation", description: "A relation of the knowledge graph, with its owner and sources." });

export const sessionLine = z
  .strictObject({
    type: z.literal("session"),
    session_id: label,
    namespace: label.nullable(),
    user_id: label.nullable(),
    messages: z.array(
      z.looseObject({
        id: z.string().min(1).max(256),
        role: z.enum(MESSAGE_ROLES),
        content: z.string(),
        created_at: ms,
      }),
    ),
    memories: z.array(memorySnapshot),
    context: z.string().nullable(),
    data: jsonObject.nullable(),
    long_term_memory_strategy: jsonObject,
    tokens: count,
    ttl_seconds: z.number().int().positive().nullable(),
    expires_at: ms.nullable(),
    created_at: ms,
    updated_at: ms,
    last_accessed: ms,
  })
  .meta({ id: "ExportSession", description: "A working-memory session." });

export const feedbackLine = z
  .strictObject({
    type: z.literal("feedback"),
    id: memoryId,
    memory_id: memoryId,
    rating: z.enum(["positive", "negative"]),
    comment: z.string().max(10_000).nullable(),
    actor: z.string().min(1).max(512),
    at: ms,
    confidence_before: z.number().min(0).max(1),
    confidence_after: z.number().min(0).max(1),
  })
  .meta({ id: "ExportFeedback", description: "A feedback on a memory." });

const countsOut = z.object(Object.fromEntries(RECORD_KINDS.map((k) => [k, count])) as Record<RecordKind, typeof count>);

export const headerLine = z
  .object({
    type: z.literal("header"),
    format: z.string(),
    version: z.number(),
    tenant: z.string(),
    exported_at: ms,
    resumed_from: z.string().optional(),
  })
  .meta({ id: "ExportHeader", description: `Line 1: format \`${EXPORT_FORMAT}\`, version ${EXPORT_VERSION}.` });

export const cursorLine = z
  .object({ type: z.literal("cursor"), cursor: z.string() })
  .meta({ id: "ExportCursor", description: "After every page: pass it as `cursor` to resume right after it." });

export const endLine = z
  .object({ type: z.literal("end"), counts: countsOut, complete: z.literal(true).optional() })
  .meta({
    id: "ExportEnd",
    description: "The last line, with the records this stream held: without it, the stream was cut.",
  });

/** Every line of an export (and of an edgemem import). */
export const exportLine = z
  .discriminatedUnion("type", [
    headerLine,
    memoryLine,
    historyLine,
    entityLine,
    relationLine,
    sessionLine,
    feedbackLine,
    cursorLine,
    endLine,
  ])
  .meta({ id: "ExportLine", description: "One line of `edgemem-export` JSON Lines." });

export const exportQuery = z.object({
  cursor: z
    .string()
    .transform((raw, ctx) => {
      const at = decodeExportCursor(raw);
      if (!at) {
        ctx.addIssue({ code: "custom", message: "not an export cursor: pass back a `cursor` line's value unchanged" });
        return z.NEVER;
      }
      return at;
    })
    .optional()
    .meta({ description: "A `cursor` line of an earlier export: this one starts right after it." }),
});

export const IMPORT_FORMATS = ["edgemem", "mem0", "ams"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export const importQuery = z.object({
  format: z.enum(IMPORT_FORMATS).default("edgemem").meta({
    description:
      "`edgemem`: this server's export. `mem0`: mem0 memories (`memory`, `user_id`, `agent_id`, `metadata`, `created_at`…). `ams`: Agent Memory Server long-term memory records. mem0 and AMS lines may each hold one memory, a list, or `{results|memories: [...]}`.",
  }),
  namespace: label.optional().meta({ description: "mem0 and AMS: the namespace of memories that name none." }),
});

const lineError = z.object({
  line: z.number().int().min(1),
  error: z.string(),
  field: z.string().nullable().meta({ description: "The field at fault (dotted path), when one is." }),
});

export const importResponse = z
  .object({
    imported: countsOut.meta({ description: "Records written, by kind." }),
    unchanged: countsOut.meta({
      description: "Records already stored, identical: left alone (a re-import is a no-op).",
    }),
    errors: z.array(lineError).meta({ description: "Lines not imported (at most 1,000 listed; `failed` counts all)." }),
    failed: count,
    lines: count,
    truncated: z.boolean().meta({ description: "The stream had a header but no `end` line: it was cut short." }),
    stopped_at_line: z
      .number()
      .int()
      .min(1)
      .nullable()
      .meta({
        description: `The first line not read: one request takes at most ${MAX_IMPORT_RECORDS} records (post the rest from there); null when the body was read to its end.`,
      }),
    warnings: z.array(z.string()),
  })
  .meta({ id: "ImportResult" });

// ---------------------------------------------------------------------------------------------
// Lines → import items

/** A non-blank line of an import body, or one over the length cap. */
export type RawLine = { line: number; text: string } | { line: number; tooLong: number };

/**
 * An import body's lines as items: every line parsed and validated on its own (a bad one is an
 * `error` item naming the field; the rest go on). A header of another format or version is a 422:
 * nothing after it could be read right.
 */
export async function* importItems(
  lines: AsyncIterable<RawLine>,
  format: ImportFormat,
  now: number,
  namespace?: string,
): AsyncGenerator<ImportItem> {
  for await (const raw of lines) {
    const { line } = raw;
    if ("tooLong" in raw) {
      yield { line, kind: "error", error: `line is longer than ${raw.tooLong} bytes`, field: null };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw.text);
    } catch {
      yield { line, kind: "error", error: "not JSON (a truncated or malformed line)", field: null };
      continue;
    }
    if (format === "edgemem") yield await edgememItem(line, value);
    else for (const item of await foreignItems(line, value, format, now, namespace)) yield item;
  }
}

async function edgememItem(line: number, value: unknown): Promise<ImportItem> {
  const checked = validate(exportLine, value);
  if (!checked.ok) return { line, kind: "error", ...checked.error };
  const v = checked.value;
  switch (v.type) {
    case "header":
      if (v.format !== EXPORT_FORMAT || v.version !== EXPORT_VERSION) {
        const field = v.format !== EXPORT_FORMAT ? "format" : "version";
        throw AppError.validation([
          {
            field,
            message: `line ${line}: not ${EXPORT_FORMAT} version ${EXPORT_VERSION}; this server reads only that`,
          },
        ]);
      }
      return { line, kind: "header" };
    case "cursor":
      return { line, kind: "cursor" };
    case "end":
      return { line, kind: "end", counts: v.counts };
    default:
      return { line, kind: "record", record: v as ExportRecord };
  }
}

/** A mem0 memory: its export's fields (others, such as `score` or `owner`, are ignored). */
const mem0Memory = z.looseObject({
  id: z.string().nullish(),
  memory: z.string().trim().min(1, { message: "must not be empty" }).max(100_000),
  user_id: label.nullish(),
  agent_id: label.nullish(),
  run_id: label.nullish(),
  app_id: label.nullish(),
  metadata: jsonObject.nullish(),
  categories: stringList.nullish(),
  created_at: timestamp.nullish(),
  updated_at: timestamp.nullish(),
  hash: z.string().nullish(),
});

async function foreignItems(
  line: number,
  value: unknown,
  format: "mem0" | "ams",
  now: number,
  namespace?: string,
): Promise<ImportItem[]> {
  // A line may hold one memory, a list of them, or a wrapper object around the list.
  let list: unknown[] = [value];
  let path = (_i: number) => "";
  if (Array.isArray(value)) {
    list = value;
    path = (i) => `${i}.`;
  } else if (value && typeof value === "object") {
    for (const wrapper of ["results", "memories"]) {
      const inner = (value as Record<string, unknown>)[wrapper];
      if (Array.isArray(inner)) {
        list = inner;
        path = (i) => `${wrapper}.${i}.`;
        break;
      }
    }
  }
  const items: ImportItem[] = [];
  for (const [i, v] of list.entries()) {
    const at = path(i);
    const memory = format === "mem0" ? await fromMem0(v, namespace) : await fromAms(v, now, namespace);
    if ("error" in memory)
      items.push({
        line,
        kind: "error",
        error: memory.error,
        field: memory.field ? at + memory.field : at.slice(0, -1) || null,
      });
    else items.push({ line, kind: "foreign", memory });
  }
  return items;
}

async function fromMem0(
  value: unknown,
  namespace?: string,
): Promise<(NewMemory & { id: string }) | { error: string; field: string | null }> {
  const checked = validate(mem0Memory, value);
  if (!checked.ok) return checked.error;
  const m = checked.value;
  const id =
    validId(m.id) ??
    `mem0-${(await sha256Hex(JSON.stringify([m.id, m.user_id, m.agent_id, m.run_id, m.memory, m.created_at]))).slice(0, 40)}`;
  const metadata: Record<string, unknown> = { ...(m.metadata ?? {}) };
  if (m.app_id) metadata.mem0_app_id = m.app_id;
  if (m.hash) metadata.mem0_hash = m.hash;
  const out: NewMemory & { id: string } = {
    id,
    text: m.memory,
    namespace: namespace ?? null,
    user_id: m.user_id ?? null,
    agent_id: m.agent_id ?? null,
    session_id: m.run_id ?? null,
    metadata,
    memory_type: "semantic",
  };
  if (m.categories?.length) out.topics = m.categories;
  if (m.created_at != null) out.created_at = m.created_at;
  return out;
}

async function fromAms(
  value: unknown,
  now: number,
  namespace?: string,
): Promise<(NewMemory & { id: string }) | { error: string; field: string | null }> {
  const checked = validate(memoryRecordInput, value);
  if (!checked.ok) return checked.error;
  const m = toNewMemory(checked.value, now, namespace);
  const id =
    validId(m.id) ??
    `ams-${(await sha256Hex(JSON.stringify([m.namespace, m.user_id, m.session_id, m.text, m.created_at ?? null]))).slice(0, 40)}`;
  return { ...m, id };
}

/** An id that fits this server's id rules (1 to 64 bytes), or null. */
function validId(id: string | null | undefined): string | null {
  return id && byteLength(id) <= MAX_ID_BYTES ? id : null;
}

type Checked<T> = { ok: true; value: T } | { ok: false; error: { error: string; field: string | null } };

/** A value validated as `parse` does (422 rules), the first issue as a line's error. */
function validate<S extends z.ZodType>(schema: S, value: unknown): Checked<z.output<S>> {
  try {
    return { ok: true, value: parse(schema, value) };
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    const first = e.issues[0];
    return { ok: false, error: { error: first?.message ?? e.message, field: first?.field || null } };
  }
}
