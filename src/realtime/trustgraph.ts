import * as z from "zod";
import { READ_SCOPE, requireScope, verifyToken } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError, asAppError } from "../domain/errors.ts";
import {
  amsRecord,
  createMemoriesBody,
  scoredMemories,
  searchBody,
  toNewMemory,
  toSearchRequest,
} from "../wire/ams.ts";
import {
  citationOut,
  collectAnswer,
  factOut,
  graphQueryBody,
  ingestBody,
  ingestOptionsOf,
  ingestResponse,
  graphRequest,
  graphResponse,
  statsResponse,
  thinkBody,
  thinkRequest,
} from "../wire/knowledge.ts";
import { parse } from "../wire/parse.ts";
import {
  getSessionQuery,
  sessionPath,
  toSessionInput,
  workingMemoryBody,
  workingMemoryResponse,
} from "../wire/working-memory.ts";
import type { Principal } from "../domain/principal.ts";
import { requireWrite, type Dialect, type Frame, type Refusal, type Send } from "./dialect.ts";

/**
 * The TrustGraph dialect (`/api/v1/socket`, and `/api/socket` where TrustGraph's apps proxy it):
 * `{id, service, flow?, request}` → `{id, response, complete}`. Every request runs on its own (the
 * hub does not await one before reading the next), so answers come back in any order, matched by
 * `id`. Streaming services send several responses with the same id; the last has
 * `end-of-stream: true` and `complete: true`. `request` bodies are the REST bodies of the same
 * operations.
 *
 * Beyond the seed document, what TrustGraph's real clients read (trustgraph-ai/trustgraph-ts-client
 * `trustgraph-socket.ts`, trustgraph-ai/trustgraph `gateway/dispatch/mux.py` and `requestor.py`):
 * - errors inside `response` (older `@trustgraph/client` reads nothing else), see `trustgraphError`;
 * - `complete` on every frame, true on the last: the client's streams and the Python client end on it;
 * - agent chunks as the gateway's translator names them (`chunk_type`, `end_of_message`,
 *   `end_of_dialog`) and the whole `answer` on the final frame (the older agent format, which
 *   `flow(id).agent(question)` waits for);
 * - the `flow` service (`list-flows`, `get-flow`) and the Python client's `{type: "auth", token}`.
 */

const envelope = z.object({
  id: z.string().min(1).max(256),
  service: z.string().min(1).max(64),
  flow: z.string().max(256).optional(),
  // Required, as in TrustGraph's gateway: a frame without one is a malformed request, not an empty search.
  request: z.record(z.string(), z.unknown()),
});

/** The one flow edgemem has: every service answers on it, whatever `flow` a request names. */
const DEFAULT_FLOW = "default";

/**
 * A final error frame: the seed's top-level `error`, and the gateway's `response.error`, which is
 * all that older `@trustgraph/client` versions read (without it a failed call resolves `undefined`
 * or throws inside the client's parser and is re-sent after its timeout).
 */
export function trustgraphError(id: unknown, type: string, message: string): Frame {
  const error = { type, message };
  return { id, error, response: { error }, complete: true };
}

type Service = (
  req: Record<string, unknown>,
  app: AppDeps,
  p: Principal,
  stream: (chunk: Record<string, unknown>) => void,
) => Promise<unknown>;

const memoryOp = z.object({ operation: z.enum(["store", "get", "delete"]) });

