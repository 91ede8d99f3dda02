// Builds the client package (client/, `@edgemem/client`) into client/dist/: run by `npm run build`
// and `npm pack` (prepack) in client/. tsc emits ES2022 JavaScript and declarations as
// client/tsconfig.build.json says, with the sources' `.ts` import specifiers rewritten to `.js` in
// the JavaScript only: declarations keep `.ts` (microsoft/TypeScript#61037), which TypeScript < 5
// and some editors cannot resolve, so they are rewritten here. dist/ is emptied first, so a file
// whose source is gone is not packed.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const client = join(dirname(fileURLToPath(import.meta.url)), "..", "client");
const dist = join(client, "dist");
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(client, "tsconfig.build.json")], { stdio: "inherit" });

/** A relative specifier ending in `.ts`, in `from "…"` or `import("…")`. */
const relativeTs = /(from\s+|import\()(["'])(\.\.?\/[^"']+)\.ts\2/g;
for (const name of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!name.endsWith(".d.ts") && !name.endsWith(".js")) continue;
  const file = join(dist, name);
  const text = readFileSync(file, "utf8").replace(relativeTs, (_, lead, q, path) => `${lead}${q}${path}.js${q}`);
  const left = /(["'])\.\.?\/[^"']+\.ts\1/.exec(text);
  if (left) throw new Error(`${name}: ${left[0]} is still a .ts specifier`);
  writeFileSync(file, text);
}
