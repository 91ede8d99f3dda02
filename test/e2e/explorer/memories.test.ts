// The Memories pages in a real browser: the list (pages, filters, search in each mode with its
// explanation, state kept in the hash), one memory (edit with its history, pin, feedback, delete
// through a confirm step), live updates from writes made elsewhere, and a phone-width window.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { MemoryInput } from "../../../client/index.ts";
import { describeInBrowser, expectNoPageErrors, startExplorer, waitForView, type Explorer } from "./harness.ts";

const DAY = 86_400_000;
/** One clock for the seed and the tests' expectations (the date filter's local day). */
const NOW = Date.now();

/** [text, type, topics, entities, namespace, user]: a team's and its people's memories. */
const SEED: [string, MemoryInput["memory_type"], string[], string[], string, string][] = [
  ["Alice drinks green tea every morning instead of coffee", "preference", ["drinks"], ["Alice"], "personal", "alice"],
  ["Alice said she can't stand espresso after 3pm", "preference", ["drinks"], ["Alice"], "personal", "alice"],
  ["Bob prefers oat milk lattes from the cafe on 5th street", "preference", ["drinks"], ["Bob"], "personal", "bob"],
  ["We decided to use Redis for caching the session tokens", "decision", ["caching"], ["Redis"], "work", "alice"],
  ["The team switched the CI pipeline to GitHub Actions last week", "event", ["ci"], ["GitHub Actions"], "work", "bob"],
  [
    "Carol is the on-call engineer for the payments service this sprint",
    "fact",
    ["oncall"],
    ["Carol"],
    "work",
    "carol",
  ],
  ["Remind Dave to renew the TLS certificate before Friday", "todo", ["security"], ["Dave"], "work", "dave"],
  ["The quarterly planning meeting moved to Tuesday at 10am", "event", ["meetings"], [], "work", "carol"],
  [
    "Alice's favourite restaurant is the Thai place near the office",
    "preference",
    ["food"],
    ["Alice"],
    "personal",
    "alice",
  ],
  [
    "Postgres replication lag spiked to 40 seconds during the migration",
    "error",
    ["database"],
    ["Postgres"],
    "work",
    "dave",
  ],
  ["Bob lives in Lisbon and works remotely on Mondays", "fact", ["location"], ["Bob", "Lisbon"], "personal", "bob"],
  ["Goal: cut p95 API latency below 200 ms by the end of Q3", "goal", ["performance"], [], "work", "carol"],
  ["We agreed to deprecate the v1 webhooks API in March", "decision", ["api"], ["webhooks"], "work", "bob"],
  ["Carol prefers code reviews in the afternoon", "preference", ["reviews"], ["Carol"], "personal", "carol"],
  ["The design review for the mobile app happens every other Thursday", "event", ["meetings"], [], "work", "alice"],
  ["Users keep asking for a dark mode in the dashboard", "observation", ["ux"], ["dashboard"], "work", "dave"],
  ["Dave is allergic to peanuts, so order lunch accordingly", "fact", ["food"], ["Dave"], "personal", "dave"],
  [
    "To rotate API keys, revoke the old key only after the new one is live",
    "procedure",
    ["security"],
    [],
    "work",
    "bob",
  ],
  ["The error budget for the search service is spent for this month", "insight", ["reliability"], [], "work", "carol"],
  [
    "Alice is training for the Berlin marathon in September",
    "fact",
    ["sports"],
    ["Alice", "Berlin"],
    "personal",
    "alice",
  ],
  ["Bob drinks black coffee and never adds sugar", "preference", ["drinks"], ["Bob"], "personal", "bob"],
  ["The offsite will be in Porto with 14 attendees", "summary", ["offsite"], ["Porto"], "work", "carol"],
  ["The staging database gets reset every Sunday night", "fact", ["database"], [], "work", "dave"],
  ["Eve joined the data team as a machine learning engineer", "event", ["team"], ["Eve"], "work", "alice"],
  ["Write the postmortem for Tuesday's outage by Thursday", "todo", ["incidents"], [], "work", "dave"],
];
const id = (i: number) => `m${String(i + 1).padStart(2, "0")}`;
/** m01 is the oldest (25 days ago), m25 the newest. */
const created = (i: number) => new Date(NOW - (SEED.length - i) * DAY).toISOString();

