// Drives the explorer in a real browser: Debian's Chromium through playwright-core, against a
// `wrangler dev` (JWT auth on) that the test file starts. Node only.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import { describe, expect } from "vitest";
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

/**
 * For `afterEach` in every browser test file: fails the test that just ran when one of its pages
 * threw or logged an error (see `Explorer.errors`).
 */
export function expectNoPageErrors(x: Explorer | undefined): void {
  expect(x?.errors() ?? [], "errors in the explorer's pages").toEqual([]);
}

/** The page of the explorer a hash opens, as `#view[data-route]` names it: `#/memories/m1?x=1` → `memories/m1`. */
export function routeOf(hash: string): string {
  const [path = ""] = hash.replace(/^#\/?/, "").split("?");
  const [name = "", ...rest] = path.split("/");
  return rest.length ? `${name}/${decodeURIComponent(rest.join("/"))}` : name;
}

/**
 * Runs `action` (a click, a `page.goto`; none when the page is already on its way there) and waits
 * until #view holds the page `route` names, loaded: an element with `data-ready` that was not in
 * #view before. The hashchange that swaps pages comes a task after the navigation, and until then
 * the previous page's `data-ready` element is still there, so waiting for any would read that one.
 */
export async function waitForView(page: Page, route: string, action?: () => Promise<unknown>): Promise<void> {
  const before = await page.evaluateHandle(
    (now) => (now ? document.querySelector("#view [data-ready]") : null),
    !!action,
  );
  try {
    await action?.();
    await page.waitForFunction(
      ([route, before]) => {
        const view = document.getElementById("view");
        const ready = view?.dataset.route === route ? view.querySelector("[data-ready]") : null;
        return ready !== null && ready !== before;
      },
      [route, before] as const,
    );
  } finally {
    await before.dispose();
  }
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
  /** A new page signed in with `token`, on `hash` (default: memories), once that page has loaded. */
  signIn(token: string, hash?: string): Promise<Page>;
  /** Goes to `hash` (e.g. "#/memories/m1") and waits for that page to have loaded (see `waitForView`). */
  goto(page: Page, hash: string): Promise<void>;
  /**
   * Lets `page` fail to load `path` with `status` from here on: Chromium logs every such response
   * as a console error, which otherwise fails the test (see `errors`). For a test that opens
   * something missing on purpose.
   */
  allowFailedLoad(page: Page, status: number, path: string): void;
  /**
   * What went wrong in any page since the last call, and forgets it: uncaught exceptions, and
   * console errors other than the failed loads allowed. Every browser test file checks it after
   * each test, so a view that throws fails the test that opened it.
   */
  errors(): string[];
  /** Saves a screenshot as screenshots/<name>.png. */
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

/** Chromium's console line for a response with an error status: "Failed to load resource: the server responded with a status of 404 (Not Found)". */
const FAILED_LOAD = /^Failed to load resource: the server responded with a status of (\d+)\b/;

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
  const collected: string[] = [];
  const allowed = new WeakMap<Page, { status: number; path: string }[]>();
  const onConsole = (page: Page, m: ConsoleMessage) => {
    if (m.type() !== "error") return;
    const failed = FAILED_LOAD.exec(m.text());
    const url = m.location().url;
    if (failed && url) {
      const { pathname } = new URL(url);
      const status = Number(failed[1]);
      if (allowed.get(page)?.some((a) => a.status === status && a.path === pathname)) return;
    }
    collected.push(`${page.url()}: console error: ${m.text()}${url ? ` (${url})` : ""}`);
  };
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
      page.on("pageerror", (e) => collected.push(`${page.url()}: uncaught ${e.stack ?? String(e)}`));
      page.on("console", (m) => onConsole(page, m));
      // Expected on every page: the explorer asks who is signed in before it has a token, to learn
      // whether the server wants one (a 401 when it does, and for a refused token at sign-in).
      if (opts.auth !== "none") explorer.allowFailedLoad(page, 401, "/v1/whoami");
      await page.goto(`${dev.url}${path}`);
      return page;
    },
    async signIn(t, hash = "#/memories") {
      const page = await explorer.open(`/explorer/${hash}`);
      await page.getByLabel("Access token (JWT)").fill(t);
      await waitForView(page, routeOf(hash), () => page.getByRole("button", { name: "Sign in" }).click());
      return page;
    },
    async goto(page, hash) {
      // The same hash again is no navigation (no hashchange): the page is already there.
      const again = new URL(page.url()).hash === new URL(hash, page.url()).hash;
      await waitForView(page, routeOf(hash), again ? undefined : () => page.goto(`${dev.url}/explorer/${hash}`));
    },
    allowFailedLoad(page, status, path) {
      allowed.set(page, [...(allowed.get(page) ?? []), { status, path }]);
    },
    errors() {
      return collected.splice(0);
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
