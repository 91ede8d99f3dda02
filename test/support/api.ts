import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import worker from "../../src/index.ts";

export const SECRET = "test-secret-for-hs256-0123456789abcdef";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A signed HS256 token for the test secret, expiring in an hour unless `expiresIn` says otherwise (null: no `exp`). */
export async function sign(
  claims: Record<string, unknown>,
  opts: { expiresIn?: string | number | null; secret?: string } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  const expiresIn = opts.expiresIn === undefined ? "1h" : opts.expiresIn;
  if (expiresIn !== null) jwt = jwt.setExpirationTime(expiresIn);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

/** The test environment with JWT auth on (and any overrides). */
export function jwtEnv(overrides: Record<string, unknown> = {}): Env {
  return { ...env, AUTH_MODE: "jwt", JWT_SECRET: SECRET, ...overrides } as Env;
}

/**
 * Sends a request through the Worker's fetch handler and waits for its waitUntil work
 * (event publishing, last_accessed updates, vector pushes) so tests see a settled state.
 */
export async function call<T = any>(
  e: Env,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined)
    init.body = typeof body === "string" || body instanceof ReadableStream ? body : JSON.stringify(body);
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://edgemem.test${path}`, init) as never, e, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface Api {
  tenant: string;
  env: Env;
  token: string;
  call<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>>;
}

/** A fresh tenant with its own token: tests sharing a file's database never see each other's data. */
export async function tenantApi(
  opts: { tenant?: string; env?: Record<string, unknown>; scope?: string } = {},
): Promise<Api> {
  const tenant = opts.tenant ?? `t-${crypto.randomUUID()}`;
  const e = jwtEnv(opts.env);
  const claims: Record<string, unknown> = { tenant_id: tenant, sub: `user-of-${tenant}` };
  if (opts.scope !== undefined) claims.scope = opts.scope;
  const token = await sign(claims, { expiresIn: "1h" });
  return {
    tenant,
    env: e,
    token,
    call: (method, path, body) => call(e, method, path, body, { authorization: `Bearer ${token}` }),
  };
}

/** Stores memories through the AMS API and fails loudly if that does not work. */
export async function store(api: Api, memories: Record<string, unknown>[]): Promise<void> {
  const res = await api.call("POST", "/v1/long-term-memory/", { memories });
  if (res.status !== 200) throw new Error(`store failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function search(api: Api, body: Record<string, unknown>) {
  const res = await api.call("POST", "/v1/long-term-memory/search", body);
  if (res.status !== 200) throw new Error(`search failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { memories: any[]; total: number; next_offset: number | null; warnings?: string[] };
}

export const DAY = 86_400_000;
export const daysAgo = (d: number) => new Date(Date.now() - d * DAY).toISOString();

/** Runs the Worker's Cron Trigger handler (upkeep) to completion. */
export async function runScheduled(e: Env): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/10 * * * *" }), e, ctx);
  await waitOnExecutionContext(ctx);
}

/** An event as the hub's replay log holds it (loosely typed: tests read whichever payload its type has). */
export interface HubEvent {
  seq: number;
  type: string;
  at: number;
  actor: string;
  reason?: string;
  memory?: any;
  session?: any;
}

/** The tenant hub's replay log (cast: RPC typing cannot express the records' free-form metadata). */
export async function hubEvents(tenant: string, since = 0): Promise<HubEvent[]> {
  return (await env.TENANT_HUB.getByName(tenant).replay(since)) as unknown as HubEvent[];
}
