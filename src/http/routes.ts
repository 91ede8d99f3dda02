import { Router, type IRequest } from "itty-router";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import { amsRoutes } from "./ams-routes.ts";
import { crudRoutes } from "./crud-routes.ts";
import { knowledgeRoutes } from "./knowledge-routes.ts";
import { workingMemoryRoutes } from "./working-memory-routes.ts";
import type { AppRouter, RequestContext } from "./handler.ts";
import { errorResponse } from "./respond.ts";

const router: AppRouter = Router<IRequest, [RequestContext]>();
amsRoutes(router);
workingMemoryRoutes(router);
knowledgeRoutes(router);
crudRoutes(router);

/** Routes a REST request; every error becomes a JSON error response. */
export async function handleHttp(req: Request, app: AppDeps): Promise<Response> {
  const url = new URL(req.url);
  try {
    const res = (await router.fetch(req, { req, url, app })) as Response | undefined;
    if (!res) throw new AppError("not_found", `no route for ${req.method} ${url.pathname}`);
    return res;
  } catch (e) {
    return errorResponse(e, app.log);
  }
}
