import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import worker from "../src/index.ts";
import { decodeExportCursor } from "../src/domain/export.ts";
import { rendezvous } from "../src/domain/placement.ts";
import { TenantExport, type TenantExportDeps } from "../src/service/export.ts";
import { ExportRepo } from "../src/store/export-repo.ts";
import { hubEvents, search, store, tenantApi, type Api } from "./support/api.ts";
import { hostileString, RUNS, SEED } from "./support/fuzz.ts";
import { metered } from "./support/metered.ts";
import { dbOf, routed } from "./support/shards.ts";
import { warmTokenizers } from "./support/tokens.ts";

warmTokenizers();

type Line = Record<string, any> & { type: string };

/** GET /v1/export, the raw response (status, content type and body text). */
async function exportRaw(api: Api, query = ""): Promise<{ status: number; type: string | null; text: string }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://edgemem.test/v1/export${query}`, {
      headers: { authorization: `Bearer ${api.token}` },
    }) as never,
    api.env,
    ctx,
  );
  // Bytes decoded here: workerd warns when .text() reads a body that is not text/* or JSON.
  const text = new TextDecoder().decode(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { status: res.status, type: res.headers.get("content-type"), text };
}

async function exportLines(api: Api, query = ""): Promise<Line[]> {
  const res = await exportRaw(api, query);
  expect(res.status, res.text).toBe(200);
  expect(res.type).toBe("application/x-ndjson");
  expect(res.text.endsWith("\n")).toBe(true);
  return res.text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
}

const importBody = (api: Api, body: string, query = "") => api.call("POST", `/v1/import${query}`, body);

