import type { Client } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { OfflineLlm } from "../src/ai/offline-llm.ts";
import { MEMORIES_HEADING, packPrompt, PROFILE_HEADING } from "../src/domain/budget.ts";
import { buildMemory, type Memory, type NewMemory } from "../src/domain/memory.ts";
import { buildProfile, PROFILE_LIMITS } from "../src/domain/profile.ts";
import { createLogger } from "../src/log.ts";
import { Profiles } from "../src/service/profile.ts";
import { GraphRepo } from "../src/store/graph-repo.ts";
import { MemoryRepo } from "../src/store/memory-repo.ts";
import { ProfileRepo } from "../src/store/profile-repo.ts";
import { messageTokens, REPLY_PRIMING_TOKENS, tokenCounter } from "../src/domain/tokens.ts";
import { search, store, tenantApi, type Api } from "./support/api.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL, type FakeOpenAi, type RecordedRequest } from "./support/fake-openai.ts";
import { mcpClient } from "./support/mcp.ts";
import { metered } from "./support/metered.ts";
import { directoryOf, moveTenant, otherShard } from "./support/moves.ts";
import { routed, testShards } from "./support/shards.ts";
import { connect } from "./support/sockets.ts";
import { warmTokenizers } from "./support/tokens.ts";

warmTokenizers();

const profile = (api: Api, query: string) => api.call("GET", `/v1/profile?${query}`);
const lines = (body: any): any[] => [...body.stable, ...body.recent];
const texts = (body: any) => lines(body).map((l) => l.text as string);

/** Alice: a name, a city (moved once), an employer and a role (by ingest: graph facts), preferences, tasks, topics. */
async function seedAlice(api: Api): Promise<void> {
  await store(api, [
    { id: "a-name", text: "My name is Alice Moreau.", memory_type: "fact", user_id: "alice" },
    {
      id: "a-old-city",
      text: "I live in Porto.",
      memory_type: "fact",
      user_id: "alice",
      created_at: "2025-01-01T00:00:00Z",
    },
    {
      id: "a-pref",
      text: "Alice prefers short answers with code examples.",
      memory_type: "preference",
      user_id: "alice",
      priority: 8,
    },
    { id: "a-pref-2", text: "User likes dark mode in every editor.", memory_type: "preference", user_id: "alice" },
    {
      id: "a-todo",
      text: "Renew the passport before the Berlin trip.",
      memory_type: "todo",
      topics: ["travel"],
      user_id: "alice",
    },
    {
      id: "a-cache-1",
      text: "We decided to use Redis for caching.",
      memory_type: "decision",
      topics: ["caching"],
      user_id: "alice",
    },
    {
      id: "a-cache-2",
      text: "The cache hit rate dropped to 60% last week.",
      memory_type: "event",
      topics: ["caching"],
      user_id: "alice",
    },
  ]);
  const ingest = await api.call("POST", "/v1/ingest", {
    user_id: "alice",
    messages: [{ role: "user", content: "I moved to Lisbon in March. I work at Globex as a data engineer." }],
  });
  expect(ingest.status).toBe(200);
  expect(ingest.body.relations.map((r: any) => r.predicate).sort()).toEqual(
    expect.arrayContaining(["lives_in", "works_at"]),
  );
}

/** Bob, in the same tenant: nothing of his may reach Alice's profile. */
async function seedBob(api: Api): Promise<void> {
  await store(api, [
    { id: "b-city", text: "I live in Oslo.", memory_type: "fact", user_id: "bob" },
    { id: "b-pref", text: "Bob prefers long answers.", memory_type: "preference", user_id: "bob" },
    { id: "b-task", text: "Ship the Initech report.", memory_type: "todo", topics: ["reports"], user_id: "bob" },
  ]);
  await api.call("POST", "/v1/ingest", {
    user_id: "bob",
    messages: [{ role: "user", content: "I work at Initech." }],
  });
}

async function idsOf(api: Api, userId: string): Promise<Set<string>> {
  const found = await search(api, { text: "", user_id: { eq: userId }, limit: 100 });
  return new Set(found.memories.map((m) => m.id as string));
}

