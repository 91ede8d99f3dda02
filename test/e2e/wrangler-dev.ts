// Starts `wrangler dev` on its own port with fresh local state (migrations applied), for the
// end-to-end tests and the benchmark. Node only.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

export interface WranglerDev {
  url: string;
  port: number;
  stop(): void;
}

export const QUIET = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `wrangler dev` with `vars` (e.g. AUTH_MODE, LOG_LEVEL), logging at warn, on `port` (default: a
 * free one), resolved once /v1/health answers. `stop()` ends it and removes its state, unless the
 * caller passed `state` (a directory it owns: a later start on it sees this one's data).
 */
export async function startWranglerDev(
  opts: { port?: number; vars?: Record<string, string>; output?: "inherit" | "ignore"; state?: string } = {},
): Promise<WranglerDev> {
  const port = opts.port ?? (await freePort());
  const state = opts.state ?? mkdtempSync(join(tmpdir(), "edgemem-dev-"));
  const env = { ...process.env, ...QUIET };
  // Every shard wrangler.toml binds (scripts/migrate.ts).
  await promisify(execFile)("node", ["scripts/migrate.ts", "--persist-to", state], { env });
  const vars = Object.entries({ LOG_LEVEL: "warn", ...opts.vars }).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  // Its own inspector port too: wrangler dev defaults to 9229, and a second one started meanwhile
  // (e2e files run in parallel) exits with "Address already in use (socket direct:1:default)".
  const inspector = await freePort();
  const child: ChildProcess = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      state,
      "--log-level",
      "warn",
      ...vars,
      "--show-interactive-dev-session=false",
    ],
    { env, stdio: ["ignore", opts.output ?? "inherit", opts.output ?? "inherit"], detached: true },
  );
  const stop = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    if (!opts.state) rmSync(state, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
      try {
        if ((await fetch(`${url}/v1/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 300) throw new Error("wrangler dev did not become healthy in 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { url, port, stop };
}
