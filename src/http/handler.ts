import type { IRequest, Router } from "itty-router";
import { READ_SCOPE, requireScope, tokenOf, verifyToken, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import type { Principal } from "../service/memory-service.ts";

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