describe("GET /v1/profile (rules, offline)", () => {
  it("has the user's name, city, employer, preferences, tasks and topics, each citing that user's memories only", async () => {
    const api = await tenantApi();
    const elsewhere = await tenantApi();
    await seedAlice(api);
    await seedBob(api);
    await store(elsewhere, [{ id: "x-city", text: "I live in Tokyo.", memory_type: "fact", user_id: "alice" }]);

    const res = await profile(api, "user_id=alice");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user_id: "alice", namespace: null, generated_by: "rules" });
    const byKind = (kind: string) => lines(res.body).filter((l) => l.kind === kind);
    expect(byKind("name").map((l) => l.text)).toEqual(["Name: Alice Moreau"]);
    // The newer statement (and its graph fact) wins over the older city.
    expect(byKind("location").map((l) => l.text)).toEqual(["Lives in Lisbon"]);
    expect(byKind("work").map((l) => l.text)).toEqual(["Works at Globex"]);
    expect(byKind("role").map((l) => l.text)).toEqual(["Role: data engineer"]);
    expect(byKind("preference").map((l) => l.text)).toEqual([
      "Alice prefers short answers with code examples.",
      "User likes dark mode in every editor.",
    ]);
    expect(byKind("task").map((l) => l.text)).toEqual(["To do: Renew the passport before the Berlin trip."]);
    expect(byKind("topic")[0]).toMatchObject({ text: "Active topic: caching (2 recent memories)" });
    expect(byKind("topic")[0].memory_ids.sort()).toEqual(["a-cache-1", "a-cache-2"]);
    expect(res.body.stable.map((l: any) => l.kind)).not.toContain("task");

    const alice = await idsOf(api, "alice");
    for (const l of lines(res.body)) {
      expect(l.memory_ids.length).toBeGreaterThan(0);
      for (const id of l.memory_ids) expect(alice, `${l.text} cites ${id}`).toContain(id);
    }
    const all = texts(res.body).join("\n");
    for (const leak of ["Oslo", "Initech", "Bob", "Tokyo", "Porto"]) expect(all).not.toContain(leak);

    // Bob's profile is his; the other tenant's Alice has her own.
    const bob = await profile(api, "user_id=bob");
    expect(texts(bob.body)).toEqual(expect.arrayContaining(["Lives in Oslo", "Works at Initech"]));
    expect(texts(bob.body).join("\n")).not.toMatch(/Alice|Lisbon|Globex/);
    const other = await profile(elsewhere, "user_id=alice");
    expect(texts(other.body)).toEqual(["Lives in Tokyo"]);
  });

  it("is deterministic, namespaced on request, and empty (not 404) for a user it knows nothing of", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "w", text: "I work at Acme.", memory_type: "fact", user_id: "carol", namespace: "work" },
      { id: "h", text: "I live in Rome.", memory_type: "fact", user_id: "carol", namespace: "home" },
    ]);
    const a = await profile(api, "user_id=carol");
    const b = await profile(api, "user_id=carol");
    expect(b.body.stable).toEqual(a.body.stable);
    expect(b.body.fingerprint).toBe(a.body.fingerprint);
    expect(texts(a.body)).toEqual(["Lives in Rome", "Works at Acme"]);
    expect(texts((await profile(api, "user_id=carol&namespace=work")).body)).toEqual(["Works at Acme"]);

    const nobody = await profile(api, "user_id=nobody");
    expect(nobody.status).toBe(200);
    expect(nobody.body).toMatchObject({
      user_id: "nobody",
      stable: [],
      recent: [],
      generated_by: "rules",
      memories_read: 0,
    });
  });

  it("bad input is a 422 naming the field; a read-only token may read", async () => {
    const api = await tenantApi({ scope: "memory:read" });
    const missing = await profile(api, "");
    expect(missing.status).toBe(422);
    expect(missing.body.issues.map((i: any) => i.field)).toContain("user_id");
    const empty = await profile(api, "user_id=");
    expect(empty.status).toBe(422);
    expect(empty.body.issues.map((i: any) => i.field)).toContain("user_id");
    const long = await profile(api, `user_id=alice&namespace=${"n".repeat(300)}`);
    expect(long.status).toBe(422);
    expect(long.body.issues.map((i: any) => i.field)).toContain("namespace");
    expect((await profile(api, "user_id=alice")).status).toBe(200);
  });

  it(
    "reads bounded pages: a user with 600 memories costs a few hundred rows, not the tenant",
    { timeout: 120_000 },
    async () => {
      const api = await tenantApi();
      for (const user of ["dora", "ed"])
        for (let batch = 0; batch < 3; batch++)
          await store(
            api,
            Array.from({ length: 100 }, (_, i) => ({
              id: `${user}-${batch}-${i}`,
              text: `Note ${i} of batch ${batch} about project ${i % 7}`,
              memory_type: i % 10 === 0 ? "todo" : i % 3 === 0 ? "preference" : "semantic",
              topics: [`project-${i % 7}`],
              user_id: user,
            })),
          );
      const { dbs, meter } = metered(routed());
      const profiles = new Profiles({
        memoryStore: new MemoryRepo(dbs, false),
        graphStore: new GraphRepo(dbs),
        profileStore: new ProfileRepo(dbs),
        llm: new OfflineLlm(),
        summarize: false,
        log: createLogger("error"),
        clock: Date.now,
      });
      const p = await profiles.get(
        { tenant: api.tenant, subject: "t", scopes: null },
        { userId: "dora", namespace: null },
      );
      const L = PROFILE_LIMITS;
      expect(p.memories_read).toBeLessThanOrEqual(L.recentRead + 3 * L.stablePerType + 2 * L.tasksPerType);
      expect(p.stable.length).toBeLessThanOrEqual(L.maxStable);
      expect(p.recent.length).toBeLessThanOrEqual(L.maxRecent);
      // 6 pages of at most 100 rows (+1 each for the next-page probe) and the graph lookup.
      expect(meter.rowsRead).toBeLessThan(L.recentRead + 3 * L.stablePerType + 2 * L.tasksPerType + 50);
      console.log(
        `profile of a user with 300 of the tenant's 600 memories: ${meter.rowsRead} rows read, ${meter.roundTrips} round trips`,
      );
    },
  );
});

