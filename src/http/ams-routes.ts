import * as z from "zod";
import {
  ackOut,
  amsRecord,
  amsSearchResult,
  checkBatch,
  createMemoriesBody,
  createMemoriesOut,
  deleteQuery,
  forgetBody,
  forgetOut,
  forgetQuery,
  healthOut,
  historyEntry,
  historyOut,
  historyQuery,
  invalidateBody,
  memoryId,
  memoryRecordOut,
  namespaceQuery,
  patchMemoryBody,
  searchBody,
  searchResultOut,
  toNewMemory,
  toPatch,
  toSearchRequest,
} from "../wire/ams.ts";
import { nextCursor } from "../wire/paging.ts";
import { route, type AppRouter, type OperationHandler } from "./handler.ts";

const OK = { status: "ok" } as const;
export const idPath = z.object({ id: memoryId });

/** A memory's audit trail, a page at a time; served under both APIs. */
export const memoryHistory: OperationHandler<typeof idPath, typeof historyQuery, undefined, typeof historyOut> = async (
  c,
  { params, query },
) => {
  const page = await c.app.memories.history(c.principal, params.id, {
    limit: query.limit,
    order: query.order,
    ...(query.cursor ? { after: query.cursor } : {}),
  });
  return {
    memory_id: params.id,
    history: page.entries.map(historyEntry),
    next_cursor: nextCursor("history", page.next),
  };
};

/** What both history routes say of themselves. */
export const HISTORY_DESCRIPTION =
  "Every create, update and delete of the memory, with the record before and after: a page at a time (100 entries unless `limit` says otherwise), in the order written or newest first; `next_cursor` leads to the next page.";

/** The Agent Memory Server long-term memory API (`/v1/...`). */
export function amsRoutes(r: AppRouter): void {
  const tag = "Long-term memory (AMS)";

  route(
    r,
    {
      method: "get",
      path: "/v1/health",
      operationId: "health",
      tag,
      summary: "Health check",
      auth: "open",
      response: healthOut,
    },
    async () => ({ now: Date.now() / 1000 }),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/long-term-memory/",
      operationId: "createLongTermMemories",
      tag,
      summary: "Create long-term memories",
      description:
        "Stores the memories (topics and entities are filled in when absent). An identical memory is not stored twice and a near-duplicate updates the existing one, unless `deduplicate: false`.",
      auth: "write",
      query: namespaceQuery,
      body: createMemoriesBody,
      response: createMemoriesOut,
    },
    async (c, { query, body }) => {
      checkBatch(body.memories, c.app.config.MAX_BATCH);
      const now = Date.now();
      const res = await c.app.memories.create(
        c.principal,
        body.memories.map((m) => toNewMemory(m, now, query.namespace)),
        { dedup: body.deduplicate ?? undefined },
      );
      return {
        ...OK,
        ...(res.deduplicated.length ? { deduplicated: res.deduplicated } : {}),
        ...(res.warnings.length ? { warnings: res.warnings } : {}),
      };
    },
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/long-term-memory/search",
      operationId: "searchLongTermMemory",
      tag,
      summary: "Search long-term memory",
      description:
        "Hybrid (default), semantic or keyword search with filters and a recency boost. An empty `text` lists the memories matching the filters.",
      auth: "read",
      body: searchBody,
      response: searchResultOut,
    },
    async (c, { body }) => amsSearchResult(await c.app.search.search(c.principal, toSearchRequest(body))),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/long-term-memory/forget",
      operationId: "forgetLongTermMemories",
      tag,
      summary: "Apply a forgetting policy",
      description:
        "Deletes memories by age, inactivity or budget; pinned memories are kept. `dry_run` (default true) only reports. Body fields win over query parameters.",
      auth: "write",
      query: forgetQuery,
      body: forgetBody,
      bodyOptional: true,
      response: forgetOut,
    },
    async (c, { query: q, body }) =>
      c.app.memories.forget(c.principal, {
        policy: body.policy,
        namespace: body.namespace ?? q.namespace,
        user_id: body.user_id ?? q.user_id,
        session_id: body.session_id ?? q.session_id,
        limit: body.limit ?? q.limit ?? 1000,
        dry_run: body.dry_run ?? q.dry_run ?? true,
        pinned_ids: body.pinned_ids ?? [],
      }),
  );

  route(
    r,
    {
      method: "get",
      path: "/v1/long-term-memory/:id",
      operationId: "getLongTermMemory",
      tag,
      summary: "Get a long-term memory",
      auth: "read",
      params: idPath,
      query: namespaceQuery,
      response: memoryRecordOut,
    },
    async (c, { params, query }) => amsRecord(await c.app.memories.get(c.principal, params.id, query.namespace)),
  );

  route(
    r,
    {
      method: "get",
      path: "/v1/long-term-memory/:id/history",
      operationId: "getLongTermMemoryHistory",
      tag,
      summary: "A memory's audit history",
      description: HISTORY_DESCRIPTION,
      auth: "read",
      params: idPath,
      query: historyQuery,
      response: historyOut,
    },
    memoryHistory,
  );

  route(
    r,
    {
      method: "patch",
      path: "/v1/long-term-memory/:id",
      operationId: "editLongTermMemory",
      tag,
      summary: "Edit a long-term memory",
      description: "Fields not given stay as they are; null clears a nullable field.",
      auth: "write",
      params: idPath,
      body: patchMemoryBody,
      response: memoryRecordOut,
    },
    async (c, { params, body }) =>
      amsRecord((await c.app.memories.update(c.principal, params.id, toPatch(body, Date.now()))).memory),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/long-term-memory/:id/invalidate",
      operationId: "invalidateLongTermMemory",
      tag,
      summary: "Close a memory: it stopped being true",
      description:
        "edgemem (docs/temporal.md): sets `valid_to` (`at`, default now) and `invalid_reason`. The memory stays, with its history: reads skip it unless `as_of` a time it held or `include_superseded`. Invalidating a closed memory changes nothing; PATCH `valid_to: null` reopens it.",
      auth: "write",
      params: idPath,
      body: invalidateBody,
      response: memoryRecordOut,
    },
    async (c, { params, body }) =>
      amsRecord(await c.app.memories.invalidate(c.principal, params.id, body.reason, body.at ?? undefined)),
  );

  route(
    r,
    {
      method: "delete",
      path: "/v1/long-term-memory/",
      operationId: "deleteLongTermMemories",
      tag,
      summary: "Delete long-term memories",
      description: "`memory_ids` repeated in the query. Ids that do not exist are ignored.",
      auth: "write",
      query: deleteQuery,
      response: ackOut,
    },
    async (c, { query }) => {
      await c.app.memories.remove(c.principal, query.memory_ids);
      return OK;
    },
  );
}
