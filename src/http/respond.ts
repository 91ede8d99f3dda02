import * as z from "zod";
import { AppError, STATUS, type ErrorCode, type ErrorIssue } from "../domain/errors.ts";
import { unpairedSurrogatePath } from "../domain/input-limits.ts";
import type { Logger } from "../log.ts";

/** Every error body. */
export const errorOut = z
  .object({
    error: z.enum(Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    detail: z.string().meta({ description: "The message again, where FastAPI clients (AMS's) read it." }),
    issues: z
      .array(
        z.object({ field: z.string().meta({ description: "Dotted path, e.g. memories.0.text" }), message: z.string() }),
      )
      .optional()
      .meta({ description: "Each invalid field (validation_error)." }),
  })
  .meta({ id: "Error" });

/** The one place errors become responses. Bodies carry `message` and FastAPI's `detail`, never a stack. */
export function errorResponse(e: unknown, log: Logger): Response {
  const err = e instanceof AppError ? e : null;
  if (!err) log.error("unhandled error", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  const status = err?.status ?? 500;
  const message = err?.message ?? "internal error";
  const body: z.input<typeof errorOut> = { error: err?.code ?? "internal_error", message, detail: message };
  if (err?.issues.length) body.issues = err.issues;
  return Response.json(body, { status, headers: status === 401 ? { "www-authenticate": "Bearer" } : undefined });
}

/**
 * A request's body, at most `maxBytes` of it: 413 as soon as the declared length or the bytes read
 * so far pass the cap (a chunked body without a length is not read whole first).
 */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new AppError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
  if (Number(req.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge();
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

/** Parses a request body as JSON and validates it; 413 over `maxBytes`, 400 if not JSON, 422 if invalid. */
export async function readJson<S extends z.ZodType>(req: Request, schema: S, maxBytes: number): Promise<z.output<S>> {
  const bytes = await readBody(req, maxBytes);
  let data: unknown;
  try {
    data = bytes.byteLength ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
  } catch {
    throw new AppError("bad_request", "request body is not valid JSON");
  }
  if (data === undefined) throw new AppError("bad_request", "request body is empty; expected JSON");
  return parse(schema, data);
}

/** A 422 naming the first string holding an unpaired surrogate: it could be accepted but never read back. */
export function rejectUnpairedSurrogates(data: unknown): void {
  const field = unpairedSurrogatePath(data);
  if (field !== null) {
    throw AppError.validation([
      { field, message: "must be valid Unicode: an unpaired surrogate (\\ud800-\\udfff) cannot be stored" },
    ]);
  }
}

/** Validates any untrusted value against a schema; a failure is a 422 naming the fields. */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  rejectUnpairedSurrogates(data);
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  throw AppError.validation(r.error.issues.flatMap(toIssues));
}

/**
 * A union that failed names the union itself ("long_term_search: Invalid input"); when exactly
 * one option had the value's type (the others failed on the type alone), that option's issues
 * name the fields inside instead.
 */
function toIssues(i: z.core.$ZodIssue): ErrorIssue[] {
  if (i.code === "invalid_union") {
    const meant = i.errors.filter((errs) => !errs.some((e) => e.code === "invalid_type" && e.path.length === 0));
    if (meant.length === 1 && meant[0]!.length)
      return meant[0]!.flatMap((e) => toIssues({ ...e, path: [...i.path, ...e.path] }));
  }
  return [toIssue(i)];
}

function toIssue(i: z.core.$ZodIssue): ErrorIssue {
  const field = i.path.map(String).join(".");
  if (i.code === "unrecognized_keys") {
    const keys = i.keys.join(", ");
    return { field: field || i.keys[0]!, message: `unknown field${i.keys.length > 1 ? "s" : ""}: ${keys}` };
  }
  return { field, message: i.message };
}

/** Query parameters as an object; repeated keys become arrays. */
export function queryObject(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}
