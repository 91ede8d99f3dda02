import { readFile } from "node:fs/promises";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// itty-router ships source maps whose sources point outside the package, and vite warns about
// each of its files on every run. Loading those files without their sourceMappingURL comment
// keeps the test output readable; nothing else changes.
const ittyRouterWithoutSourceMaps = {
  name: "itty-router-without-source-maps",
  enforce: "pre" as const,
  async load(id: string) {
    if (!/[\\/]node_modules[\\/]itty-router[\\/].+\.mjs$/.test(id)) return null;
    const code = await readFile(id, "utf8");
    return { code: code.replace(/^\/\/# sourceMappingURL=.*$/m, ""), map: null };
  },
};

export default defineConfig({
  test: {
    // One workerd per test file, all at once, thrashes a small machine: on 2 cores the suite took
    // 53 s with every file in parallel and 25 s with 4 at a time (the BPE tables make files heavy).
    maxWorkers: 4,
    // A loaded CI machine runs some WebSocket tests (eviction, alarms) several times slower than a
    // quiet one; their own waits have clear errors and deadlines well inside this.
    testTimeout: 15_000,
    projects: [
      {
        // Everything but the end-to-end tests runs inside workerd with real D1 and Durable Objects.
        plugins: [
          ittyRouterWithoutSourceMaps,
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Test-only binding: the migrations, applied by test/setup.ts in every test file's storage.
              // FUZZ_RUNS / FUZZ_SEED reach the fuzz suite from `npm run fuzz`.
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                LOG_LEVEL: "error",
                // Tenant moves drain at least this long (test/tenant-move.test.ts): 1 s, not 10.
                PLACEMENT_TTL_SECONDS: "1",
                ...(process.env.FUZZ_RUNS ? { FUZZ_RUNS: process.env.FUZZ_RUNS } : {}),
                ...(process.env.FUZZ_SEED ? { FUZZ_SEED: process.env.FUZZ_SEED } : {}),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**"],
          setupFiles: ["./test/setup.ts"],
        },
      },
      {
        // End to end: Node drives a real `wrangler dev` through the client SDK.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          // Each file starts its own wrangler dev, migrating both local shards first (scripts/migrate.ts).
          hookTimeout: 180_000,
          // expect.poll's default 1 s is too short for a first page load on a loaded 2-core machine
          // (a cold wrangler dev compiles the Worker on its first request); 10 s still fails fast.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
