import { AppError } from "../domain/errors.ts";
import { read, write, type AppRouter } from "./handler.ts";
import { json, parse, queryObject, readJson } from "./respond.ts";
import {
  deleteSessionQuery,
  getSessionQuery,
  listSessionsQuery,
  promptBody,
  promptResponse,
  putSessionQuery,
  sessionPath,
  toPromptSearch,
  toSessionInput,
  workingMemoryBody,
  workingMemoryResponse,
} from "./working-memory-schemas.ts";

/** AMS working memory (`/v1/working-memory/...`) and prompt hydration (`/v1/memory/prompt`). */
export function workingMemoryRoutes(r: AppRouter): void {
  const list = read(async (c) => {
    const q = parse(listSessionsQuery, queryObject(c.url));
    return json(await c.app.sessions.list(c.principal, q));
  });
  r.get("/v1/working-memory", list);
  r.get("/v1/working-memory/", list);

  r.get(
    "/v1/working-memory/:session_id",
    read(async (c, params) => {
      const { session_id } = parse(sessionPath, params);
      const q = parse(getSessionQuery, queryObject(c.url));
      return json(workingMemoryResponse(await c.app.sessions.get(c.principal, session_id, q, q)));
    }),
  );

  r.put(
    "/v1/working-memory/:session_id",
    write(async (c, params) => {
      const { session_id } = parse(sessionPath, params);
      const q = parse(putSessionQuery, queryObject(c.url));
      const body = await readJson(c.req, workingMemoryBody, c.app.config.MAX_BODY_BYTES);
      if (body.session_id && body.session_id !== session_id) {
        throw new AppError("validation_error", `session_id in the body (${body.session_id}) differs from the path (${session_id})`, [
          { field: "session_id", message: "must match the session id in the path" },
        ]);
      }
      const view = await c.app.sessions.put(c.principal, session_id, toSessionInput(body, q), q);
      return json(workingMemoryResponse(view));
    }),
  );

  r.delete(
    "/v1/working-memory/:session_id",
    write(async (c, params) => {
      const { session_id } = parse(sessionPath, params);
      await c.app.sessions.remove(c.principal, session_id, parse(deleteSessionQuery, queryObject(c.url)));
      return json({ status: "ok" });
    }),
  );

  r.post(
    "/v1/memory/prompt",
    read(async (c) => {
      const body = await readJson(c.req, promptBody, c.app.config.MAX_BODY_BYTES);
      const result = await c.app.sessions.prompt(c.principal, {
        query: body.query,
        session: body.session
          ? {
              session_id: body.session.session_id,
              namespace: body.session.namespace ?? undefined,
              user_id: body.session.user_id ?? undefined,
              model_name: body.session.model_name,
              context_window_max: body.session.context_window_max,
            }
          : null,
        longTermSearch: toPromptSearch(body.long_term_search),
      });
      return json(promptResponse(result));
    }),
  );
}