describe("the rules (domain/profile.ts)", () => {
  const at = Date.parse("2026-01-01T00:00:00Z");
  async function mem(id: string, text: string, extra: Partial<NewMemory> = {}, minutes = 0): Promise<Memory> {
    return buildMemory("t", id, { text, user_id: "u", memory_type: "fact", ...extra }, at + minutes * 60_000);
  }

  it("the newest value of a single-valued fact wins; the older statement is not offered as a fact", async () => {
    const p = buildProfile({
      userId: "u",
      facts: [],
      memories: [await mem("1", "I live in Paris.", {}, 0), await mem("2", "The user moved to Madrid.", {}, 5)],
    });
    expect(p.stable).toEqual([{ kind: "location", text: "Lives in Madrid", memory_ids: ["2"] }]);
  });

  it("caps lines per section and characters per line", async () => {
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        mem(
          `p${i}`,
          `User prefers option ${i} ${"very ".repeat(100)}much`,
          { memory_type: "preference", topics: [`t${i}`] },
          i,
        ),
      ),
    );
    const p = buildProfile({ userId: "u", facts: [], memories: many });
    expect(p.stable.length).toBe(PROFILE_LIMITS.preferences);
    expect(p.recent.length).toBe(PROFILE_LIMITS.topics);
    for (const l of p.stable) expect(l.text.length).toBeLessThanOrEqual(PROFILE_LIMITS.lineChars);
  });
});

describe("packPrompt with a profile (domain/budget.ts)", () => {
  const input = {
    query: "What should I pack for the trip?",
    summary: "- user: The trip to Berlin is in May.",
    memories: Array.from({ length: 6 }, (_, i) => ({ id: `m${i}`, text: `Memory number ${i} about the Berlin trip` })),
    messages: Array.from({ length: 6 }, (_, i) => ({
      role: i % 2 ? "assistant" : "user",
      content: `Message ${i} about packing`,
    })),
  };
  const profileLines = Array.from({ length: 10 }, (_, i) => `- Profile line ${i} (IDs: p${i})`);

  it("without a profile (absent, null or empty) packs exactly as before, at every window", async () => {
    const counter = await tokenCounter("cl100k_base");
    for (let window = 20; window <= 400; window += 7) {
      const before = packPrompt(input, window, counter);
      expect(packPrompt({ ...input, profile: null }, window, counter)).toEqual(before);
      expect(packPrompt({ ...input, profile: [] }, window, counter)).toEqual(before);
      expect(before.profileUsed).toBe(0);
    }
  });

  it("fits the window at every size, whole lines in order, after the memories' first pass and before recent messages give way", async () => {
    const counter = await tokenCounter("cl100k_base");
    let last = 0;
    for (let window = 20; window <= 600; window += 5) {
      const p = packPrompt({ ...input, profile: profileLines }, window, counter);
      expect(p.tokens).toBeLessThanOrEqual(window);
      const total = p.messages.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);
      expect(total).toBe(p.tokens);
      last = p.profileUsed;
      if (p.profileUsed) {
        const system = p.messages[0]!.content;
        expect(system.startsWith(`${PROFILE_HEADING}\n${profileLines.slice(0, p.profileUsed).join("\n")}\n\n`)).toBe(
          true,
        );
        expect(system).toContain(MEMORIES_HEADING);
      }
      // The profile never crowds out the memories' first pass.
      const without = packPrompt(input, window, counter);
      expect(p.memoriesUsed).toBeGreaterThanOrEqual(Math.min(without.memoriesUsed, 1));
    }
    expect(last).toBe(profileLines.length);
  });
});