/** edgemem's capabilities as TrustGraph services. */
const SERVICES: Record<string, Service> = {
  /** `{operation: "store", memories}` | `{operation: "get", id}` | `{operation: "delete", ids}`. */
  memory: async (req, app, p) => {
    const { operation } = parse(memoryOp, req);
    if (operation === "store") {
      requireWrite(app, p);
      const body = parse(createMemoriesBody, req);
      const res = await app.memories.create(
        p,
        body.memories.map((m) => toNewMemory(m, Date.now())),
        { dedup: body.deduplicate ?? undefined },
      );
      return { memories: res.memories.map(amsRecord), deduplicated: res.deduplicated };
    }
    if (operation === "get")
      return amsRecord(await app.memories.get(p, parse(z.object({ id: z.string().min(1) }), req).id));
    requireWrite(app, p);
    return {
      deleted: await app.memories.remove(
        p,
        parse(z.object({ ids: z.array(z.string().min(1)).min(1).max(1000) }), req).ids,
      ),
    };
  },
  /** The AMS search body. */
  search: async (req, app, p) => {
    const res = await app.search.search(p, toSearchRequest(parse(searchBody, req)));
    return scoredMemories(res);
  },
  /** `{question, limit?, streaming?}`: with streaming, answer chunks then the citations. */
  think: async (req, app, p, stream) => {
    const b = parse(thinkBody.extend({ streaming: z.boolean().default(false) }), req);
    const res = await app.think.think(p, thinkRequest(b));
    const { answer } = await collectAnswer(
      res.answer,
      b.streaming
        ? (t) => stream({ ...answerChunk(t), "end-of-stream": false, end_of_message: false, end_of_dialog: false })
        : undefined,
    );
    return {
      ...answerChunk(b.streaming ? "" : answer),
      answer,
      citations: res.citations.map(citationOut),
      facts: res.facts.map(factOut),
      end_of_message: true,
      end_of_dialog: true,
    };
  },
  ingest: async (req, app, p) => {
    requireWrite(app, p);
    const b = parse(ingestBody, req);
    return ingestResponse(await app.graph.ingest(p, b.messages, b, ingestOptionsOf(b)));
  },
  "graph-query": async (req, app, p) => {
    const b = parse(graphQueryBody, req);
    return graphResponse(await app.graph.query(p, graphRequest(b)));
  },
  /** `{operation: "get", session_id, ...}` | `{operation: "put", session_id, ...session}` | `{operation: "delete", session_id}`. */
  "working-memory": async (req, app, p) => {
    const { operation, session_id } = parse(
      z.object({ operation: z.enum(["get", "put", "delete"]) }).and(sessionPath),
      req,
    );
    if (operation === "get") {
      const q = parse(getSessionQuery, req);
      return workingMemoryResponse(await app.sessions.get(p, session_id, q, q));
    }
    requireWrite(app, p);
    if (operation === "delete") return { deleted: await app.sessions.remove(p, session_id, {}) };
    const body = parse(workingMemoryBody, { ...req, session_id: undefined });
    return workingMemoryResponse(await app.sessions.put(p, session_id, toSessionInput(body, {}), {}));
  },
  status: async (_req, app, p) => statsResponse(await app.stats.get(p)),
  /**
   * `{operation: "list-flows"}` → `{"flow-ids"}` (TrustGraph Workbench's first call);
   * `{operation: "get-flow", "flow-id"}` → `{flow}`, a JSON string as the gateway sends it (the client parses it).
   */
  flow: async (req) => {
    const { operation } = parse(z.object({ operation: z.enum(["list-flows", "get-flow"]) }), req);
    if (operation === "list-flows") return { "flow-ids": [DEFAULT_FLOW] };
    const id = parse(z.object({ "flow-id": z.string().min(1).max(256) }), req)["flow-id"];
    if (id !== DEFAULT_FLOW)
      throw new AppError(
        { code: "not_found", missing: "flow" },
        `no flow '${id}'; edgemem has one flow, '${DEFAULT_FLOW}'`,
      );
    return { flow: flowDefinition() };
  },
  /**
   * TrustGraph's configuration store, read-only: the seed's first example lists its flows with
   * `{operation: "list", type: "flow"}`. Answers as TrustGraph's config service does (`version`, then
   * `directory`, `values` or `config`); the one type edgemem has is `flow`, whose one key is the default flow.
   */
  config: async (req) => {
    const op = parse(configRequest, req);
    const store = configStore();
    const entries = (type: string) => [...(store.get(type) ?? new Map<string, string>())];
    switch (op.operation) {
      case "list":
        return { version: CONFIG_VERSION, directory: entries(op.type).map(([key]) => key) };
      case "getvalues":
        return {
          version: CONFIG_VERSION,
          values: entries(op.type).map(([key, value]) => ({ type: op.type, key, value })),
        };
      case "get":
        return {
          version: CONFIG_VERSION,
          values: op.keys.map(({ type, key }) => ({ type, key, value: store.get(type)?.get(key) ?? null })),
        };
      case "config":
        return {
          version: CONFIG_VERSION,
          config: Object.fromEntries([...store].map(([type, values]) => [type, Object.fromEntries(values)])),
        };
      case "put":
      case "delete":
        throw new AppError(
          "bad_request",
          `config is read-only here: edgemem has one flow, '${DEFAULT_FLOW}', and its settings are Worker variables`,
        );
    }
  },
};
SERVICES.agent = SERVICES.think!;

/** The default flow as TrustGraph stores a flow: a JSON string (the client parses it). */
function flowDefinition(): string {
  return JSON.stringify({
    "class-name": "edgemem",
    description: "edgemem: every service on one flow",
    services: Object.keys(SERVICES),
  });
}

/** The configuration `config` reads: type → key → value (TrustGraph's values are strings). */
function configStore(): Map<string, Map<string, string>> {
  return new Map([["flow", new Map([[DEFAULT_FLOW, flowDefinition()]])]]);
}

/** The store never changes, so neither does its version. */
const CONFIG_VERSION = 1;

const configType = z.string().min(1).max(256);
const configRequest = z.discriminatedUnion("operation", [
  z.object({ operation: z.literal("list"), type: configType }),
  z.object({ operation: z.literal("getvalues"), type: configType }),
  z.object({
    operation: z.literal("get"),
    keys: z
      .array(z.object({ type: configType, key: z.string().min(1).max(256) }))
      .min(1)
      .max(100),
  }),
  z.object({ operation: z.literal("config") }),
  z.object({ operation: z.enum(["put", "delete"]) }),
]);

/** An answer chunk under both names: the seed's `chunk-type` and the gateway translator's `chunk_type`. */
function answerChunk(content: string) {
  return { "chunk-type": "answer", chunk_type: "answer", content };
}

