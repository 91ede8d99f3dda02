import { READ_SCOPE, requireScope, verifyToken } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import { errorResponse } from "../wire/http.ts";
import { PRINCIPAL_HEADER } from "./tenant-hub.ts";
import { trustgraphError } from "./trustgraph.ts";

/** TrustGraph's gateway path, which the hub knows the dialect by. */
const TRUSTGRAPH_PATH = "/api/v1/socket";
/**
 * WebSocket endpoints: engram and SYMindX on `/ws`, TrustGraph on `/api/v1/socket` and on
 * `/api/socket`, the relative path `@trustgraph/client` opens (TrustGraph's apps proxy it to the gateway).
 */
const TRUSTGRAPH_PATHS = new Set([TRUSTGRAPH_PATH, "/api/socket"]);
const SOCKET_PATHS = new Set(["/ws", ...TRUSTGRAPH_PATHS]);
const isTrustgraph = (path: string) => TRUSTGRAPH_PATHS.has(path);

/**
 * The token of a WebSocket upgrade, in REST's order with the subprotocol between headers and
 * query: `Authorization: Bearer` (or `X-API-Key`), then `Sec-WebSocket-Protocol` (`bearer, <jwt>`
 * or the bare JWT, which browsers can set), then `?token=`. A present `Authorization` header is
 * the token source even when it is not a bearer token (a 401, as on REST). Returns the
 * subprotocol to echo, when the client offered some.
 */
export function socketToken(req: Request, url: URL): { token: string | null; protocol: string | null } {
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
    if (!SOCKET_PATHS.has(url.pathname))
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
      if (asFrame && e instanceof AppError) return refuseWithFrame(url.pathname, e.message, protocol);
      throw e;
    }
    const forward = new URL(`https://hub${isTrustgraph(url.pathname) ? TRUSTGRAPH_PATH : url.pathname}`);
    const since = url.searchParams.get("since");
    if (since !== null) forward.searchParams.set("since", since);
    if (protocol) forward.searchParams.set("protocol", protocol);
    const headers = new Headers({ upgrade: "websocket", [PRINCIPAL_HEADER]: JSON.stringify(principal) });
    return await env.TENANT_HUB.getByName(principal.tenant).fetch(new Request(forward, { headers }));
  } catch (e) {
    return errorResponse(e, app.log);
  }
}

/** Accepts the socket only to say why it is refused, in a frame every dialect on the path can read. */
function refuseWithFrame(path: string, message: string, protocol: string | null): Response {
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
  server.accept();
  const error = { code: "UNAUTHORIZED", message };
  server.send(
    JSON.stringify(
      isTrustgraph(path)
        ? trustgraphError(null, "unauthorized", message)
        : // engram reads status/error, SYMindX type/data: one frame for both.
          {
            type: "error",
            status: "error",
            data: { ...error, details: null },
            error,
            timestamp: new Date().toISOString(),
          },
    ),
  );
  server.close(1008, "unauthorized");
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: protocol ? { "sec-websocket-protocol": protocol } : {},
  });
}
