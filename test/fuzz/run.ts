/**
 * `npm run fuzz -- [--runs N] [--seed S]`: the property-based suite (test/fuzz.test.ts) with more
 * runs per property than `npm test` gives it (25), and any seed (a failure prints its seed and path).
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "500" }, seed: { type: "string" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const seed = values.seed ?? String(Date.now() % 2 ** 31);
console.log(`fuzz: ${runs} runs per property, seed ${seed}`);
const res = spawnSync("npx", ["vitest", "run", "--project", "workers", "test/fuzz.test.ts"], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: seed },
});
process.exit(res.status ?? 1);
