import { AppError } from "../domain/errors.ts";
import { historyOut, historyQuery } from "../wire/ams.ts";
import { cursorOrOffset, nextCursor } from "../wire/paging.ts";
import { HISTORY_DESCRIPTION, idPath, memoryHistory } from "./ams-routes.ts";
import {
  createCrudBody,
  crudFilter,
  crudListOut,
  crudRecord,
  crudRecordOut,
  listCrudQuery,
  NEXT_CURSOR_HEADER,
  searchCrudBody,
  toCrudPatch,
  toKeyedMemory,
  updateCrudBody,
} from "../wire/crud.ts";
import type * as z from "zod";
import { route, type AppRouter } from "./handler.ts";
import { json } from "./respond.ts";

/** The memory CRUD API (`/api/memories`): the same memories, keyed by (agent_id, scope, key). */
export function crudRoutes(r: AppRouter): void {
  const tag = "Memories (CRUD)";

  route(
    r,
    {
      method: "post",
      path: "/api/memories",
      operationId: "upsertMemory",
      tag,
      summary: "Create or replace a memory by key",
      // The API answers 201 for create-or-upsert alike, as its document shows.
      description:
        "Keyed by (agent_id, scope, key): a second write with the same key replaces the value. Answers 201 either way.",
      auth: "write",
      body: createCrudBody,
      status: 201,
      response: crudRecordOut,
    },
    async (c, { body }) => crudRecord((await c.app.memories.upsertByKey(c.principal, toKeyedMemory(body))).memory),
  );

  route(
    r,
    {
      method: "get",
      path: "/api/memories",
      operationId: "listMemories",
      tag,
      summary: "List memories",
      description: `Newest first. The answer is the array the API's document shows; when more memories follow, the \`${NEXT_CURSOR_HEADER}\` header holds the \`cursor\` of the next page.`,
      auth: "read",
      query: listCrudQuery,
      response: crudListOut,
      headers: {
        [NEXT_CURSOR_HEADER]: "The `cursor` of the next page; absent on the last page.",
      },
    },
    async (c, { query }) => {
      cursorOrOffset(query.cursor, query.offset);
      const { memories, next } = await c.app.memories.list(c.principal, {
        filter: crudFilter(query),
        limit: query.limit,
        ...(query.cursor ? { after: query.cursor } : { offset: query.offset }),
      });
      const body: z.input<typeof crudListOut> = memories.map(crudRecord);
      const cursor = nextCursor("memories", next);
      return json(body, 200, cursor ? { [NEXT_CURSOR_HEADER]: cursor } : {});
    },
  );

  route(
    r,
    {
      method: "post",
      path: "/api/memories/search",
      operationId: "searchMemories",
      tag,
      summary: "Find memories containing a text",
      auth: "read",
      body: searchCrudBody,
      response: crudListOut,
    },
    async (c, { body }) => {
      const { memories } = await c.app.memories.list(c.principal, {
        filter: crudFilter(body),
        contains: body.query,
        order: "updated_desc",
        limit: body.limit,
      });
      return memories.map(crudRecord);
    },
  );

  route(
    r,
    {
      method: "get",
      path: "/api/memories/:id",
      operationId: "getMemory",
      tag,
      summary: "Get a memory",
      auth: "read",
      params: idPath,
      response: crudRecordOut,
    },
    async (c, { params }) => crudRecord(await c.app.memories.get(c.principal, params.id)),
  );

  route(
    r,
    {
      method: "get",
      path: "/api/memories/:id/history",
      operationId: "getMemoryHistory",
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
      method: "put",
      path: "/api/memories/:id",
      operationId: "updateMemory",
      tag,
      summary: "Update a memory",
      description: "Only the fields given change.",
      auth: "write",
      params: idPath,
      body: updateCrudBody,
      response: crudRecordOut,
    },
    async (c, { params, body }) =>
      crudRecord((await c.app.memories.update(c.principal, params.id, toCrudPatch(body))).memory),
  );

  route(
    r,
    {
      method: "delete",
      path: "/api/memories/:id",
      operationId: "deleteMemory",
      tag,
      summary: "Delete a memory",
      auth: "write",
      params: idPath,
      status: 204,
      response: null,
    },
    async (c, { params }) => {
      const removed = await c.app.memories.remove(c.principal, [params.id]);
      if (!removed.length) throw AppError.notFound(`memory ${params.id}`, "memory");
      return new Response(null, { status: 204 });
    },
  );
}