const rows = (page: Page) => page.locator("#memories tbody tr[data-id]");
const ids = (page: Page) => rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-id")));
const count = (page: Page) => page.locator("#count").textContent();
/** Waits for the list's current query to have answered. */
const settled = (page: Page) => page.locator('#view [aria-busy="true"]').waitFor({ state: "detached" });
/** The hash route the page is on, decoded. */
const hash = (page: Page) => decodeURIComponent(new URL(page.url()).hash);

describeInBrowser("the Memories pages", () => {
  let x: Explorer;
  beforeAll(async () => {
    x = await startExplorer();
  });
  afterEach(() => expectNoPageErrors(x));
  afterAll(() => x?.close());

  /**
   * A tenant of the test's own holding SEED (m01 … m25, one SDK call), so each test may run alone
   * and none sees another's edits; and a page signed in to it on `hash`.
   */
  async function seeded(tenant: string, hash = "#/memories"): Promise<Page> {
    const api = await x.client(tenant);
    await api.createLongTermMemories(
      SEED.map(([text, memory_type, topics, entities, namespace, user_id], i) => ({
        id: id(i),
        text,
        memory_type,
        topics,
        entities,
        namespace,
        user_id,
        created_at: created(i),
      })),
      { deduplicate: false },
    );
    return x.signIn(await x.token(tenant), hash);
  }

  it("lists the memories newest first, 20 a page by cursor; the page is in the hash, so a reload keeps it", async () => {
    const page = await seeded("memories-list");
    await expect.poll(() => count(page)).toBe("Showing 1–20 of 25");
    expect((await ids(page))[0]).toBe("m25");
    const first = rows(page).first();
    expect(await first.locator("td").first().textContent()).toContain("Write the postmortem");
    expect(await first.textContent()).toContain("todo");
    expect(await first.locator("a", { hasText: "incidents" }).count()).toBe(1);
    await x.shot(page, "memories-list");

    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => count(page)).toBe("Showing 21–25 of 25");
    expect(await ids(page)).toEqual(["m05", "m04", "m03", "m02", "m01"]);
    // Browsing pages by cursor (the same cost on any page), not by offset.
    expect(hash(page)).toMatch(/^#\/memories\?cursor=[A-Za-z0-9_-]+$/);
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.reload();
    await expect.poll(() => count(page)).toBe("Showing 21–25 of 25");
    await page.getByRole("button", { name: "Previous" }).click();
    await expect.poll(() => count(page)).toBe("Showing 1–20 of 25");
    // Back returns to the page before.
    await page.goBack();
    await expect.poll(() => count(page)).toBe("Showing 21–25 of 25");
    // The same page from a link in a new tab: where it starts is unknown there, Previous leads to the first.
    const linked = await x.signIn(await x.token("memories-list"), new URL(page.url()).hash);
    await expect.poll(() => count(linked)).toBe("Showing 5 of 25");
    await linked.getByRole("button", { name: "Previous" }).click();
    await expect.poll(() => count(linked)).toBe("Showing 1–20 of 25");
    expect(hash(linked)).toBe("#/memories");
    // A ranked search still pages by offset.
    await x.goto(linked, "#/memories?q=who+drinks+tea+or+coffee%3F&limit=3");
    await expect.poll(() => count(linked)).toMatch(/^Showing 1–3 of \d+ ranked$/);
    await linked.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => count(linked)).toMatch(/^Showing 4–6 of \d+ ranked$/);
    expect(hash(linked)).toMatch(/[?&]offset=3(&|$)/);
    await linked.context().close();
    await page.context().close();
  });

  it("a memory's history shows the newest entries first, and older ones a page at a time", async () => {
    const tenant = "memories-history";
    const api = await x.client(tenant);
    await api.createLongTermMemories([{ id: "busy", text: "edit 0" }]);
    for (let i = 1; i <= 55; i++) await api.editLongTermMemory("busy", { text: `edit ${i}` });
    const page = await x.signIn(await x.token(tenant), "#/memories/busy");
    await expect.poll(() => page.locator("#conn").textContent()).toBe("open");
    const history = page.locator("#history tbody tr");
    await expect.poll(() => history.count()).toBe(50);
    expect(await history.first().textContent()).toContain("edit 55");
    await page.getByRole("button", { name: "Show older" }).click();
    await expect.poll(() => history.count()).toBe(56);
    expect(await history.last().getAttribute("data-op")).toBe("create");
    expect(await page.getByRole("button", { name: "Show older" }).count()).toBe(0);
    // A live edit reloads the history and keeps as many entries shown.
    await api.editLongTermMemory("busy", { text: "edit 56" });
    await expect.poll(() => history.first().textContent()).toContain("edit 56");
    expect(await history.count()).toBe(57);
    await page.context().close();
  });

  it("filters by type, topic, user and creation date; the filters are in the hash", async () => {
    const tenant = "memories-filters";
    const page = await seeded(tenant);
    await page.getByLabel("Type", { exact: true }).selectOption("preference");
    const preferences = SEED.flatMap((s, i) => (s[1] === "preference" ? [id(i)] : [])).reverse();
    await expect.poll(() => ids(page)).toEqual(preferences);
    await page.getByLabel("Topics").fill("drinks");
    await page.getByLabel("Topics").press("Enter");
    await expect.poll(() => ids(page)).toEqual(["m21", "m03", "m02", "m01"]);
    expect(hash(page)).toBe("#/memories?type=preference&topics=drinks");
    await page.getByLabel("User", { exact: true }).fill("bob");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => ids(page)).toEqual(["m21", "m03"]);

    // A link restores them.
    const linked = await x.signIn(await x.token(tenant), "#/memories?topics=drinks&user=bob&type=preference");
    await expect.poll(() => ids(linked)).toEqual(["m21", "m03"]);
    expect(await linked.getByLabel("Topics").inputValue()).toBe("drinks");
    await linked.context().close();

    // Created from a date: the memories created on or after that local day.
    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => count(page)).toBe("Showing 1–20 of 25");
    const from = new Date(NOW - 3 * DAY);
    const day = `${from.getFullYear()}-${String(from.getMonth() + 1).padStart(2, "0")}-${String(from.getDate()).padStart(2, "0")}`;
    const start = new Date(`${day}T00:00`).getTime();
    const recent = SEED.flatMap((_, i) => (Date.parse(created(i)) >= start ? [id(i)] : [])).reverse();
    await page.getByLabel("Created from").fill(day);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => ids(page)).toEqual(recent);
    // The widest range the date inputs allow lists everything (both edges stay in the server's window).
    await x.goto(page, "#/memories?from=1000-01-01&to=9999-12-31");
    await expect.poll(() => count(page)).toBe("Showing 1–20 of 25");
    await page.getByRole("button", { name: "Clear" }).click();
    // Nothing matches: a clear empty state.
    await page.getByLabel("Namespace").fill("nowhere");
    await page.getByLabel("Namespace").press("Enter");
    await expect.poll(() => count(page)).toBe("No matches.");
    expect(await page.locator("#view").getByText("No memories match").count()).toBe(1);
    await page.context().close();
  });

  it("searches with a question in each mode and explains each hit's score", async () => {
    const page = await seeded("memories-search");
    await page.getByLabel("Search", { exact: true }).fill("what does Alice drink?");
    await page.getByLabel("Explain scores").check();
    for (const mode of ["hybrid", "semantic", "keyword"]) {
      await page.getByLabel("Mode").selectOption(mode);
      await settled(page);
      expect(hash(page)).toContain(mode === "hybrid" ? "explain=1" : `mode=${mode}`);
      expect((await ids(page)).slice(0, 3)).toContain("m01");
      expect(await count(page)).toMatch(/^Showing 1–\d+ of \d+ ranked$/);
      const why = rows(page).first().locator("details");
      await why.locator("summary").click();
      const parts = await why.locator("dt").allTextContents();
      expect(parts).toEqual(expect.arrayContaining(["Scored by", "Relevance", "Recency", "Final"]));
      expect(parts).toContain(mode === "semantic" ? "Vector (cosine)" : "Keyword (BM25)");
      if (mode === "hybrid") expect(parts).toEqual(expect.arrayContaining(["Vector (cosine)", "Vector weight (α)"]));
      expect(await why.locator("dd").first().textContent()).toBe(mode);
      for (const value of (await why.locator("dd").allTextContents()).slice(1)) expect(value).toMatch(/^\d+\.\d{3}\b/);
      if (mode === "hybrid") await x.shot(page, "memories-search-explain");
    }
    await page.context().close();
  });

  it("a memory's page shows its fields; edit, pin and feedback change it, and its history says how", async () => {
    const tenant = "memories-detail";
    const page = await seeded(tenant, "#/memories?topics=drinks");
    await waitForView(page, "memories/m01", () =>
      page.getByRole("link", { name: "Alice drinks green tea every morning instead of coffee" }).click(),
    );
    expect(hash(page)).toBe("#/memories/m01");
    // The focus moves to the page's heading.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("memory-title");
    const fields = page.locator("dl.fields");
    for (const text of ["preference", "drinks", "Alice", "personal", "alice", "0.800", "m01"])
      expect(await fields.textContent()).toContain(text);
    expect(await page.locator("#history tbody tr").count()).toBe(1);

    await page.getByRole("button", { name: "Edit" }).click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("edit-text");
    await page.getByLabel("Text").fill("Alice drinks jasmine tea every morning instead of coffee");
    await page.getByLabel("Topics").fill("drinks, mornings");
    await page.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => page.locator("#memory-text").textContent())
      .toBe("Alice drinks jasmine tea every morning instead of coffee");
    const update = page.locator('#history tbody tr[data-op="update"]');
    await update.waitFor();
    expect(await update.locator("td").nth(1).textContent()).toBe(`user-of-${tenant}`);
    const text = update.locator("li", { hasText: /^text/ });
    expect(await text.locator("del").textContent()).toBe(
      "before: Alice drinks green tea every morning instead of coffee",
    );
    expect(await text.locator("ins").textContent()).toBe(
      "after: Alice drinks jasmine tea every morning instead of coffee",
    );
    expect(
      await update
        .locator("li", { hasText: /^topics/ })
        .locator("ins")
        .textContent(),
    ).toBe("after: drinks, mornings");

    await page.getByRole("button", { name: "Pin" }).click();
    await page.getByRole("button", { name: "Unpin" }).waitFor();
    expect(await fields.textContent()).toContain("yes (never forgotten)");

    await page.getByRole("button", { name: "Helpful", exact: true }).click();
    await expect
      .poll(() => page.locator("#feedback-result").textContent())
      .toBe("Marked helpful: confidence 0.800 → 0.950, priority 5 → 6.");
    await x.shot(page, "memory-detail");

    // Back on the list (its filters kept), the memory is marked pinned.
    await waitForView(page, "memories", () => page.getByRole("link", { name: "← Memories" }).click());
    expect(hash(page)).toBe("#/memories?topics=drinks");
    const pinned = page.locator("#memories tbody tr").getByText("pinned", { exact: true });
    await expect.poll(() => pinned.count()).toBe(1);
    expect(await page.locator('#memories tr[data-id="m01"]').getByText("pinned", { exact: true }).count()).toBe(1);
    await page.context().close();
  });

  it("deleting asks first (Keep keeps it); then the memory is gone from the list and its page says so", async () => {
    const page = await seeded("memories-delete");
    await waitForView(page, "memories/m25", () =>
      rows(page)
        .getByRole("link", { name: /^Write the postmortem/ })
        .click(),
    );
    expect(hash(page)).toBe("#/memories/m25");
    await page.getByRole("button", { name: "Delete" }).click();
    const confirm = page.getByRole("group", { name: "Delete this memory? This cannot be undone." });
    await confirm.waitFor();
    await page.getByRole("button", { name: "Keep" }).click();
    expect(await page.getByText("Delete this memory?").count()).toBe(0);
    await page.getByRole("button", { name: "Delete" }).click();
    await waitForView(page, "memories", () => confirm.getByRole("button", { name: "Delete" }).click());
    expect(hash(page)).toBe("#/memories");
    await expect.poll(() => count(page)).toBe("Showing 1–20 of 24");
    expect(await ids(page)).not.toContain("m25");
    expect(await page.locator(".status-line").textContent()).toBe("Memory deleted.");
    // Its page: not found (a 404, on purpose), with the deletion in its history.
    x.allowFailedLoad(page, 404, "/v1/long-term-memory/m25");
    await x.goto(page, "#/memories/m25");
    expect(await page.locator("#view").textContent()).toMatch(/Memory m25 not found: it was deleted/);
    expect(await page.locator('#history tr[data-op="delete"]').count()).toBe(1);
    await page.context().close();
  });

  it("follows writes made elsewhere: the list and a memory's page update without a reload", async () => {
    const tenant = "memories-live";
    const live = await x.signIn(await x.token(tenant));
    await expect.poll(() => count(live)).toBe("No memories yet.");
    await expect.poll(() => live.locator("#conn").textContent()).toBe("open");
    const api = await x.client(tenant);
    await api.createLongTermMemories([{ id: "live-1", text: "The deploy freeze starts on December 20th" }]);
    await expect.poll(() => ids(live)).toEqual(["live-1"]);
    expect(await count(live)).toBe("Showing 1–1 of 1");

    await waitForView(live, "memories/live-1", () =>
      rows(live).getByRole("link", { name: "The deploy freeze starts on December 20th" }).click(),
    );
    await api.editLongTermMemory("live-1", { text: "The deploy freeze starts on December 18th" });
    await expect
      .poll(() => live.locator("#memory-text").textContent())
      .toBe("The deploy freeze starts on December 18th");
    await expect.poll(() => live.locator('#history tr[data-op="update"]').count()).toBe(1);
    // Deleted elsewhere: the page reloads the memory and gets a 404, on purpose.
    x.allowFailedLoad(live, 404, "/v1/long-term-memory/live-1");
    await api.deleteLongTermMemories(["live-1"]);
    await expect.poll(() => live.locator("#view").textContent()).toMatch(/deleted/);
    expect(await live.locator("#memory-text").count()).toBe(0);
    await live.context().close();
  });

  it("fits a phone-width window (the table scrolls inside its frame) and works from the keyboard", async () => {
    const phone = await seeded("memories-phone");
    await phone.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => count(phone)).toMatch(/^Showing/);
    const width = () => phone.evaluate(() => document.documentElement.scrollWidth);
    expect(await width()).toBeLessThanOrEqual(390);
    // Search from the keyboard: the search box, Enter, then Tab to the first result and open it.
    await phone.getByLabel("Search", { exact: true }).focus();
    await phone.keyboard.type("Berlin marathon");
    await phone.keyboard.press("Enter");
    await expect.poll(async () => (await ids(phone))[0]).toBe("m20");
    await rows(phone).first().locator("a").first().focus();
    await waitForView(phone, "memories/m20", () => phone.keyboard.press("Enter"));
    await phone.locator("#memory-text").waitFor();
    expect(await width()).toBeLessThanOrEqual(390);
    await phone.context().close();
  });
});
