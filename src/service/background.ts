import { errorMessage, type Logger } from "../log.ts";

/** Runs `work` after the response (`defer`: ctx.waitUntil); a failure is logged as "`what` failed". */
export function inBackground(
  d: { defer: (p: Promise<unknown>) => void; log: Logger },
  work: Promise<unknown>,
  what: string,
): void {
  d.defer(work.catch((e) => d.log.warn(`${what} failed`, { error: errorMessage(e) })));
}
