// edgemem benchmark: `npm run bench` (on the pinned Node 22, which runs this TypeScript directly).
//
// Starts `wrangler dev` on its own port with fresh local state and logging at warn, seeds one
// tenant through the client SDK (client/, as applications use edgemem) with 1,000 and then 10,000 memories, and at each size measures a
// no-op route, store, hybrid search, keyword search, a PUT of a 200-message working-memory session
// that triggers summarization (offline provider), prompt hydration (/v1/memory/prompt), think
// (offline answer) and ingest (offline extractor; throughput in messages/s); at the last size also
// WebSocket round trips and fan-out, and an MCP tool call (search_long_term_memory, official MCP
// client over streamable HTTP); with CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set, the
// Workers AI reranker's latency (what RERANK adds to a search); and the production bundle's size
// (wrangler deploy --dry-run, as test/e2e/bundle-size.test.ts); with Chromium, the explorer's cold
// load over the 10,000 memories (first paint, first page of data). Prints one table and writes the
// same as JSON. Each scenario runs closed-loop at concurrency 1 (latency) and at --concurrency (load).
// Options: --port N (default 8799), --requests N per scenario (default 300), --concurrency N
// (default 4), --out FILE (default bench-results.json).
import { writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { cpus } from "node:os";
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
    out: { type: "string", default: "bench-results.json" },
  },
});
const PORT = Number(args.port);
const REQUESTS = Number(args.requests);
const LEVELS = [...new Set([1, Number(args.concurrency)])];
const BASE = `http://127.0.0.1:${PORT}`;
const SIZES = [1_000, 10_000];

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

