// The production bundle, measured on every run rather than written down: it prints the size and
// fails before a deploy would (wrangler.toml and docs/deploy.md point here).
import { describe, expect, it } from "vitest";
import { measureBundle, parseTotalUpload, WORKER_SIZE_LIMIT_KIB } from "./bundle-size.ts";

/**
 * The project's own budget for the upload, far inside Cloudflare's limit so that growth is noticed:
 * set on 2026-12-02 at about 20% over the 5,799 KiB the bundle was then. It may be raised, on
 * purpose, in the commit that needs it (saying what grew and why).
 */
const BUDGET_KIB = 7_000;

describe("the production bundle", () => {
  it("fits the project's budget and Cloudflare's Worker size limit", { timeout: 120_000 }, async () => {
    const { uploadKiB, gzipKiB } = await measureBundle();
    console.log(
      `production bundle: ${uploadKiB} KiB, ${gzipKiB} KiB gzip (budget: ${BUDGET_KIB} KiB; limit: ${WORKER_SIZE_LIMIT_KIB} KiB uncompressed)`,
    );
    expect(uploadKiB).toBeGreaterThan(0);
    expect(gzipKiB).toBeLessThan(uploadKiB);
    expect(uploadKiB, "over Cloudflare's limit: npm run deploy would be refused").toBeLessThan(WORKER_SIZE_LIMIT_KIB);
    expect(uploadKiB, "over the project's budget: see BUDGET_KIB before raising it").toBeLessThan(BUDGET_KIB);
  });

  it("reads wrangler's size line, coloured or not, and says so when there is none", () => {
    expect(parseTotalUpload("Total Upload: \u001b[32m5796.37 KiB / gzip: 2767.40 KiB\u001b[39m\n")).toEqual({
      uploadKiB: 5796.37,
      gzipKiB: 2767.4,
    });
    expect(() => parseTotalUpload("✘ [ERROR] Build failed")).toThrow('no "Total Upload: X KiB / gzip: Y KiB" line');
  });
});
