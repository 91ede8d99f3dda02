import { createMcpHandler, McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import * as z from "zod";
import { READ_SCOPE, requireScope, tokenOf, verifyToken, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError, asAppError } from "../domain/errors.ts";
import { tagFilterSchema } from "../domain/filters.ts";
import {
  amsRecord,
  amsSearchResult,
  checkBatch,
  createMemoriesBody,
  forgetBody,
  label,
  memoryId,
  invalidateBody,
  patchMemoryBody,
  searchBody,
  toNewMemory,
  toPatch,
  toSearchRequest,
} from "../wire/ams.ts";
import {
  feedbackBody,
  feedbackResponse,
  graphQueryBody,
  ingestBody,
  ingestOptionsOf,
  ingestResponse,
  graphRequest,
  graphResponse,
  ratingOf,
  thinkBody,
  thinkRequest,
  thinkResponse,
} from "../wire/knowledge.ts";
import { errorResponse, readBody } from "../wire/http.ts";
import { rejectUnpairedSurrogates } from "../wire/parse.ts";
import { promptResponse, toSessionInput, workingMemoryBody, workingMemoryResponse } from "../wire/working-memory.ts";
import { errorMessage } from "../log.ts";
import type { Principal } from "../domain/principal.ts";
import { VERSION } from "../version.ts";

/**
 * MCP over streamable HTTP at `/mcp`: the Agent Memory Server's tool names and arguments, plus
 * edgemem's own (think, ingest, feedback, query_knowledge_graph, forget). Every tool runs through
 * the same services and wire schemas as REST, so writes emit the same push events. Authenticated
 * by the same bearer JWT as REST; the tenant comes from the token. Loaded only for `/mcp`.
 */
export async function serveMcp(req: Request, app: AppDeps): Promise<Response> {
  try {
    const principal = await verifyToken(tokenOf(req, new URL(req.url)), app.config);
    requireScope(principal, READ_SCOPE);
    // The SDK reads a body whole: cap it first, as REST does.
    if (req.body) {
      const body = await readBody(req, app.config.MAX_BODY_BYTES);
      rejectUnpairedSurrogates(parseJsonOrNull(body));
      req = new Request(req, { body });
    }
    return await createMcpHandler(() => buildServer(app, principal), {
      onerror: (e) => app.log.warn("mcp request rejected", { error: errorMessage(e) }),
    }).fetch(req);
  } catch (e) {
    return errorResponse(e, app.log);
  }
}

/** A body's JSON, or null when it is not JSON (the SDK answers that itself). */
function parseJsonOrNull(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
}

/** A tool's result: the JSON as text (every host shows it) and as structured content. */
function result(body: unknown): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(body) }],
    structuredContent: body as Record<string, unknown>,
  };
}

