// `npm run import` (scripts/import.ts) as an operator runs it: a child process posting a file in
// parts to a real `wrangler dev`, then run again (a no-op), and an edgemem export imported back.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgememClient } from "../../client/index.ts";
import { signToken } from "./tools.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

const SECRET = "e2e-import-secret-0123456789abcdef";
const script = join(import.meta.dirname, "..", "..", "scripts", "import.ts");
let dev: WranglerDev;
let dir: string;

beforeAll(async () => {
  dev = await startWranglerDev({ vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET }, output: "ignore" });
  dir = mkdtempSync(join(tmpdir(), "edgemem-import-"));
});
afterAll(() => {
  dev?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("npm run import", () => {
  it("imports a mem0 export in parts, reports a bad item by its place, and a second run changes nothing", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const token = await signToken(SECRET, tenant);
    const file = join(dir, "mem0.json");
    const results = Array.from({ length: 25 }, (_, i) => ({
      id: `mem0-${i}`,
      memory: `Fact number ${i} about the user`,
      user_id: "dana",
      created_at: "2024-07-20T01:20:03-07:00",
    }));
    writeFileSync(file, JSON.stringify({ results: [...results, { text: "no memory field" }] }));
    const args = ["--from", "mem0", file, "--url", dev.url, "--token", token, "--lines", "10"];
    const first = await run(args);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toContain("part 3 (item 20 to item 25)");
    expect(first.stdout).toContain('imported: {"memory":25');
    expect(first.stdout).toContain("item 25: memory:");
    const again = await run(args);
    expect(again.stdout).toContain('unchanged: {"memory":25');

    // An export of that tenant, imported into another with the edgemem format.
    const client = new EdgememClient({ baseUrl: dev.url, token });
    const lines: string[] = [];
    for await (const line of client.export()) lines.push(JSON.stringify(line));
    const exported = join(dir, "export.jsonl");
    writeFileSync(exported, lines.join("\n") + "\n");
    const other = `e2e-${crypto.randomUUID()}`;
    const copy = await run([
      "--from",
      "edgemem",
      exported,
      "--url",
      dev.url,
      "--token",
      await signToken(SECRET, other),
    ]);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    expect(copy.stdout).toContain('imported: {"memory":25,"history":25');

    const usage = await run(["--from", "zep", file]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--from must be one of");
  }, 120_000);
});
