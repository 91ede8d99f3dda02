import { AppError, WriteConflict } from "../domain/errors.ts";

/** Attempts of one read-modify-write before giving up with a 409: enough for 50 writers on one row. */
const MAX_ATTEMPTS = 40;
/** Backoff before attempt n is uniform in [0, min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2^n)) ("full jitter"). */
const BASE_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 100;

/**
 * Runs a read-modify-write until its compare-and-set wins. `attempt` must read afresh each time:
 * a WriteConflict means what it read is stale and nothing was written. Losers back off with
 * jitter, so a crowd on one row spreads out; after MAX_ATTEMPTS the caller gets a 409 `conflict`.
 */
export async function retryOnConflict<T>(
  what: string,
  attempt: () => Promise<T>,
  retryable: (e: unknown) => boolean = (e) => e instanceof WriteConflict,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!retryable(e)) throw e;
      if (n >= MAX_ATTEMPTS)
        throw new AppError(
          { code: "conflict", clash: "concurrent" },
          `${what} kept changing concurrently (${n} attempts); try again`,
        );
      const cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** n);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
    }
  }
}
