import * as z from "zod";
import { requireScope, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import { amsRecord, createMemoriesBody, searchBody, toNewMemory, toSearchRequest } from "../http/ams-schemas.ts";
import { citationOut, factOut, graphQueryBody, graphResponse, ingestBody, ingestResponse, statsResponse, thinkBody } from "../http/knowledge-schemas.ts";
import { parse } from "../http/respond.ts";
import { getSessionQuery, sessionPath, toSessionInput, workingMemoryBody, workingMemoryResponse } from "../http/working-memory-schemas.ts";
import type { Principal } from "../service/memory-service.ts";

/**
 * The TrustGraph dialect (`/api/v1/socket`): `{id, service, flow?, request}` → `{id, response}`
 * or `{id, error: {type, message}}`. Every request runs on its own (the hub does not await one
 * before reading the next), so answers come back in any order, matched by `id`. Streaming
 * services send several responses with the same id; the last has `end-of-stream: true`.
 * `request` bodies are the REST bodies of the same operations.
 */

const envelope = z.object({
  id: z.string().min(1).max(256),
  service: z.string().min(1).max(64),
  flow: z.string().max(256).optional(),
  // Required, as in TrustGraph's gateway: a frame without one is a malformed request, not an empty search.
  request: z.record(z.string(), z.unknown()),
});

export type Send = (frame: Record<string, unknown>) => void;

type Service = (req: Record<string, unknown>, app: AppDeps, p: Principal, stream: (chunk: Record<string, unknown>) => void) => Promise<unknown>;

const memoryOp = z.object({ operation: z.enum(["store", "get", "delete"]) });

/** edgemem's capabilities as TrustGraph services. */
export const SERVICES: Record<string, Service> = {
  /** `{operation: "store", memories}` | `{operation: "get", id}` | `{operation: "delete", ids}`. */
  memory: async (req, app, p) => {
    const { operation } = parse(memoryOp, req);
    if (operation === "store") {
      requireScope(p, WRITE_SCOPE);
      const body = parse(createMemoriesBody, req);
      const res = await app.service.create(p, body.memories.map((m) => toNewMemory(m, Date.now())), { dedup: body.deduplicate ?? undefined });
      return { memories: res.memories.map(amsRecord), deduplicated: res.deduplicated };
    }
    if (operation === "get") return amsRecord(await app.service.get(p, parse(z.object({ id: z.string().min(1) }), req).id));
    requireScope(p, WRITE_SCOPE);
    return { deleted: await app.service.remove(p, parse(z.object({ ids: z.array(z.string().min(1)).min(1).max(1000) }), req).ids) };
  },
  /** The AMS search body. */
  search: async (req, app, p) => {
    const res = await app.service.search(p, toSearchRequest(parse(searchBody, req)));
    return { memories: res.hits.map((h) => ({ ...amsRecord(h.memory), score: h.score })), total: res.total };
  },
  /** `{question, limit?, streaming?}`: with streaming, answer chunks then the citations. */
  think: async (req, app, p, stream) => {
    const b = parse(thinkBody.extend({ streaming: z.boolean().default(false) }), req);
    const filter = b.namespace ? { namespace: { eq: b.namespace } } : {};
    const res = await app.knowledge.think(p, { question: b.question, limit: b.limit, filter });
    let answer = "";
    for await (const t of res.answer) {
      answer += t;
      if (b.streaming) stream({ "chunk-type": "answer", content: t, "end-of-stream": false });
    }
    return { "chunk-type": "answer", content: b.streaming ? "" : answer, citations: res.citations.map(citationOut), facts: res.facts.map(factOut) };
  },
  ingest: async (req, app, p) => {
    requireScope(p, WRITE_SCOPE);
    const b = parse(ingestBody, req);
    return ingestResponse(await app.knowledge.ingest(p, b.messages, b));
  },
  "graph-query": async (req, app, p) => {
    const b = parse(graphQueryBody, req);
    return graphResponse(await app.knowledge.query(p, { query: b.query, hops: b.hops, history: b.include_history, limit: b.limit }));
  },
  /** `{operation: "get", session_id, ...}` | `{operation: "put", session_id, ...session}` | `{operation: "delete", session_id}`. */
  "working-memory": async (req, app, p) => {
    const { operation, session_id } = parse(z.object({ operation: z.enum(["get", "put", "delete"]) }).and(sessionPath), req);
    if (operation === "get") {
      const q = parse(getSessionQuery, req);
      return workingMemoryResponse(await app.sessions.get(p, session_id, q, q));
    }
    requireScope(p, WRITE_SCOPE);
    if (operation === "delete") return { deleted: await app.sessions.remove(p, session_id, {}) };
    const body = parse(workingMemoryBody, { ...req, session_id: undefined });
    return workingMemoryResponse(await app.sessions.put(p, session_id, toSessionInput(body, {}), {}));
  },
  status: async (_req, app, p) => statsResponse(await app.knowledge.stats(p)),
};
SERVICES.agent = SERVICES.think!;

/** Runs one TrustGraph request; its response(s) or error go through `send`. */
export async function handleTrustgraph(raw: unknown, app: AppDeps, p: Principal, send: Send): Promise<void> {
  const env = envelope.safeParse(raw);
  if (!env.success) {
    const id = typeof raw === "object" && raw !== null && "id" in raw ? (raw as { id: unknown }).id : null;
    const issue = env.error.issues[0]!;
    send({ id, error: { type: "invalid-request", message: `${issue.path.join(".") || "message"}: ${issue.message}` } });
    return;
  }
  const { id, service, request } = env.data;
  try {
    const run = SERVICES[service];
    if (!run) throw new AppError("not_found", `unknown service '${service}'; available: ${Object.keys(SERVICES).join(", ")}`);
    let streamed = false;
    const result = await run(request, app, p, (chunk) => {
      streamed = true;
      send({ id, response: chunk });
    });
    send({ id, response: streamed || service === "think" || service === "agent" ? { ...(result as object), "end-of-stream": true } : result });
  } catch (e) {
    const err = e instanceof AppError ? e : null;
    if (!err) app.log.error("trustgraph request failed", { service, error: e instanceof Error ? e.message : String(e) });
    send({ id, error: { type: err ? (err.code === "not_found" && /service/.test(err.message) ? "unknown-service" : err.code) : "internal-error", message: err?.message ?? "internal error" } });
  }
}