const authFrame = z.object({
  type: z.literal("auth"),
  token: z.string().max(16_384).optional(),
  id: z.unknown().optional(),
});

function isAuthFrame(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) && (raw as { type?: unknown }).type === "auth";
}

/** A TrustGraph frame: in-band auth, a request for a service, or neither. */
type TrustgraphFrame =
  | { kind: "auth"; id: { id?: string }; token: string | null }
  | { kind: "invalid-auth"; message: string }
  | { kind: "request"; id: string; service: string; request: Record<string, unknown>; run: Service }
  | { kind: "unknown-service"; id: string; service: string }
  | { kind: "invalid"; id: unknown; message: string };

const REFUSALS = {
  rate_limited: "rate-limit-exceeded",
  too_large: "message-too-large",
  binary: "invalid-message",
  not_json: "invalid-message",
} as const satisfies Record<Refusal, string>;

function parseFrame(raw: unknown): TrustgraphFrame {
  if (isAuthFrame(raw)) {
    const f = authFrame.safeParse(raw);
    if (!f.success)
      return { kind: "invalid-auth", message: `${f.error.issues[0]!.path.join(".")}: ${f.error.issues[0]!.message}` };
    return { kind: "auth", id: typeof f.data.id === "string" ? { id: f.data.id } : {}, token: f.data.token || null };
  }
  const env = envelope.safeParse(raw);
  if (!env.success) {
    const id = typeof raw === "object" && raw !== null && "id" in raw ? (raw as { id: unknown }).id : null;
    const issue = env.error.issues[0]!;
    return { kind: "invalid", id, message: `${issue.path.join(".") || "message"}: ${issue.message}` };
  }
  const { id, service, request } = env.data;
  // Own keys only: `constructor` or `toString` are not services.
  const run = Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
  return run ? { kind: "request", id, service, request, run } : { kind: "unknown-service", id, service };
}

/** The TrustGraph dialect: requests run side by side, answered by id; no push events. */
export const trustgraph: Dialect = {
  name: "trustgraph",
  // Each request runs on its own, so a slow one never delays the next (answers are matched by id).
  runs: "detached",

  async receive(raw, { app, principal, send }) {
    const f = parseFrame(raw);
    switch (f.kind) {
      case "auth":
        return authenticate(f, app, principal, send);
      case "invalid-auth":
        return send({ type: "auth-failed", error: f.message });
      case "invalid":
        return send(trustgraphError(f.id, "invalid-request", f.message));
      case "unknown-service":
        return send(
          trustgraphError(
            f.id,
            "unknown-service",
            `unknown service '${f.service}'; available: ${Object.keys(SERVICES).join(", ")}`,
          ),
        );
      case "request":
        return request(f, app, principal, send);
    }
  },

  refuse: (refusal, message, id) => trustgraphError(id ?? null, REFUSALS[refusal], message),
};

/**
 * TrustGraph's in-band auth (`{type: "auth", token}`, gateway `mux.py`): the token is verified as
 * at the upgrade and must name the socket's tenant, which was fixed when the socket opened and
 * never changes; the socket keeps the principal it opened with. `auth-ok` or `auth-failed`, as the gateway answers.
 */
async function authenticate(
  f: Extract<TrustgraphFrame, { kind: "auth" }>,
  app: AppDeps,
  p: Principal,
  send: Send,
): Promise<void> {
  const failed = (message: string) => send({ type: "auth-failed", ...f.id, error: message });
  try {
    const q = await verifyToken(f.token, app.config);
    requireScope(q, READ_SCOPE);
    if (q.tenant !== p.tenant) return failed("token is for another tenant; a socket's tenant is fixed when it opens");
  } catch (e) {
    // Nobody awaits this (the hub runs each frame on its own): every failure must become a frame.
    if (!(e instanceof AppError))
      app.log.error("trustgraph auth failed", { error: e instanceof Error ? e.message : String(e) });
    return failed(e instanceof AppError ? e.message : "internal error");
  }
  send({ type: "auth-ok", ...f.id, workspace: p.tenant });
}

/** Runs a request on its service: streamed chunks, then the final response (or an error). */
async function request(
  { id, service, request, run }: Extract<TrustgraphFrame, { kind: "request" }>,
  app: AppDeps,
  p: Principal,
  send: Send,
): Promise<void> {
  try {
    let streamed = false;
    const result = await run(request, app, p, (chunk) => {
      streamed = true;
      send({ id, response: chunk, complete: false });
    });
    send({
      id,
      response:
        streamed || service === "think" || service === "agent"
          ? { ...(result as object), "end-of-stream": true }
          : result,
      complete: true,
    });
  } catch (e) {
    const err = asAppError(e);
    if (!err)
      app.log.error("trustgraph request failed", { service, error: e instanceof Error ? e.message : String(e) });
    // TrustGraph names errors by REST's codes (the seed defines none of its own).
    send(trustgraphError(id, err?.code ?? "internal-error", err?.message ?? "internal error"));
  }
}