const toText = (lines: Line[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
/** The data records of an export, without what differs from one export to the next. */
const records = (lines: Line[]) => lines.filter((l) => !["header", "cursor", "end"].includes(l.type));

/** A fresh tenant placed on the other shard than `than` (rendezvous hashing picks the shard from the name). */
async function tenantOnOtherShard(than: Api): Promise<Api> {
  const source = rendezvous(than.tenant, ["DB", "DB_SHARD_1"]);
  for (;;) {
    const tenant = `t-${crypto.randomUUID()}`;
    if (rendezvous(tenant, ["DB", "DB_SHARD_1"]) !== source) return tenantApi({ tenant });
  }
}

/** A tenant with every kind of record: memories (one updated, one deleted), graph, a session, feedback. */
async function populated(): Promise<{ api: Api; ids: string[] }> {
  const api = await tenantApi();
  await store(api, [
    { id: "m-1", text: "Alice prefers dark roast coffee", user_id: "alice", topics: ["coffee"] },
    { id: "m-2", text: "The deploy runs every Friday at noon", namespace: "ops", event_date: "2026-03-06T12:00:00Z" },
    { id: "m-3", text: "A memory that will be deleted", metadata: { tag: "tmp" } },
  ]);
  expect(
    (await api.call("PATCH", "/v1/long-term-memory/m-1", { text: "Alice prefers light roast coffee" })).status,
  ).toBe(200);
  expect((await api.call("DELETE", "/v1/long-term-memory/?memory_ids=m-3")).status).toBe(200);
  const ingest = await api.call("POST", "/v1/ingest", {
    messages: [{ role: "user", content: "We decided to use Redis for caching" }],
  });
  expect(ingest.status).toBe(200);
  const put = await api.call("PUT", "/v1/working-memory/s-1", {
    messages: [
      { role: "user", content: "Hello", created_at: "2026-01-01T10:00:00Z" },
      { role: "assistant", content: "Hi there", id: "msg-2" },
    ],
    memories: [{ text: "The user said hello", id: "wm-1" }],
    data: { mood: "cheerful" },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  const fb = await api.call("POST", "/v1/feedback", { memory_id: "m-2", rating: "positive", comment: "useful" });
  expect(fb.status).toBe(200);
  // Valid time: c-1 superseded by c-2 (as in docs/temporal.md's example), m-2 invalidated.
  for (const m of [
    { id: "c-1", text: "We use RabbitMQ for queues", valid_from: "2026-01-10T09:00:00Z" },
    { id: "c-2", text: "We switched to Kafka for queues", valid_from: "2026-03-05T09:00:00Z" },
  ]) {
    const res = await api.call("POST", "/v1/long-term-memory/", { memories: [m], deduplicate: false });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const closed = await api.call("POST", "/v1/long-term-memory/m-2/invalidate", { reason: "moved to Saturdays" });
  expect(closed.status, JSON.stringify(closed.body)).toBe(200);
  // The session's memory is promoted to long-term memory as it is stored.
  return { api, ids: ["m-1", "m-2", "wm-1", "c-1", "c-2", ingest.body.memories[0].id] };
}

describe("export", () => {
  it("streams a header, every kind of record, a cursor after each page, and an end line with the counts", async () => {
    const { api, ids } = await populated();
    const lines = await exportLines(api);
    expect(lines[0]).toMatchObject({ type: "header", format: "edgemem-export", version: 1, tenant: api.tenant });
    expect(typeof lines[0]!.exported_at).toBe("number");
    const end = lines.at(-1)!;
    expect(end).toMatchObject({ type: "end", complete: true });

    const data = records(lines);
    const kinds = data.map((l) => l.type);
    // Kind after kind, in the format's order.
    expect([...new Set(kinds)]).toEqual(["memory", "history", "entity", "relation", "session", "feedback"]);
    for (const kind of Object.keys(end.counts)) expect(end.counts[kind]).toBe(kinds.filter((k) => k === kind).length);

    const memories = data.filter((l) => l.type === "memory");
    expect(memories.map((m) => m.id).sort()).toEqual([...ids].sort());
    const m1 = memories.find((m) => m.id === "m-1")!;
    expect(m1).toMatchObject({ text: "Alice prefers light roast coffee", user_id: "alice", topics: ["coffee"] });
    // Times are epoch ms; the tenant, the write counter and the model stay home.
    expect(typeof m1.created_at).toBe("number");
    expect(m1).not.toHaveProperty("tenant");
    expect(m1).not.toHaveProperty("version");
    expect(m1).not.toHaveProperty("embedding_model");

    const history = data.filter((l) => l.type === "history");
    expect(history.filter((h) => h.memory_id === "m-1").map((h) => [h.n, h.op])).toEqual([
      [0, "create"],
      [1, "update"],
    ]);
    // The deleted memory is gone, its history is not.
    expect(memories.some((m) => m.id === "m-3")).toBe(false);
    expect(history.filter((h) => h.memory_id === "m-3").map((h) => h.op)).toEqual(["create", "delete"]);
    expect(history[0]!.after).not.toHaveProperty("tenant");

    expect(data.filter((l) => l.type === "entity").map((e) => [e.name, e.entity_type])).toContainEqual([
      "Redis",
      "technology",
    ]);
    const relations = data.filter((l) => l.type === "relation");
    expect(relations.find((r) => r.predicate === "uses" && r.sources.includes(ids[5]))).toBeDefined();
    // Validity and supersession ride along.
    expect(memories.find((m) => m.id === "c-1")).toMatchObject({
      valid_from: Date.parse("2026-01-10T09:00:00Z"),
      valid_to: Date.parse("2026-03-05T09:00:00Z"),
      superseded_by: "c-2",
    });
    expect(memories.find((m) => m.id === "c-2")).toMatchObject({ supersedes: "c-1", valid_to: null });
    expect(memories.find((m) => m.id === "m-2")).toMatchObject({ invalid_reason: "moved to Saturdays" });
    expect(memories.find((m) => m.id === "m-2")!.valid_to).toEqual(expect.any(Number));
    const session = data.find((l) => l.type === "session")!;
    expect(session.session_id).toBe("s-1");
    expect(session.messages.map((m: any) => m.content)).toEqual(["Hello", "Hi there"]);
    expect(session.data).toEqual({ mood: "cheerful" });
    expect(data.find((l) => l.type === "feedback")).toMatchObject({
      memory_id: "m-2",
      rating: "positive",
      comment: "useful",
    });
    expect(lines.filter((l) => l.type === "cursor").length).toBeGreaterThanOrEqual(6);
  });

  it("a tenant sees only its own records", async () => {
    const { api } = await populated();
    const other = await tenantApi();
    await store(other, [{ id: "o-1", text: "Someone else's secret" }]);
    const mine = records(await exportLines(api));
    expect(mine.some((l) => l.id === "o-1" || l.memory_id === "o-1")).toBe(false);
    expect(
      records(await exportLines(other))
        .filter((l) => l.type === "memory")
        .map((l) => l.id),
    ).toEqual(["o-1"]);
  });

  it("an empty tenant exports a header, cursors and an end line with zero counts", async () => {
    const api = await tenantApi();
    const lines = await exportLines(api);
    expect(records(lines)).toEqual([]);
    expect(lines.at(-1)!.counts).toEqual({ memory: 0, history: 0, entity: 0, relation: 0, session: 0, feedback: 0 });
  });

  it("export needs the read scope, import the write scope; a bad cursor is a 422 naming cursor", async () => {
    const api = await tenantApi();
    const bad = await exportRaw(api, "?cursor=not-a-cursor");
    expect(bad.status).toBe(422);
    expect(JSON.parse(bad.text).issues[0].field).toBe("cursor");
    const reader = await tenantApi({ scope: "memory:read" });
    expect((await exportRaw(reader)).status).toBe(200);
    expect((await importBody(reader, "")).status).toBe(403);
  });
});

describe("export → import round trip", () => {
  it("imports into an empty tenant on the other shard, re-exports equal, and a re-import is a no-op", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantOnOtherShard(api);
    expect(await dbOf(target.tenant)).not.toBe(await dbOf(api.tenant));

    const first = await importBody(target, toText(source));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.errors).toEqual([]);
    expect(first.body.truncated).toBe(false);
    const end = source.at(-1)!;
    expect(first.body.imported).toEqual(end.counts);

    const copy = await exportLines(target);
    expect(records(copy)).toEqual(records(source));
    expect(copy.at(-1)!.counts).toEqual(end.counts);

    // The imported memories are searchable, their history readable, their session and graph usable.
    const hits = await search(target, { text: "light roast coffee", limit: 3 });
    expect(hits.memories[0].id).toBe("m-1");
    // Superseded memories stay out of default reads there too, and answer as_of their time.
    const now = await search(target, { text: "what do we use for queues", limit: 5 });
    expect(now.memories.map((m: any) => m.id)).toContain("c-2");
    expect(now.memories.map((m: any) => m.id)).not.toContain("c-1");
    const then = await search(target, { text: "what do we use for queues", as_of: "2026-02-01T00:00:00Z" });
    expect(then.memories.map((m: any) => m.id)).toContain("c-1");
    const history = await target.call("GET", "/v1/long-term-memory/m-1/history");
    expect(history.status).toBe(200);
    expect(history.body.history.map((e: any) => e.op)).toEqual(["create", "update"]);
    const session = await target.call("GET", "/v1/working-memory/s-1");
    expect(session.status).toBe(200);
    expect(session.body.messages.map((m: any) => m.content)).toEqual(["Hello", "Hi there"]);
    const graph = await target.call("POST", "/v1/graph/query", { query: "Redis" });
    expect(graph.body.relations.map((r: any) => `${r.subject.name} ${r.predicate} ${r.object.name}`)).toEqual([
      "caching uses Redis",
    ]);
    // Imported memories are announced like any write.
    const events = await hubEvents(target.tenant);
    expect(
      events
        .filter((e) => e.type === "memory_created")
        .map((e) => e.memory.id)
        .sort(),
    ).toEqual(
      records(source)
        .filter((l) => l.type === "memory")
        .map((l) => l.id)
        .sort(),
    );

    const again = await importBody(target, toText(source));
    expect(again.status).toBe(200);
    expect(again.body.errors).toEqual([]);
    expect(again.body.imported).toEqual({ memory: 0, history: 0, entity: 0, relation: 0, session: 0, feedback: 0 });
    expect(again.body.unchanged).toEqual(end.counts);
    expect(records(await exportLines(target))).toEqual(records(source));
  });

  it("reports a malformed or invalid line by number and field, and imports the others", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantApi();
    const text = toText(source).split("\n");
    const memoryAt = text.findIndex((l) => l.includes('"type":"memory"'));
    const feedbackAt = text.findIndex((l) => l.includes('"type":"feedback"'));
    text[memoryAt] = text[memoryAt]!.slice(0, 40); // cut mid-line
    const fb = JSON.parse(text[feedbackAt]!);
    text[feedbackAt] = JSON.stringify({ ...fb, rating: "meh" });
    const res = await importBody(target, text.join("\n"));
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([
      { line: memoryAt + 1, error: expect.stringContaining("not JSON"), field: null },
      { line: feedbackAt + 1, error: expect.any(String), field: "rating" },
    ]);
    expect(res.body.failed).toBe(2);
    const end = source.at(-1)!;
    expect(res.body.imported).toEqual({ ...end.counts, memory: end.counts.memory - 1, feedback: 0 });
  });

  it("a history entry too large for a stored row is a per-line error naming `after`; the rest imports", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantApi();
    const text = toText(source).split("\n");
    // m-1's second entry (its update), grown past D1's 2 MB row while the line stays under 4 MB.
    const at = text.findIndex((l) => l.includes('"type":"history"') && l.includes('"n":1'));
    const entry = JSON.parse(text[at]!);
    text[at] = JSON.stringify({ ...entry, after: { ...entry.after, notes: "x".repeat(2_200_000) } });
    const res = await importBody(target, text.join("\n"));
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([{ line: at + 1, error: expect.stringContaining("larger than"), field: "after" }]);
    const end = source.at(-1)!;
    expect(res.body.imported.memory).toBe(end.counts.memory);
  });

  it("a stream cut short imports what came and says it was truncated", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantApi();
    const res = await importBody(target, toText(source.slice(0, 3)));
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(true);
    expect(res.body.warnings[0]).toContain("cut short");
  });

  it("never overwrites a stored record with other content: a per-line error naming the id", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantApi();
    await store(target, [{ id: "m-2", text: "A different memory under the same id" }]);
    const res = await importBody(target, toText(source));
    // The memory and its first history entry (the target has its own) are refused; the rest imports.
    expect(res.body.errors).toEqual([
      { line: expect.any(Number), error: expect.stringContaining("m-2 exists with other content"), field: "id" },
      { line: expect.any(Number), error: "history entry 0 of memory m-2 differs from the stored one", field: "n" },
    ]);
    expect(res.body.imported.memory).toBe(source.at(-1)!.counts.memory - 1);
    expect((await target.call("GET", "/v1/long-term-memory/m-2")).body.text).toBe(
      "A different memory under the same id",
    );
  });

  it("into a tenant that knows an entity by that name under another id: the entity and its relations are refused, nothing dangles", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const target = await tenantApi();
    await target.call("POST", "/v1/ingest", { messages: [{ role: "user", content: "Redis is an in-memory store" }] });
    const res = await importBody(target, toText(source));
    expect(res.status).toBe(200);
    // Redis clashes by name; each relation naming it is refused, the others import.
    const redis = source.find((l) => l.type === "entity" && l.name === "Redis")!;
    const relations = source.filter((l) => l.type === "relation");
    const onRedis = relations.filter((r) => [r.subject_id, r.object_id].includes(redis.id)).length;
    expect(onRedis).toBeGreaterThan(0);
    expect(res.body.errors).toEqual([
      {
        line: expect.any(Number),
        error: expect.stringMatching(/^entity .* clashes with a stored one \(same name\)$/),
        field: "name",
      },
      ...Array.from({ length: onRedis }, () => ({
        line: expect.any(Number),
        error: expect.stringContaining(`entity ${redis.id} is not in this tenant`),
        field: expect.stringMatching(/^(subject|object)_id$/),
      })),
    ]);
    expect(res.body.imported.relation).toBe(relations.length - onRedis);
    expect(res.body.imported.memory).toBe(source.at(-1)!.counts.memory);
    const graph = await target.call("POST", "/v1/graph/query", { query: "Redis" });
    expect(graph.status).toBe(200);
  });

  it("refuses another format or version in the header with a 422, writing nothing", async () => {
    const target = await tenantApi();
    const header = { type: "header", format: "edgemem-export", version: 2, tenant: "x", exported_at: Date.now() };
    const res = await importBody(target, toText([header as Line]));
    expect(res.status).toBe(422);
    expect(res.body.issues[0].field).toBe("version");
    const unknownFormat = await importBody(target, "", "?format=zep");
    expect(unknownFormat.status).toBe(422);
    expect(unknownFormat.body.issues[0].field).toBe("format");
  });

  it("reads the body as it arrives: a character split across chunks, CRLF, blank lines, a line over 4 MB skipped", async () => {
    const target = await tenantApi();
    const now = Date.now();
    const encoder = new TextEncoder();
    const first = encoder.encode(
      JSON.stringify({ id: "c-1", memory: "Café au lait at 8 every morning", created_at: now / 1000 }),
    );
    const split = first.indexOf(0xc3) + 1; // inside the two bytes of "é"
    const huge = `{"memory":"${"x".repeat(4 * 1024 * 1024)}"}`;
    const chunks = [
      first.slice(0, split),
      first.slice(split),
      encoder.encode("\r\n\n   \n"),
      encoder.encode(huge.slice(0, 3_000_000)),
      encoder.encode(`${huge.slice(3_000_000)}\n`),
      encoder.encode(JSON.stringify({ id: "c-2", memory: "Tea in the afternoon" })),
    ];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await target.call("POST", "/v1/import?format=mem0", body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.errors).toEqual([{ line: 4, error: "line is longer than 4194304 bytes", field: null }]);
    expect(res.body.imported.memory).toBe(2);
    expect((await target.call("GET", "/v1/long-term-memory/c-1")).body.text).toBe("Café au lait at 8 every morning");
  });

  it("an unknown field or record type is a per-line error naming it", async () => {
    const target = await tenantApi();
    const res = await importBody(
      target,
      [
        JSON.stringify({ type: "memo", id: "x" }),
        JSON.stringify({
          type: "entity",
          id: "e-1",
          name: "Redis",
          entity_type: "technology",
          aliases: [],
          created_at: Date.now(),
          updated_at: Date.now(),
          colour: "red",
        }),
      ].join("\n"),
    );
    expect(res.status).toBe(200);
    expect(res.body.errors.map((e: any) => [e.line, e.field])).toEqual([
      [1, "type"],
      [2, "colour"],
    ]);
  });
});

