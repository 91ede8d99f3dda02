import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { words } from "../src/domain/text.ts";
import { operations } from "../src/http/handler.ts";
import { openApiDocument } from "../src/http/openapi.ts";
import "../src/http/routes.ts";
import { call, tenantApi, type Api, type Reply } from "./support/api.ts";
import { mcpClient } from "./support/mcp.ts";
import { connect } from "./support/sockets.ts";
import { check, deepBody, footprint, fromSchema, hostileString, RUNS, SEED, type JsonSchema } from "./support/fuzz.ts";

/**
 * Property-based fuzzing of every REST route (from the OpenAPI document the server serves), every
 * MCP tool (from its advertised input schema) and every command of the three WebSocket dialects:
 * never a 5xx or an internal error frame, a rejected request writes nothing, and what was
 * accepted reads back equal and is searchable.
 * `npm run fuzz -- --runs N [--seed S]` runs the same properties longer.
 */

const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** A fresh tenant holding a little of everything, so id routes and feedback have targets. */
async function seeded(): Promise<Api> {
  const api = await tenantApi();
  const res = await api.call("POST", "/v1/long-term-memory/", {
    memories: [
      { id: "m1", text: "Maria prefers Rust for backend services", topics: ["languages"], entities: ["Maria", "Rust"] },
      { id: "m2", text: "We decided to use Redis for caching in March", namespace: "ops" },
      { id: "m3", text: "東京で会議があります 🧠", user_id: "u1" },
    ],
  });
  expect(res.status).toBe(200);
  const put = await api.call("PUT", "/v1/working-memory/s1", { messages: [{ role: "user", content: "hello there" }] });
  expect(put.status).toBe(200);
  const crud = await api.call("POST", "/api/memories", {
    agent_id: "a1",
    scope: "agent",
    key: "k1",
    value: "crud value",
  });
  expect(crud.status).toBe(201);
  return api;
}

