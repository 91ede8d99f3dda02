// edgemem benchmark: `npm run bench` (on the pinned Node 22, which runs this TypeScript directly).
//
// Starts `wrangler dev` on its own port with fresh local state and logging at warn, seeds one
// tenant through the client SDK (client/, as applications use edgemem) to each --size (default
// 1,000 and then 10,000 memories), and at each size measures a no-op route, store, hybrid, semantic
// and keyword search, a list page of 50 (/api/memories), a PUT of a 200-message working-memory
// session that triggers summarization (offline provider), prompt hydration (/v1/memory/prompt), think
// (offline answer) and ingest (offline extractor; throughput in messages/s); at the last size also
// WebSocket round trips and fan-out, and an MCP tool call (search_long_term_memory, official MCP
// client over streamable HTTP); with CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set, the
// Workers AI reranker's latency (what RERANK adds to a search); and the production bundle's size
// (wrangler deploy --dry-run, as test/e2e/bundle-size.test.ts); with Chromium, the explorer's cold
// load over the last size's memories (first paint, first page of data). At the last size it also
// checks the offline vector index against an exact scan (recall@10 of semantic searches, scores
// compared with cosines computed here by the same embedder) and restarts wrangler dev on the same
// state to time a cold isolate's first search (which loads the tenant's vectors from D1). Prints
// one table and writes the same as JSON. Each scenario runs closed-loop at concurrency 1 (latency)
// and at --concurrency (load).
// Options: --port N (default 8799), --requests N per scenario (default 300), --concurrency N
// (default 4), --size N[,N…] memories to seed and measure at (default 1000,10000), --scenarios
// A,B (run only the scenarios, and the checks "index recall", "cold start", "bundle" and
// "explorer", whose name contains one of these, case-insensitive; default all),
// --out FILE (default bench-results.json).
import "../../scripts/lib/bin-modules.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client as McpClient, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { EdgememClient, EngramSocket } from "../../client/index.ts";
import { measureBundle } from "../e2e/bundle-size.ts";
import { measureExplorer } from "./explorer.ts";
import { DAY, PEOPLE, PROJECT, PURPOSE, Rand, TECH } from "../e2e/tools.ts";
import { startWranglerDev } from "../e2e/wrangler-dev.ts";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "8799" },
    requests: { type: "string", default: "300" },
    concurrency: { type: "string", default: "4" },
    size: { type: "string", default: "1000,10000" },
    scenarios: { type: "string", default: "" },
    out: { type: "string", default: "bench-results.json" },
  },
});
const PORT = Number(args.port);
const REQUESTS = Number(args.requests);
const LEVELS = [...new Set([1, Number(args.concurrency)])];
const BASE = `http://127.0.0.1:${PORT}`;
const SIZES = [...new Set(args.size!.split(",").map(Number))].sort((a, b) => a - b);
if (!SIZES.length || SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--size: ${args.size}`);
const SCENARIOS = args
  .scenarios!.split(",")
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);

/** Whether --scenarios selects this scenario (all do without it). */
function selected(scenario: string): boolean {
  return !SCENARIOS.length || SCENARIOS.some((s) => scenario.toLowerCase().includes(s));
}

interface Stat {
  size: number;
  scenario: string;
  requests: number;
  concurrency: number;
  p50: number;
  p95: number;
  p99: number;
  rps: number;
}

// ---------------------------------------------------------------------------------------------
// Synthetic but varied memories: agents' facts, decisions, preferences and events.

const THING = [
  "dark mode",
  "short answers",
  "code examples",
  "email summaries",
  "metric units",
  "morning meetings",
  "bullet points",
  "British spelling",
];
const TEMPLATES = [
  (r: Rand) => `${r.pick(PEOPLE)} decided to use ${r.pick(TECH)} for ${r.pick(PURPOSE)}`,
  (r: Rand) => `${r.pick(PEOPLE)} prefers ${r.pick(THING)} in every reply`,
  (r: Rand) => `The ${r.pick(PROJECT)} deadline moved to ${r.pick(DAY)}`,
  (r: Rand) => `${r.pick(PROJECT)} migrated its ${r.pick(PURPOSE)} from ${r.pick(TECH)} to ${r.pick(TECH)}`,
  (r: Rand) => `${r.pick(PEOPLE)} reported a bug in ${r.pick(PURPOSE)} on ${r.pick(DAY)}`,
  (r: Rand) => `Remember that ${r.pick(PEOPLE)} owns ${r.pick(PURPOSE)} for ${r.pick(PROJECT)}`,
];
const QUERIES = [
  "what do we use for caching",
  "who prefers dark mode",
  "Apollo deadline",
  "Kafka migration for analytics",
  "bug in authentication",
  "who owns billing",
  "PostgreSQL search",
  "rate limiting with Redis",
];

// ---------------------------------------------------------------------------------------------

// The SDK over node:http with keep-alive: far less client CPU than the global fetch, which matters
// with 2 cores shared between this client and workerd.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function httpFetch(url: string, init: RequestInit): Promise<Response> {
  const body = init.body as string | undefined;
  const headers = {
    ...(init.headers as Record<string, string>),
    ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode })),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

const client = new EdgememClient({ baseUrl: BASE, fetch: httpFetch });

/** A 200-message conversation built from the memory templates (user and assistant taking turns). */
function conversation(rand: Rand, n = 200): { role: "user" | "assistant"; content: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    role: i % 2 ? ("assistant" as const) : ("user" as const),
    content: `${rand.pick(TEMPLATES)(rand)}. ${rand.pick(TEMPLATES)(rand)}.`,
  }));
}

/** Messages per ingest request. */
const INGEST_BATCH = 10;

/** gpt-4o with a 4,000-token window: the 200 messages (~6,000 tokens) are always summarized. */
const SESSION_MODEL = { model_name: "gpt-4o", context_window_max: 4000 };

async function measure(
  size: number,
  concurrency: number,
  scenario: string,
  call: (i: number) => Promise<unknown>,
): Promise<Stat> {
  for (let i = 0; i < 20; i++) await call(-1 - i); // warm-up (caches, JIT)
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const t = performance.now();
        await call(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!);
  return {
    size,
    scenario,
    requests: REQUESTS,
    concurrency,
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    rps: round(REQUESTS / wall),
  };
}

/** A raw WebSocket to /ws (AUTH_MODE=none in the bench), for the runtime's ping/pong auto-response (not an engram command). */
interface BenchSocket {
  send(frame: unknown): void;
  next(pred: (f: any) => boolean): Promise<any>;
  close(): void;
}

async function openSocket(): Promise<BenchSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${PORT}/ws`);
  const waiting: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(String(e.data));
    const i = waiting.findIndex((w) => w.pred(f));
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(f);
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("WebSocket failed to open")), { once: true });
  });
  return {
    send: (f) => ws.send(JSON.stringify(f)),
    next: (pred) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no reply on the WebSocket within 10 s")), 10_000);
        waiting.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
      }),
    close: () => ws.close(),
  };
}

