import { Router, type IRequest } from "itty-router";
import { READ_SCOPE, requireScope, tokenOf, verifyToken, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import type { Principal } from "../service/memory-service.ts";
import { amsRoutes } from "./ams-routes.ts";
import { crudRoutes } from "./crud-routes.ts";
import { errorResponse } from "./respond.ts";

/** What every handler gets: the original request (itty hands routes a proxy), its URL, the app. */
export interface RequestContext {
  req: Request;
  url: URL;
  app: AppDeps;
}

export type Handler = (c: RequestContext, params: Record<string, string>) => Promise<Response>;
export type AuthedHandler = (c: RequestContext & { principal: Principal }, params: Record<string, string>) => Promise<Response>;
export type AppRouter = ReturnType<typeof Router<IRequest, [RequestContext]>>;

async function authenticate(c: RequestContext, scope: typeof READ_SCOPE | typeof WRITE_SCOPE): Promise<Principal> {
  const principal = await verifyToken(tokenOf(c.req, c.url), c.app.config);
  requireScope(principal, scope);
  return principal;
}

const wrap =
  (scope: typeof READ_SCOPE | typeof WRITE_SCOPE | null, h: AuthedHandler | Handler) =>
  async (r: IRequest, c: RequestContext): Promise<Response> => {
    const params = Object.fromEntries(Object.entries(r.params ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
    if (scope === null) return (h as Handler)(c, params);
    return (h as AuthedHandler)({ ...c, principal: await authenticate(c, scope) }, params);
  };

/** A route anyone may call. */
export const open = (h: Handler) => wrap(null, h);
/** A route needing a valid token (when auth is on) with read access. */
export const read = (h: AuthedHandler) => wrap(READ_SCOPE, h);
/** A route needing a valid token (when auth is on) with write access. */
export const write = (h: AuthedHandler) => wrap(WRITE_SCOPE, h);

const router: AppRouter = Router<IRequest, [RequestContext]>();
amsRoutes(router);
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
