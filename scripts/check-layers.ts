// The layering rules of src/ (docs/architecture.md), checked on every `npm test`:
// each module may import only the layers listed for it; service/ reaches ai/ and vector/ only
// through their interface modules (never an adapter such as D1VectorIndex or WorkersAiEmbedder);
// transports reach services only through AppDeps (deps.ts), never a service module; no D1 type appears
// above the storage adapters, and only the composition root reads the storage and AI bindings.
// Prints every violation and exits 1 if there is one.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");

/** A module's layer: its folder under src/, or its file name for the files at the top. */
function layerOf(path: string): string {
  const rel = relative(src, path);
  const [first] = rel.split("/");
  return rel.includes("/") ? first! : first!.replace(/\.ts$/, "");
}

const base = ["log", "timeout", "version", "modules.d"];
/** Which layers each layer may import (its own is always allowed). */
const allowed: Record<string, string[]> = {
  domain: [],
  ai: ["domain", ...base],
  vector: ["domain", "store", "ai", ...base],
  store: ["domain", ...base],
  service: ["domain", "ai", "vector", "config", ...base],
  wire: ["domain", "config", ...base],
  auth: ["domain", "config", ...base],
  http: ["wire", "domain", "auth", "config", "deps", ...base],
  realtime: ["wire", "domain", "auth", "config", "deps", ...base],
  mcp: ["wire", "domain", "auth", "config", "deps", ...base],
  config: [],
  log: [],
  timeout: [],
  version: [],
  "modules.d": [],
  deps: ["*"],
  index: ["*"],
};
/**
 * Layers a layer may import only through some of their modules: the interfaces, whose
 * implementations deps.ts picks.
 */
const through: Record<string, Record<string, string[]>> = {
  service: {
    ai: ["ai/embedder.ts", "ai/llm.ts", "ai/reranker.ts"],
    vector: ["vector/vector-index.ts"],
  },
};
/** Where D1's types and SQL may appear. */
const d1Layers = new Set(["store", "vector", "deps", "index"]);
/** Where the storage and AI bindings may be read (the hub's binding is the transports' own). */
const bindingLayers = new Set(["deps", "index"]);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const problems: string[] = [];
for (const file of files(src)) {
  const layer = layerOf(file);
  const may = allowed[layer];
  const text = readFileSync(file, "utf8");
  const name = relative(root, file);
  if (!may) {
    problems.push(`${name}: layer "${layer}" has no rule in scripts/check-layers.ts`);
    continue;
  }
  for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const path = resolve(dirname(file), spec!);
    const target = layerOf(path);
    if (target === layer || may.includes("*")) continue;
    if (!may.includes(target)) {
      problems.push(`${name}: ${layer}/ may not import ${spec} (${target})`);
      continue;
    }
    const only = through[layer]?.[target];
    if (only && !only.includes(relative(src, path))) {
      problems.push(`${name}: ${layer}/ may import ${target}/ only through ${only.join(", ")}, not ${spec}`);
    }
  }
  if (!d1Layers.has(layer)) {
    for (const [m] of text.matchAll(/\bD1(?:Database|PreparedStatement|Result|Response|DatabaseSession)\b/g)) {
      problems.push(`${name}: D1 type ${m} above store/`);
    }
  }
  if (!bindingLayers.has(layer)) {
    for (const [m] of text.matchAll(/\benv\.(?:DB|VECTORIZE|AI)\b/g)) {
      problems.push(`${name}: ${m} read outside deps.ts (the composition root)`);
    }
  }
}

for (const p of problems) console.error(p);
if (problems.length) {
  console.error(`layers: ${problems.length} violation(s)`);
  process.exit(1);
}
console.log("layers: ok");