/** A failure the model can read and act on; the request itself succeeds (MCP tool-error convention). */
function toolError(e: unknown, app: AppDeps): CallToolResult {
  const err = asAppError(e);
  if (!err) app.log.error("mcp tool failed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  const issues = err?.issues.length
    ? ` (${err.issues.map((i) => `${i.field || "arguments"}: ${i.message}`).join("; ")})`
    : "";
  // MCP names errors by REST's codes; hosts show the text to the model.
  const text = `${err?.code ?? "internal_error"}: ${err?.message ?? "internal error"}${issues}`;
  return { isError: true, content: [{ type: "text", text }] };
}

const ISO_DATES =
  'Date filters take ISO 8601 strings or Unix seconds with gt, gte, lt, lte, eq, ne or between ([from, to]), e.g. {"gte": "2025-01-01T00:00:00Z"}.';
const FILTERS =
  "Tag filters (session_id, namespace, topics, entities, user_id, memory_type, agent_id) take {eq}, {ne}, {any: [...]} or {all: [...]}.";

/** AMS's flat `memory_prompt` arguments: the search filters plus the session and model. */
const promptArgs = searchBody.omit({ text: true }).extend({
  query: z.string().trim().min(1, { message: "must not be empty" }).max(100_000),
  /** AMS sends a tag filter ({eq}); a plain id is accepted too. */
  session_id: z.union([label, tagFilterSchema]).nullish(),
  model_name: z.string().min(1).max(200).nullish(),
  context_window_max: z.number().int().min(1).max(100_000_000).nullish(),
  include_long_term_search: z.boolean().default(true),
  optimize_query: z.boolean().nullish(),
});

/** The single value of an `{eq}` (or plain string) session or namespace argument. */
function single(v: string | { eq?: string | null } | null | undefined): string | undefined {
  if (typeof v === "string") return v;
  return v?.eq ?? undefined;
}

function buildServer(app: AppDeps, principal: Principal): McpServer {
  const server = new McpServer(
    { name: "edgemem", version: VERSION },
    {
      instructions:
        "edgemem is long-term memory for agents. Check memory (search_long_term_memory or memory_prompt) before answering questions about the user's preferences, history or earlier decisions; store durable facts with create_long_term_memories; use think to answer a question from memory with citations.",
    },
  );
  /** Registers a tool that needs `scope`; errors become tool errors, never protocol failures. */
  const tool = <S extends z.ZodObject>(
    name: string,
    scope: typeof READ_SCOPE | typeof WRITE_SCOPE,
    description: string,
    inputSchema: S,
    run: (args: z.output<S>) => Promise<unknown>,
  ) =>
    server.registerTool(
      name,
      { description, inputSchema, annotations: { readOnlyHint: scope === READ_SCOPE } },
      // The SDK validates the arguments against inputSchema before this runs.
      (async (args: z.output<S>) => {
        try {
          requireScope(principal, scope);
          // A write tool reads what it writes over on the primary; a read takes the nearest replica.
          if (scope === WRITE_SCOPE) app.databases.usePrimary();
          return result(await run(args));
        } catch (e) {
          return toolError(e, app);
        }
      }) as never,
    );

  tool(
    "get_current_datetime",
    READ_SCOPE,
    "The current date and time in UTC. Call it whenever the user gives a relative time (today, yesterday, last week) so memories carry concrete dates (set event_date on episodic memories).",
    z.object({}),
    async () => {
      const now = new Date();
      return { iso_utc: now.toISOString().replace(/\.\d{3}Z$/, "Z"), unix_ts: Math.floor(now.getTime() / 1000) };
    },
  );

  tool(
    "create_long_term_memories",
    WRITE_SCOPE,
    [
      "Store memories that should outlive this conversation. Resolve pronouns, relative dates and vague references first: write 'User prefers Python', not 'He prefers it'.",
      "memory_type: 'semantic' for timeless facts and preferences, 'episodic' for events (set event_date), or edgemem's fact, decision, preference, todo, ...",
      "Only pass session_id when you know the exact current session id. An identical memory is not stored twice (deduplicate: false stores it anyway); a near-duplicate updates the existing one.",
    ].join(" "),
    createMemoriesBody,
    async (b) => {
      checkBatch(b.memories, app.config.MAX_BATCH);
      const now = Date.now();
      const res = await app.memories.create(
        principal,
        b.memories.map((m) => toNewMemory(m, now)),
        { dedup: b.deduplicate ?? undefined },
      );
      return {
        status: "ok",
        memory_ids: res.memories.map((m) => m.id),
        deduplicated: res.deduplicated,
        ...(res.warnings.length ? { warnings: res.warnings } : {}),
      };
    },
  );

  tool(
    "search_long_term_memory",
    READ_SCOPE,
    [
      "Search long-term memory: semantic, keyword or hybrid (default) retrieval, ranked with a recency boost.",
      "text '' (or omitted) with filters lists matching memories, e.g. everything about a user: {text: '', user_id: {eq: 'u1'}, limit: 50}.",
      FILTERS,
      ISO_DATES,
      "Every option of the REST search is accepted: limit, offset, search_mode, hybrid_alpha, distance_threshold, recency_* weights and half-lives, explain.",
    ].join(" "),
    searchBody.extend({ optimize_query: z.boolean().nullish() }),
    async (b) => amsSearchResult(await app.search.search(principal, toSearchRequest(b))),
  );

  tool(
    "memory_prompt",
    READ_SCOPE,
    [
      "Hydrate a user query with memory: returns chat messages ready for an LLM (a system message with the session summary and relevant long-term memories, the session's recent messages, then the query) within the model's token budget.",
      "Give session_id ({eq: id} or the id) to include a working-memory session; include_long_term_search: false for session only.",
      FILTERS,
      ISO_DATES,
    ].join(" "),
    promptArgs,
    async (b) => {
      const sessionId = single(b.session_id);
      if (!sessionId && !b.include_long_term_search) {
        throw new AppError("validation_error", "give session_id or include_long_term_search: true", [
          { field: "session_id", message: "required when include_long_term_search is false" },
        ]);
      }
      const { query, model_name, context_window_max, include_long_term_search, optimize_query: _, ...search } = b;
      const res = await app.sessions.prompt(principal, {
        query,
        session: sessionId
          ? {
              session_id: sessionId,
              namespace: single(b.namespace),
              user_id: single(b.user_id),
              model_name: model_name ?? undefined,
              context_window_max: context_window_max ?? undefined,
            }
          : null,
        // The long-term search is not scoped to the session (AMS keeps the two apart too).
        longTermSearch: include_long_term_search ? toSearchRequest({ ...search, session_id: null, text: query }) : null,
      });
      return promptResponse(res);
    },
  );

  tool(
    "set_working_memory",
    WRITE_SCOPE,
    [
      "Replace a session's working memory (like PUT /v1/working-memory/{session_id}): messages, structured memories, context summary and arbitrary JSON data.",
      "Memories placed here are promoted to long-term memory in the background. When messages exceed the model's context window, older ones are summarized into context.",
      "ttl_seconds makes the session expire.",
    ].join(" "),
    workingMemoryBody.extend({
      session_id: label,
      model_name: z.string().min(1).max(200).nullish(),
      context_window_max: z.number().int().min(1).max(100_000_000).nullish(),
    }),
    async (b) => {
      const model = { model_name: b.model_name ?? undefined, context_window_max: b.context_window_max ?? undefined };
      return workingMemoryResponse(await app.sessions.put(principal, b.session_id, toSessionInput(b, {}), model));
    },
  );

  tool(
    "get_working_memory",
    READ_SCOPE,
    "A session's working memory (like GET /v1/working-memory/{session_id}): messages, context, structured memories, data. A session that does not exist comes back empty. recent_messages_limit keeps only the newest messages.",
    z.object({
      session_id: label,
      user_id: label.nullish(),
      namespace: label.nullish(),
      recent_messages_limit: z.number().int().min(1).max(5000).nullish(),
      model_name: z.string().min(1).max(200).nullish(),
      context_window_max: z.number().int().min(1).max(100_000_000).nullish(),
    }),
    async (b) => {
      const sel = {
        namespace: b.namespace ?? undefined,
        user_id: b.user_id ?? undefined,
        recent_messages_limit: b.recent_messages_limit ?? undefined,
      };
      const view = await app.sessions.getIfExists(principal, b.session_id, sel, {
        model_name: b.model_name ?? undefined,
        context_window_max: b.context_window_max ?? undefined,
      });
      if (view) return workingMemoryResponse(view);
      return {
        session_id: b.session_id,
        namespace: b.namespace ?? null,
        user_id: b.user_id ?? null,
        messages: [],
        memories: [],
        context: null,
        data: null,
      };
    },
  );

  tool(
    "get_long_term_memory",
    READ_SCOPE,
    "One long-term memory by its id.",
    z.object({ memory_id: memoryId }),
    async (b) => amsRecord(await app.memories.get(principal, b.memory_id)),
  );

  tool(
    "edit_long_term_memory",
    WRITE_SCOPE,
    "Change fields of a long-term memory; fields not given stay as they are. Use it when the user corrects or updates something remembered. event_date takes ISO 8601 (call get_current_datetime for relative dates).",
    patchMemoryBody.extend({ memory_id: memoryId }),
    async ({ memory_id, ...patch }) =>
      amsRecord((await app.memories.update(principal, memory_id, toPatch(patch, Date.now()))).memory),
  );

  tool(
    "invalidate_long_term_memory",
    WRITE_SCOPE,
    "Mark a memory as no longer true (it stays in history): use it when the user says something stopped being the case and you are not storing what replaced it (storing a contradicting fact closes the old one by itself). at: when it stopped (ISO 8601; default now).",
    invalidateBody.extend({ memory_id: memoryId }),
    async (b) => amsRecord(await app.memories.invalidate(principal, b.memory_id, b.reason, b.at ?? undefined)),
  );

  tool(
    "delete_long_term_memories",
    WRITE_SCOPE,
    "Delete long-term memories by id. This cannot be undone (the audit history keeps a record).",
    z.object({ memory_ids: z.array(memoryId).min(1).max(1000) }),
    async (b) => ({ status: "ok", deleted_ids: await app.memories.remove(principal, b.memory_ids) }),
  );

  tool(
    "think",
    READ_SCOPE,
    "Answer a question from memory: retrieves the relevant memories and knowledge-graph facts and answers with citations (memory ids). Prefer it to search when you need an answer rather than records.",
    thinkBody.omit({ stream: true }),
    async (b) => thinkResponse(await app.think.think(principal, thinkRequest(b))),
  );

  tool(
    "ingest",
    WRITE_SCOPE,
    "Extract and store what is worth remembering from chat messages ({role, content}): typed memories (fact, decision, preference, todo, ...), entities, relations and topics. Near-duplicates of known memories are merged, not repeated. trace: true also lists every candidate and what became of it (kept, dropped and why, merged into which memory); dry_run: true decides all of it and writes nothing.",
    ingestBody,
    async (b) => ingestResponse(await app.graph.ingest(principal, b.messages, b, ingestOptionsOf(b))),
  );

  tool(
    "feedback",
    WRITE_SCOPE,
    "Rate a memory after using it: positive raises its confidence and priority, negative lowers them; a memory that keeps getting negative feedback is deleted. rating: positive|negative (or helpful: true|false).",
    feedbackBody,
    async (b) => feedbackResponse(await app.feedback.feedback(principal, b.memory_id, ratingOf(b), b.comment ?? null)),
  );

  tool(
    "query_knowledge_graph",
    READ_SCOPE,
    "Look up entities (people, tools, products, places) by name or alias in the knowledge graph: their relations, neighbours up to 2 hops, and the memories that mention them. include_history adds relations that newer facts superseded.",
    graphQueryBody,
    async (b) => graphResponse(await app.graph.query(principal, graphRequest(b))),
  );

  tool(
    "forget",
    WRITE_SCOPE,
    [
      "Apply a forgetting policy to long-term memory: delete memories older than policy.max_age_days, inactive for policy.max_inactive_days, or beyond a budget (keeping the most valuable).",
      "Pinned memories and pinned_ids are kept. dry_run defaults to true: it reports what would go; pass dry_run: false to delete.",
    ].join(" "),
    forgetBody,
    async (b) =>
      app.memories.forget(principal, {
        policy: b.policy,
        namespace: b.namespace,
        user_id: b.user_id,
        session_id: b.session_id,
        limit: b.limit ?? 1000,
        dry_run: b.dry_run ?? true,
        pinned_ids: b.pinned_ids ?? [],
      }),
  );

  return server;
}
