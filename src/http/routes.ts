import { Router, type IRequest } from "itty-router";
import * as z from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import { adminRoutes } from "./admin-routes.ts";
import { amsRoutes } from "./ams-routes.ts";
import { crudRoutes } from "./crud-routes.ts";
import { exportRoutes } from "./export-routes.ts";
import { knowledgeRoutes } from "./knowledge-routes.ts";
import { profileRoutes } from "./profile-routes.ts";
import { workingMemoryRoutes } from "./working-memory-routes.ts";
import { operations, route, type AppRouter, type RequestContext } from "./handler.ts";
import { openApiDocument } from "./openapi.ts";
import { VERSION } from "../version.ts";
import { errorResponse } from "../wire/http.ts";

export const router: AppRouter = Router<IRequest, [RequestContext]>();
amsRoutes(router);
workingMemoryRoutes(router);
knowledgeRoutes(router);
profileRoutes(router);
crudRoutes(router);
exportRoutes(router);
adminRoutes(router);

route(
  router,
  {
    method: "get",
    path: "/",
    operationId: "explorer",
    tag: "Meta",
    summary: "The explorer",
    description: "Redirects to `/explorer/`, the browser view of the tenant's memory (static assets).",
    auth: "open",
    status: 302,
    response: null,
  },
  async (c) => Response.redirect(new URL("/explorer/", c.url).href, 302),
);

let document: Record<string, unknown> | undefined;
route(
  router,
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    tag: "Meta",
    summary: "This OpenAPI 3.1 document",
    auth: "open",
    response: z.record(z.string(), z.unknown()).meta({ id: "OpenApiDocument" }),
  },
  // Built once per isolate (it is the same for every request), after every route is registered.
  async () => (document ??= openApiDocument(operations, { version: VERSION })),
);

/**
 * Routes a REST request; every error becomes a JSON error response. HEAD is answered as GET
 * would be, without the body (RFC 9110 §9.3.2): monitors probe `/v1/health` that way.
 */
export async function handleHttp(req: Request, app: AppDeps): Promise<Response> {
  const head = req.method === "HEAD";
  if (head) req = new Request(req, { method: "GET" });
  const url = new URL(req.url);
  let res: Response;
  try {
    const routed = (await router.fetch(req, { req, url, app })) as Response | undefined;
    if (!routed)
      throw new AppError({ code: "not_found", missing: "route" }, `no route for ${req.method} ${url.pathname}`);
    res = routed;
  } catch (e) {
    res = errorResponse(e, app.log);
  }
  if (!head) return res;
  await res.body?.cancel();
  return new Response(null, { status: res.status, headers: res.headers });
}