describe("resumable cursor and large tenants", () => {
  it("2,000 memories stream in bounded pages, and resuming from a cursor gives exactly the rest", async () => {
    const api = await tenantApi();
    for (let i = 0; i < 2000; i += 100) {
      await store(
        api,
        Array.from({ length: 100 }, (_, j) => ({
          id: `big-${String(i + j).padStart(5, "0")}`,
          text: `Bulk memory number ${i + j} about topic ${(i + j) % 17}`,
        })),
      );
    }
    const lines = await exportLines(api);
    const memories = lines.filter((l) => l.type === "memory");
    expect(memories).toHaveLength(2000);
    // A cursor after every page of 100: read page by page, never the whole tenant at once.
    let sinceCursor = 0;
    let longest = 0;
    for (const l of lines) {
      if (l.type === "cursor") sinceCursor = 0;
      else if (l.type === "memory" || l.type === "history") longest = Math.max(longest, ++sinceCursor);
    }
    expect(longest).toBe(100);

    // Resume after the 7th cursor: exactly the records after it.
    const cursors = lines.flatMap((l, i) => (l.type === "cursor" ? [i] : []));
    const at = cursors[6]!;
    const rest = await exportLines(api, `?cursor=${lines[at]!.cursor}`);
    expect(rest[0]).toMatchObject({ type: "header", resumed_from: lines[at]!.cursor });
    expect(records(rest)).toEqual(records(lines.slice(at + 1)));

    // A cursor in the history: the rest of it, then the other kinds.
    const historyCursor = lines.findIndex((l, i) => l.type === "cursor" && lines[i - 1]?.type === "history");
    const tail = await exportLines(api, `?cursor=${lines[historyCursor]!.cursor}`);
    expect(records(tail)).toEqual(records(lines.slice(historyCursor + 1)));

    // Pages are read only as lines are taken, each by key: the first 150 lines cost two pages, and
    // a page deep in the tenant reads its own rows, not those before it.
    const { dbs, meter } = metered(routed());
    const exporter = new TenantExport({
      exportStore: new ExportRepo(dbs),
      clock: Date.now,
    } as unknown as TenantExportDeps);
    const principal = { tenant: api.tenant, subject: "test", scopes: null };
    const lazy = exporter.lines(principal, null);
    for (let i = 0; i < 150; i++) await lazy.next();
    await lazy.return(undefined);
    expect(meter.roundTrips).toBe(2);
    expect(meter.rowsRead).toBeLessThan(400);
    const deep = exporter.lines(principal, decodeExportCursor(lines[cursors[15]!]!.cursor)!);
    const before = meter.rowsRead;
    for (let i = 0; i < 101; i++) await deep.next();
    await deep.return(undefined);
    expect(meter.rowsRead - before).toBeLessThan(250);
    // The same for a page of history after a cursor inside it (row values on the history index).
    const inHistory = lines.findIndex((l, i) => l.type === "cursor" && i > historyCursor);
    const history = exporter.lines(principal, decodeExportCursor(lines[inHistory]!.cursor)!);
    const beforeHistory = meter.rowsRead;
    for (let i = 0; i < 101; i++) await history.next();
    await history.return(undefined);
    expect(meter.rowsRead - beforeHistory).toBeLessThan(250);

    // The whole tenant into another one, timed.
    const target = await tenantOnOtherShard(api);
    let t = performance.now();
    // One request takes 2,000 records: it says where it stopped, and the rest goes in a second.
    const first = await importBody(target, toText(lines));
    expect(first.body.errors).toEqual([]);
    expect(first.body.truncated).toBe(false);
    const stop = first.body.stopped_at_line;
    expect(lines[stop - 1]!.type).not.toBe("cursor");
    expect(first.body.imported.memory + first.body.imported.history).toBe(2000);
    const second = await importBody(target, toText(lines.slice(stop - 1)));
    const importMs = performance.now() - t;
    expect(second.body.errors).toEqual([]);
    expect(second.body.stopped_at_line).toBeNull();
    expect(first.body.imported.memory + second.body.imported.memory).toBe(2000);
    t = performance.now();
    const copy = await exportLines(target);
    const exportMs = performance.now() - t;
    expect(records(copy)).toEqual(records(lines));
    console.log(
      `export-import: 2,000 memories (+2,000 history entries): export ${exportMs.toFixed(0)} ms, import ${importMs.toFixed(0)} ms`,
    );
  }, 300_000);

  it("the import reads a large body line by line and imports it in one request", async () => {
    const api = await tenantApi();
    const now = Date.now();
    const lines = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify({ id: `u-${i}`, memory: `Imported fact number ${i}`, user_id: "bob", created_at: now / 1000 }),
    );
    const res = await importBody(api, lines.join("\n"), "?format=mem0");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.imported.memory).toBe(600);
    expect(res.body.errors).toEqual([]);
  }, 120_000);
});

