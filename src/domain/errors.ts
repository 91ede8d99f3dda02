/** Machine-readable error codes, one per kind of failure (REST answers each with one HTTP status). */
export const ERROR_CODES = [
  "bad_request",
  "validation_error",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "upstream_error",
  "upstream_timeout",
  "internal_error",
  "unavailable",
  "storage_full",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a request named that is not there. */
export type Missing = "memory" | "session" | "agent" | "flow" | "route";
/** What a write collided with: a taken CRUD key, or concurrent writers that kept winning. */
export type Clash = "key" | "concurrent";

/**
 * Why a request failed, whatever wire it came by: the code, refined where a wire (or a caller)
 * tells cases apart. Each wire maps every reason to its own errors in one place.
 */
export type Reason =
  | { code: "not_found"; missing: Missing }
  | { code: "conflict"; clash: Clash }
  | { code: Exclude<ErrorCode, "not_found" | "conflict"> };

export interface ErrorIssue {
  /** Dotted path of the offending field, e.g. `memories.0.text`. */
  field: string;
  message: string;
}

/** The one error type of the service and transports: a reason and a message safe to show. */
export class AppError extends Error {
  readonly reason: Reason;

  /** A code that needs no refinement may be given bare. */
  constructor(
    reason: Reason | Exclude<ErrorCode, "not_found" | "conflict">,
    message: string,
    readonly issues: ErrorIssue[] = [],
  ) {
    super(message);
    this.name = "AppError";
    this.reason = typeof reason === "string" ? { code: reason } : reason;
  }

  get code(): ErrorCode {
    return this.reason.code;
  }

  /** `<what> not found`; `missing` says which kind of thing. */
  static notFound(what: string, missing: Missing): AppError {
    return new AppError({ code: "not_found", missing }, `${what} not found`);
  }

  static validation(issues: ErrorIssue[]): AppError {
    const first = issues[0];
    const message = first ? `${first.field ? `${first.field}: ` : ""}${first.message}` : "invalid input";
    return new AppError("validation_error", message, issues);
  }
}

/**
 * A compare-and-set write lost a race: the row changed, appeared or went since it was read.
 * Nothing was written; services re-read and retry, and answer 409 `conflict` when retries run out.
 */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`${what} changed concurrently`);
    this.name = "WriteConflict";
  }
}

/** The message of the write fence's triggers (migration 0009): the tenant is moving between shards. */
const TENANT_MOVING = "edgemem: tenant moving";

/** How long a client should wait before retrying an `unavailable` answer. */
export const RETRY_AFTER_S = 5;

/** D1's answers when a database (10 GB) or the account's storage is full (SQLite's SQLITE_FULL). */
const STORAGE_FULL = /SQLITE_FULL|database or disk is full|Exceeded maximum (DB size|account storage)/i;

/**
 * The AppError an error stands for, or null for a bug: AppErrors as they are; a write that hit a
 * tenant move's fence as `unavailable` (retry shortly); a write into a full database as
 * `storage_full` (an operator moves tenants to another shard: docs/capacity.md). Nothing was
 * written in either case (the batch is one transaction).
 */
export function asAppError(e: unknown): AppError | null {
  if (e instanceof AppError) return e;
  if (!(e instanceof Error)) return null;
  if (e.message.includes(TENANT_MOVING))
    return new AppError("unavailable", `this tenant is moving to another database; retry in ${RETRY_AFTER_S} s`);
  if (STORAGE_FULL.test(e.message))
    return new AppError("storage_full", "this tenant's database is full; nothing was written (reads still work)");
  return null;
}
