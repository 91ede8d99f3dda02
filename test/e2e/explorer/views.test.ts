// The graph, sessions and status views in a real browser, on a tenant seeded through the SDK with
// conversations (people, places, organisations, a job that changes) and working-memory sessions.
// Tests that only read share that tenant; a test that writes has a tenant of its own, so each may
// run alone and none sees another's writes.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { EdgememClient } from "../../../client/index.ts";
import { describeInBrowser, expectNoPageErrors, startExplorer, waitForView, type Explorer } from "./harness.ts";

const TENANT = "acme-views";

describeInBrowser("the explorer's graph, sessions and status views", () => {
  let x: Explorer;
  let api: EdgememClient;
  let writer: string;
  beforeAll(async () => {
    x = await startExplorer();
    api = await x.client(TENANT);
    writer = await x.token(TENANT);
    await seed(api);
  });
  afterEach(() => expectNoPageErrors(x));
  afterAll(() => x?.close());

  it("draws the graph around Alice: nodes, labelled arrows, a fact table linking to memories; history shows the ended job", async () => {
    const page = await x.signIn(writer, "#/graph?q=Alice");
    const nodes = page.locator("#graph svg .node");
    expect(await nodes.count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator("#graph svg .node.centre").getAttribute("data-name")).toBe("Alice");
    const edgeLabels = await page.locator("#graph svg .edge text").allTextContents();
    expect(edgeLabels).toEqual(expect.arrayContaining(["works at", "lives in"]));
    expect(await page.locator("#graph svg .edge.ended").count()).toBe(0);
    // Every fact names the memory that states it.
    const rows = page.locator("#facts tbody tr");
    expect(await rows.count()).toBeGreaterThanOrEqual(3);
    const works = rows.filter({ hasText: "Globex Labs" }).filter({ hasText: "works at" }).first();
    const href = await works.locator('a[href^="#/memories/"]').first().getAttribute("href");
    const memory = await api.getLongTermMemory(decodeURIComponent(href!.replace("#/memories/", "")));
    expect(memory.text).toMatch(/Globex Labs/);

    await page.getByLabel("Show history (ended relations)").check();
    await page.waitForURL(/history=1/);
    await page.locator("#graph svg .edge.ended").first().waitFor();
    const ended = page.locator("#graph svg .edge.ended");
    expect(await ended.getAttribute("data-predicate")).toBe("works_at");
    expect(await ended.locator("text").textContent()).toMatch(/^works at\s*until \d{4}-\d{2}-\d{2}$/);
    expect(await page.locator("#facts tr.ended").textContent()).toMatch(/Acme Corp.*ended/);
    // Legible: no two labels (names, relations) overlap.
    expect(await overlappingLabels(page)).toEqual([]);
    await x.shot(page, "graph");

    // A node is a button: selecting it centres the graph on it, keeping the history setting.
    await page.locator('#graph svg .node[data-name="Globex Labs"]').click();
    await page.waitForURL(/q=Globex%20Labs&history=1/);
    await page.locator('#graph svg .node.centre[data-name="Globex Labs"]').waitFor();
    expect(await page.locator('#graph svg .node[data-name="Bob"]').count()).toBe(1);
    // And by keyboard.
    await page.locator('#graph svg .node[data-name="Bob"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('#graph svg .node.centre[data-name="Bob"]').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("data-name"))).toBe("Bob");
    expect(await overlappingLabels(page)).toEqual([]);
    // At phone width the picture scrolls inside its frame; the page does not.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.context().close();
  });

  it("the graph says when nothing is known, and draws it once a memory about it arrives", async () => {
    const tenant = "views-zoe";
    const api = await x.client(tenant);
    const page = await x.signIn(await x.token(tenant), "#/graph?q=Zoe");
    expect(await page.locator("#graph").textContent()).toMatch(/Nothing is known about “Zoe”/);
    await expect.poll(() => page.locator("#conn").textContent()).toBe("open");
    await api.ingest({
      user_id: "Zoe",
      messages: [{ role: "user", content: "I live in Porto and I work at Initech Labs." }],
    });
    await page.locator('#graph svg .node[data-name="Porto"]').waitFor();
    expect(await page.locator("#graph svg .edge text").allTextContents()).toEqual(
      expect.arrayContaining(["lives in", "works at"]),
    );
    await page.context().close();
  });

  it("lists the sessions; a session shows its messages, summary, memories and a token meter for the chosen model", async () => {
    const page = await x.signIn(writer, "#/sessions");
    const ids = await page
      .locator("#session-list tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
    expect(ids.sort()).toEqual(["planning-2", "support-call-1"]);
    expect(await page.locator('#session-list tr[data-id="support-call-1"]').textContent()).toMatch(
      /support.*Alice.*Globex Labs today/,
    );
    expect(await page.getByRole("navigation", { name: "Pages" }).textContent()).toBe("2 sessions");
    await x.shot(page, "sessions");
    // Filtered by namespace.
    await page.getByLabel("Namespace").fill("eng");
    await waitForView(page, "sessions", () => page.getByRole("button", { name: "Filter" }).click());
    expect(page.url()).toMatch(/namespace=eng/);
    expect(await page.locator("#session-list tbody tr").count()).toBe(1);

    await waitForView(page, "sessions/planning-2", () => page.getByRole("link", { name: "planning-2" }).click());
    expect(await page.locator("#messages li").count()).toBe(2);
    expect(await page.locator("#messages li").first().textContent()).toMatch(/user.*caching migration for Q3/);
    await page.locator("#session-memories a", { hasText: "planned for Q3" }).waitFor();

    await x.goto(page, "#/sessions/support-call-1");
    expect(await page.locator("#messages li").count()).toBe(4);
    expect(await page.locator("#session-context").textContent()).toMatch(/moved from Acme Corp/);
    // The meter shows what the server counts for gpt-4o's window.
    const usage = await api.getWorkingMemory("support-call-1", { model_name: "gpt-4o", context_window_max: 128_000 });
    await expect.poll(() => page.locator("#usage-text").textContent()).toMatch(/of 128,000 tokens/);
    expect(await page.locator("#usage-text").textContent()).toContain(`${usage.tokens} of 128,000 tokens (<1%)`);
    expect(await page.locator("#usage-meter").evaluate((m: HTMLMeterElement) => [m.value, m.max])).toEqual([
      usage.tokens,
      128_000,
    ]);
    expect(await page.getByRole("meter", { name: "Token usage of the messages" }).count()).toBe(1);
    await page.getByLabel("Model").selectOption("gpt-4");
    await expect.poll(() => page.locator("#usage-text").textContent()).toMatch(/ of 8,192 tokens \(<?\d+%\)/);
    await page.getByLabel("Context window (tokens)").fill("60");
    await page.getByLabel("Context window (tokens)").press("Enter");
    await expect.poll(() => page.locator("#usage-text").textContent()).toMatch(/only the newest \d of 4 messages fit/);
    await page.getByLabel("Model").selectOption("gpt-4o");
    await expect.poll(() => page.locator("#usage-text").textContent()).toMatch(/of 128,000 tokens/);
    await x.shot(page, "session-detail");
    await page.context().close();
  });

  it("pages the sessions by cursor: Next, Previous, and a reload on a later page", async () => {
    const tenant = "sessions-pages";
    const api = await x.client(tenant);
    for (let i = 0; i < 23; i++) await api.putWorkingMemory(`s${String(i).padStart(2, "0")}`, { messages: [] });
    const page = await x.signIn(await x.token(tenant), "#/sessions");
    const pager = page.getByRole("navigation", { name: "Pages" });
    await expect.poll(() => pager.textContent()).toBe("1–20 of 23Next");
    await waitForView(page, "sessions", () => pager.getByRole("link", { name: "Next" }).click());
    expect(page.url()).toMatch(/#\/sessions\?cursor=[A-Za-z0-9_-]+$/);
    expect(await pager.textContent()).toBe("Previous21–23 of 23");
    expect(await page.locator("#session-list tbody tr").count()).toBe(3);
    await page.reload();
    await expect.poll(() => pager.textContent()).toBe("Previous21–23 of 23");
    await waitForView(page, "sessions", () => pager.getByRole("link", { name: "Previous" }).click());
    expect(await pager.textContent()).toBe("1–20 of 23Next");
    await page.context().close();
  });

  it("deletes a session after an inline confirmation; a reader sees no delete control", async () => {
    const tenant = "views-delete";
    const api = await x.client(tenant);
    await api.putWorkingMemory("scratch-3", { messages: [{ role: "user", content: "A throwaway session" }] });
    const reader = await x.signIn(await x.token(tenant, "memory:read"), "#/sessions/scratch-3");
    expect(await reader.locator("#messages li").count()).toBe(1);
    expect(await reader.locator("[data-write]").count()).toBe(0);
    await reader.context().close();

    const page = await x.signIn(await x.token(tenant), "#/sessions/scratch-3");
    await page.getByRole("button", { name: "Delete session…" }).click();
    // Cancel leaves it; confirming deletes it and returns to the list.
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Delete session…" }).click();
    await waitForView(page, "sessions", () =>
      page.getByRole("button", { name: "Delete session", exact: true }).click(),
    );
    expect(page.url()).toMatch(/#\/sessions$/);
    await expect.poll(() => page.locator(".status-line").textContent()).toBe("Session scratch-3 deleted.");
    expect(await page.locator('#session-list tr[data-id="scratch-3"]').count()).toBe(0);
    await expect(api.getWorkingMemory("scratch-3")).rejects.toMatchObject({ status: 404 });
    // Its page: not found (a 404, on purpose).
    x.allowFailedLoad(page, 404, "/v1/working-memory/scratch-3");
    await x.goto(page, "#/sessions/scratch-3");
    expect(await page.locator("#view").textContent()).toMatch(/Session not found/);
    await page.context().close();
  });

  it("status shows the server's counts and follows new memories; think streams an answer whose citations open the memories", async () => {
    const tenant = "views-status";
    const api = await x.client(tenant);
    await seed(api);
    const page = await x.signIn(await x.token(tenant), "#/status");
    const s = await api.status();
    const shown = (name: string) => page.locator(`[data-stat="${name}"]`).textContent();
    const fmt = (n: number) => n.toLocaleString("en-US");
    expect(await shown("memories.total")).toBe(fmt(s.memories.total));
    for (const [type, n] of Object.entries(s.memories.by_type))
      expect(await shown(`memories.by_type.${type}`)).toBe(fmt(n));
    expect(await shown("entities")).toBe(fmt(s.entities));
    expect(await shown("relations.current")).toBe(fmt(s.relations.current));
    expect(await shown("relations.total")).toBe(fmt(s.relations.total));
    expect(await shown("sessions")).toBe(fmt(s.sessions));
    expect(await shown("index.indexed")).toBe(fmt(s.index.indexed));

    await expect.poll(() => page.locator("#conn").textContent()).toBe("open");
    await api.createLongTermMemories([{ text: "The Lisbon office opens at nine", memory_type: "fact" }]);
    await expect.poll(() => shown("memories.total"), { timeout: 5_000 }).toBe(fmt(s.memories.total + 1));

    // The answer grows as tokens arrive: record its text at each change the page observes (the
    // observer may batch several tokens into one change).
    await page.evaluate(() => {
      const el = document.getElementById("think-answer")!;
      const states: string[] = [];
      (window as unknown as { states: string[] }).states = states;
      new MutationObserver(() => states.push(el.textContent ?? "")).observe(el, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    const response = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/think");
    await page.getByLabel("Question").fill("Who works at Globex Labs?");
    await page.getByRole("button", { name: "Ask" }).click();
    const answer = page.locator("#think-answer");
    await page.locator("#think-answer[data-done]").waitFor();
    // What the server sent: the offline provider streams a sentence per token (two cited
    // sentences, then the facts).
    const tokens = sseTokens(await (await response).text());
    const sent = tokens.join("");
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(await answer.getAttribute("data-tokens")).toBe(String(tokens.length));
    // While it streamed, the text only grew, each state a beginning of what was sent, and the page
    // showed at least one part-way state before the whole; then its citations became links.
    const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
    const linked = states.findIndex((t) => !sent.startsWith(t));
    const streamed = states.slice(0, linked < 0 ? states.length : linked).filter((t) => t !== "");
    expect(streamed.every((t, i) => i === 0 || t.length >= streamed[i - 1]!.length)).toBe(true);
    expect(new Set(streamed).size).toBeGreaterThanOrEqual(2);
    expect(streamed[0]!.length).toBeLessThan(sent.length);
    // The answer shown is what was sent, each `[memory id]` marker now a link to that memory.
    const shownAsSent = await answer.evaluate((el) => {
      const copy = el.cloneNode(true) as HTMLElement;
      for (const a of copy.querySelectorAll('a[href^="#/memories/"]'))
        a.replaceWith(`[${decodeURIComponent(a.getAttribute("href")!.slice("#/memories/".length))}]`);
      return copy.textContent;
    });
    expect(shownAsSent).toBe(sent);
    expect((await answer.textContent())!.trim()).toMatch(/Globex Labs/);
    expect(await answer.getAttribute("aria-live")).toBe("polite");
    expect(await answer.getAttribute("aria-busy")).toBe("false");
    // Citations in the answer and in the sources list link to the memories.
    expect(await answer.locator('a[href^="#/memories/"]').count()).toBeGreaterThanOrEqual(1);
    const cite = page.locator('#citations a[href^="#/memories/"]').first();
    const citedId = decodeURIComponent((await cite.getAttribute("href"))!.replace("#/memories/", ""));
    const citedText = (await api.getLongTermMemory(citedId)).text;
    expect(await cite.textContent()).toBe(citedText);
    expect(await page.locator("#think-facts").textContent()).toMatch(/Alice works at Globex Labs/);
    await x.shot(page, "status-think");

    await page.getByRole("button", { name: "Consolidate now" }).click();
    await page.locator("#last-consolidation").waitFor();
    expect(await page.locator(".status-line").textContent()).toMatch(/^Consolidated: \d+ checked/);

    // A source opens its memory's page.
    await waitForView(page, `memories/${citedId}`, () => cite.click());
    expect(await page.locator("#memory-text").textContent()).toBe(citedText);
    await page.context().close();
  });

  it("a reader may ask (think is a read) but not consolidate; a failing stream shows its error", async () => {
    const page = await x.signIn(await x.token(TENANT, "memory:read"), "#/status");
    expect(await page.locator("[data-write]").count()).toBe(0);
    await page.getByLabel("Question").fill("What do we use for caching?");
    await page.getByRole("button", { name: "Ask" }).click();
    await page.locator("#think-answer[data-done]").waitFor();
    expect(await page.locator("#think-answer").textContent()).toMatch(/Redis|Memcached/);
    // A failure mid-stream: what arrived stays, and the error is said plainly.
    await page.route("**/v1/think", (route) =>
      route.fulfill({
        contentType: "text/event-stream",
        body: 'data: {"token":"We use"}\n\ndata: {"error":{"code":"upstream_timeout","message":"the model took too long"}}\n\n',
      }),
    );
    await page.getByRole("button", { name: "Ask" }).click();
    await page.locator("#think-sources [role=alert]").waitFor();
    expect(await page.locator("#think-answer").textContent()).toBe("We use");
    expect(await page.locator("#think-sources [role=alert]").textContent()).toBe(
      "Think failed: the model took too long (upstream_timeout)",
    );
    await page.context().close();
  });
});

/** The tenant's data (the shared one's, and the status test's own): who works and lives where, a job that ends, two sessions. */
async function seed(api: EdgememClient): Promise<void> {
  // "I" is the user: Alice works at Acme Corp, then at Globex Labs (which ends the first job).
  await api.ingest({
    user_id: "Alice",
    messages: [
      { role: "user", content: "Hi! I work at Acme Corp and I live in Lisbon. I prefer green tea over coffee." },
      { role: "assistant", content: "Noted. We decided to use Redis for caching." },
    ],
  });
  await api.ingest({
    user_id: "Bob",
    messages: [
      { role: "user", content: "I work at Globex Labs and I live in Berlin. Carol Diaz owns the billing service." },
    ],
  });
  await api.ingest({
    user_id: "Dana",
    messages: [{ role: "user", content: "I live in Lisbon too, near the river." }],
  });
  await api.ingest({
    user_id: "Alice",
    messages: [{ role: "user", content: "Big news: I left Acme Corp and work at Globex Labs now." }],
  });
  await api.createLongTermMemories([
    { text: "Remind me to renew the Globex Labs badge by Friday", memory_type: "todo", user_id: "Alice" },
    { text: "Bob prefers morning meetings", memory_type: "preference", user_id: "Bob" },
  ]);
  await api.putWorkingMemory("support-call-1", {
    namespace: "support",
    user_id: "Alice",
    context: "- user: Alice moved from Acme Corp to Globex Labs.",
    messages: [
      { role: "user", content: "Hi, I need help moving my billing account to my new company." },
      { role: "assistant", content: "Of course. Which company are you with now?" },
      { role: "user", content: "Globex Labs. I left Acme Corp last week." },
      { role: "assistant", content: "I will move the billing account to Globex Labs today." },
    ],
  });
  await api.putWorkingMemory("planning-2", {
    namespace: "eng",
    user_id: "Bob",
    messages: [
      { role: "user", content: "Let's plan the caching migration for Q3." },
      { role: "assistant", content: "We decided to use Memcached for caching; Redis stays for the job queues." },
    ],
    memories: [{ id: "plan-q3", text: "The caching migration is planned for Q3", memory_type: "decision" }],
  });
}

/** The tokens of a think stream's server-sent events, in order. */
function sseTokens(body: string): string[] {
  return body
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => JSON.parse(line.slice("data:".length)) as { token?: string })
    .flatMap((event) => (event.token === undefined ? [] : [event.token]));
}

/** Pairs of picture labels (node names, relation names) whose boxes overlap. */
function overlappingLabels(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const labels = [...document.querySelectorAll("#graph svg text")].map((t) => ({
      text: t.textContent!,
      box: t.getBoundingClientRect(),
    }));
    const out: string[] = [];
    labels.forEach((a, i) =>
      labels.slice(i + 1).forEach((b) => {
        const x = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
        const y = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
        if (x > 1 && y > 1) out.push(`${a.text} / ${b.text}`);
      }),
    );
    return out;
  });
}
