import { AppError } from "../domain/errors.ts";
import { ackOut } from "../wire/ams.ts";
import { cursorOrOffset } from "../wire/paging.ts";
import { route, type AppRouter } from "./handler.ts";
import {
  deleteSessionQuery,
  getSessionQuery,
  listSessionsQuery,
  promptBody,
  promptOut,
  promptResponse,
  putSessionQuery,
  sessionList,
  sessionListOut,
  sessionPath,
  toPromptRequest,
  toSessionInput,
  workingMemoryBody,
  workingMemoryOut,
  workingMemoryResponse,
} from "../wire/working-memory.ts";

/** AMS working memory (`/v1/working-memory/...`) and prompt hydration (`/v1/memory/prompt`). */
export function workingMemoryRoutes(r: AppRouter): void {
  const tag = "Working memory (AMS)";

  route(
    r,
    {
      method: "get",
      path: "/v1/working-memory/",
      operationId: "listSessions",
      tag,
      summary: "List session ids",
      auth: "read",
      query: listSessionsQuery,
      response: sessionListOut,
    },
    async (c, { query }) => {
      cursorOrOffset(query.cursor, query.offset);
      const { cursor, ...rest } = query;
      return sessionList(await c.app.sessions.list(c.principal, { ...rest, ...(cursor ? { after: cursor } : {}) }));
    },
  );

  route(
    r,
    {
      method: "get",
      path: "/v1/working-memory/:session_id",
      operationId: "getWorkingMemory",
      tag,
      summary: "Get a session's working memory",
      description:
        "With model_name or context_window_max, the oldest messages beyond the window are left out and the usage percentages filled in.",
      auth: "read",
      params: sessionPath,
      query: getSessionQuery,
      response: workingMemoryOut,
    },
    async (c, { params, query }) =>
      workingMemoryResponse(await c.app.sessions.get(c.principal, params.session_id, query, query)),
  );

  route(
    r,
    {
      method: "put",
      path: "/v1/working-memory/:session_id",
      operationId: "putWorkingMemory",
      tag,
      summary: "Replace a session's working memory",
      description:
        "Messages beyond the token budget of model_name/context_window_max are summarized into `context`; structured memories are promoted to long-term memory after the response.",
      auth: "write",
      params: sessionPath,
      query: putSessionQuery,
      body: workingMemoryBody,
      response: workingMemoryOut,
    },
    async (c, { params, query, body }) => {
      if (body.session_id && body.session_id !== params.session_id) {
        throw new AppError(
          "validation_error",
          `session_id in the body (${body.session_id}) differs from the path (${params.session_id})`,
          [{ field: "session_id", message: "must match the session id in the path" }],
        );
      }
      return workingMemoryResponse(
        await c.app.sessions.put(c.principal, params.session_id, toSessionInput(body, query), query),
      );
    },
  );

  route(
    r,
    {
      method: "delete",
      path: "/v1/working-memory/:session_id",
      operationId: "deleteWorkingMemory",
      tag,
      summary: "Delete a session's working memory",
      auth: "write",
      params: sessionPath,
      query: deleteSessionQuery,
      response: ackOut,
    },
    async (c, { params, query }) => {
      await c.app.sessions.remove(c.principal, params.session_id, query);
      return { status: "ok" } as const;
    },
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/memory/prompt",
      operationId: "memoryPrompt",
      tag,
      summary: "Hydrate a query with memory",
      description:
        "Chat messages ready for an LLM: a system message with the session summary and relevant long-term memories, the session's recent messages, then the query, within the token budget.",
      auth: "read",
      body: promptBody,
      response: promptOut,
    },
    async (c, { body }) => promptResponse(await c.app.sessions.prompt(c.principal, toPromptRequest(body))),
  );
}
