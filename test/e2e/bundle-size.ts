// The production Worker's size, as `wrangler deploy --dry-run --env production` reports it before
// an upload: for test/e2e/bundle-size.test.ts and the bench. Node only.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify, stripVTControlCharacters } from "node:util";
import { QUIET } from "./wrangler-dev.ts";

export interface BundleSize {
  /** What Cloudflare checks against its limit: the modules uploaded, uncompressed. */
  uploadKiB: number;
  /** The same gzipped, as wrangler reports it (no longer a limit). */
  gzipKiB: number;
}

/**
 * Cloudflare's limit on a Worker's upload: 64 MiB uncompressed, on every plan. The compressed
 * limits (3 MB Free, 10 MB Paid) were removed on 2026-09-04:
 * https://developers.cloudflare.com/changelog/post/2026-09-04-increased-worker-size-limit/
 */
export const WORKER_SIZE_LIMIT_KIB = 64 * 1024;

/** Reads wrangler's `Total Upload: X KiB / gzip: Y KiB` line (colours or not). */
export function parseTotalUpload(output: string): BundleSize {
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stripVTControlCharacters(output));
  if (!m) throw new Error(`wrangler printed no "Total Upload: X KiB / gzip: Y KiB" line:\n${output}`);
  return { uploadKiB: Number(m[1]), gzipKiB: Number(m[2]) };
}

/** Bundles the Worker as `npm run deploy` would (its `[build]` step first), uploading nothing. */
export async function measureBundle(): Promise<BundleSize> {
  const out = mkdtempSync(join(tmpdir(), "edgemem-bundle-"));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      "npx",
      ["wrangler", "deploy", "--dry-run", "--env", "production", "--outdir", out],
      { cwd: join(import.meta.dirname, "..", ".."), env: { ...process.env, ...QUIET } },
    );
    return parseTotalUpload(`${stdout}\n${stderr}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
