// `npm run tenant:move` (scripts/tenant-move.ts) as an operator runs it, against a real
// `wrangler dev` with its two local shards (DB, DB_SHARD_1) and JWT auth on: tokens minted by
// `npm run token`, the admin one passed in EDGEMEM_TOKEN.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

const root = join(import.meta.dirname, "..", "..");
const SECRET = "tenant-move-e2e-secret-0123456789abcdef";
const TENANT = "acme";
let dev: WranglerDev;

beforeAll(async () => {
  // A 1 s placement TTL lets the move drain for 1 s (the default, 10 s, would make it 20 s).
  const start = () =>
    startWranglerDev({ output: "ignore", vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET, PLACEMENT_TTL_SECONDS: "1" } });
  // Once more if it exits while starting: in one full `npm test` on a loaded machine (load ~15 on
  // 2 cores) it exited with 1 right after its build, while other e2e files' wrangler devs were
  // starting and rebuilding dist/ too; wrangler's log showed no reason.
  dev = await start().catch(start);
});
afterAll(() => dev?.stop());

async function node(script: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, "scripts", script), ...args], {
      cwd: root,
      env: { ...process.env, JWT_SECRET: SECRET, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function token(tenant: string, scope: string): Promise<string> {
  const out = await node("token.ts", ["--tenant", tenant, "--scope", scope]);
  expect(out.code, out.stderr).toBe(0);
  return out.stdout.trim();
}

async function api(tok: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json();
}

describe("npm run tenant:move against wrangler dev", () => {
  it("moves a tenant of 1,000 memories to the other shard and back; its reads answer the same", async () => {
    const user = await token(TENANT, "memory:read memory:write");
    const admin = await token("operations", "memory:admin");
    for (let b = 0; b < 10; b++) {
      await api(user, "POST", "/v1/long-term-memory/", {
        memories: Array.from({ length: 100 }, (_, i) => ({
          id: `m-${b}-${i}`,
          text: `Memory ${b * 100 + i} of the e2e tenant: item ${i} of batch ${b}`,
        })),
      });
    }
    await api(user, "PATCH", "/v1/long-term-memory/m-0-0", { text: "The first memory, edited" });
    const search = () => api(user, "POST", "/v1/long-term-memory/search", { text: "item 7 of batch 3", limit: 5 });
    const ids = (r: any) => r.memories.map((m: any) => m.id);
    const before = { hits: ids(await search()), status: await api(user, "GET", "/v1/status") };
    const from = (await api(admin, "GET", `/v1/admin/tenants/${TENANT}`)).shard as string;
    const to = from === "DB" ? "DB_SHARD_1" : "DB";

    // Without a token the server refuses, and the script says why.
    const refused = await node("tenant-move.ts", ["--tenant", TENANT, "--to", to, "--url", dev.url], {
      EDGEMEM_TOKEN: "",
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/401 missing bearer token/);

    const started = Date.now();
    const moved = await node(
      "tenant-move.ts",
      ["--tenant", TENANT, "--to", to, "--url", dev.url, "--drain-seconds", "1"],
      {
        EDGEMEM_TOKEN: admin,
      },
    );
    const ms = Date.now() - started;
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain(`${TENANT} moved from ${from} to ${to}`);
    expect(moved.stdout).toMatch(/memories: 1000 rows, sha256 [0-9a-f]{64}/);
    console.log(`e2e: npm run tenant:move, 1,000 memories over wrangler dev: ${ms} ms (1 s drain)`);

    const placed = await api(admin, "GET", `/v1/admin/tenants/${TENANT}`);
    expect(placed).toMatchObject({ shard: to, pinned: true, move: { phase: "done", from, to } });
    expect({ hits: ids(await search()), status: await api(user, "GET", "/v1/status") }).toEqual(before);
    expect((await api(user, "GET", "/v1/long-term-memory/m-0-0")).text).toBe("The first memory, edited");

    // Again: nothing to do. Then back.
    const again = await node("tenant-move.ts", ["--tenant", TENANT, "--to", to, "--url", dev.url, "--token", admin]);
    expect(again.stdout).toContain(`is on ${to} already`);
    const back = await node("tenant-move.ts", ["--tenant", TENANT, "--to", from, "--url", dev.url, "--token", admin]);
    expect(back.code, back.stderr).toBe(0);
    expect((await api(admin, "GET", `/v1/admin/tenants/${TENANT}`)).shard).toBe(from);
    expect(ids(await search())).toEqual(before.hits);
  });
});
