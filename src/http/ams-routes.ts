import {
  amsRecord,
  amsSearchResult,
  createMemoriesBody,
  deleteQuery,
  forgetBody,
  forgetQuery,
  historyEntry,
  namespaceQuery,
  patchMemoryBody,
  searchBody,
  toNewMemory,
  toPatch,
  toSearchRequest,
} from "./ams-schemas.ts";
import { json, parse, queryObject, readJson } from "./respond.ts";
import { open, read, write, type AppRouter } from "./handler.ts";
import { AppError } from "../domain/errors.ts";

const OK = { status: "ok" };

/** A memory's audit trail; served under both APIs. */
export const memoryHistory = read(async (c, { id }) => {
  const entries = await c.app.service.history(c.principal, id!);
  return json({ memory_id: id, history: entries.map(historyEntry) });
});

/** The Agent Memory Server long-term memory API (`/v1/...`). */
export function amsRoutes(r: AppRouter): void {
  r.get(
    "/v1/health",
    open(async () => json({ now: Date.now() / 1000 })),
  );

  const create = write(async (c) => {
    const body = await readJson(c.req, createMemoriesBody, c.app.config.MAX_BODY_BYTES);
    if (body.memories.length > c.app.config.MAX_BATCH) {
      throw new AppError("validation_error", `at most ${c.app.config.MAX_BATCH} memories per request`, [
        { field: "memories", message: `at most ${c.app.config.MAX_BATCH} items` },
      ]);
    }
    const { namespace } = parse(namespaceQuery, queryObject(c.url));
    const now = Date.now();
    const res = await c.app.service.create(
      c.principal,
      body.memories.map((m) => toNewMemory(m, now, namespace)),
      { dedup: body.deduplicate ?? undefined },
    );
    const out: Record<string, unknown> = { ...OK };
    if (res.deduplicated.length) out.deduplicated = res.deduplicated;
    if (res.warnings.length) out.warnings = res.warnings;
    return json(out);
  });
  r.post("/v1/long-term-memory", create);
  r.post("/v1/long-term-memory/", create);

  r.post(
    "/v1/long-term-memory/search",
    read(async (c) => {
      const body = await readJson(c.req, searchBody, c.app.config.MAX_BODY_BYTES);
      return json(amsSearchResult(await c.app.service.search(c.principal, toSearchRequest(body))));
    }),
  );

  r.post(
    "/v1/long-term-memory/forget",
    write(async (c) => {
      const q = parse(forgetQuery, queryObject(c.url));
      const hasBody = c.req.headers.get("content-length") !== "0" && c.req.body !== null;
      const body = hasBody ? await readJson(c.req, forgetBody, c.app.config.MAX_BODY_BYTES) : parse(forgetBody, {});
      const res = await c.app.service.forget(c.principal, {
        policy: body.policy,
        namespace: body.namespace ?? q.namespace,
        user_id: body.user_id ?? q.user_id,
        session_id: body.session_id ?? q.session_id,
        limit: body.limit ?? q.limit ?? 1000,
        dry_run: body.dry_run ?? q.dry_run ?? true,
        pinned_ids: body.pinned_ids ?? [],
      });
      return json(res);
    }),
  );

  r.get(
    "/v1/long-term-memory/:id",
    read(async (c, { id }) => {
      const { namespace } = parse(namespaceQuery, queryObject(c.url));
      return json(amsRecord(await c.app.service.get(c.principal, id!, namespace)));
    }),
  );

  r.get("/v1/long-term-memory/:id/history", memoryHistory);

  r.patch(
    "/v1/long-term-memory/:id",
    write(async (c, { id }) => {
      const body = await readJson(c.req, patchMemoryBody, c.app.config.MAX_BODY_BYTES);
      const res = await c.app.service.update(c.principal, id!, toPatch(body, Date.now()));
      return json(amsRecord(res.memory));
    }),
  );

  const remove = write(async (c) => {
    const { memory_ids } = parse(deleteQuery, queryObject(c.url));
    await c.app.service.remove(c.principal, memory_ids);
    return json(OK);
  });
  r.delete("/v1/long-term-memory", remove);
  r.delete("/v1/long-term-memory/", remove);
}
