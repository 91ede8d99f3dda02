import type * as z from "zod";
import { AppError } from "../domain/errors.ts";
import { readBody } from "../wire/http.ts";
import { parse } from "../wire/parse.ts";

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

/** Query parameters as an object; repeated keys become arrays. */
export function queryObject(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers });
}
