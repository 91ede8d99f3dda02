/** Machine-readable error codes; each maps to one HTTP status. */
export type ErrorCode = keyof typeof STATUS;

export const STATUS = {
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
} as const;

export interface ErrorIssue {
  /** Dotted path of the offending field, e.g. `memories.0.text`. */
  field: string;
  message: string;
}

/** The one error type of the service and transports: a status, a code and a message safe to show. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues: ErrorIssue[] = [],
  ) {
    super(message);
    this.name = "AppError";
    this.status = STATUS[code];
  }

  static notFound(what: string): AppError {
    return new AppError("not_found", `${what} not found`);
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