/** A reply that is not a server failure: any status below 500, and an error body never `internal_error`. */
function expectNoServerError(res: Reply, what: string): void {
  if (res.status >= 500 || res.body?.error === "internal_error") {
    throw new Error(`${what} → ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  }
}

interface RestOperation {
  method: string;
  path: string;
  pathParams: [string, JsonSchema][];
  queryParams: [string, JsonSchema][];
  body: JsonSchema | null;
}

/** Raw path segments a client may send, malformed percent-encoding included. */
const rawSegments = ["m1", "s1", "%", "%zz", "%E0%A4%A", "%ED%A0%80", "..", "%2F", "a%00b", "x".repeat(70)];

function requestOf(op: RestOperation, doc: JsonSchema) {
  const segment = (schema: JsonSchema) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...rawSegments) },
      { weight: 2, arbitrary: fromSchema(schema, doc).map((v) => encodeURIComponent(String(v))) },
      { weight: 1, arbitrary: hostileString.map((v) => encodeURIComponent(v)) },
    );
  const pathArb = fc.tuple(...op.pathParams.map(([, s]) => segment(s))).map((values) => {
    let p = op.path;
    op.pathParams.forEach(([name], i) => (p = p.replace(`{${name}}`, values[i]!)));
    return p;
  });
  const queryArb = fc
    .tuple(
      ...op.queryParams.map(([name, s]) =>
        fc.option(
          fc.oneof(fromSchema(s, doc), hostileString).map((v) => [name, v] as const),
          { freq: 2 },
        ),
      ),
    )
    .map((pairs) => {
      const q = new URLSearchParams();
      for (const pair of pairs)
        if (pair) q.append(pair[0], typeof pair[1] === "string" ? pair[1] : JSON.stringify(pair[1]));
      return q.size ? `?${q}` : "";
    });
  const bodyArb: fc.Arbitrary<unknown> = op.body
    ? fc.oneof(
        { weight: 12, arbitrary: fromSchema(op.body, doc) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "not json",
            "{",
            "[]",
            "null",
            '{"memories": [',
            "",
            deepBody(33),
            deepBody(10_000),
          ),
        },
      )
    : fc.constant(undefined);
  return fc.record({ path: pathArb, query: queryArb, body: bodyArb });
}

/** The OpenAPI document the server serves, built from the same route declarations. */
const doc = openApiDocument(operations, { version: "fuzz" }) as JsonSchema;
const restOps: RestOperation[] = Object.entries<JsonSchema>(doc.paths).flatMap(([path, item]) =>
  Object.entries<JsonSchema>(item).map(([method, op]) => {
    const ps = (op.parameters ?? []) as JsonSchema[];
    return {
      method: method.toUpperCase(),
      path,
      pathParams: ps.filter((p) => p.in === "path").map((p): [string, JsonSchema] => [p.name, p.schema]),
      queryParams: ps.filter((p) => p.in === "query").map((p): [string, JsonSchema] => [p.name, p.schema]),
      body: op.requestBody?.content?.["application/json"]?.schema ?? null,
    };
  }),
);

/** Generous: a property runs RUNS requests of up to ~100 ms each on a loaded machine. */
const TIMEOUT = 30_000 + RUNS * 1_500;

describe("fuzz: every REST route never answers 5xx, and a rejected request writes nothing", () => {
  it("covers every documented route", () => expect(restOps.length).toBe(operations.length));

  it.each(restOps.map((op) => [`${op.method} ${op.path}`, op] as const))(
    "%s",
    async (_name, op) => {
      await check(
        fc.asyncProperty(requestOf(op, doc), async (req) => {
          const api = await seeded();
          const before = await footprint(api.tenant);
          const res = await call(api.env, op.method, `${req.path}${req.query}`, req.body, {
            authorization: `Bearer ${api.token}`,
          });
          expectNoServerError(res, `${op.method} ${req.path}${req.query} ${JSON.stringify(req.body)?.slice(0, 300)}`);
          if (res.status >= 400)
            expect(await footprint(api.tenant), `${op.method} ${op.path} → ${res.status}`).toEqual(before);
        }),
        { ...params, numRuns: Math.max(5, Math.ceil(RUNS / 2)) },
      );
    },
    TIMEOUT,
  );
});

describe("fuzz: what was accepted reads back", () => {
  it(
    "an accepted long-term memory reads back equal and is found by a keyword search for its words",
    async () => {
      const memory = fc.record(
        {
          text: fc.oneof(hostileString, fc.lorem({ maxCount: 30 })),
          metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 }),
          topics: fc.array(
            fc.oneof(
              fc.lorem({ maxCount: 1 }),
              hostileString.map((s) => s.slice(0, 50)),
            ),
            { maxLength: 3 },
          ),
          event_date: fc
            .date({ min: new Date("1000-01-01T00:00:00Z"), max: new Date("9999-12-31T00:00:00Z"), noInvalidDate: true })
            .map((d) => d.toISOString()),
          namespace: fc.constantFrom("a", "東京", "ns with spaces"),
        },
        { requiredKeys: ["text"] },
      );
      await check(
        fc.asyncProperty(memory, async (m) => {
          const api = await tenantApi();
          const res = await api.call("POST", "/v1/long-term-memory/", {
            memories: [{ id: "fz", ...m }],
            deduplicate: false,
          });
          expectNoServerError(res, `create ${JSON.stringify(m).slice(0, 300)}`);
          if (res.status !== 200) {
            expect(await footprint(api.tenant)).toMatchObject({ memories: 0, memory_history: 0 });
            return;
          }
          const got = await api.call("GET", "/v1/long-term-memory/fz");
          expect(got.status).toBe(200);
          expect(got.body.text).toBe(m.text.trim());
          expect(got.body.metadata ?? {}).toEqual(m.metadata ?? {});
          if (m.event_date) expect(got.body.event_date).toBe(m.event_date);
          const history = await api.call("GET", "/v1/long-term-memory/fz/history");
          expect(history.status).toBe(200);

          // Its words, as many as a search text may hold (10,000 characters).
          let query = "";
          for (const w of words(m.text)
            .filter((w) => w.length > 2)
            .slice(0, 20))
            if (query.length + w.length < 10_000) query += ` ${w}`;
          query = query.trim();
          for (const mode of ["keyword", "hybrid", "semantic"]) {
            const found = await api.call("POST", "/v1/long-term-memory/search", {
              text: m.text.slice(0, 10_000),
              search_mode: mode,
            });
            expectNoServerError(found, `search ${mode}`);
            expect(found.status).toBe(200);
          }
          if (query) {
            const found = await api.call("POST", "/v1/long-term-memory/search", {
              text: query,
              search_mode: "keyword",
            });
            expect(
              found.body.memories.map((x: { id: string }) => x.id),
              `keyword search for "${query}"`,
            ).toContain("fz");
          }
        }),
        params,
      );
    },
    TIMEOUT,
  );

  it(
    "an accepted CRUD memory reads back equal and is found by its words",
    async () => {
      const input = fc.record(
        {
          value: fc.oneof(hostileString, fc.lorem({ maxCount: 20 })),
          metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 }),
          tags: fc.array(
            fc.oneof(
              fc.lorem({ maxCount: 1 }),
              hostileString.map((s) => s.slice(0, 40)),
            ),
            { maxLength: 3 },
          ),
          key: fc.oneof(
            fc.constant("k"),
            hostileString.map((s) => s.slice(0, 100)),
          ),
        },
        { requiredKeys: ["value", "key"] },
      );
      await check(
        fc.asyncProperty(input, async (m) => {
          const api = await tenantApi();
          const res = await api.call("POST", "/api/memories", { agent_id: "a", scope: "agent", ...m });
          expectNoServerError(res, `crud create ${JSON.stringify(m).slice(0, 300)}`);
          if (res.status >= 400) {
            expect(await footprint(api.tenant)).toMatchObject({ memories: 0, memory_history: 0 });
            return;
          }
          const id = res.body.id as string;
          const got = await api.call("GET", `/api/memories/${encodeURIComponent(id)}`);
          expect(got.status).toBe(200);
          expect(got.body).toEqual(res.body);
          // CRUD search matches whitespace-separated words as substrings.
          const word = m.value.trim().split(/\s+/)[0]!.slice(0, 1000);
          const found = await api.call("POST", "/api/memories/search", { query: m.value.slice(0, 1000) });
          expectNoServerError(found, "crud search");
          if (word) {
            const byWord = await api.call("POST", "/api/memories/search", { query: word });
            expect(
              byWord.body.map((x: { id: string }) => x.id),
              `crud search for "${word}"`,
            ).toContain(id);
          }
        }),
        params,
      );
    },
    TIMEOUT,
  );
});

describe("fuzz: every MCP tool", () => {
  it(
    "never fails internally, and a rejected call writes nothing",
    async () => {
      const api = await seeded();
      const client = await mcpClient(api);
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThan(10);
      for (const tool of tools) {
        await check(
          fc.asyncProperty(fromSchema(tool.inputSchema as JsonSchema, tool.inputSchema as JsonSchema), async (args) => {
            const before = await footprint(api.tenant);
            let res: { isError?: boolean; content?: { text?: string }[] };
            try {
              res = (await client.callTool({
                name: tool.name,
                arguments: args as Record<string, unknown>,
              })) as typeof res;
            } catch (e) {
              // Arguments failing the tool's schema are a protocol error, an oversized call a 413: refusals, not failures.
              expect(String(e), tool.name).toMatch(/invalid|validation|-32602|payload_too_large/i);
              expect(await footprint(api.tenant)).toEqual(before);
              return;
            }
            const text = res.content?.[0]?.text ?? "";
            expect(
              text.startsWith("internal_error"),
              `${tool.name}(${JSON.stringify(args).slice(0, 300)}) → ${text.slice(0, 300)}`,
            ).toBe(false);
            if (res.isError)
              expect(await footprint(api.tenant), `${tool.name} → ${text.slice(0, 200)}`).toEqual(before);
          }),
          { ...params, numRuns: Math.max(5, Math.ceil(RUNS / 2)) },
        );
      }
      await client.close();
    },
    TIMEOUT * 3,
  );
});

/** Field names the three dialects' payloads use, so generated frames reach past the envelope checks. */
const FIELDS = [
  "content",
  "query",
  "question",
  "memory_id",
  "id",
  "ids",
  "messages",
  "limit",
  "hops",
  "memory_type",
  "priority",
  "confidence",
  "topics",
  "entities",
  "metadata",
  "namespace",
  "user_id",
  "session_id",
  "rating",
  "positive",
  "helpful",
  "comment",
  "text",
  "message",
  "instruction",
  "parameters",
  "events",
  "filter",
  "conversationId",
  "agents",
  "toAgent",
  "fromAgent",
  "reason",
  "operation",
  "memories",
  "search_mode",
  "stream",
  "include_history",
  "status",
  "role",
  "type",
  "keys",
];

const plausible: fc.Arbitrary<unknown> = fc.oneof(
  fc.lorem({ maxCount: 8 }),
  fc.constantFrom(
    "m1",
    "s1",
    "store",
    "get",
    "delete",
    "put",
    "list",
    "getvalues",
    "flow",
    "positive",
    "negative",
    "remember Maria likes tea",
    "user",
    "fact",
  ),
  fc.integer({ min: -2, max: 120 }),
  fc.boolean(),
  fc.array(fc.record({ role: fc.constantFrom("user", "assistant", "robot"), content: fc.lorem({ maxCount: 10 }) }), {
    maxLength: 3,
  }),
  fc.array(fc.record({ text: fc.lorem({ maxCount: 6 }) }), { maxLength: 3 }),
  fc.array(fc.constantFrom("memory_created", "memory_updated", "chat", "m1"), { maxLength: 3 }),
  hostileString,
);
const payload = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), plausible, { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.oneof(hostileString, fc.constantFrom(null, 5, [], true)) },
);

interface Dialect {
  name: string;
  path: string;
  frame: fc.Arbitrary<Record<string, unknown>>;
  /** The reply that ends a frame's handling, matched by the frame's id. */
  done(f: any, id: string): boolean;
  internal(f: any): boolean;
  status(id: string): Record<string, unknown>;
}

const dialects: Dialect[] = [
  {
    name: "engram",
    path: "/ws",
    frame: fc.record({
      command: fc.constantFrom("remember", "recall", "think", "feedback", "query", "ingest", "status", "bogus", ""),
      payload,
    }),
    done: (f, id) => f.id === id && f.status !== "streaming",
    internal: (f) => f.error?.code === "INTERNAL_ERROR",
    status: (id) => ({ id, command: "status" }),
  },
  {
    name: "SYMindX",
    path: "/ws",
    frame: fc.record({
      type: fc.constantFrom(
        "chat",
        "command",
        "subscribe",
        "unsubscribe",
        "status_update",
        "batch",
        "join_conversation",
        "leave_conversation",
        "typing",
        "agent_handoff",
        "bogus",
      ),
      data: fc.oneof(
        payload,
        fc.record({
          messages: fc.array(fc.record({ type: fc.constantFrom("status_update", "chat", "batch"), data: payload }), {
            minLength: 1,
            maxLength: 4,
          }),
        }),
      ),
      targetAgent: fc.option(fc.constantFrom("a1", "nobody", ""), { nil: undefined }),
    }),
    done: (f, id) => f.id === id,
    internal: (f) => f.type === "error" && f.data?.code === "INTERNAL_ERROR",
    status: (id) => ({ id, type: "status_update", data: {} }),
  },
  {
    name: "TrustGraph",
    path: "/api/v1/socket",
    frame: fc.record({
      service: fc.constantFrom(
        "memory",
        "search",
        "think",
        "agent",
        "ingest",
        "graph-query",
        "working-memory",
        "status",
        "flow",
        "config",
        "bogus",
      ),
      request: payload,
      flow: fc.option(fc.constantFrom("default", "x"), { nil: undefined }),
    }),
    done: (f, id) =>
      f.id === id &&
      (f.error !== undefined || f.response?.["end-of-stream"] === true || !("end-of-stream" in (f.response ?? {}))),
    internal: (f) => f.error?.type === "internal-error",
    status: (id) => ({ id, service: "status", request: {} }),
  },
];

/** Waits until no frame has arrived for 100 ms (at most 5 s). */
async function quiet(frames: unknown[]): Promise<void> {
  for (let seen = -1, deadline = Date.now() + 5_000; seen !== frames.length && Date.now() < deadline;) {
    seen = frames.length;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("fuzz: every WebSocket dialect", () => {
  it.each(dialects.map((d) => [d.name, d] as const))(
    "%s: no internal error, the socket stays open, a refused frame writes nothing",
    async (_name, d) => {
      const api = await seeded();
      let n = 0;
      await check(
        fc.asyncProperty(d.frame, async (frame) => {
          const socket = await connect(api, { path: d.path });
          const id = `f${++n}`;
          const before = await footprint(api.tenant);
          socket.send({ ...frame, id });
          // A SYMindX batch has no reply of its own (each message in it gets one, as if sent alone).
          const batch = d.name === "SYMindX" && frame.type === "batch";
          const reply = batch ? null : await socket.next((f) => d.done(f, id), 0, 10_000);
          socket.send(d.status(`${id}-status`));
          await socket.next((f) => d.done(f, `${id}-status`), 0, 10_000);
          if (batch) await quiet(socket.frames);
          const internal = socket.frames.find(d.internal);
          if (internal)
            throw new Error(
              `${d.name} ${JSON.stringify(frame).slice(0, 300)} → ${JSON.stringify(internal).slice(0, 300)}`,
            );
          const refused = reply && (reply.status === "error" || reply.type === "error" || reply.error !== undefined);
          if (refused) expect(await footprint(api.tenant), JSON.stringify(reply).slice(0, 300)).toEqual(before);
          socket.ws.close(1000);
        }),
        params,
      );
    },
    TIMEOUT * 2,
  );
});
