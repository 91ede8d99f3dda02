import * as z from "zod";
import { MESSAGE_ROLES } from "../domain/session.ts";
import type { Entity } from "../store/graph-repo.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { GraphFact, GraphResult, IngestResult, Stats, ThinkResult } from "../service/knowledge.ts";
import type { SearchHit } from "../service/memory-service.ts";
import { amsRecord, label, memoryId } from "./ams-schemas.ts";

/** Wire schemas of edgemem's cognitive routes (ingest, graph query, think, feedback, status). */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const owner = {
  namespace: label.nullish(),
  user_id: label.nullish(),
  session_id: label.nullish(),
};

export const ingestBody = z.object({
  messages: z
    .array(
      z.object({
        role: z.enum(MESSAGE_ROLES),
        content: z
          .string()
          .max(100_000)
          .refine((s) => s.trim().length > 0, { message: "must not be empty" }),
      }),
    )
    .min(1, { message: "at least one message is required" })
    .max(1000),
  ...owner,
});

export const graphQueryBody = z.object({
  query: z.string().trim().min(1, { message: "must not be empty" }).max(1000),
  hops: z.number().int().min(1).max(2).default(2),
  include_history: z.boolean().default(false),
  limit: z.number().int().min(1).max(100).default(20),
});

export const thinkBody = z.object({
  question: z.string().trim().min(1, { message: "must not be empty" }).max(10_000),
  limit: z.number().int().min(1).max(50).default(8),
  namespace: label.nullish(),
  user_id: label.nullish(),
  stream: z.boolean().default(false),
});

export const feedbackBody = z
  .object({
    memory_id: memoryId,
    rating: z.enum(["positive", "negative"]).optional(),
    /** engram-style alternative to `rating`. */
    helpful: z.boolean().optional(),
    comment: z.string().max(2000).nullish(),
  })
  .refine((b) => b.rating !== undefined || b.helpful !== undefined, { message: "give rating (positive|negative) or helpful (boolean)", path: ["rating"] });

/** A think body as the service's question: namespace and user_id narrow the memories consulted. */
export function thinkRequest(b: z.output<typeof thinkBody> | Omit<z.output<typeof thinkBody>, "stream">): { question: string; limit: number; filter: MemoryFilter } {
  const filter: MemoryFilter = {};
  if (b.namespace) filter.namespace = { eq: b.namespace };
  if (b.user_id) filter.user_id = { eq: b.user_id };
  return { question: b.question, limit: b.limit, filter };
}

/** What accompanies a think answer: the memories and graph facts it rests on. */
export function thinkSources(r: ThinkResult): { citations: Record<string, unknown>[]; facts: Record<string, unknown>[]; provider: string } {
  return { citations: r.citations.map(citationOut), facts: r.facts.map(factOut), provider: r.provider };
}

/** A whole (not streamed) think reply: the answer collected, then its sources. */
export async function thinkResponse(r: ThinkResult): Promise<Record<string, unknown>> {
  let answer = "";
  for await (const chunk of r.answer) answer += chunk;
  return { answer, ...thinkSources(r) };
}

export function entityOut(e: Entity): Record<string, unknown> {
  return { id: e.id, name: e.name, type: e.type, aliases: e.aliases };
}

export function factOut(f: GraphFact): Record<string, unknown> {
  return {
    id: f.id,
    subject: entityOut(f.subject),
    predicate: f.predicate,
    object: entityOut(f.object),
    source_memory_id: f.source_memory_id,
    valid_from: iso(f.valid_from),
    valid_to: iso(f.valid_to),
    current: f.valid_to === null,
  };
}

export function ingestResponse(r: IngestResult): Record<string, unknown> {
  const body: Record<string, unknown> = {
    memories: r.memories.map(amsRecord),
    deduplicated: r.deduplicated,
    entities: r.entities,
    relations: r.relations,
    topics: r.topics,
  };
  if (r.warnings.length) body.warnings = r.warnings;
  return body;
}

export function graphResponse(r: GraphResult): Record<string, unknown> {
  return {
    entities: r.entities.map(entityOut),
    relations: r.relations.map(factOut),
    neighbours: r.neighbours.map((n) => ({ ...entityOut(n.entity), hops: n.hops })),
    memories: r.memories.map(amsRecord),
  };
}

export function citationOut(h: SearchHit): Record<string, unknown> {
  return { memory_id: h.memory.id, text: h.memory.text, memory_type: h.memory.memory_type, score: Math.round(h.score * 1e6) / 1e6 };
}

export function statsResponse(s: Stats): Record<string, unknown> {
  return { ...s, last_consolidation: iso(s.last_consolidation) };
}