describe("importers of other systems", () => {
  it("a mem0 export is imported with ids kept, searchable, and a re-import changes nothing", async () => {
    const api = await tenantApi();
    const file = JSON.stringify({
      results: [
        {
          id: "892db2ae-06d9-49e5-8b3e-585ef9b85b8e",
          memory: "User is planning a trip to Japan next spring",
          user_id: "alice",
          agent_id: null,
          metadata: { source: "chat" },
          categories: ["travel"],
          created_at: "2024-07-20T01:20:03.123456-07:00",
          updated_at: "2024-07-20T01:20:03.123456-07:00",
          hash: "b0c1f8d5e2",
        },
        {
          memory: "User is allergic to peanuts",
          user_id: "alice",
          agent_id: "health-bot",
          created_at: "2024-07-21T09:00:00Z",
        },
      ],
    });
    const res = await importBody(api, file, "?format=mem0");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.imported.memory).toBe(2);
    expect(res.body.errors).toEqual([]);

    const trip = await api.call("GET", "/v1/long-term-memory/892db2ae-06d9-49e5-8b3e-585ef9b85b8e");
    expect(trip.status).toBe(200);
    expect(trip.body).toMatchObject({
      text: "User is planning a trip to Japan next spring",
      user_id: "alice",
      topics: ["travel"],
      created_at: "2024-07-20T08:20:03.123Z",
      metadata: { source: "chat", mem0_hash: "b0c1f8d5e2" },
    });
    const hits = await search(api, { text: "peanut allergy", limit: 1 });
    expect(hits.memories[0]).toMatchObject({ text: "User is allergic to peanuts", agent_id: "health-bot" });
    expect(hits.memories[0].id).toMatch(/^mem0-[0-9a-f]{40}$/);

    const again = await importBody(api, file, "?format=mem0");
    expect(again.body.imported.memory).toBe(0);
    expect(again.body.unchanged.memory).toBe(2);
    const list = await api.call("GET", "/api/memories?limit=10");
    expect(list.body).toHaveLength(2);
  });

  it("a mem0 item without `memory` is a per-line error naming the field inside the list", async () => {
    const api = await tenantApi();
    const res = await importBody(api, JSON.stringify([{ memory: "fine" }, { text: "wrong field" }]), "?format=mem0");
    expect(res.body.imported.memory).toBe(1);
    expect(res.body.errors).toEqual([{ line: 1, error: expect.any(String), field: "1.memory" }]);
  });

  it("AMS long-term memory records (as its API answers them) are imported, one per line", async () => {
    const source = await tenantApi();
    await store(source, [
      { id: "ams-1", text: "Bob's favourite editor is Helix", user_id: "bob", namespace: "prefs", topics: ["editor"] },
      { id: "ams-2", text: "Bob works from Lisbon", user_id: "bob", namespace: "prefs" },
    ]);
    const read = await Promise.all(["ams-1", "ams-2"].map((id) => source.call("GET", `/v1/long-term-memory/${id}`)));
    const target = await tenantApi();
    const res = await importBody(target, read.map((r) => JSON.stringify(r.body)).join("\n"), "?format=ams");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.imported.memory).toBe(2);
    const got = await target.call("GET", "/v1/long-term-memory/ams-1");
    expect(got.body).toMatchObject({
      text: "Bob's favourite editor is Helix",
      user_id: "bob",
      namespace: "prefs",
      topics: ["editor"],
      created_at: read[0]!.body.created_at,
    });
    const hits = await search(target, { text: "Lisbon", limit: 1 });
    expect(hits.memories[0].id).toBe("ams-2");
    // `{memories: [...]}` (a search answer) works too, and is a no-op now.
    const wrapped = await importBody(target, JSON.stringify({ memories: read.map((r) => r.body) }), "?format=ams");
    expect(wrapped.body.unchanged.memory).toBe(2);
  });
});