describe("POST /v1/memory/prompt with include_profile", () => {
  const countTokens = async (messages: { role: string; content: string }[]) => {
    const counter = await tokenCounter("o200k_base");
    return messages.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);
  };

  it("puts the profile in the system message, citing ids, within the budget; the user comes from the session or the search", async () => {
    const api = await tenantApi();
    await seedAlice(api);
    const put = await api.call("PUT", "/v1/working-memory/chat-a", {
      user_id: "alice",
      messages: [{ role: "user", content: "Can you help me plan the trip?" }],
    });
    expect(put.status).toBe(200);
    const body = {
      query: "What should I pack?",
      session: { session_id: "chat-a", user_id: "alice", model_name: "gpt-4o" },
      long_term_search: { limit: 3 },
    };
    const res = await api.call("POST", "/v1/memory/prompt", { ...body, include_profile: true });
    expect(res.status).toBe(200);
    const system = res.body.messages[0];
    expect(system.role).toBe("system");
    expect(system.content.startsWith(`${PROFILE_HEADING}\n- Name: Alice Moreau (IDs: a-name)`)).toBe(true);
    expect(system.content).toContain("- Lives in Lisbon (IDs: ");
    expect(res.body.profile).toMatchObject({ user_id: "alice", generated_by: "rules" });
    expect(res.body.profile.lines_used).toBe(res.body.profile.lines);
    expect(res.body.tokens).toBe(await countTokens(res.body.messages));

    // Without it the answer is what it always was: no profile anywhere.
    const plain = await api.call("POST", "/v1/memory/prompt", body);
    expect(plain.body.messages[0].content).not.toContain(PROFILE_HEADING);
    expect(plain.body.profile).toBeUndefined();
    expect((await api.call("POST", "/v1/memory/prompt", { ...body, include_profile: false })).body).toEqual(plain.body);

    // From the long-term search's user filter.
    const bySearch = await api.call("POST", "/v1/memory/prompt", {
      query: "What should I pack?",
      long_term_search: { user_id: { eq: "alice" }, limit: 3 },
      include_profile: true,
    });
    expect(bySearch.body.messages[0].content).toContain("Name: Alice Moreau");
  });

  it("a tight window trims the profile line by line and stays within context_window_max", async () => {
    const api = await tenantApi();
    await seedAlice(api);
    const body = (window: number) => ({
      query: "What should I pack?",
      session: { session_id: "none", user_id: "alice", context_window_max: window },
      include_profile: true,
    });
    const wide = await api.call("POST", "/v1/memory/prompt", body(4000));
    const all = wide.body.profile.lines as number;
    expect(wide.body.profile.lines_used).toBe(all);
    for (const window of [wide.body.tokens - 1, Math.floor(wide.body.tokens / 2), 40]) {
      const res = await api.call("POST", "/v1/memory/prompt", body(window));
      expect(res.status).toBe(200);
      expect(res.body.tokens).toBeLessThanOrEqual(window);
      const counter = await tokenCounter("cl100k_base");
      expect(res.body.messages.reduce((n: number, m: any) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS)).toBe(
        res.body.tokens,
      );
      const used = res.body.profile.lines_used as number;
      expect(used).toBeLessThan(all);
      const shown = res.body.messages[0].role === "system" ? res.body.messages[0].content.split("\n").slice(1) : [];
      expect(shown).toHaveLength(used);
      expect(res.body.messages.at(-1)).toEqual({ role: "user", content: "What should I pack?" });
    }
  });

  it("include_profile without a user is a 422 naming include_profile", async () => {
    const api = await tenantApi();
    const res = await api.call("POST", "/v1/memory/prompt", {
      query: "hi",
      long_term_search: { limit: 3 },
      include_profile: true,
    });
    expect(res.status).toBe(422);
    expect(res.body.issues.map((i: any) => i.field)).toEqual(["include_profile"]);
    const bad = await api.call("POST", "/v1/memory/prompt", {
      query: "hi",
      long_term_search: true,
      include_profile: "yes",
    });
    expect(bad.status).toBe(422);
    expect(bad.body.issues.map((i: any) => i.field)).toContain("include_profile");
  });
});

