// The explorer's frame in a real browser: sign-in, who is signed in, what a read-only token may
// do, the live feed, and that one tenant sees nothing of another.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { describeInBrowser, expectNoPageErrors, startExplorer, type Explorer } from "./harness.ts";

describeInBrowser("the explorer's frame", () => {
  let x: Explorer;
  beforeAll(async () => {
    x = await startExplorer();
  });
  afterEach(() => expectNoPageErrors(x));
  afterAll(() => x?.close());

  it("the root leads to the sign-in; a bad token is refused with a message, a good one opens the tenant", async () => {
    const page = await x.open("/");
    expect(new URL(page.url()).pathname).toBe("/explorer/");
    // Served as static assets with a content security policy: scripts from this origin only.
    const html = await fetch(`${x.dev.url}/explorer/`);
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
    expect(html.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
    await page.getByLabel("Access token (JWT)").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#signin-error").textContent()).toMatch(/Sign-in failed: .*token/i);
    await x.shot(page, "sign-in");

    await page.getByLabel("Access token (JWT)").fill(await x.token("acme-shell"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#who .tenant").textContent()).toBe("acme-shell");
    expect(await page.locator("#read-only").count()).toBe(0);
    // The token stays in this tab: a reload keeps the session, a new tab (context) does not.
    await page.reload();
    await expect.poll(() => page.locator("#who .tenant").textContent()).toBe("acme-shell");
    const other = await x.open("/explorer/");
    await other.getByLabel("Access token (JWT)").waitFor();
    await other.context().close();
    // Signing out forgets it.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Access token (JWT)").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("edgemem.token"))).toBeNull();
    await page.context().close();
  });

  it("a memory written over REST appears in the live feed without a reload", async () => {
    const tenant = "acme-live";
    const page = await x.signIn(await x.token(tenant));
    await expect.poll(() => page.locator("#conn").textContent()).toBe("open");
    const api = await x.client(tenant);
    await api.createLongTermMemories([{ id: "live-1", text: "The deploy window moved to Thursdays" }]);
    const item = page.locator('#feed li[data-event="memory_created"]', { hasText: "deploy window" });
    await item.waitFor();
    await api.editLongTermMemory("live-1", { text: "The deploy window moved to Fridays" });
    await page.locator('#feed li[data-event="memory_updated"]', { hasText: "Fridays" }).waitFor();
    await api.deleteLongTermMemories(["live-1"]);
    await page.locator('#feed li[data-event="memory_deleted"]').waitFor();
    // The feed links to the memory.
    expect(await item.locator("a").getAttribute("href")).toBe("#/memories/live-1");
    await page.context().close();
  });

  it("a read-only token sees no write controls; a writer on the same pages does", async () => {
    const tenant = "acme-ro";
    const api = await x.client(tenant);
    await api.createLongTermMemories([{ id: "ro-1", text: "Alice prefers tea over coffee", topics: ["drinks"] }]);
    const pages = ["#/memories", "#/memories/ro-1", "#/graph?q=Alice", "#/sessions", "#/status"];
    const writeControls = async (token: string) => {
      const counts: Record<string, number> = {};
      const page = await x.signIn(token);
      for (const hash of pages) {
        await x.goto(page, hash);
        counts[hash] = await page.locator("[data-write]").count();
      }
      return { page, counts };
    };
    const reader = await writeControls(await x.token(tenant, "memory:read"));
    expect(await reader.page.locator("#read-only").textContent()).toBe("read-only");
    expect(reader.counts).toEqual(Object.fromEntries(pages.map((p) => [p, 0])));
    await reader.page.context().close();
    const writer = await writeControls(await x.token(tenant, "memory:read memory:write"));
    // The memory detail has edit, delete, pin and feedback; the status page the think box only reads.
    expect(writer.counts["#/memories/ro-1"]).toBeGreaterThanOrEqual(4);
    await writer.page.context().close();
  });

  it("a second tenant sees nothing of the first: no memories, no counts, no events", async () => {
    const a = await x.client("tenant-a");
    await a.createLongTermMemories([{ id: "secret-a", text: "Tenant A's launch date is March 3rd" }]);
    const pageA = await x.signIn(await x.token("tenant-a"));
    const page = await x.signIn(await x.token("tenant-b"));
    expect(await page.locator("#memories tbody tr[data-id]").count()).toBe(0);
    // A's memory, by its id: not found (the 404s are the point here).
    x.allowFailedLoad(page, 404, "/v1/long-term-memory/secret-a");
    x.allowFailedLoad(page, 404, "/v1/long-term-memory/secret-a/history");
    await x.goto(page, "#/memories/secret-a");
    expect(await page.locator("#view").textContent()).toMatch(/not found/i);
    await x.goto(page, "#/status");
    expect(await page.locator('[data-stat="memories.total"]').textContent()).toBe("0");
    await expect.poll(() => page.locator("#conn").textContent()).toBe("open");
    await expect.poll(() => pageA.locator("#conn").textContent()).toBe("open");
    await a.createLongTermMemories([{ id: "secret-a2", text: "Tenant A's budget is 40k" }]);
    await pageA.locator("#feed li", { hasText: "budget" }).waitFor();
    // Then B writes, and waits for its own event. Each tenant has its own hub, which delivers its
    // events in order: had A's event leaked into B's hub, it would have been published there before
    // B's write (it had already reached A's page), so B's page would have shown it first.
    const b = await x.client("tenant-b");
    await b.createLongTermMemories([{ id: "own-b", text: "Tenant B's offsite is in Porto" }]);
    await page.locator("#feed li", { hasText: "offsite" }).waitFor();
    expect(await page.locator("#feed li").allTextContents()).toEqual([expect.stringMatching(/Tenant B's offsite/)]);
    await pageA.context().close();
    await page.context().close();
  });
});

describeInBrowser("the explorer without auth", () => {
  let open: Explorer;
  beforeAll(async () => {
    open = await startExplorer({ auth: "none" });
  });
  afterEach(() => expectNoPageErrors(open));
  afterAll(() => open?.close());

  it("opens straight away as tenant `default`, and fits a narrow window", async () => {
    const page = await open.open("/", { width: 390, height: 844 });
    await expect.poll(() => page.locator("#who .tenant").textContent()).toBe("default");
    expect(await page.getByLabel("Access token (JWT)").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    // Nothing overflows sideways at phone width.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.context().close();
  });
});