/** Round trips (on one socket or session), one at a time. */
async function measureSocket(
  size: number,
  scenario: string,
  roundTrip: (i: number) => Promise<unknown>,
): Promise<Stat> {
  for (let i = 0; i < 20; i++) await roundTrip(i);
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    await roundTrip(i);
    latencies.push(performance.now() - t);
  }
  return summarize(size, scenario, 1, latencies, (performance.now() - started) / 1000);
}

/** From a REST write to the event arriving at each of `sockets` SDK sockets; p50/p95 over every arrival. */
async function measureFanOut(size: number, sockets: number, writes: number): Promise<Stat> {
  const clients = Array.from({ length: sockets }, () => new EngramSocket({ url: BASE }));
  await Promise.all(clients.map((c) => c.connect()));
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = -5; i < writes; i++) {
    const id = `fanout-${i}-${Date.now()}`;
    const arrivals = clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          const off = c.on("memory_created", (e) => e.data.memory_id === id && (off(), resolve()));
        }),
    );
    const t = performance.now();
    await client.createLongTermMemories([{ id, text: `Fan-out probe ${id}`, namespace: "bench-fanout" }]);
    const times = await Promise.all(arrivals.map((a) => a.then(() => performance.now() - t)));
    if (i >= 0) latencies.push(...times); // the first writes warm up
  }
  for (const c of clients) c.close();
  return summarize(size, `WS fan-out (${sockets} sockets)`, sockets, latencies, (performance.now() - started) / 1000);
}

function summarize(size: number, scenario: string, concurrency: number, latencies: number[], wall: number): Stat {
  latencies.sort((a, b) => a - b);
  const q = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!);
  return {
    size,
    scenario,
    requests: latencies.length,
    concurrency,
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    rps: round(latencies.length / wall),
  };
}