/** The fake LLM answering profile requests with a summary of the notes it was sent (plus an invented id). */
function profileReply(req: RecordedRequest): string {
  const system = req.body.messages[0]?.content ?? "";
  if (!system.includes("profile an AI assistant keeps")) return "Summary: not a profile request.";
  const user = req.body.messages.at(-1)!.content;
  const ids = [...user.matchAll(/\[([^\]]+)\]$/gm)].map((m) => m[1]!.split(", ")[0]!);
  return JSON.stringify({
    stable: [
      {
        kind: "summary",
        text: "Alice Moreau, a data engineer at Globex, lives in Lisbon.",
        memory_ids: [ids[0], "invented-id"],
      },
    ],
    recent: [{ kind: "task", text: "She is preparing a trip to Berlin.", memory_ids: ["invented-id"] }],
  });
}

describe("GET /v1/profile with an LLM", () => {
  async function llmApi(fake: FakeOpenAi, env: Record<string, unknown> = {}) {
    fake.reply = profileReply;
    const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY, LLM_MAX_RETRIES: "0", ...env } });
    await store(api, [
      { id: "l-name", text: "My name is Alice Moreau.", memory_type: "fact", user_id: "alice" },
      { id: "l-city", text: "I live in Lisbon.", memory_type: "fact", user_id: "alice" },
      { id: "l-bob", text: "I live in Oslo.", memory_type: "fact", user_id: "bob" },
    ]);
    return api;
  }
  const profileRequests = (fake: FakeOpenAi) =>
    fake.requests.filter((r) => r.body.messages[0]?.content.includes("profile an AI assistant keeps")).length;

  it("summarizes, cites only ids the rules cited, and is cached until the user's memories change", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await llmApi(fake);
      const first = await profile(api, "user_id=alice");
      expect(first.status).toBe(200);
      expect(first.body.generated_by).toBe("llm");
      expect(first.body.stable).toEqual([
        { kind: "summary", text: "Alice Moreau, a data engineer at Globex, lives in Lisbon.", memory_ids: ["l-name"] },
      ]);
      // The line citing only an invented id is gone.
      expect(first.body.recent).toEqual([]);
      expect(profileRequests(fake)).toBe(1);
      // The notes sent were Alice's only.
      expect(fake.requests[0]!.body.messages.at(-1)!.content).not.toContain("Oslo");

      const again = await profile(api, "user_id=alice");
      expect(again.body).toEqual(first.body);
      expect(profileRequests(fake)).toBe(1);
      // Another user's new memory changes nothing for Alice.
      await store(api, [{ id: "l-bob-2", text: "Bob prefers tea.", memory_type: "preference", user_id: "bob" }]);
      expect((await profile(api, "user_id=alice")).body.generated_at).toBe(first.body.generated_at);
      expect(profileRequests(fake)).toBe(1);

      await store(api, [{ id: "l-pref", text: "Alice prefers tea.", memory_type: "preference", user_id: "alice" }]);
      const changed = await profile(api, "user_id=alice");
      expect(changed.body.generated_by).toBe("llm");
      expect(changed.body.fingerprint).not.toBe(first.body.fingerprint);
      expect(profileRequests(fake)).toBe(2);
      // An edit and a delete invalidate too.
      expect(
        (await api.call("PATCH", "/v1/long-term-memory/l-pref", { text: "Alice prefers green tea." })).status,
      ).toBe(200);
      await profile(api, "user_id=alice");
      expect(profileRequests(fake)).toBe(3);
      expect((await api.call("DELETE", "/v1/long-term-memory?memory_ids=l-pref")).status).toBe(200);
      await profile(api, "user_id=alice");
      expect(profileRequests(fake)).toBe(4);
    } finally {
      fake.restore();
    }
  });

  it(
    "the cached summary moves with the tenant: no new LLM call on the new shard, nothing left on the old",
    { timeout: 60_000 },
    async () => {
      const fake = fakeOpenAi();
      try {
        const api = await llmApi(fake);
        const first = await profile(api, "user_id=alice");
        expect(first.body.generated_by).toBe("llm");
        const from = (await directoryOf(api.tenant))!.shard;
        const count = (shard: string) =>
          testShards()
            .db(shard)
            .prepare("SELECT count(*) AS n FROM user_profiles WHERE tenant = ?")
            .bind(api.tenant)
            .first<{ n: number }>();
        expect((await count(from))!.n).toBe(1);
        await moveTenant(api.tenant, otherShard(from));
        expect((await count(from))!.n).toBe(0);
        expect((await count(otherShard(from)))!.n).toBe(1);
        expect((await profile(api, "user_id=alice")).body).toEqual(first.body);
        expect(profileRequests(fake)).toBe(1);
      } finally {
        fake.restore();
      }
    },
  );

  it("an LLM failure or a malformed summary returns the rule profile with a warning, never a 5xx", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await llmApi(fake);
      fake.queue({ kind: "status", status: 500 });
      const failed = await profile(api, "user_id=alice");
      expect(failed.status).toBe(200);
      expect(failed.body.generated_by).toBe("rules");
      expect(texts(failed.body)).toEqual(["Name: Alice Moreau", "Lives in Lisbon"]);
      expect(failed.body.warnings[0]).toMatch(/^LLM profile summary failed/);

      fake.queue({ kind: "reply", text: "Alice is nice." });
      const malformed = await profile(api, "user_id=alice");
      expect(malformed.body).toMatchObject({ generated_by: "rules", warnings: [expect.stringMatching(/LLM profile/)] });

      // Nothing failed was cached: the next read asks again, and caches a good answer.
      const good = await profile(api, "user_id=alice");
      expect(good.body.generated_by).toBe("llm");
      expect(good.body.warnings).toBeUndefined();

      // The prompt carries the fallback's warning too.
      await store(api, [{ id: "l-new", text: "Alice prefers coffee.", memory_type: "preference", user_id: "alice" }]);
      fake.queue({ kind: "network" });
      const prompt = await api.call("POST", "/v1/memory/prompt", {
        query: "hello",
        session: { session_id: "s", user_id: "alice" },
        include_profile: true,
      });
      expect(prompt.status).toBe(200);
      expect(prompt.body.profile.generated_by).toBe("rules");
      expect(prompt.body.warnings).toEqual([expect.stringMatching(/LLM profile summary failed/)]);
    } finally {
      fake.restore();
    }
  });
});

