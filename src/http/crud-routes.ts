import { AppError } from "../domain/errors.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { MemoryPatch } from "../domain/memory.ts";
import { memoryHistory } from "./ams-routes.ts";
import { createCrudBody, crudRecord, listCrudQuery, searchCrudBody, updateCrudBody } from "./crud-schemas.ts";
import { json, parse, queryObject, readJson } from "./respond.ts";
import { read, write, type AppRouter } from "./handler.ts";

/** The memory CRUD API (`/api/memories`): the same memories, keyed by (agent_id, scope, key). */
export function crudRoutes(r: AppRouter): void {
  r.post(
    "/api/memories",
    write(async (c) => {
      const b = await readJson(c.req, createCrudBody, c.app.config.MAX_BODY_BYTES);
      const { memory } = await c.app.service.upsertByKey(c.principal, {
        key: b.key,
        scope: b.scope ?? (b.agent_id ? "agent" : "global"),
        text: b.value,
        agent_id: b.agent_id ?? null,
        session_id: b.session_id ?? null,
        metadata: b.metadata ?? {},
        expires_at: b.ttl ?? null,
        ...(b.memory_type ? { memory_type: b.memory_type } : {}),
      });
      // The API answers 201 for create-or-upsert alike, as its document shows.
      return json(crudRecord(memory), 201);
    }),
  );

  r.get(
    "/api/memories",
    read(async (c) => {
      const q = parse(listCrudQuery, queryObject(c.url));
      const filter: MemoryFilter = {};
      if (q.agent_id) filter.agent_id = { eq: q.agent_id };
      if (q.scope) filter.scope = { eq: q.scope };
      if (q.tags?.length) filter.tags = { any: q.tags };
      const { memories } = await c.app.service.list(c.principal, { filter, limit: q.limit, offset: q.offset });
      return json(memories.map(crudRecord));
    }),
  );

  r.post(
    "/api/memories/search",
    read(async (c) => {
      const b = await readJson(c.req, searchCrudBody, c.app.config.MAX_BODY_BYTES);
      const filter: MemoryFilter = {};
      if (b.agent_id) filter.agent_id = { eq: b.agent_id };
      if (b.scope) filter.scope = { eq: b.scope };
      const { memories } = await c.app.service.list(c.principal, {
        filter,
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
      const patch: MemoryPatch = {};
      if (b.value !== undefined) patch.text = b.value;
      if (b.key !== undefined) patch.key = b.key;
      if (b.scope !== undefined) patch.scope = b.scope;
      if (b.agent_id !== undefined) patch.agent_id = b.agent_id;
      if (b.metadata !== undefined) patch.metadata = b.metadata ?? {};
      if (b.ttl !== undefined) patch.expires_at = b.ttl;
      if (b.memory_type !== undefined) patch.memory_type = b.memory_type;
      const { memory } = await c.app.service.update(c.principal, id!, patch);
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
