// End to end: a real `wrangler dev` (workerd, local D1, the tenant hub Durable Object), driven from
// Node through the client SDK over real HTTP and WebSockets, with JWT auth on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BookmarkStore,
  EdgememClient,
  EdgememError,
  EngramSocket,
  type ConnectionState,
  type EngramEvent,
} from "../../client/index.ts";
import { signToken } from "./tools.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

const SECRET = "e2e-secret-for-hs256-0123456789abcdef";
let dev: WranglerDev;

const tokenFor = (tenant: string, scope?: string) => signToken(SECRET, tenant, { scope });

/** The global WebSocket, remembering every socket it opened (so a test can cut one). */
function trackedWebSocket() {
  const opened: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      opened.push(this);
    }
  }
  return { Tracked, opened };
}

async function until<T>(what: string, probe: () => T | undefined | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dev = await startWranglerDev({ vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET }, output: "ignore" });
});
afterAll(() => dev?.stop());

describe("the client SDK against wrangler dev", () => {
  it("stores, searches, subscribes; after a dropped connection it reconnects and gets the missed events once", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const token = await tokenFor(tenant);
    const client = new EdgememClient({ baseUrl: dev.url, token });
    const { Tracked, opened } = trackedWebSocket();
    const socket = new EngramSocket({ url: dev.url, token: () => tokenFor(tenant), WebSocket: Tracked });
    const events: EngramEvent[] = [];
    const states: { state: ConnectionState; delayMs?: number }[] = [];
    socket.on("*", (e) => events.push(e));
    socket.onState((state, info) => states.push({ state, delayMs: info.delayMs }));
    await socket.connect();

    // Store over REST: the socket is told.
    await client.createLongTermMemories([
      { id: "redis", text: "We decided to use Redis for caching", topics: ["infra"] },
    ]);
    await until("memory_created", () =>
      events.find((e) => e.event === "memory_created" && e.data.memory_id === "redis"),
    );
    const found = await client.searchLongTermMemory({ text: "what do we use for caching?", limit: 3 });
    expect(found.memories[0]!.id).toBe("redis");
    // Commands over the socket.
    const recalled = await socket.send("recall", { query: "caching" });
    expect(recalled.memories.map((m) => m.id)).toEqual(["redis"]);
    const seqBefore = socket.lastSeq;
    expect(seqBefore).toBeGreaterThan(0);

    // The connection drops. While it is down: writes through REST, and a command through the socket.
    opened[0]!.close();
    await until("reconnecting", () => states.some((s) => s.state === "reconnecting"));
    expect(states.find((s) => s.state === "reconnecting" && s.delayMs !== undefined)?.delayMs).toBe(1000);
    await client.createLongTermMemories([
      { id: "pg", text: "Analytics run on PostgreSQL" },
      { id: "kafka", text: "Events flow through Kafka" },
    ]);
    await client.editLongTermMemory("redis", { text: "We decided to use Valkey for caching" });
    const queued = socket.send("remember", { content: "Deploys happen on Thursdays", id: "deploys" });

    // Reconnected (1 s later, with ?since): the missed events arrive, in order, each once; the queued command ran.
    expect((await queued).memory_id).toBe("deploys");
    await until("missed events", () =>
      events.find((e) => e.event === "memory_created" && e.data.memory_id === "deploys"),
    );
    expect(opened.length).toBeGreaterThanOrEqual(2);
    for (const ws of opened.slice(1)) expect(new URL(ws.url).searchParams.get("since")).toBe(String(seqBefore));
    const after = events.filter((e) => e.seq > seqBefore);
    expect(after.map((e) => [e.event, e.data.memory_id])).toEqual([
      ["memory_created", "pg"],
      ["memory_created", "kafka"],
      ["memory_updated", "redis"],
      ["memory_created", "deploys"],
    ]);
    expect(after.map((e) => e.seq)).toEqual([seqBefore + 1, seqBefore + 2, seqBefore + 3, seqBefore + 4]);
    expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
    expect(states.at(-1)!.state).toBe("open");

    socket.close();
    await expect(socket.send("status", {})).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("covers the REST surface: working memory, prompt, knowledge, streaming think, CRUD, errors", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const client = new EdgememClient({ baseUrl: dev.url, token: () => tokenFor(tenant) });
    expect((await client.health()).now).toBeGreaterThan(0);
    // A traced dry run first: typed with its trace, and it writes nothing (the graph below has Redis once).
    const dry = await client.ingest({
      messages: [{ role: "user", content: "Hello! We decided to use Redis for caching." }],
      trace: true,
      dry_run: true,
    });
    expect(dry.dry_run).toBe(true);
    expect(dry.usage).toBeNull();
    expect(dry.trace.map((e) => [e.outcome, e.reason ?? null])).toEqual([
      ["kept", null],
      ["dropped", "greeting"],
    ]);
    expect((await client.queryGraph({ query: "Redis" })).entities).toEqual([]);
    const ingested = await client.ingest({
      messages: [{ role: "user", content: "We decided to use Redis for caching." }],
    });
    expect(ingested.memories[0]!.memory_type).toBe("decision");
    expect((await client.queryGraph({ query: "Redis" })).entities.map((e) => e.name)).toEqual(["Redis"]);

    const tokens: string[] = [];
    let done: any;
    for await (const e of client.thinkStream({ question: "What do we use for caching?" })) {
      if ("token" in e) tokens.push(e.token);
      else if ("done" in e) done = e;
    }
    expect(tokens.join("")).toContain("Redis");
    expect(done.citations[0].memory_id).toBe(ingested.memories[0]!.id);
    expect((await client.think({ question: "What do we use for caching?" })).answer).toBe(tokens.join(""));

    const session = await client.putWorkingMemory(
      "s1",
      { messages: [{ role: "user", content: "Launch is on May 4" }] },
      { model_name: "gpt-4o" },
    );
    expect(session.context_percentage_total_used).toBeGreaterThan(0);
    expect((await client.listSessions()).sessions).toEqual(["s1"]);
    const prompt = await client.memoryPrompt({
      query: "When is the launch?",
      session: { session_id: "s1" },
      long_term_search: true,
    });
    expect(prompt.messages.at(-1)).toEqual({ role: "user", content: "When is the launch?" });
    await client.deleteWorkingMemory("s1");

    const fb = await client.feedback({ memory_id: ingested.memories[0]!.id, rating: "negative" });
    expect(fb.memory.confidence).toBeLessThan(ingested.memories[0]!.confidence);
    expect((await client.status()).memories.total).toBe(1);

    const m = await client.memories.upsert({ key: "theme", value: "dark", agent_id: "a1" });
    expect((await client.memories.update(m.id, { value: "light" })).value).toBe("light");
    expect((await client.memories.history(m.id)).history.map((h) => h.op)).toEqual(["create", "update"]);
    await client.memories.delete(m.id);

    const err = await client.getLongTermMemory("missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgememError);
    expect(err).toMatchObject({ status: 404, code: "not_found" });
    const bad = await client.searchLongTermMemory({ limit: 0 }).catch((e: EdgememError) => e);
    expect(bad).toMatchObject({ status: 422, code: "validation_error", issues: [{ field: "limit" }] });
    const anonymous = new EdgememClient({ baseUrl: dev.url });
    await expect(anonymous.status()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(((await client.openapi()) as any).openapi).toBe("3.1.0");
  });

  it("reads a user's profile, and a prompt that includes it", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const client = new EdgememClient({ baseUrl: dev.url, token: () => tokenFor(tenant) });
    await client.createLongTermMemories([
      { id: "p-name", text: "My name is Alice Moreau.", memory_type: "fact", user_id: "alice" },
      { id: "p-city", text: "I live in Lisbon.", memory_type: "fact", user_id: "alice" },
      { id: "p-todo", text: "Book the Berlin flights.", memory_type: "todo", topics: ["travel"], user_id: "alice" },
      { id: "p-bob", text: "I live in Oslo.", memory_type: "fact", user_id: "bob" },
    ]);
    const profile = await client.profile("alice");
    expect(profile).toMatchObject({ user_id: "alice", generated_by: "rules" });
    expect(profile.stable).toEqual([
      { kind: "name", text: "Name: Alice Moreau", memory_ids: ["p-name"] },
      { kind: "location", text: "Lives in Lisbon", memory_ids: ["p-city"] },
    ]);
    expect(profile.recent.map((l) => l.kind)).toEqual(["topic", "task"]);
    expect((await client.profile("nobody")).stable).toEqual([]);

    const prompt = await client.memoryPrompt({
      query: "Where should I stay?",
      session: { session_id: "none", user_id: "alice" },
      include_profile: true,
    });
    expect(prompt.messages[0]!.content).toContain("- Lives in Lisbon (IDs: p-city)");
    expect(prompt.profile).toEqual({ user_id: "alice", generated_by: "rules", lines: 4, lines_used: 4 });
    const bad = await client.profile("").catch((e: EdgememError) => e);
    expect(bad).toMatchObject({ status: 422, issues: [{ field: "user_id" }] });
  });

  it("stops a streamed think when its signal aborts: before the request, or between events", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const client = new EdgememClient({ baseUrl: dev.url, token: () => tokenFor(tenant) });
    await client.ingest({ messages: [{ role: "user", content: "We decided to use Redis for caching." }] });
    const question = { question: "What do we use for caching?" };
    const before = new AbortController();
    before.abort();
    await expect(client.thinkStream(question, { signal: before.signal }).next()).rejects.toMatchObject({
      name: "AbortError",
    });
    // Aborted after the first event: no further event, even one already received, and the loop throws.
    const during = new AbortController();
    const seen: unknown[] = [];
    const loop = (async () => {
      for await (const e of client.thinkStream(question, { signal: during.signal })) {
        seen.push(e);
        during.abort();
      }
    })();
    await expect(loop).rejects.toMatchObject({ name: "AbortError" });
    expect(seen).toHaveLength(1);
  });

  it("pages by cursor: the CRUD list (its next cursor from a header), sessions and a memory's history", async () => {
    const client = new EdgememClient({ baseUrl: dev.url, token: await tokenFor(`e2e-${crypto.randomUUID()}`) });
    for (let i = 0; i < 5; i++) await client.memories.upsert({ key: `k${i}`, value: `value ${i}` });
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.memories.page({ limit: 2, cursor });
      ids.push(...page.memories.map((m) => m.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(ids).toEqual((await client.memories.list()).map((m) => m.id));
    expect(new Set(ids).size).toBe(5);

    for (const s of ["a", "b", "c"]) await client.putWorkingMemory(s, { messages: [] });
    const first = await client.listSessions({ limit: 2 });
    const rest = await client.listSessions({ limit: 2, cursor: first.next_cursor! });
    expect([...first.sessions, ...rest.sessions]).toEqual(["c", "b", "a"]);
    expect(rest.next_cursor).toBeNull();

    const m = await client.memories.upsert({ key: "edited", value: "v0" });
    for (let i = 1; i <= 3; i++) await client.memories.update(m.id, { value: `v${i}` });
    const newest = await client.memoryHistory(m.id, { limit: 3, order: "desc" });
    expect(newest.history.map((e) => e.after?.text)).toEqual(["v3", "v2", "v1"]);
    const oldest = await client.memories.history(m.id, { limit: 3, order: "desc", cursor: newest.next_cursor! });
    expect(oldest.history.map((e) => e.op)).toEqual(["create"]);
    expect(oldest.next_cursor).toBeNull();
    const bad = await client.memoryHistory(m.id, { cursor: "nonsense" }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 422, issues: [{ field: "cursor" }] });
  });

  it("exports a tenant line by line, imports it into another, resumes from a cursor, imports mem0", async () => {
    const source = new EdgememClient({ baseUrl: dev.url, token: await tokenFor(`e2e-${crypto.randomUUID()}`) });
    await source.createLongTermMemories([
      { id: "x-1", text: "Carol's standup is at 9:30", user_id: "carol" },
      { id: "x-2", text: "The staging database is Postgres 16" },
    ]);
    await source.feedback({ memory_id: "x-1", rating: "positive" });
    const lines = [];
    for await (const line of source.export()) lines.push(line);
    expect(lines[0]).toMatchObject({ type: "header", format: "edgemem-export", version: 1 });
    expect(lines.at(-1)).toMatchObject({ type: "end", counts: { memory: 2, feedback: 1 } });

    const target = new EdgememClient({ baseUrl: dev.url, token: await tokenFor(`e2e-${crypto.randomUUID()}`) });
    const imported = await target.import(lines);
    expect(imported).toMatchObject({ errors: [], truncated: false, imported: { memory: 2, feedback: 1 } });
    expect((await target.import(lines)).unchanged).toMatchObject({ memory: 2, feedback: 1 });
    const data = (l: { type: string }) => !["header", "cursor", "end"].includes(l.type);
    const copy = [];
    for await (const line of target.export()) copy.push(line);
    expect(copy.filter(data)).toEqual(lines.filter(data));

    const cursorAt = lines.findIndex((l) => l.type === "cursor");
    const cursor = (lines[cursorAt] as { cursor: string }).cursor;
    const rest = [];
    for await (const line of source.export({ cursor })) rest.push(line);
    expect(rest.filter(data)).toEqual(lines.slice(cursorAt + 1).filter(data));

    const mem0 = await target.import(JSON.stringify([{ id: "m0-1", memory: "Likes green tea", user_id: "carol" }]), {
      format: "mem0",
    });
    expect(mem0.imported.memory).toBe(1);
    expect((await target.getLongTermMemory("m0-1")).text).toBe("Likes green tea");
    const bad = await target.import("", { format: "nope" as never }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 422, issues: [{ field: "format" }] });
  });

  it("serves MCP at /mcp to the official SDK client", async () => {
    const { Client, StreamableHTTPClientTransport } = await import("@modelcontextprotocol/client");
    const token = await tokenFor(`e2e-${crypto.randomUUID()}`);
    const mcp = new Client({ name: "e2e", version: "1.0.0" });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(`${dev.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    expect((await mcp.listTools()).tools.length).toBe(16);
    const res = (await mcp.callTool({
      name: "create_long_term_memories",
      arguments: { memories: [{ text: "MCP works end to end" }] },
    })) as any;
    expect(res.isError).toBeFalsy();
    await mcp.close();
  });
});

describe("read-your-writes bookmarks through the SDK", () => {
  /** A fetch that records the bookmark each request sent and each answer carried. */
  function recordingFetch() {
    const seen: { path: string; sent: string | null; got: string | null }[] = [];
    const fetchImpl = async (input: string, init: RequestInit) => {
      const res = await fetch(input, init);
      const sent = (init.headers as Record<string, string>)["x-edgemem-bookmark"] ?? null;
      seen.push({ path: new URL(input).pathname, sent, got: res.headers.get("x-edgemem-bookmark") });
      return res;
    };
    return { fetch: fetchImpl, seen };
  }

  it("the client keeps a write's bookmark and sends it with the next request; bookmarks: false sends none", async () => {
    const token = await tokenFor(`e2e-${crypto.randomUUID()}`);
    const { fetch, seen } = recordingFetch();
    const client = new EdgememClient({ baseUrl: dev.url, token, fetch });
    await client.createLongTermMemories([{ id: "rw", text: "Reads see this write" }]);
    const written = seen[0]!.got;
    expect(seen[0]!.sent).toBeNull();
    expect(written).toMatch(/^DB(_SHARD_\d+)?:[0-9A-Za-z-]+$/);
    expect(client.bookmark).toBe(written);
    expect((await client.getLongTermMemory("rw")).text).toBe("Reads see this write");
    expect(seen[1]!.sent).toBe(written);
    // The answers' bookmarks never go back: what the client holds is the newest it saw.
    await client.editLongTermMemory("rw", { text: "Reads see this edit" });
    await client.getLongTermMemory("rw");
    expect(seen[3]!.sent).toBe(seen[2]!.got);

    const off = recordingFetch();
    const plain = new EdgememClient({ baseUrl: dev.url, token, fetch: off.fetch, bookmarks: false });
    await plain.createLongTermMemories([{ text: "No bookmark" }]);
    await plain.getLongTermMemory("rw");
    expect(off.seen.map((s) => s.sent)).toEqual([null, null]);
    expect(off.seen[0]!.got).not.toBeNull();
    expect(plain.bookmark).toBeNull();
  });

  it("a REST write, then a recall on an EngramSocket sharing the store: the frame carries the write's bookmark", async () => {
    const tenant = `e2e-${crypto.randomUUID()}`;
    const bookmarks = new BookmarkStore();
    const frames: any[] = [];
    class Recording extends WebSocket {
      override send(data: string) {
        frames.push(JSON.parse(data));
        super.send(data);
      }
    }
    const { fetch, seen } = recordingFetch();
    const client = new EdgememClient({ baseUrl: dev.url, token: () => tokenFor(tenant), fetch, bookmarks });
    const socket = new EngramSocket({ url: dev.url, token: () => tokenFor(tenant), WebSocket: Recording, bookmarks });
    await socket.connect();

    await client.createLongTermMemories([{ id: "shared", text: "The socket reads the REST write" }]);
    const written = seen[0]!.got!;
    const recalled = await socket.send("recall", { query: "socket reads REST write" });
    expect(recalled.memories.map((m) => m.id)).toEqual(["shared"]);
    expect(frames.at(-1)).toMatchObject({ command: "recall", bookmark: written });

    // And back: the socket's write, then a REST read with the bookmark its reply carried.
    const remembered = await socket.send("remember", { content: "Written on the socket", id: "sock" });
    expect(remembered.memory_id).toBe("sock");
    const fromSocket = bookmarks.value!;
    expect(fromSocket).toMatch(/^DB(_SHARD_\d+)?:/);
    expect((await client.getLongTermMemory("sock")).text).toBe("Written on the socket");
    expect(seen.at(-1)!.sent).toBe(fromSocket);
    socket.close();
  });
});
