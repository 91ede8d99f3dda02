// CORS for pages on other origins (CORS_ORIGINS): preflights are answered here, and every answer
// to an allowed origin says so. Tokens travel in the Authorization or X-API-Key header, never in
// cookies, so credentials mode is not needed.

const ALLOW_HEADERS =
  "authorization, content-type, accept, x-api-key, x-edgemem-bookmark, mcp-session-id, mcp-protocol-version, last-event-id";
const ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
const EXPOSE_HEADERS = "retry-after, x-edgemem-bookmark, x-edgemem-next-cursor, mcp-session-id";

function allowedOrigin(req: Request, allowed: readonly string[]): string | null {
  const origin = req.headers.get("origin");
  if (!origin || !allowed.length) return null;
  return allowed.includes("*") || allowed.includes(origin) ? origin : null;
}

/** The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method), or null for any other request. */
export function preflight(req: Request, allowed: readonly string[]): Response | null {
  if (req.method !== "OPTIONS" || !req.headers.has("access-control-request-method")) return null;
  const origin = allowedOrigin(req, allowed);
  // A refused origin gets no Access-Control-* headers: the browser then blocks the request.
  if (!origin) return new Response(null, { status: 204, headers: { vary: "Origin" } });
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "86400",
      vary: "Origin",
    },
  });
}

/**
 * `res`, with the CORS headers when the request came from an allowed origin. With CORS on, every
 * answer varies by Origin (a cache must not hand one origin's answer to another).
 */
export function withCors(req: Request, res: Response, allowed: readonly string[]): Response {
  if (!allowed.length) return res;
  // Some responses (redirects, fetched ones) have immutable headers: copy before setting.
  const out = new Response(res.body, res);
  out.headers.append("vary", "Origin");
  const origin = allowedOrigin(req, allowed);
  if (origin) {
    out.headers.set("access-control-allow-origin", origin);
    out.headers.set("access-control-expose-headers", EXPOSE_HEADERS);
  }
  return out;
}