describe("MCP get_user_profile and memory_prompt include_profile", () => {
  async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
    const res = (await client.callTool({ name, arguments: args })) as any;
    return res;
  }

  it("answers as REST does; memory_prompt takes include_profile", async () => {
    const api = await tenantApi();
    await seedAlice(api);
    const client = await mcpClient(api);
    const res = await tool(client, "get_user_profile", { user_id: "alice" });
    expect(res.isError).toBeFalsy();
    const rest = await profile(api, "user_id=alice");
    expect({ ...res.structuredContent, generated_at: null }).toEqual({ ...rest.body, generated_at: null });

    const prompt = await tool(client, "memory_prompt", {
      query: "What should I pack?",
      user_id: { eq: "alice" },
      include_profile: true,
    });
    expect(prompt.isError).toBeFalsy();
    expect(prompt.structuredContent.messages[0].content).toContain("Name: Alice Moreau");

    const bad = await tool(client, "get_user_profile", {});
    expect(bad.isError).toBe(true);
    expect(bad.content[0].text).toContain("user_id");
  });
});

describe("engram profile command", () => {
  it("answers as REST does; a missing user_id is INVALID_MESSAGE naming it", async () => {
    const api = await tenantApi();
    await seedAlice(api);
    const ws = await connect(api);
    ws.send({ command: "profile", payload: { user_id: "alice" }, id: 1 });
    const res = await ws.next((f: any) => f.id === 1);
    expect(res).toMatchObject({ command: "profile", status: "ok" });
    const rest = await profile(api, "user_id=alice");
    expect({ ...res.data, generated_at: null }).toEqual({ ...rest.body, generated_at: null });

    ws.send({ command: "profile", payload: {}, id: 2 });
    const bad = await ws.next((f: any) => f.id === 2);
    expect(bad).toMatchObject({ status: "error", error: { code: "INVALID_MESSAGE" } });
    expect(JSON.stringify(bad.error)).toContain("user_id");
  });
});
