import * as z from "zod";
import { AppError, asAppError, ERROR_CODES, RETRY_AFTER_S, type ErrorCode, type Reason } from "../domain/errors.ts";
import type { Logger } from "../log.ts";

/** What every transport carried by an HTTP request shares: REST, the MCP endpoint, the WebSocket upgrade. */

/** Every error body. */
export const errorOut = z
  .object({
    error: z.enum(ERROR_CODES),
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

/** The HTTP status of each error code. */
const STATUS = {
  bad_request: 400,
  validation_error: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upstream_error: 502,
  upstream_timeout: 504,
  internal_error: 500,
  unavailable: 503,
  storage_full: 507,
} as const satisfies Record<ErrorCode, number>;

/** The read-your-writes bookmark, in answers and (sent back) in requests (README, "Consistency"). */
export const BOOKMARK_HEADER = "x-edgemem-bookmark";

/** HTTP's error for a reason: the status and the body's `error` code (no reason needs more than its code). */
function httpError(r: Reason): { status: number; code: ErrorCode } {
  return { status: STATUS[r.code], code: r.code };
}

/** The one place errors become responses. Bodies carry `message` and FastAPI's `detail`, never a stack. */
export function errorResponse(e: unknown, log: Logger): Response {
  const err = asAppError(e);
  if (!err) log.error("unhandled error", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  const { status, code } = httpError(err?.reason ?? { code: "internal_error" });
  const message = err?.message ?? "internal error";
  const body: z.input<typeof errorOut> = { error: code, message, detail: message };
  if (err?.issues.length) body.issues = err.issues;
  const headers: Record<string, string> = {};
  if (status === 401) headers["www-authenticate"] = "Bearer";
  if (status === 503) headers["retry-after"] = String(RETRY_AFTER_S);
  return Response.json(body, { status, headers });
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
