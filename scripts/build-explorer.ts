// Builds the explorer (explorer/) into dist/explorer/, which wrangler serves as static assets.
// Run by wrangler's [build] before `wrangler dev` and `wrangler deploy`, and by `npm test`.
// Each file is written to a temporary name and renamed, so a server reading dist/ while another
// build runs (the end-to-end tests start several `wrangler dev` at once) never sees half a file.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "explorer");
mkdirSync(out, { recursive: true });

/** Writes `path` through a temporary file in the same folder, renamed into place. */
function publish(path: string, write: (tmp: string) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  write(tmp);
  renameSync(tmp, path);
}

const result = await build({
  // The script, and the stylesheet with each view's rules bundled in (its @imports).
  entryPoints: { app: join(root, "explorer", "src", "main.ts"), style: join(root, "explorer", "style.css") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  outdir: out,
  write: false,
  logLevel: "warning",
});
for (const file of result.outputFiles) publish(file.path, (tmp) => writeFileSync(tmp, file.contents));
for (const file of ["index.html", "favicon.svg"])
  publish(join(out, file), (tmp) => copyFileSync(join(root, "explorer", file), tmp));
// Response headers (the CSP and friends) are read from the root of the assets directory.
publish(join(root, "dist", "_headers"), (tmp) => copyFileSync(join(root, "explorer", "_headers"), tmp));
