import { beforeAll } from "vitest";
import { tokenCounter } from "../../src/domain/tokens.ts";

/**
 * Loads both BPE encodings before a file's tests: the first load in a test run includes vite
 * transforming 3.6 MB of encoding tables (seconds), which must not count against one test's timeout.
 */
export function warmTokenizers(): void {
  beforeAll(async () => {
    await tokenCounter("o200k_base");
    await tokenCounter("cl100k_base");
  }, 120_000);
}
