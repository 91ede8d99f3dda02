import { READ_SCOPE, requireScope, verifyToken } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import { errorResponse } from "../wire/http.ts";
import type { Frame } from "./dialect.ts";
import { ENDPOINTS } from "./dialects.ts";
import { PRINCIPAL_HEADER } from "./tenant-hub.ts";

/**
 * The token of a WebSocket upgrade, in REST's order with the subprotocol between headers and
 * query: `Authorization: Bearer` (or `X-API-Key`), then `Sec-WebSocket-Protocol` (`bearer, <jwt>`
 * or the bare JWT, which browsers can set), then `?token=`. A present `Authorization` header is
 * the token source even when it is not a bearer token (a 401, as on REST). Returns the
 * subprotocol to echo, when the client offered some.
 */
function socketToken(req: Request, url: URL): { token: string | null; protocol: string | null } {
  const offered = (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const protocol = offered[0] ?? null;
  const auth = req.headers.get("authorization");
  if (auth) return { token: /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1]?.trim() ?? null, protocol };
  const apiKey = req.headers.get("x-api-key");
  if (apiKey) return { token: apiKey, protocol };
  const afterBearer = offered.findIndex((p) => p.toLowerCase() === "bearer");
  const fromProtocol =
    afterBearer >= 0 ? offered[afterBearer + 1] : offered.find((p) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(p));
  return { token: fromProtocol ?? url.searchParams.get("token"), protocol };
}

/**
 * Authenticates a WebSocket upgrade in the Worker and hands the socket to the tenant's hub with
 * the verified principal. A bad token is a 401 before any upgrade — except for browsers (an
 * `Origin` header, or `?auth_errors=frame`), which cannot read a failed upgrade: they get the
 * socket, one UNAUTHORIZED error frame, and a close (1008).
 */
export async function upgrade(req: Request, env: Env, app: AppDeps): Promise<Response> {
  const url = new URL(req.url);
  try {
    const endpoint = ENDPOINTS.get(url.pathname);
    if (!endpoint)
      throw new AppError({ code: "not_found", missing: "route" }, `no WebSocket endpoint at ${url.pathname}`);
    const { token, protocol } = socketToken(req, url);
    let principal;
    try {
      principal = await verifyToken(token, app.config);
      requireScope(principal, READ_SCOPE);
    } catch (e) {
      const asFrame =
        url.searchParams.get("auth_errors") === "frame" ||
        (req.headers.has("origin") && url.searchParams.get("auth_errors") !== "status");
      if (asFrame && e instanceof AppError) return refuseWithFrame(endpoint.unauthorized(e.message), protocol);
      throw e;
    }
    // The canonical path: a hub of another version (mid-deploy) knows it.
    const forward = new URL(`https://hub${endpoint.path}`);
    const since = url.searchParams.get("since");
    if (since !== null) forward.searchParams.set("since", since);
    if (protocol) forward.searchParams.set("protocol", protocol);
    const headers = new Headers({ upgrade: "websocket", [PRINCIPAL_HEADER]: JSON.stringify(principal) });
    return await env.TENANT_HUB.getByName(principal.tenant).fetch(new Request(forward, { headers }));
  } catch (e) {
    return errorResponse(e, app.log);
  }
}

/** Accepts the socket only to send the frame that says why it is refused, then closes it (1008). */
function refuseWithFrame(frame: Frame, protocol: string | null): Response {
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
  server.accept();
  server.send(JSON.stringify(frame));
  server.close(1008, "unauthorized");
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: protocol ? { "sec-websocket-protocol": protocol } : {},
  });
}