describe("fuzz: an export with one field of one record changed", () => {
  it("never answers 5xx: the changed line imports or is reported, and the others import", async () => {
    const { api } = await populated();
    const source = await exportLines(api);
    const data = source.flatMap((l, i) => (records([l]).length ? [i] : []));
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      hostileString,
      fc.constantFrom(null, -1, 0, 1e300, "", [], {}, "2026-01-01T00:00:00Z", 8.64e15),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...data), fc.nat(), value, async (at, k, v) => {
        const line = { ...source[at]! };
        const keys = Object.keys(line).filter((key) => key !== "type");
        line[keys[k % keys.length]!] = v;
        const lines = source.map((l, i) => (i === at ? line : l));
        const target = await tenantApi();
        const res = await importBody(target, toText(lines));
        expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
        // Besides the changed line, only what depends on it: a relation on an entity it held, history
        // entries after one it held (or whose place it took), a memory or feedback reusing its id.
        const knockOn = /not in this tenant|history entry|exists with other content|appears twice/;
        for (const e of res.body.errors) if (e.line !== at + 1) expect(e.error).toMatch(knockOn);
        // What was accepted reads back: every read of it answers, none with a 5xx.
        const copy = await exportRaw(target);
        expect(copy.status).toBe(200);
        expect(copy.text.trimEnd().split("\n").at(-1)).toContain('"type":"end"');
        for (const [method, path, body] of [
          ["GET", "/v1/working-memory/s-1"],
          ["GET", "/v1/long-term-memory/m-1/history"],
          ["GET", "/v1/long-term-memory/m-1"],
          ["POST", "/v1/long-term-memory/search", { text: "coffee roast" }],
          ["POST", "/v1/graph/query", { query: "Redis", include_history: true }],
          ["POST", "/v1/think", { question: "what do we use for caching?" }],
          ["GET", "/api/memories?limit=50"],
          ["GET", "/v1/status"],
        ] as const) {
          const read = await target.call(method, path, body);
          expect(read.status, `${method} ${path}: ${JSON.stringify(read.body).slice(0, 300)}`).toBeLessThan(500);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);
});
