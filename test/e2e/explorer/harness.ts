// Drives the explorer in a real browser: Debian's Chromium through playwright-core, against a
// `wrangler dev` (JWT auth on) that the test file starts. Node only.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { describe } from "vitest";
import { EdgememClient } from "../../../client/index.ts";
import { signToken } from "../tools.ts";
import { startWranglerDev, type WranglerDev } from "../wrangler-dev.ts";

const SECRET = "explorer-e2e-secret-0123456789abcdef";
/** Where the tests save a screenshot of each view (two of them are in the README). */
export const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The Chromium binary: CHROMIUM_PATH, else `chromium` on the PATH; undefined when there is none. */
export const CHROMIUM = findChromium();
if (!CHROMIUM && !process.env.CI)
  console.warn("explorer browser tests skipped: no Chromium (apt-get install -y chromium, or set CHROMIUM_PATH)");

/**
 * `describe` for browser tests: skipped with a warning on a machine without Chromium, but under
 * CI (which installs it, see .ci/run) a missing browser fails instead of passing silently.
 */
export const describeInBrowser: typeof describe = (
  CHROMIUM || process.env.CI ? describe : describe.skip
) as typeof describe;

/** Headless Chromium with the flags a closed network and a root user need. */
export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("Chromium not found: apt-get install -y chromium, or set CHROMIUM_PATH");
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps dialling Google's hosts, which a
    // closed network refuses (see the machine notes); --no-sandbox because CI runs as root.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface Explorer {
  dev: WranglerDev;
  browser: Browser;
  /** A token for `tenant`, with `scope` when given (e.g. "memory:read" for read-only). */
  token(tenant: string, scope?: string): Promise<string>;
  /** The SDK, signed in as `tenant`: for seeding data and writing "from elsewhere". */
  client(tenant: string): Promise<EdgememClient>;
  /** A new page (its own session storage and viewport) on `path`, e.g. "/explorer/#/status". */
  open(path: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** A new page signed in with `token`, on `hash` (default: memories). */
  signIn(token: string, hash?: string): Promise<Page>;
  /** Saves a screenshot as screenshots/<name>.png. */
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

/** A server with JWT auth (the default) or none (`auth: "none"`: everyone is tenant `default`), and a browser. */
export async function startExplorer(opts: { auth?: "jwt" | "none" } = {}): Promise<Explorer> {
  const vars: Record<string, string> =
    opts.auth === "none" ? { AUTH_MODE: "none" } : { AUTH_MODE: "jwt", JWT_SECRET: SECRET };
  const dev = await startWranglerDev({ vars, output: "ignore" });
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    dev.stop();
    throw e;
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  const token = (tenant: string, scope?: string) => signToken(SECRET, tenant, { scope });
  const explorer: Explorer = {
    dev,
    browser,
    token,
    async client(tenant) {
      return new EdgememClient({ baseUrl: dev.url, token: await token(tenant) });
    },
    async open(path, viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.on("pageerror", (e) => console.error("explorer page error:", e));
      await page.goto(`${dev.url}${path}`);
      return page;
    },
    async signIn(t, hash = "#/memories") {
      const page = await explorer.open(`/explorer/${hash}`);
      await page.getByLabel("Access token (JWT)").fill(t);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("#who").waitFor();
      return page;
    },
    async shot(page, name) {
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close().catch(() => {});
      dev.stop();
    },
  };
  return explorer;
}
