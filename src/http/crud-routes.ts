import { AppError } from "../domain/errors.ts";
import { memoryHistory } from "./ams-routes.ts";
import {
  createCrudBody,
  crudFilter,
  crudRecord,
  listCrudQuery,
  searchCrudBody,
  toCrudPatch,
  toKeyedMemory,
  updateCrudBody,
} from "./crud-schemas.ts";
import { json, parse, queryObject, readJson } from "./respond.ts";
import { read, write, type AppRouter } from "./handler.ts";

/** The memory CRUD API (`/api/memories`): the same memories, keyed by (agent_id, scope, key). */
export function crudRoutes(r: AppRouter): void {
  r.post(
    "/api/memories",
    write(async (c) => {
      const b = await readJson(c.req, createCrudBody, c.app.config.MAX_BODY_BYTES);
      const { memory } = await c.app.service.upsertByKey(c.principal, toKeyedMemory(b));
      // The API answers 201 for create-or-upsert alike, as its document shows.
      return json(crudRecord(memory), 201);
    }),
  );

  r.get(
    "/api/memories",
    read(async (c) => {
      const q = parse(listCrudQuery, queryObject(c.url));
      const filter = crudFilter(q);
      const { memories } = await c.app.service.list(c.principal, { filter, limit: q.limit, offset: q.offset });
      return json(memories.map(crudRecord));
    }),
  );

  r.post(
    "/api/memories/search",
    read(async (c) => {
      const b = await readJson(c.req, searchCrudBody, c.app.config.MAX_BODY_BYTES);
      const { memories } = await c.app.service.list(c.principal, {
        filter: crudFilter(b),
        contains: b.query,
        order: "updated_desc",
        limit: b.limit,
      });
      return json(memories.map(crudRecord));
    }),
  );

  r.get(
    "/api/memories/:id",
    read(async (c, { id }) => json(crudRecord(await c.app.service.get(c.principal, id!)))),
  );

  r.get("/api/memories/:id/history", memoryHistory);

  r.put(
    "/api/memories/:id",
    write(async (c, { id }) => {
      const b = await readJson(c.req, updateCrudBody, c.app.config.MAX_BODY_BYTES);
      const { memory } = await c.app.service.update(c.principal, id!, toCrudPatch(b));
      return json(crudRecord(memory));
    }),
  );

  r.delete(
    "/api/memories/:id",
    write(async (c, { id }) => {
      const removed = await c.app.service.remove(c.principal, [id!]);
      if (!removed.length) throw AppError.notFound(`memory ${id}`);
      return new Response(null, { status: 204 });
    }),
  );
}
