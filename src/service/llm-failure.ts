import { LlmError } from "../ai/llm.ts";
import { AppError } from "../domain/errors.ts";

/** Provider failures as API errors: a timeout is a 504, anything else a 502; the cause is named. */
export function llmFailure(e: unknown, what: string): unknown {
  if (!(e instanceof LlmError)) return e;
  return new AppError(e.kind === "timeout" ? "upstream_timeout" : "upstream_error", `LLM ${what} failed: ${e.message}`);
}