async function seedTo(target: number, have: number, rand: Rand): Promise<number> {
  while (have < target) {
    const n = Math.min(100, target - have);
    const memories = Array.from({ length: n }, (_, i) => ({
      text: rand.pick(TEMPLATES)(rand),
      topics: [rand.pick(PURPOSE)],
      user_id: rand.pick(PEOPLE).toLowerCase(),
      namespace: "bench",
      id: `seed-${have + i}`,
    }));
    // The templates repeat themselves; dedup on write would fold the repeats and leave fewer
    // than `target` memories, so seeding turns it off (AMS's flag).
    await client.createLongTermMemories(memories, { deduplicate: false });
    have += n;
  }
  return have;
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
  const bundle = await measureBundle();
  // The socket scenarios send hundreds of frames in seconds: lift the per-socket rate limit.
  const { stop } = await startWranglerDev({ port: PORT, vars: { WS_RATE_LIMIT: "1000000" } });
  process.on("SIGINT", () => {
    stop();
    process.exit(130);
  });
  try {
    const rand = new Rand(42);
    const stats: Stat[] = [];
    let have = 0;
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
    for (const size of SIZES) {
      const t = performance.now();
      have = await seedTo(size, have, rand);
      const status = await client.status();
      console.error(
        `seeded ${have} memories (${round((performance.now() - t) / 1000)} s); the tenant holds ${status.memories.total}`,
      );
      const q = (i: number) => QUERIES[((i % QUERIES.length) + QUERIES.length) % QUERIES.length]!;
      for (const c of LEVELS) {
        stats.push(await measure(size, c, "no-op (GET /v1/health)", () => client.health()));
        stats.push(
          await measure(size, c, "hybrid search", (i) => client.searchLongTermMemory({ text: q(i), limit: 10 })),
        );
        stats.push(
          await measure(size, c, "keyword search", (i) =>
            client.searchLongTermMemory({ text: q(i), limit: 10, search_mode: "keyword" }),
          ),
        );
        stats.push(
          await measure(size, c, "store (1 memory)", () =>
            // A new fact each time (the number makes it one), so this measures a write, dedup check included.
            client.createLongTermMemories([
              {
                id: `bench-store-${stored}`,
                text: `${rand.pick(TEMPLATES)(rand)} (ticket ${stored++})`,
                namespace: "bench",
              },
            ]),
          ),
        );
        // A new session each time, so every PUT summarizes from scratch.
        stats.push(
          await measure(size, c, "PUT session (200 msgs)", () =>
            client.putWorkingMemory(
              `bench-session-${sessions++}`,
              { messages: chat, namespace: "bench" },
              SESSION_MODEL,
            ),
          ),
        );
        stats.push(await measure(size, c, "think", (i) => client.think({ question: `${q(i)}?` })));
        stats.push(
          await measure(size, c, "memory prompt", (i) =>
            client.memoryPrompt({
              query: q(i),
              session: { session_id: "bench-check", ...SESSION_MODEL },
              long_term_search: { limit: 10, namespace: { eq: "bench" } },
            }),
          ),
        );
        // Last at each level: it adds memories (in its own namespace).
        stats.push(
          await measure(size, c, `ingest (${INGEST_BATCH} msgs)`, () =>
            client.ingest({ messages: conversation(rand, INGEST_BATCH), namespace: "bench-ingest" }),
          ),
        );
      }
    }

    // WebSockets, at the last size: a plain round trip (ping → pong, answered by the runtime),
    // an engram recall round trip, and push fan-out from a REST write to 100 sockets.
    const size = SIZES.at(-1)!;
    const ws = await openSocket();
    stats.push(
      await measureSocket(size, "WS ping/pong echo", () => {
        const pong = ws.next((f) => f.type === "pong");
        ws.send({ type: "ping" });
        return pong;
      }),
    );
    ws.close();
    const engram = new EngramSocket({ url: BASE });
    await engram.connect();
    stats.push(
      await measureSocket(size, "WS engram recall", (i) =>
        engram.send("recall", { query: QUERIES[i % QUERIES.length], limit: 10 }),
      ),
    );
    engram.close();
    stats.push(await measureFanOut(size, 100, 50));

    // MCP: one tool call per request (stateless streamable HTTP), through the official client.
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

    const explorer = await measureExplorer(BASE);
    if (!explorer) console.error("explorer: not measured (no Chromium: apt-get install -y chromium, or CHROMIUM_PATH)");

    const rerank = await measureRerank(size, rand);
    if (rerank) stats.push(rerank);
    else console.error(`rerank: not measured (set ${RERANK_ENV.join(" and ")} to time ${RERANK_MODEL} on Workers AI)`);

    const p95 = (size: number, c: number, scenario: string) =>
      stats.find((s) => s.size === size && s.concurrency === c && s.scenario === scenario)!.p95;
    const ratios = SIZES.flatMap((size) =>
      LEVELS.map((c) => ({
        size,
        concurrency: c,
        hybrid_p95_over_noop_p95: round(p95(size, c, "hybrid search") / p95(size, c, "no-op (GET /v1/health)")),
        keyword_p95_over_noop_p95: round(p95(size, c, "keyword search") / p95(size, c, "no-op (GET /v1/health)")),
        store_p95_ms: p95(size, c, "store (1 memory)"),
        session_put_p95_ms: p95(size, c, "PUT session (200 msgs)"),
        prompt_p95_ms: p95(size, c, "memory prompt"),
        think_p95_ms: p95(size, c, "think"),
        ingest_messages_per_s: round(
          stats.find((s) => s.size === size && s.concurrency === c && s.scenario === `ingest (${INGEST_BATCH} msgs)`)!
            .rps * INGEST_BATCH,
        ),
      })),
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
      console.log(
        `${String(r.size).padEnd(6)} memories, concurrency ${r.concurrency}: hybrid p95 / no-op p95 = ${r.hybrid_p95_over_noop_p95}×, keyword = ${r.keyword_p95_over_noop_p95}×, store p95 = ${r.store_p95_ms} ms, session PUT p95 = ${r.session_put_p95_ms} ms, prompt p95 = ${r.prompt_p95_ms} ms, think p95 = ${r.think_p95_ms} ms, ingest = ${r.ingest_messages_per_s} messages/s`,
      );
    }

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
          bundle: { upload_kib: bundle.uploadKiB, gzip_kib: bundle.gzipKiB },
          explorer,
          stats,
          ratios,
        },
        null,
        2,
      ),
    );
    console.log(`\nwritten to ${args.out}`);
  } finally {
    stop();
  }
}

await main();
