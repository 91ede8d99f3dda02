import type * as z from "zod";
import { AppError, type ErrorIssue } from "../domain/errors.ts";
import { unpairedSurrogatePath } from "../domain/input-limits.ts";

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