/** A seeded memory, as the recall check needs it. */
interface Seed {
  id: string;
  text: string;
  user: string;
}

/** Create requests in flight while seeding: the client's work overlaps the server's. */
const SEED_IN_FLIGHT = 2;

/** Seeds memories up to `target` in batches of 100 (MAX_BATCH), recording each in `seeds`. */
async function seedTo(target: number, seeds: Seed[], rand: Rand): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  while (seeds.length < target) {
    const n = Math.min(100, target - seeds.length);
    const memories = Array.from({ length: n }, (_, i) => ({
      text: rand.pick(TEMPLATES)(rand),
      topics: [rand.pick(PURPOSE)],
      user_id: rand.pick(PEOPLE).toLowerCase(),
      namespace: "bench",
      id: `seed-${seeds.length + i}`,
    }));
    seeds.push(...memories.map((m) => ({ id: m.id, text: m.text, user: m.user_id })));
    // The templates repeat themselves; dedup on write would fold the repeats and leave fewer
    // than `target` memories, so seeding turns it off (AMS's flag).
    const sent = client.createLongTermMemories(memories, { deduplicate: false }).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= SEED_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

// The server's offline embedder (the .bin hook above lets Node load its word table).
const { OfflineEmbedder } = await import("../../src/ai/offline-embedder.ts");

interface Recall {
  size: number;
  queries: number;
  recall_at_10: number;
  max_score_error: number;
}

/** Users whose memories the recall check searches (each holds about a twelfth of the seeds). */
const RECALL_USERS = PEOPLE.slice(0, 3).map((p) => p.toLowerCase());

/**
 * The offline vector index against an exact scan: semantic searches (the vector list alone) within
 * one user's seeds, a closed set whose texts the bench knows, compared with cosines computed here
 * by the same embedder (256 dimensions, the server's offline default). A hit counts if its exact
 * cosine reaches the exact tenth best: the templates repeat, so many memories tie and any of them
 * is right. Also the largest difference between a hit's score (1 − dist) and its exact cosine (the
 * wire rounds dist to 1e-6, so an exact index shows at most 5e-7).
 */
async function checkRecall(size: number, seeds: Seed[]): Promise<Recall> {
  const embedder = new OfflineEmbedder(256);
  let found = 0;
  let wanted = 0;
  let maxError = 0;
  for (const user of RECALL_USERS) {
    const mine = seeds.filter((s) => s.user === user);
    const vectors = await embedder.embed(mine.map((s) => s.text));
    for (const text of QUERIES) {
      const q = await embedder.embedQuery(text);
      const exact = new Map(mine.map((s, i) => [s.id, dot(q, vectors[i]!)]));
      // Hits below the noise floor are dropped by search, so they are not expected either.
      const ranked = [...exact.values()].filter((x) => x >= embedder.noiseFloor).sort((a, b) => b - a);
      const k = Math.min(10, ranked.length);
      if (!k) continue;
      const res = await client.searchLongTermMemory({
        text,
        limit: 10,
        search_mode: "semantic",
        user_id: { eq: user },
      });
      wanted += k;
      for (const hit of res.memories) {
        const e = exact.get(hit.id);
        if (e === undefined) throw new Error(`recall check: ${hit.id} is not a seed of ${user}`);
        if (e >= ranked[k - 1]! - 1e-9) found++;
        maxError = Math.max(maxError, Math.abs(1 - hit.dist - e));
      }
    }
  }
  return {
    size,
    queries: RECALL_USERS.length * QUERIES.length,
    recall_at_10: round(found / wanted),
    max_score_error: Number(maxError.toPrecision(2)),
  };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

interface ColdStart {
  size: number;
  first_search_ms: number;
  second_search_ms: number;
}

/** Waits until the stopped wrangler dev no longer answers. */
async function stopped(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(`${BASE}/v1/health`, { signal: AbortSignal.timeout(1000) });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("wrangler dev still answers 60 s after it was stopped");
}

/** The first hybrid search of a fresh isolate (which reads the tenant's vectors from D1), then the next. */
async function coldStart(size: number): Promise<ColdStart> {
  const time = async (text: string) => {
    const t = performance.now();
    await client.searchLongTermMemory({ text, limit: 10 });
    return round(performance.now() - t);
  };
  const first = await time(QUERIES[0]!);
  return { size, first_search_ms: first, second_search_ms: await time(QUERIES[1]!) };
}

/** Credentials for the Workers AI REST API, which the reranker scenario calls. */
const RERANK_ENV = ["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN"] as const;
const RERANK_MODEL = "@cf/baai/bge-reranker-base";
/** What RERANK_TOP_N sends by default: the best 20 fused hits. */
const RERANK_CANDIDATES = 20;

/**
 * The reranker's cost. Workers AI has no local runtime, so with credentials in the environment the
 * model is timed directly through its REST API with what search sends it (a query and the 20 best
 * candidates' texts): a search with RERANK on pays about this on top of its hybrid search time
 * (measured from this machine; from a Worker the network leg is shorter).
 */
async function measureRerank(size: number, rand: Rand): Promise<Stat | null> {
  const [account, token] = RERANK_ENV.map((k) => process.env[k]);
  if (!account || !token) return null;
  const url = `https://api.cloudflare.com/client/v4/accounts/${account}/ai/run/${RERANK_MODEL}`;
  const contexts = Array.from({ length: RERANK_CANDIDATES }, () => ({ text: rand.pick(TEMPLATES)(rand) }));
  try {
    return await measure(size, 1, `rerank (${RERANK_CANDIDATES} hits, Workers AI)`, async (i) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ query: QUERIES[Math.abs(i) % QUERIES.length], contexts, top_k: RERANK_CANDIDATES }),
      });
      if (!res.ok) throw new Error(`${RERANK_MODEL} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      await res.arrayBuffer();
    });
  } catch (e) {
    // The rest of the run stands; say why this scenario has no figures.
    console.error(`rerank: not measured (${e instanceof Error ? e.message : String(e)})`);
    return null;
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  // Before wrangler dev starts, so the two builds do not share the cores.
  const bundle = selected("bundle") ? await measureBundle() : null;
  // The socket scenarios send hundreds of frames in seconds: lift the per-socket rate limit.
  // Its own state directory, kept across the restart that measures a cold start.
  const state = mkdtempSync(join(tmpdir(), "edgemem-bench-"));
  const start = () => startWranglerDev({ port: PORT, vars: { WS_RATE_LIMIT: "1000000" }, state });
  let dev = await start();
  const cleanUp = () => {
    dev.stop();
    rmSync(state, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanUp();
    process.exit(130);
  });
  try {
    const rand = new Rand(42);
    const stats: Stat[] = [];
    const seeds: Seed[] = [];
    const seeding: { size: number; seconds: number }[] = [];
    let stored = 0;
    let sessions = 0;
    const chat = conversation(rand);
    // Check once that the scenario measures what it says: a PUT that summarizes.
    const check = await client.putWorkingMemory("bench-check", { messages: chat, namespace: "bench" }, SESSION_MODEL);
    if (!check.context || check.messages.length >= chat.length)
      throw new Error("the working-memory scenario did not summarize");
    console.error(
      `a 200-message PUT keeps ${check.messages.length} messages and a ${check.context.length}-character summary`,
    );
    const run = async (size: number, c: number, scenario: string, call: (i: number) => Promise<unknown>) => {
      if (selected(scenario)) stats.push(await measure(size, c, scenario, call));
    };
    let recall: Recall | null = null;
    let cold: ColdStart | null = null;
    for (const size of SIZES) {
      const t = performance.now();
      const from = seeds.length;
      await seedTo(size, seeds, rand);
      const seconds = round((performance.now() - t) / 1000);
      seeding.push({ size, seconds });
      const status = await client.status();
      console.error(
        `seeded ${seeds.length - from} memories in ${seconds} s (${round((seeds.length - from) / seconds)}/s); the tenant holds ${status.memories.total}`,
      );
      // Right after seeding, while the seeds are the only memories of their users.
      if (size === SIZES.at(-1) && selected("index recall")) recall = await checkRecall(size, seeds);
      const q = (i: number) => QUERIES[((i % QUERIES.length) + QUERIES.length) % QUERIES.length]!;
      for (const c of LEVELS) {
        await run(size, c, "no-op (GET /v1/health)", () => client.health());
        await run(size, c, "hybrid search", (i) => client.searchLongTermMemory({ text: q(i), limit: 10 }));
        // The vector side alone (the offline index's scan and re-score, then the hits' rows).
        await run(size, c, "semantic search", (i) =>
          client.searchLongTermMemory({ text: q(i), limit: 10, search_mode: "semantic" }),
        );
        await run(size, c, "keyword search", (i) =>
          client.searchLongTermMemory({ text: q(i), limit: 10, search_mode: "keyword" }),
        );
        // The first ten pages in turn, newest first (each also counts the tenant's memories).
        await run(size, c, "list (page of 50)", (i) =>
          client.memories.list({ limit: 50, offset: (Math.abs(i) % 10) * 50 }),
        );
        await run(size, c, "store (1 memory)", () =>
          // A new fact each time (the number makes it one), so this measures a write, dedup check included.
          client.createLongTermMemories([
            {
              id: `bench-store-${stored}`,
              text: `${rand.pick(TEMPLATES)(rand)} (ticket ${stored++})`,
              namespace: "bench",
            },
          ]),
        );
        // A new session each time, so every PUT summarizes from scratch.
        await run(size, c, "PUT session (200 msgs)", () =>
          client.putWorkingMemory(`bench-session-${sessions++}`, { messages: chat, namespace: "bench" }, SESSION_MODEL),
        );
        await run(size, c, "think", (i) => client.think({ question: `${q(i)}?` }));
        await run(size, c, "memory prompt", (i) =>
          client.memoryPrompt({
            query: q(i),
            session: { session_id: "bench-check", ...SESSION_MODEL },
            long_term_search: { limit: 10, namespace: { eq: "bench" } },
          }),
        );
        // Last at each level: it adds memories (in its own namespace).
        await run(size, c, `ingest (${INGEST_BATCH} msgs)`, () =>
          client.ingest({ messages: conversation(rand, INGEST_BATCH), namespace: "bench-ingest" }),
        );
      }
      if (size === SIZES.at(-1) && selected("cold start")) {
        dev.stop();
        await stopped();
        dev = await start();
        cold = await coldStart(size);
      }
    }

    // WebSockets, at the last size: a plain round trip (ping → pong, answered by the runtime),
    // an engram recall round trip, and push fan-out from a REST write to 100 sockets.
    const size = SIZES.at(-1)!;
    if (selected("WS ping/pong echo")) {
      const ws = await openSocket();
      stats.push(
        await measureSocket(size, "WS ping/pong echo", () => {
          const pong = ws.next((f) => f.type === "pong");
          ws.send({ type: "ping" });
          return pong;
        }),
      );
      ws.close();
    }
    if (selected("WS engram recall")) {
      const engram = new EngramSocket({ url: BASE });
      await engram.connect();
      stats.push(
        await measureSocket(size, "WS engram recall", (i) =>
          engram.send("recall", { query: QUERIES[i % QUERIES.length], limit: 10 }),
        ),
      );
      engram.close();
    }
    if (selected("WS fan-out (100 sockets)")) stats.push(await measureFanOut(size, 100, 50));

    // MCP: one tool call per request (stateless streamable HTTP), through the official client.
    if (selected("MCP search tool call")) {
      const mcp = new McpClient({ name: "edgemem-bench", version: "1" });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`)));
      stats.push(
        await measureSocket(size, "MCP search tool call", async (i) => {
          const res = await mcp.callTool({
            name: "search_long_term_memory",
            arguments: { text: QUERIES[i % QUERIES.length], limit: 10 },
          });
          if (res.isError) throw new Error(`MCP search failed: ${JSON.stringify(res.content)}`);
        }),
      );
      await mcp.close();
    }

    const explorer = selected("explorer") ? await measureExplorer(BASE) : null;
    if (!explorer && selected("explorer"))
      console.error("explorer: not measured (no Chromium: apt-get install -y chromium, or CHROMIUM_PATH)");

    const rerank = selected("rerank") ? await measureRerank(size, rand) : null;
    if (rerank) stats.push(rerank);
    else if (selected("rerank"))
      console.error(`rerank: not measured (set ${RERANK_ENV.join(" and ")} to time ${RERANK_MODEL} on Workers AI)`);

    // Figures of scenarios that ran (--scenarios may leave some out).
    const stat = (size: number, c: number, scenario: string) =>
      stats.find((s) => s.size === size && s.concurrency === c && s.scenario === scenario);
    const p95 = (size: number, c: number, scenario: string) => stat(size, c, scenario)?.p95 ?? null;
    const ratio = (a: number | null, b: number | null) => (a !== null && b ? round(a / b) : null);
    const ratios = SIZES.flatMap((size) =>
      LEVELS.map((c) => {
        const noop = p95(size, c, "no-op (GET /v1/health)");
        const ingest = stat(size, c, `ingest (${INGEST_BATCH} msgs)`);
        return {
          size,
          concurrency: c,
          hybrid_p95_over_noop_p95: ratio(p95(size, c, "hybrid search"), noop),
          keyword_p95_over_noop_p95: ratio(p95(size, c, "keyword search"), noop),
          store_p95_ms: p95(size, c, "store (1 memory)"),
          list_p95_ms: p95(size, c, "list (page of 50)"),
          session_put_p95_ms: p95(size, c, "PUT session (200 msgs)"),
          prompt_p95_ms: p95(size, c, "memory prompt"),
          think_p95_ms: p95(size, c, "think"),
          ingest_messages_per_s: ingest ? round(ingest.rps * INGEST_BATCH) : null,
        };
      }),
    );

    console.log(`\nedgemem bench — ${cpus().length} cores, ${REQUESTS} requests per scenario, latencies in ms\n`);
    const cols = [
      "memories".padEnd(9),
      "conc".padStart(4),
      "scenario".padEnd(24),
      "p50".padStart(8),
      "p95".padStart(8),
      "p99".padStart(8),
      "req/s".padStart(8),
    ];
    console.log(cols.join(" "));
    for (const s of stats) {
      const row = [String(s.size).padEnd(9), String(s.concurrency).padStart(4), s.scenario.padEnd(24)];
      console.log([...row, ...[s.p50, s.p95, s.p99, s.rps].map((x) => String(x).padStart(8))].join(" "));
    }
    console.log(
      "\ntargets: hybrid search p95 ≤ 3× no-op p95 at 10,000 memories; store p95 ≤ 15 ms; WS fan-out p95 ≤ 25 ms",
    );
    for (const r of ratios) {
      const figures = [
        ["hybrid p95 / no-op p95", r.hybrid_p95_over_noop_p95, "×"],
        ["keyword", r.keyword_p95_over_noop_p95, "×"],
        ["store p95", r.store_p95_ms, " ms"],
        ["list p95", r.list_p95_ms, " ms"],
        ["session PUT p95", r.session_put_p95_ms, " ms"],
        ["prompt p95", r.prompt_p95_ms, " ms"],
        ["think p95", r.think_p95_ms, " ms"],
        ["ingest", r.ingest_messages_per_s, " messages/s"],
      ].filter(([, x]) => x !== null);
      if (figures.length)
        console.log(
          `${String(r.size).padEnd(6)} memories, concurrency ${r.concurrency}: ${figures.map(([name, x, unit]) => `${name} = ${x}${unit}`).join(", ")}`,
        );
    }
    for (const s of seeding) console.log(`seeding to ${s.size} memories took ${s.seconds} s`);
    if (recall)
      console.log(
        `offline vector index at ${recall.size} memories: recall@10 ${recall.recall_at_10} vs an exact scan over ${recall.queries} semantic searches; largest score difference ${recall.max_score_error}`,
      );
    if (cold)
      console.log(
        `cold start at ${cold.size} memories: first hybrid search ${cold.first_search_ms} ms (loads the vectors from D1), the next ${cold.second_search_ms} ms`,
      );

    if (bundle)
      console.log(`production bundle (wrangler deploy --dry-run): ${bundle.uploadKiB} KiB, ${bundle.gzipKiB} KiB gzip`);
    if (explorer)
      console.log(
        `explorer, cold load of #/memories (median of ${explorer.loads}): first paint ${explorer.first_paint_ms} ms, first page of data ${explorer.data_ms} ms, ${explorer.bytes} bytes (target: first paint < 1,000 ms)`,
      );

    writeFileSync(
      args.out!,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          cores: cpus().length,
          requests: REQUESTS,
          bundle: bundle && { upload_kib: bundle.uploadKiB, gzip_kib: bundle.gzipKiB },
          explorer,
          seeding,
          recall,
          cold_start: cold,
          stats,
          ratios,
        },
        null,
        2,
      ),
    );
    console.log(`\nwritten to ${args.out}`);
  } finally {
    cleanUp();
  }
}

await main();
