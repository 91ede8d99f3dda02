import { AppError } from "../domain/errors.ts";
import { historyOut } from "../wire/ams.ts";
import { idPath, memoryHistory } from "./ams-routes.ts";
import {
  createCrudBody,
  crudFilter,
  crudListOut,
  crudRecord,
  crudRecordOut,
  listCrudQuery,
  searchCrudBody,
  toCrudPatch,
  toKeyedMemory,
  updateCrudBody,
} from "../wire/crud.ts";
import { route, type AppRouter } from "./handler.ts";

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
      auth: "read",
      query: listCrudQuery,
      response: crudListOut,
    },
    async (c, { query }) => {
      const { memories } = await c.app.memories.list(c.principal, {
        filter: crudFilter(query),
        limit: query.limit,
        offset: query.offset,
      });
      return memories.map(crudRecord);
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
      auth: "read",
      params: idPath,
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
