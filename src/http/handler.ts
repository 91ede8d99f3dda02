import type { IRequest, Router } from "itty-router";
import type * as z from "zod";
import { ANONYMOUS, READ_SCOPE, requireAdmin, requireScope, tokenOf, verifyToken, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import type { Principal } from "../domain/principal.ts";
import { parse } from "../wire/parse.ts";
import { json, queryObject, readJson } from "./respond.ts";

/** What every handler gets: the original request (itty hands routes a proxy), its URL, the app. */
export interface RequestContext {
  req: Request;
  url: URL;
  app: AppDeps;
}

export type AppRouter = ReturnType<typeof Router<IRequest, [RequestContext]>>;
export type Method = "get" | "post" | "put" | "patch" | "delete";

/**
 * A REST operation: its route and the zod schemas that validate it. The same declaration
 * registers the route and documents it in `/openapi.json`, so the two cannot drift apart.
 */
export interface Operation<
  P extends z.ZodObject | undefined = z.ZodObject | undefined,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType | null = z.ZodType | null,
> {
  method: Method;
  /** itty-router syntax (`/v1/long-term-memory/:id`); a trailing slash is optional either way. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /**
   * `open`: no token; `read`/`write`: a token with that scope when auth is on; `admin`: a token
   * with the memory:admin scope (operating the deployment, not the token's tenant).
   */
  auth: "open" | "read" | "write" | "admin";
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The body is JSON Lines, each line one of this schema, read by the handler as it arrives
   * (`c.req.body`) rather than parsed whole here; documented as `application/x-ndjson`.
   */
  linesBody?: z.ZodType;
  /** The success body is JSON Lines, each line one of `response` (documented as `application/x-ndjson`). */
  linesResponse?: boolean;
  /** The body may be left out entirely (validated as `{}`). */
  bodyOptional?: boolean;
  /** The success status (200 unless given). */
  status?: number;
  /** The success body's schema; null when the success answer has no body. */
  response: R;
  /** Error statuses worth documenting beyond those every operation of its kind can give. */
  errors?: Record<string, string>;
  /** Headers of the success answer (name → what it holds), documented beside its body. */
  headers?: Record<string, string>;
  /** Also answers `text/event-stream` with these events (one JSON object per `data:` line). */
  events?: z.ZodType;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Input<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export type OperationHandler<P, Q, B, R> = (
  c: RequestContext & { principal: Principal },
  input: Input<P, Q, B>,
) => Promise<Response | (R extends z.ZodType ? z.input<R> : never)>;

/** Every operation registered so far, in registration order (the OpenAPI document reads it). */
export const operations: Operation[] = [];

/**
 * Registers an operation: authenticates, validates params, query and body with its schemas
 * (422 naming the fields), runs the handler, and answers its result as JSON with the
 * operation's status (a handler may return a Response of its own, e.g. a stream).
 */
export function route<
  P extends z.ZodObject | undefined,
  Q extends z.ZodObject | undefined,
  B extends z.ZodType | undefined,
  R extends z.ZodType | null,
>(r: AppRouter, op: Operation<P, Q, B, R>, handler: OperationHandler<P, Q, B, R>): void {
  operations.push(op as Operation);
  const run = async (ir: IRequest, c: RequestContext): Promise<Response> => {
    const principal = op.auth === "open" ? ANONYMOUS : await authenticate(c, op.auth);
    // A write reads what it writes over on the primary (read-modify-write); reads take the nearest replica.
    if (op.auth === "write") c.app.databases.usePrimary();
    const params = (op.params ? parse(op.params, decodeParams(ir.params ?? {})) : undefined) as Out<P>;
    const query = (op.query ? parse(op.query, queryObject(c.url)) : undefined) as Out<Q>;
    let body: unknown;
    if (op.body) {
      const empty = c.req.headers.get("content-length") === "0" || c.req.body === null;
      body =
        op.bodyOptional && empty ? parse(op.body, {}) : await readJson(c.req, op.body, c.app.config.MAX_BODY_BYTES);
    }
    const out = await handler({ ...c, principal }, { params, query, body: body as Out<B> });
    if (out instanceof Response) return out;
    return op.response === null ? new Response(null, { status: op.status ?? 204 }) : json(out, op.status ?? 200);
  };
  r[op.method](op.path, run);
}

async function authenticate(c: RequestContext, level: "read" | "write" | "admin"): Promise<Principal> {
  const principal = await verifyToken(tokenOf(c.req, c.url), c.app.config);
  if (level === "admin") requireAdmin(principal, c.app.config.AUTH_MODE);
  else requireScope(principal, level === "read" ? READ_SCOPE : WRITE_SCOPE);
  return principal;
}

/** Path parameters percent-decoded; a malformed escape (`%`, `%zz`, a lone surrogate) is a 400 naming the parameter. */
function decodeParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      const message = "malformed percent-encoding in the path";
      throw new AppError("bad_request", `${k}: ${message}`, [{ field: k, message }]);
    }
  }
  return out;
}
