// edgemem soak: `npm run soak` (on the pinned Node 22, which runs this TypeScript directly by stripping types).
//
// A bounded mixed load against a real `wrangler dev` that must end with no 5xx and no lost or
// duplicated event. It starts `wrangler dev` itself (free port, fresh state, migrations, JWT on)
// unless given --url, and drives it only through the client SDK (client/) and raw WebSockets:
//   - per tenant (--tenants, fresh names per run), --sockets/--tenants engram sockets (EngramSocket),
//     one SYMindX socket that subscribes to every memory event and joins every conversation the
//     load touches (so it sees every event the tenant numbers), and one TrustGraph socket; the
//     sockets also send commands (recall, remember, status, chat, handoff, search, store, think);
//   - --concurrency REST workers until --seconds have passed: creates (single and batches up to 100),
//     search in all three modes with long questions, GET, PATCH, feedback, deletes, history, CRUD
//     upserts/search/get, working-memory PUT/GET, ingest, think, prompt, graph, status — with
//     hostile-but-valid text (CJK, emoji, URLs, e-mail addresses, 49-character words, 60-word
//     questions, metadata nested 20 deep, 20 KB texts);
//   - a chaos timeline, one step at a time: forced reconnects (--reconnects: a socket's connection is
//     cut and the SDK reconnects with ?since=) and bulk ingests (--bulk: 360 messages, ~1,300 memories,
//     more than the hub's 1,000-event replay log); every second bulk runs while one socket is offline
//     (its reconnects reach a local endpoint that closes at once until the burst is published), so its ?since= falls out of the log
//     and it must get the replay or a gap frame. Missing events a gap frame announced are reported,
//     not failed; any other missing event is lost. --refused times, a socket's first reconnect is
//     answered 401 (an expired token, a failing upgrade) and the next allowed: it must recover.
// Then it waits --settle seconds for in-flight events, reads each tenant's replay log, and reports:
// requests by route and status, every 5xx (first 20 bodies with their requests), p50/p95 per route,
// events numbered per tenant vs received per socket (each socket must receive every memory event of
// its tenant from seq 1 to the tenant's last exactly once), acknowledged writes whose event never
// came, gap frames, sockets that never recovered, workerd's RSS (sampled from /proc) and wall time.
// Exits 1 on any 5xx, network error, internal error frame, lost or duplicated event, or a socket
// that never recovered.
//
// Usage: npm run soak -- [--seconds 120] [--sockets 100] [--tenants 4] [--concurrency 8]
//        [--reconnects 6] [--bulk 2] [--refused 1] [--settle 5] [--seed 1] [--json soak-results.json]
//        [--url http://127.0.0.1:8787 --secret S [--pid N]]
// With --url the server must run AUTH_MODE=jwt with JWT_SECRET=S (tenants come from the token)
// and WS_RATE_LIMIT at its default or higher; --pid names the process whose RSS to sample.
// While developing: npm run soak -- --seconds 30 --sockets 20
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { Agent, createServer, request as httpRequest } from "node:http";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  EdgememClient,
  EngramSocket,
  type EngramEvent,
  type EngramSocketOptions,
  type MemoryInput,
  type SearchMode,
} from "../../client/index.ts";
import { DAY, PEOPLE, PROJECT, PURPOSE, Rand, signToken, TECH } from "../e2e/tools.ts";
import { startWranglerDev, type WranglerDev } from "../e2e/wrangler-dev.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "120" },
    sockets: { type: "string", default: "100" },
    tenants: { type: "string", default: "4" },
    concurrency: { type: "string", default: "8" },
    reconnects: { type: "string", default: "6" },
    bulk: { type: "string", default: "2" },
    refused: { type: "string", default: "1" },
    settle: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    json: { type: "string", default: "soak-results.json" },
    url: { type: "string" },
    secret: { type: "string", default: "soak-secret-for-hs256-0123456789abcdef" },
    pid: { type: "string" },
  },
});
const SECONDS = Number(args.seconds);
const TENANTS = Math.max(1, Number(args.tenants));
const SOCKETS = Math.max(TENANTS, Number(args.sockets));
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const RECONNECTS = Number(args.reconnects);
const BULK = Number(args.bulk);
const REFUSED = Number(args.refused);
const SETTLE_MS = Number(args.settle) * 1000;
const SECRET = args.secret!;
/** Conversations (working-memory sessions) per tenant: every session write goes to one of these. */
const CONVERSATIONS = 6;
/** Messages in a bulk ingest (5 facts each): the offline extractor stores ~1,300 memories, over the hub's 1,000-event window. */
const BULK_MESSAGES = 360;
/** A REST request or socket command without an answer this long is a failure. */
const REQUEST_TIMEOUT_MS = 30_000;
const MEMORY_EVENTS = new Set(["memory_created", "memory_updated", "memory_deleted", "feedback_recorded"]);

// ---------------------------------------------------------------------------------------------
// Deterministic variety.

const WORDS = (
  "backend services deployment rollback latency budget quarterly roadmap customer onboarding invoice reconciliation " +
  "migration outage postmortem dashboard alerting threshold retention cohort experiment hypothesis vendor contract renewal " +
  "compliance audit encryption rotation credentials staging production pipeline flaky integration regression benchmark " +
  "throughput capacity forecast hiring interview mentoring offsite agenda retrospective sprint backlog estimate refactor " +
  "deprecate schema index partition replica failover region pricing discount churn survey accessibility localization " +
  "translation typography palette tutorial documentation changelog release candidate hotfix patch dependency upgrade " +
  "vulnerability scanner firewall gateway proxy certificate domain eviction queue consumer producer backpressure retry " +
  "idempotent webhook signature payload timezone daylight calendar holiday vacation approval procurement laptop monitor"
).split(" ");
const OPENERS = [
  "What programming language did I say I prefer for backend services, and why",
  "Can you remind me why we decided to move",
  "When we talked about the quarterly roadmap last week, what did",
  "Which database did the team choose for",
  "Summarise everything you know about",
  "Who was responsible for the",
  "How should I explain to the new hires what happened with",
  "Before the offsite, what were the open questions about",
];
const HOSTILE = [
  "我们决定在下个季度把缓存层迁移到Redis集群，因为延迟更低而且运维更简单",
  "来週の月曜日にデプロイする予定です。ロールバック手順を確認してください",
  "백엔드 서비스는 러스트로 작성하기로 했다",
  "🚀 Shipped the billing service 🎉🔥 — the team 👩‍💻👨‍💻 celebrated ✅ 🇯🇵",
  "See https://docs.example.com/runbooks/incident-2026-11-04?section=rollback&lang=en#step-3 for details",
  "Write to alice.wong+billing@example-corp.co.uk about the invoice",
  "Antidisestablishmentarianismfloccinaucinihilipilif is the 49-letter codename",
  "C:\\Users\\dana\\AppData %% _under_ 'quotes' \"double\" ; DROP TABLE memories; -- * ? [a-z] NEAR/3 OR AND NOT",
];

/** A made-up but pronounceable word: new to the server's term caches. */
function pseudoWord(r: Rand, syllables = r.int(2, 4)): string {
  const c = "bcdfghklmnprstvz";
  const v = "aeiou";
  let w = "";
  for (let i = 0; i < syllables; i++)
    w += c[r.int(0, c.length - 1)]! + v[r.int(0, v.length - 1)]! + (r.chance(0.3) ? c[r.int(0, c.length - 1)]! : "");
  return w;
}

function fact(r: Rand, n: number): string {
  const base = r.pick([
    () => `${r.pick(PEOPLE)} decided to use ${r.pick(TECH)} for ${r.pick(PURPOSE)}`,
    () => `${r.pick(PEOPLE)} prefers ${r.pick(WORDS)} reviews on ${r.pick(DAY)}`,
    () => `The ${r.pick(PROJECT)} deadline moved to ${r.pick(DAY)}`,
    () => `${r.pick(PROJECT)} migrated its ${r.pick(PURPOSE)} from ${r.pick(TECH)} to ${r.pick(TECH)}`,
    () => `${r.pick(PEOPLE)} owns ${r.pick(PURPOSE)} for ${r.pick(PROJECT)} and the ${pseudoWord(r)} rollout`,
  ])();
  // The number makes each a distinct fact (dedup would fold repeats).
  const hostile = r.chance(0.25) ? ` ${r.pick(HOSTILE)}` : "";
  const long = r.chance(0.02) ? ` ${Array.from({ length: 2500 }, () => r.pick(WORDS)).join(" ")}` : "";
  return `${base} (ticket ${n})${hostile}${long}`;
}

/** A realistic question of 10 to 60 words, some of them new to the server. */
function question(r: Rand): string {
  const words = [r.pick(OPENERS)];
  const target = r.chance(0.3) ? 60 : r.int(10, 40);
  let count = words[0]!.split(" ").length;
  while (count < target) {
    const w = r.chance(0.15) ? pseudoWord(r) : r.chance(0.2) ? r.pick([...TECH, ...PROJECT, ...PEOPLE]) : r.pick(WORDS);
    words.push(w);
    count++;
  }
  if (r.chance(0.15)) words.push(r.pick(HOSTILE));
  return `${words.join(" ")}?`;
}

/** JSON nested `depth` levels (objects and arrays alternating): deep but within what the server allows. */
function deep(depth: number): Record<string, unknown> {
  let v: unknown = { leaf: "🌿 ok", n: 1 };
  for (let i = 0; i < depth; i++) v = i % 2 ? { level: i, child: v } : [v, i];
  return { nested: v, tags: ["a", "ü", "中文"] };
}

// ---------------------------------------------------------------------------------------------
// Requests: the SDK over node:http keep-alive (bench.ts's transport), recording every answer.

interface Sample {
  route: string;
  method: string;
  path: string;
  status: number;
  request: string;
  response: string;
}

const latencies = new Map<string, number[]>();
const statuses = new Map<string, Map<number, number>>();
const serverErrors: Sample[] = [];
/** 5xx samples kept per route, so one frequent cause does not hide the others. */
const SAMPLES_PER_ROUTE = 4;
let serverErrorCount = 0;
const oddClientErrors: Sample[] = [];
let networkErrors = 0;
const networkErrorSamples: string[] = [];

/** `/v1/long-term-memory/abc/history` → `/v1/long-term-memory/:id/history`; search by mode. */
function routeOf(method: string, url: URL, body: string | undefined): string {
  const fixed = new Set([
    "/v1/long-term-memory/",
    "/v1/long-term-memory/search",
    "/v1/long-term-memory/forget",
    "/v1/working-memory/",
    "/api/memories",
    "/api/memories/search",
  ]);
  let path = url.pathname;
  if (!fixed.has(path))
    path = path.replace(/^(\/v1\/long-term-memory|\/v1\/working-memory|\/api\/memories)\/[^/]+/, "$1/:id");
  let route = `${method} ${path}`;
  if (path === "/v1/long-term-memory/search" && body)
    route += ` [${(JSON.parse(body) as { search_mode?: string }).search_mode ?? "hybrid"}]`;
  return route;
}

function record(route: string, status: number, ms: number): void {
  let byStatus = statuses.get(route);
  if (!byStatus) statuses.set(route, (byStatus = new Map()));
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  let l = latencies.get(route);
  if (!l) latencies.set(route, (l = []));
  l.push(ms);
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function httpFetch(url: string, init: RequestInit): Promise<Response> {
  const body = init.body as string | undefined;
  const headers = {
    ...(init.headers as Record<string, string>),
    ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}),
  };
  const u = new URL(url);
  const route = routeOf(init.method ?? "GET", u, body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const raw = Buffer.concat(chunks);
        record(route, status, performance.now() - started);
        const sample = () => ({
          route,
          method: init.method ?? "GET",
          path: u.pathname + u.search,
          status,
          request: clip(body ?? ""),
          response: clip(raw.toString("utf8")),
        });
        if (status >= 500) {
          serverErrorCount++;
          if (serverErrors.length < 20 && serverErrors.filter((e) => e.route === route).length < SAMPLES_PER_ROUTE)
            serverErrors.push(sample());
        } else if (status >= 400 && status !== 404 && oddClientErrors.length < 10) {
          // Every input here is valid: a 4xx other than a race's 404 is worth a look.
          oddClientErrors.push(sample());
        }
        resolve(new Response(status === 204 ? null : raw, { status }));
      });
    });
    // A request that hangs is a failure to report, not a reason for the soak to hang.
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on("error", (e) => {
      networkErrors++;
      if (networkErrorSamples.length < 10)
        networkErrorSamples.push(`${init.method ?? "GET"} ${u.pathname}: ${e.message}`);
      record(route, 0, performance.now() - started);
      reject(e);
    });
    req.end(body);
  });
}

function clip(s: string, n = 600): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

// ---------------------------------------------------------------------------------------------
// Tenants and their sockets.

interface Tenant {
  name: string;
  token: string;
  client: EdgememClient;
  /** Memory ids believed live (for GET/PATCH/feedback/delete). */
  ids: string[];
  /** Ids of acknowledged creates, with the request that made each: each must show up in some event. */
  acked: Map<string, string>;
  /** Memory ids seen in any event, and the sequence numbers of memory and session events. */
  seenIds: Set<string>;
  memorySeqs: Set<number>;
  sessionSeqs: Set<number>;
  engram: EngramRecord[];
  symindx: RawRecord | null;
  trustgraph: RawRecord | null;
  counter: number;
}

interface EngramRecord {
  name: string;
  tenant: Tenant;
  socket: EngramSocket;
  /** The current underlying WebSocket (cut it to force a reconnect). */
  ws: WebSocket | null;
  /** While set, reconnects reach a blackhole that accepts and closes at once: an outage. */
  offline: boolean;
  /** While set, reconnects are refused by the server (a bad token: 401 at the upgrade). */
  refused: boolean;
  upgrades: string[];
  /** Sequence numbers delivered to the application, in order. */
  delivered: number[];
  /** Raw event frames (replays included) and those the SDK dropped as already seen. */
  rawEvents: number;
  rawSeqs: Set<number>;
  replayedDuplicates: number;
  gaps: unknown[];
  otherEvents: string[];
  reconnects: number;
  state: string;
  commands: { ok: number; failed: Map<string, number> };
  errorSamples: string[];
}

interface RawRecord {
  name: string;
  ws: WebSocket;
  open: boolean;
  closedEarly: string | null;
  sent: number;
  replies: number;
  errors: Map<string, number>;
  errorSamples: string[];
  events: number;
  /** Sequence numbers of the events it received (SYMindX: every memory and session event of the tenant). */
  seqs: Set<number>;
}

const wsInternalErrors: string[] = [];
let wsInternalErrorCount = 0;

function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
}

function parseFrame(data: unknown): Record<string, unknown> {
  try {
    return obj(JSON.parse(String(data)));
  } catch {
    return {};
  }
}

function internal(where: string, detail: string): void {
  wsInternalErrorCount++;
  if (wsInternalErrors.length < 20) wsInternalErrors.push(`${where}: ${clip(detail, 400)}`);
}

function tokenFor(tenant: string): Promise<string> {
  return signToken(SECRET, tenant, { sub: `soak-${tenant}`, expires: "3h" });
}

function wsUrl(base: string, path: string, token: string): string {
  const u = new URL(base);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = path;
  u.searchParams.set("token", token);
  return u.toString();
}

/** An SDK socket whose underlying connections are watched (raw frames) and can be cut. */
function engramSocket(base: string, tenant: Tenant, index: number): EngramRecord {
  const rec: EngramRecord = {
    name: `${tenant.name}/engram-${index}`,
    tenant,
    socket: null as unknown as EngramSocket,
    ws: null,
    offline: false,
    refused: false,
    upgrades: [],
    delivered: [],
    rawEvents: 0,
    rawSeqs: new Set(),
    replayedDuplicates: 0,
    gaps: [],
    otherEvents: [],
    reconnects: 0,
    state: "closed",
    commands: { ok: 0, failed: new Map() },
    errorSamples: [],
  };
  class Watched extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      const u = new URL(String(url));
      if (rec.refused) u.searchParams.set("token", "refused");
      super(rec.offline && blackhole ? blackhole.url : u, protocols);
      rec.ws = this;
      rec.upgrades.push(rec.offline ? "(blackhole)" : u.search.replace(/token=(?!refused)[^&]+/, "token=…"));
      this.addEventListener("message", (e) => onEngramFrame(rec, parseFrame(e.data)));
    }
  }
  const WebSocketImpl: EngramSocketOptions["WebSocket"] = Watched;
  rec.socket = new EngramSocket({
    url: base,
    token: tenant.token,
    WebSocket: WebSocketImpl,
    backoff: { initialMs: 1000, maxMs: 5000 },
  });
  rec.socket.onState((s) => {
    if (s === "reconnecting" && rec.state === "open") rec.reconnects++;
    rec.state = s;
  });
  rec.socket.on("*", (e: EngramEvent) => {
    // Before the SDK knew gap frames, they reached "*" as events; they are counted from the raw frames.
    if (!MEMORY_EVENTS.has(e.event)) return;
    rec.delivered.push(e.seq);
  });
  return rec;
}

function onEngramFrame(rec: EngramRecord, f: Record<string, unknown>): void {
  const t = rec.tenant;
  if (typeof f.event === "string") {
    if (f.event === "gap") {
      rec.gaps.push(f.data);
      return;
    }
    if (!MEMORY_EVENTS.has(f.event)) {
      if (rec.otherEvents.length < 5) rec.otherEvents.push(clip(JSON.stringify(f), 200));
      return;
    }
    rec.rawEvents++;
    if (typeof f.seq === "number") {
      if (rec.rawSeqs.has(f.seq)) rec.replayedDuplicates++;
      rec.rawSeqs.add(f.seq);
      t.memorySeqs.add(f.seq);
    }
    const id = obj(f.data).memory_id;
    if (typeof id === "string") t.seenIds.add(id);
    return;
  }
  if (f.status === "error") {
    const err = obj(f.error);
    if (err.code === "INTERNAL_ERROR") internal(rec.name, JSON.stringify(f));
  }
}

/** A raw SYMindX (`/ws`) or TrustGraph (`/api/v1/socket`) socket. */
function rawSocket(
  url: string,
  name: string,
  onFrame: (f: Record<string, unknown>, rec: RawRecord) => void,
): Promise<RawRecord> {
  const ws = new WebSocket(url);
  const rec: RawRecord = {
    name,
    ws,
    open: false,
    closedEarly: null,
    sent: 0,
    replies: 0,
    errors: new Map(),
    errorSamples: [],
    events: 0,
    seqs: new Set(),
  };
  ws.addEventListener("message", (e) => onFrame(parseFrame(e.data), rec));
  ws.addEventListener("close", (e) => {
    if (rec.open && !finished) rec.closedEarly = `closed ${e.code} ${e.reason}`;
    rec.open = false;
  });
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => ((rec.open = true), resolve(rec)), { once: true });
    ws.addEventListener("error", () => reject(new Error(`${name}: the WebSocket failed to open`)), { once: true });
  });
}

function countError(rec: RawRecord, code: string, frame: Record<string, unknown>): void {
  rec.errors.set(code, (rec.errors.get(code) ?? 0) + 1);
  if (rec.errorSamples.length < 5) rec.errorSamples.push(clip(JSON.stringify(frame), 400));
}

function symindxFrame(t: Tenant, f: Record<string, unknown>, rec: RawRecord): void {
  if (f.type === "ping") {
    rec.ws.send('{"type":"pong"}');
    return;
  }
  const data = obj(f.data);
  if (f.type === "event") {
    if (typeof data.seq !== "number") return; // presence and handoff notices are not numbered
    rec.events++;
    rec.seqs.add(data.seq);
    if (data.eventType === "conversation_update") t.sessionSeqs.add(data.seq);
    else {
      t.memorySeqs.add(data.seq);
      if (typeof data.memoryId === "string") t.seenIds.add(data.memoryId);
    }
    return;
  }
  if (f.id !== undefined) rec.replies++;
  if (f.type === "error") {
    const code = String(data.code);
    countError(rec, code, f);
    if (code === "INTERNAL_ERROR") internal(rec.name, JSON.stringify(f));
  }
}

function trustgraphFrame(t: Tenant, f: Record<string, unknown>, rec: RawRecord): void {
  const response = obj(f.response);
  if (f.error !== undefined) {
    const type = String(obj(f.error).type);
    countError(rec, type, f);
    if (type === "internal-error") internal(rec.name, JSON.stringify(f));
    rec.replies++;
    return;
  }
  if (response["end-of-stream"] === false) return;
  rec.replies++;
  const stored = response.memories;
  if (String(f.id).startsWith("store-") && Array.isArray(stored))
    for (const m of stored) t.acked.set(String(obj(m).id), "TrustGraph memory store");
}

// ---------------------------------------------------------------------------------------------
// The load.

let finished = false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Sleeps `ms`, but not past `deadline`. */
const nap = (ms: number, deadline: number) => sleep(Math.max(0, Math.min(ms, deadline - Date.now())));

/** One REST operation on a random tenant; errors are already recorded by the transport. */
async function restOp(r: Rand, t: Tenant): Promise<void> {
  const c = t.client;
  const conv = () => `conv-${r.int(0, CONVERSATIONS - 1)}`;
  const someId = () => (t.ids.length ? t.ids[r.int(0, t.ids.length - 1)]! : "none-yet");
  const memory = (): MemoryInput => {
    const id = `m-${t.counter++}-${pseudoWord(r, 1)}`;
    return {
      id,
      text: fact(r, t.counter),
      topics: [r.pick(PURPOSE), r.pick(WORDS)],
      entities: [r.pick(PEOPLE), r.pick(TECH)],
      user_id: r.pick(PEOPLE).toLowerCase(),
      namespace: r.pick(["team", "personal", "ops"]),
      memory_type: r.pick(["fact", "decision", "preference", "event", "semantic"] as const),
      priority: r.int(1, 10),
      ...(r.chance(0.1)
        ? { metadata: deep(20) }
        : r.chance(0.2)
          ? { metadata: { source: "soak", url: "https://example.com/a?b=c", emoji: "🧪" } }
          : {}),
      ...(r.chance(0.1) ? { event_date: "2026-11-04T10:00:00Z" } : {}),
    };
  };
  const created = (ids: string[], origin: string) => {
    for (const id of ids) {
      t.acked.set(id, origin);
      t.ids.push(id);
    }
    if (t.ids.length > 2000) t.ids.splice(0, t.ids.length - 2000);
  };
  const roll = r.int(1, 100);
  if (roll <= 12) {
    const m = memory();
    await c.createLongTermMemories([m], { deduplicate: false });
    created([m.id!], "POST /v1/long-term-memory/ (1 memory)");
  } else if (roll <= 17) {
    const batch = Array.from({ length: r.chance(0.3) ? 100 : r.int(2, 30) }, memory);
    await c.createLongTermMemories(batch, { deduplicate: false });
    created(
      batch.map((m) => m.id!),
      `POST /v1/long-term-memory/ (${batch.length} memories)`,
    );
  } else if (roll <= 19) {
    // With dedup (the default): may be folded into an existing memory, so not tracked by id.
    await c.createLongTermMemories([{ text: fact(r, r.int(0, 50)), namespace: "dedup" }]);
  } else if (roll <= 37) {
    const mode: SearchMode = r.pick(["hybrid", "keyword", "semantic"] as const);
    await c.searchLongTermMemory({
      text: question(r),
      search_mode: mode,
      limit: r.pick([5, 10, 50]),
      ...(r.chance(0.3) ? { namespace: { any: ["team", "ops"] } } : {}),
      ...(r.chance(0.2) ? { created_at: { gte: "2026-01-01T00:00:00Z" } } : {}),
      ...(r.chance(0.1) ? { explain: true } : {}),
    });
  } else if (roll <= 42) {
    await c.getLongTermMemory(someId());
  } else if (roll <= 50) {
    const patch = r.pick([
      () => ({ text: fact(r, t.counter++) }),
      () => ({ priority: r.int(1, 10) }),
      () => ({ topics: [r.pick(PURPOSE), "🏷️ label", "中文标签"] }),
      () => ({ metadata: deep(r.int(2, 20)) }),
      () => ({ confidence: r.next(), pinned: r.chance(0.5) }),
    ])();
    await c.editLongTermMemory(someId(), patch);
  } else if (roll <= 56) {
    await c.feedback({
      memory_id: someId(),
      rating: r.chance(0.8) ? "positive" : "negative",
      comment: r.chance(0.3) ? `👍 ${r.pick(HOSTILE)}` : null,
    });
  } else if (roll <= 60) {
    const ids = Array.from({ length: r.int(1, 5) }, someId);
    await c.deleteLongTermMemories(ids);
    t.ids = t.ids.filter((id) => !ids.includes(id));
  } else if (roll <= 62) {
    await c.memoryHistory(someId());
  } else if (roll <= 68) {
    await c.memories.upsert({
      agent_id: `agent-${r.int(0, 4)}`,
      scope: "agent",
      key: `pref-${r.int(0, 40)}`,
      value: fact(r, t.counter++),
      metadata: r.chance(0.2) ? deep(16) : { source: "soak" },
    });
  } else if (roll <= 71) {
    const q = r.pick([
      () => r.pick(WORDS),
      () => `${r.pick(PEOPLE)} ${r.pick(PURPOSE)}`,
      () => "Antidisestablishmentarianismfloccinaucinihilipilif",
      () => "https://docs.example.com/runbooks/incident",
      () => "我们决定在下个季度把缓存层迁移到Redis集群",
      () => question(r),
    ])();
    await c.memories.search({ query: q, agent_id: r.chance(0.5) ? `agent-${r.int(0, 4)}` : null, limit: 10 });
  } else if (roll <= 73) {
    await c.memories.list({ agent_id: `agent-${r.int(0, 4)}`, limit: 20 });
  } else if (roll <= 78) {
    const n = r.chance(0.1) ? 200 : r.int(2, 30);
    const messages = Array.from({ length: n }, (_, i) => ({
      role: i % 2 ? ("assistant" as const) : ("user" as const),
      content: r.chance(0.5) ? fact(r, i) : question(r),
    }));
    await c.putWorkingMemory(
      conv(),
      { messages, data: r.chance(0.3) ? deep(12) : { step: n } },
      { model_name: "gpt-4o", context_window_max: r.pick([4000, 16000]) },
    );
  } else if (roll <= 82) {
    await c.getWorkingMemory(conv(), { model_name: "gpt-4o" });
  } else if (roll <= 85) {
    const messages = Array.from({ length: r.int(2, 10) }, (_, i) => ({
      role: i % 2 ? ("assistant" as const) : ("user" as const),
      content: `${fact(r, t.counter++)}. ${fact(r, t.counter++)}.`,
    }));
    const res = await c.ingest({ messages, namespace: "ingest" });
    created(
      res.memories.map((m) => m.id),
      "POST /v1/ingest",
    );
  } else if (roll <= 90) {
    await c.think({ question: question(r), limit: r.int(3, 12) });
  } else if (roll <= 95) {
    await c.memoryPrompt({
      query: question(r),
      session: { session_id: conv(), model_name: "gpt-4o" },
      long_term_search: r.chance(0.5)
        ? true
        : { limit: 10, search_mode: r.pick(["hybrid", "keyword", "semantic"] as const), namespace: { eq: "team" } },
    });
  } else if (roll <= 97) {
    await c.queryGraph({ query: r.pick([...TECH, ...PEOPLE]), hops: 2 });
  } else {
    await c.status();
  }
}

async function restWorker(seed: number, tenants: Tenant[], deadline: number): Promise<void> {
  const r = new Rand(seed);
  while (Date.now() < deadline) {
    try {
      await restOp(r, r.pick(tenants));
    } catch {
      // recorded by httpFetch (status or network error)
    }
  }
}

/** Commands over one engram socket, one every few seconds. */
async function engramCommands(rec: EngramRecord, seed: number, deadline: number): Promise<void> {
  const r = new Rand(seed);
  await nap(r.int(0, 8000), deadline);
  while (Date.now() < deadline) {
    const kind = r.pick(["recall", "recall", "remember", "status", "think"] as const);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`no reply in ${REQUEST_TIMEOUT_MS / 1000} s (queued or sent)`), {
              code: "SOAK_TIMEOUT",
            }),
          ),
        REQUEST_TIMEOUT_MS,
      );
    });
    const send = <T>(p: Promise<T>) => Promise.race([p, timeout]);
    try {
      if (kind === "recall") await send(rec.socket.send("recall", { query: question(r), limit: 10 }));
      else if (kind === "status") await send(rec.socket.send("status", {}));
      else if (kind === "think") await send(rec.socket.send("think", { question: question(r), limit: 5 }));
      else {
        const id = `ws-${rec.tenant.counter++}-${pseudoWord(r, 1)}`;
        const res = await send(
          rec.socket.send("remember", { id, content: fact(r, rec.tenant.counter), topics: [r.pick(PURPOSE)] }),
        );
        if (!res.deduplicated) rec.tenant.acked.set(res.memory_id, "engram remember");
        rec.tenant.ids.push(res.memory_id);
      }
      rec.commands.ok++;
    } catch (e) {
      const code = (e as { code?: string }).code ?? "ERROR";
      rec.commands.failed.set(code, (rec.commands.failed.get(code) ?? 0) + 1);
      if (rec.errorSamples.length < 3) rec.errorSamples.push(`${kind}: ${code} ${(e as Error).message}`);
      // The SDK reports the server's INTERNAL_ERROR frames here too; they are counted from the raw frames.
    } finally {
      clearTimeout(timer);
    }
    await nap(r.int(6000, 14000), deadline);
  }
}

/** SYMindX: chat, handoffs into the tenant's conversations, status and commands, one every few seconds. */
async function symindxLoad(t: Tenant, seed: number, deadline: number): Promise<void> {
  const r = new Rand(seed);
  let n = 0;
  while (Date.now() < deadline && t.symindx?.open) {
    const id = `sx-${n++}`;
    const frame = r.pick([
      () => ({
        id,
        type: "chat",
        data: { message: question(r), conversationId: `conv-${r.int(0, CONVERSATIONS - 1)}` },
      }),
      () => ({
        id,
        type: "agent_handoff",
        data: {
          fromAgent: "planner",
          toAgent: "coder 🤖",
          conversationId: `conv-${r.int(0, CONVERSATIONS - 1)}`,
          reason: r.pick(HOSTILE),
        },
      }),
      () => ({ id, type: "status", targetAgent: undefined }),
      () => ({ id, type: "command", data: { instruction: `recall ${question(r)}` } }),
    ])();
    t.symindx.ws.send(JSON.stringify(frame));
    t.symindx.sent++;
    await nap(r.int(2000, 5000), deadline);
  }
}

/** TrustGraph: search, store, working memory, think, status, one every second or two. */
async function trustgraphLoad(t: Tenant, seed: number, deadline: number): Promise<void> {
  const r = new Rand(seed);
  let n = 0;
  while (Date.now() < deadline && t.trustgraph?.open) {
    const roll = r.int(1, 5);
    const id = `${["search", "store", "wm", "think", "status"][roll - 1]}-${n++}`;
    const request =
      roll === 1
        ? {
            service: "search",
            request: { text: question(r), search_mode: r.pick(["hybrid", "keyword", "semantic"]), limit: 10 },
          }
        : roll === 2
          ? {
              service: "memory",
              request: {
                operation: "store",
                deduplicate: false,
                memories: [{ id: `tg-${t.counter++}-${pseudoWord(r, 1)}`, text: fact(r, t.counter) }],
              },
            }
          : roll === 3
            ? {
                service: "working-memory",
                request: {
                  operation: "put",
                  session_id: `conv-${r.int(0, CONVERSATIONS - 1)}`,
                  messages: [{ role: "user", content: question(r) }],
                },
              }
            : roll === 4
              ? { service: "think", request: { question: question(r), streaming: r.chance(0.5) } }
              : { service: "status", request: {} };
    t.trustgraph.ws.send(JSON.stringify({ id, ...request }));
    t.trustgraph.sent++;
    await nap(r.int(800, 2500), deadline);
  }
}

/** Waits for `probe` (polling); false after `ms`. */
async function until(probe: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return true;
    await sleep(50);
  }
  return probe();
}

interface ChaosStep {
  at: number;
  what: string;
  result: string;
}

/** Forced reconnects and bulk ingests, one at a time so a reconnect never races a bulk publish. */
async function chaos(r: Rand, tenants: Tenant[], start: number, deadline: number): Promise<ChaosStep[]> {
  // Each kind spread evenly over the run, then merged in time order.
  const spread = (kind: "reconnect" | "bulk" | "refused", n: number) =>
    Array.from({ length: Math.max(0, n) }, (_, i) => ({ s: kind, k: (i + 0.5) / n }));
  // Refused reconnects last: with an SDK that does not recover, the steps after one would wait on it.
  const order = [
    ...[...spread("reconnect", RECONNECTS), ...spread("bulk", BULK)].sort((a, b) => a.k - b.k),
    ...spread("refused", REFUSED),
  ];
  const log: ChaosStep[] = [];
  let bulks = 0;
  const span = deadline - start;
  for (const [i, { s }] of order.entries()) {
    const at = start + ((i + 1) * span) / (order.length + 1);
    while (Date.now() < at) await sleep(100);
    if (Date.now() >= deadline) break;
    const t = r.pick(tenants);
    const offset = Math.round((Date.now() - start) / 1000);
    if (s === "refused") {
      // One reconnect answered 401 (as an expired token or a failing upgrade would be); the next is allowed.
      const rec = r.pick(t.engram);
      const before = rec.upgrades.length;
      rec.refused = true;
      rec.ws?.close();
      await until(() => rec.upgrades.length > before, 10_000);
      rec.refused = false;
      // The SDK's backoff is capped at 5 s here: 15 s is three tries.
      const ok = await until(() => rec.upgrades.length > before + 1 && rec.state === "open", 15_000);
      log.push({
        at: offset,
        what: `cut ${rec.name}, its first reconnect refused (401)`,
        result: ok
          ? `reconnected with ${rec.upgrades.at(-1)}`
          : `not reconnected after 15 s (state ${rec.state}, ${rec.upgrades.length - before} attempts)`,
      });
    } else if (s === "reconnect") {
      const rec = r.pick(t.engram);
      const before = rec.upgrades.length;
      rec.ws?.close();
      const ok = await until(() => rec.upgrades.length > before && rec.state === "open", 30_000);
      log.push({
        at: offset,
        what: `cut ${rec.name}`,
        result: ok ? `reconnected with ${rec.upgrades.at(-1)}` : `not reconnected after 30 s (state ${rec.state})`,
      });
    } else {
      // Every other bulk runs while one socket is offline: its reconnect must replay the burst or announce a gap.
      const down = bulks++ % 2 === 1 ? r.pick(t.engram) : null;
      if (down) {
        down.offline = true;
        down.ws?.close();
      }
      const messages = Array.from({ length: BULK_MESSAGES }, (_, k) => ({
        role: k % 2 ? ("assistant" as const) : ("user" as const),
        content: Array.from({ length: 5 }, () => `${fact(r, t.counter++)}.`).join(" "),
      }));
      try {
        const res = await t.client.ingest({ messages, namespace: "bulk" });
        for (const m of res.memories)
          t.acked.set(
            m.id,
            `POST /v1/ingest (bulk, ${BULK_MESSAGES} messages, ${res.memories.length} memories, at +${offset} s)`,
          );
        log.push({
          at: offset,
          what: `bulk ingest of ${BULK_MESSAGES} messages into ${t.name}`,
          result: `${res.memories.length} memories stored`,
        });
      } catch (e) {
        log.push({
          at: offset,
          what: `bulk ingest of ${BULK_MESSAGES} messages into ${t.name}`,
          result: `failed: ${(e as Error).message}`,
        });
      }
      if (down) {
        const before = down.upgrades.length;
        // Published events reach the hub after the response (waitUntil): let them land before it comes back.
        await sleep(3000);
        down.offline = false;
        const ok = await until(() => down.upgrades.length > before && down.state === "open", 30_000);
        const since = down.upgrades.at(-1);
        log.push({
          at: offset,
          what: `${down.name} offline during that bulk ingest`,
          result: ok ? `back with ${since}` : `not reconnected after 30 s (state ${down.state})`,
        });
      }
    }
  }
  return log;
}

/**
 * A WebSocket endpoint that accepts every upgrade and closes it at once (1001, going away): where
 * an offline socket's reconnects go, so they fail the way a dropped connection does (with a close).
 */
function startBlackhole(): Promise<{ url: string; close(): void }> {
  const server = createServer((_req, res) => res.writeHead(503).end());
  server.on("upgrade", (req, socket) => {
    const accept = createHash("sha1")
      .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `ws://127.0.0.1:${port}/ws`, close: () => server.close() });
    });
  });
}

let blackhole: { url: string; close(): void } | null = null;

// ---------------------------------------------------------------------------------------------
// workerd's memory.

/** workerd processes below this one (wrangler dev's child), found through /proc's parent links. */
function workerdPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    for (const c of children.get(pid) ?? []) {
      queue.push(c);
      try {
        if (readFileSync(`/proc/${c}/comm`, "utf8").trim() === "workerd") out.push(c);
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// After the run: the replay log, continuity, the report.

/** Every memory event the tenant's hub still holds (the last 1,000), through a fresh socket with ?since=0. */
async function readReplayLog(base: string, t: Tenant): Promise<{ events: number; gap: unknown }> {
  let events = 0;
  let gap: unknown = null;
  let last = Date.now();
  const ws = new WebSocket(`${wsUrl(base, "/ws", t.token)}&since=0`);
  ws.addEventListener("message", (e) => {
    last = Date.now();
    const f = parseFrame(e.data);
    if (f.event === "gap") gap = f.data;
    else if (typeof f.event === "string" && typeof f.seq === "number") {
      events++;
      t.memorySeqs.add(f.seq);
      const id = obj(f.data).memory_id;
      if (typeof id === "string") t.seenIds.add(id);
    }
  });
  const opened = await new Promise<boolean>((resolve) => {
    ws.addEventListener("open", () => resolve(true), { once: true });
    ws.addEventListener("error", () => resolve(false), { once: true });
  });
  if (opened) await until(() => Date.now() - last > 1500, 15_000);
  ws.close();
  return { events, gap: opened ? gap : "the replay socket failed to open" };
}

interface SocketReport {
  socket: string;
  state: string;
  reconnects: number;
  upgrades: number;
  received: number;
  raw_event_frames: number;
  replayed_duplicates_dropped_by_sdk: number;
  first_seq: number | null;
  last_seq: number | null;
  expected: number;
  /** Not received and not announced by a gap frame: lost. */
  missing: number;
  missing_sample: number[];
  /** Not received, but announced by a gap frame (the client was told to resync). */
  announced_missing: number;
  duplicates: number;
  out_of_order: number;
  gap_frames: unknown[];
  commands_ok: number;
  commands_failed: Record<string, number>;
}

/** Seqs a gap frame told the client it will not get: after its `since`, up to where the replay resumes. */
function announced(gaps: unknown[], seq: number): boolean {
  return gaps.some((g) => {
    const { since, resume_after } = obj(g);
    return typeof resume_after === "number" && seq <= resume_after && seq > (typeof since === "number" ? since : 0);
  });
}

function continuity(rec: EngramRecord, expected: number[]): SocketReport {
  const got = new Set(rec.delivered);
  const absent = expected.filter((s) => !got.has(s));
  const missing = absent.filter((s) => !announced(rec.gaps, s));
  let outOfOrder = 0;
  for (let i = 1; i < rec.delivered.length; i++) if (rec.delivered[i]! < rec.delivered[i - 1]!) outOfOrder++;
  return {
    socket: rec.name,
    state: rec.state,
    reconnects: rec.reconnects,
    upgrades: rec.upgrades.length,
    received: rec.delivered.length,
    raw_event_frames: rec.rawEvents,
    replayed_duplicates_dropped_by_sdk: rec.replayedDuplicates,
    first_seq: rec.delivered[0] ?? null,
    last_seq: rec.delivered.at(-1) ?? null,
    expected: expected.length,
    missing: missing.length,
    missing_sample: missing.slice(0, 10),
    announced_missing: absent.length - missing.length,
    duplicates: rec.delivered.length - got.size,
    out_of_order: outOfOrder,
    gap_frames: rec.gaps,
    commands_ok: rec.commands.ok,
    commands_failed: Object.fromEntries(rec.commands.failed),
  };
}

function quantile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10;
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  let dev: WranglerDev | null = null;
  let base = args.url?.replace(/\/+$/, "");
  if (!base) {
    console.error("starting wrangler dev (JWT auth on)…");
    dev = await startWranglerDev({ vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET }, output: "ignore" });
    base = dev.url;
  }
  const stop = () => dev?.stop();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      stop();
      process.exit(130);
    });
  }

  blackhole = await startBlackhole();
  const rssPids = args.pid ? [Number(args.pid)] : dev ? workerdPids(process.pid) : [];
  const rss: { t: number; mb: number; by_pid: Record<number, number> }[] = [];
  const sampleRss = () => {
    const byPid: Record<number, number> = {};
    for (const pid of rssPids) {
      const mb = rssMb(pid);
      if (mb !== null) byPid[pid] = Math.round(mb * 10) / 10;
    }
    const mb = Object.values(byPid);
    if (mb.length)
      rss.push({
        t: Math.round((performance.now() - wallStart) / 1000),
        mb: Math.round(mb.reduce((a, b) => a + b, 0) * 10) / 10,
        by_pid: byPid,
      });
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 2000);

  try {
    const run = Math.random().toString(36).slice(2, 8);
    const tenants: Tenant[] = [];
    for (let i = 0; i < TENANTS; i++) {
      const name = `soak-${run}-t${i}`;
      const token = await tokenFor(name);
      tenants.push({
        name,
        token,
        client: new EdgememClient({ baseUrl: base, token, fetch: httpFetch }),
        ids: [],
        acked: new Map(),
        seenIds: new Set(),
        memorySeqs: new Set(),
        sessionSeqs: new Set(),
        engram: [],
        symindx: null,
        trustgraph: null,
        counter: 0,
      });
    }

    // Every socket is open before the first write, so each must receive its tenant's events from seq 1.
    console.error(
      `opening ${SOCKETS} engram sockets and ${2 * TENANTS} SYMindX/TrustGraph sockets over ${TENANTS} tenants…`,
    );
    const engram: EngramRecord[] = [];
    for (let i = 0; i < SOCKETS; i++) {
      const t = tenants[i % TENANTS]!;
      const rec = engramSocket(base, t, Math.floor(i / TENANTS));
      t.engram.push(rec);
      engram.push(rec);
    }
    for (let i = 0; i < engram.length; i += 10) {
      const opening = engram.slice(i, i + 10).map((rec) => rec.socket.connect());
      if (!(await Promise.race([Promise.all(opening).then(() => true), sleep(30_000).then(() => false)])))
        throw new Error("engram sockets did not open in 30 s");
    }
    for (const t of tenants) {
      const sx = await rawSocket(wsUrl(base, "/ws", t.token), `${t.name}/symindx`, (f, rec) => symindxFrame(t, f, rec));
      t.symindx = sx;
      sx.ws.send(JSON.stringify({ id: "sub", type: "subscribe", data: { events: ["*"] } }));
      for (let k = 0; k < CONVERSATIONS; k++)
        sx.ws.send(
          JSON.stringify({ id: `join-${k}`, type: "join_conversation", data: { conversationId: `conv-${k}` } }),
        );
      sx.sent += 1 + CONVERSATIONS;
      if (!(await until(() => sx.replies >= 1 + CONVERSATIONS, 10_000)))
        throw new Error(`${sx.name}: no reply to subscribe/join in 10 s`);
      t.trustgraph = await rawSocket(wsUrl(base, "/api/v1/socket", t.token), `${t.name}/trustgraph`, (f, rec) =>
        trustgraphFrame(t, f, rec),
      );
    }

    const loadStart = Date.now();
    const deadline = loadStart + SECONDS * 1000;
    console.error(
      `load for ${SECONDS} s: ${CONCURRENCY} REST workers, ${RECONNECTS} forced reconnects, ${BULK} bulk ingests, ${REFUSED} refused reconnects`,
    );
    const seed = Number(args.seed);
    const chaosRun = chaos(new Rand(seed * 7919), tenants, loadStart, deadline);
    const progress = setInterval(() => {
      const total = [...statuses.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
      console.error(
        `  ${Math.round((Date.now() - loadStart) / 1000)} s: ${total} requests, ${serverErrorCount} 5xx, ${wsInternalErrorCount} internal error frames`,
      );
    }, 10_000);
    const running = new Set<string>();
    const loop = (name: string, p: Promise<void>) => (running.add(name), p.finally(() => running.delete(name)));
    const loops = Promise.all([
      ...Array.from({ length: CONCURRENCY }, (_, i) =>
        loop(`REST worker ${i}`, restWorker(seed * 1000 + i, tenants, deadline)),
      ),
      ...engram.map((rec, i) => loop(`${rec.name} commands`, engramCommands(rec, seed * 100_000 + i, deadline))),
      ...tenants.flatMap((t, i) => [
        loop(`${t.name}/symindx load`, symindxLoad(t, seed * 31 + i, deadline)),
        loop(`${t.name}/trustgraph load`, trustgraphLoad(t, seed * 37 + i, deadline)),
      ]),
    ]);
    // Every loop ends at the deadline once its request is answered (each times out after REQUEST_TIMEOUT_MS).
    await Promise.race([loops, sleep(deadline - Date.now() + REQUEST_TIMEOUT_MS + 10_000)]);
    const stuck = [...running];
    const chaosLog = await chaosRun;
    clearInterval(progress);
    const loadSeconds = (Date.now() - loadStart) / 1000;

    // In-flight events, and sockets still reconnecting.
    console.error(`load done; settling ${SETTLE_MS / 1000} s…`);
    await sleep(SETTLE_MS);
    await until(() => engram.every((rec) => rec.state === "open"), 20_000);
    const replay = new Map<string, { events: number; gap: unknown }>();
    for (const t of tenants) replay.set(t.name, await readReplayLog(base, t));
    await sleep(500);
    finished = true;

    // ---- Evaluate ------------------------------------------------------------------------------
    const socketReports: SocketReport[] = [];
    const tenantReports = tenants.map((t) => {
      for (const rec of t.engram) for (const s of rec.delivered) t.memorySeqs.add(s);
      const all = [...t.memorySeqs, ...t.sessionSeqs];
      const last = all.length ? Math.max(...all) : 0;
      // Numbered but seen by no socket at all (neither a memory event nor a session event).
      const unseen: number[] = [];
      const expected: number[] = [];
      for (let s = 1; s <= last; s++) {
        if (t.sessionSeqs.has(s)) continue;
        if (!t.memorySeqs.has(s)) unseen.push(s);
        expected.push(s);
      }
      for (const rec of t.engram) socketReports.push(continuity(rec, expected));
      const observerMissing: number[] = [];
      for (let s = 1; s <= last; s++) if (t.symindx && !t.symindx.seqs.has(s)) observerMissing.push(s);
      const ackedWithoutEvent = [...t.acked.keys()].filter((id) => !t.seenIds.has(id));
      const byOrigin = new Map<string, number>();
      for (const id of ackedWithoutEvent) byOrigin.set(t.acked.get(id)!, (byOrigin.get(t.acked.get(id)!) ?? 0) + 1);
      return {
        tenant: t.name,
        last_seq: last,
        memory_events: t.memorySeqs.size,
        session_events: t.sessionSeqs.size,
        seqs_seen_by_no_socket: unseen.length,
        seqs_seen_by_no_socket_sample: unseen.slice(0, 10),
        acknowledged_writes: t.acked.size,
        acknowledged_without_event: ackedWithoutEvent.length,
        acknowledged_without_event_sample: ackedWithoutEvent.slice(0, 10),
        acknowledged_without_event_by_request: Object.fromEntries(byOrigin),
        replay_log: replay.get(t.name),
        symindx: t.symindx && {
          missing: observerMissing.length,
          missing_sample: observerMissing.slice(0, 10),
          sent: t.symindx.sent,
          replies: t.symindx.replies,
          events: t.symindx.events,
          closed_early: t.symindx.closedEarly,
          errors: Object.fromEntries(t.symindx.errors),
          error_samples: t.symindx.errorSamples,
        },
        trustgraph: t.trustgraph && {
          sent: t.trustgraph.sent,
          replies: t.trustgraph.replies,
          closed_early: t.trustgraph.closedEarly,
          errors: Object.fromEntries(t.trustgraph.errors),
          error_samples: t.trustgraph.errorSamples,
        },
      };
    });

    const routes = [...statuses.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([route, byStatus]) => {
        const l = [...latencies.get(route)!].sort((a, b) => a - b);
        return {
          route,
          requests: l.length,
          statuses: Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)),
          p50_ms: quantile(l, 0.5),
          p95_ms: quantile(l, 0.95),
        };
      });
    const requests = routes.reduce((a, r) => a + r.requests, 0);
    const lost = socketReports.filter((s) => s.state === "open").reduce((a, s) => a + s.missing, 0);
    const missedWhileDown = socketReports.filter((s) => s.state !== "open").reduce((a, s) => a + s.missing, 0);
    const duplicated = socketReports.reduce((a, s) => a + s.duplicates + s.out_of_order, 0);
    const gapFrames = socketReports.reduce((a, s) => a + s.gap_frames.length, 0);
    const announcedMissing = socketReports.reduce((a, s) => a + s.announced_missing, 0);
    const notRecovered = socketReports.filter((s) => s.state !== "open");
    const unseen = tenantReports.reduce((a, t) => a + t.seqs_seen_by_no_socket, 0);
    const observerLost = tenantReports.reduce((a, t) => a + (t.symindx?.missing ?? 0), 0);
    const ackedLost = tenantReports.reduce((a, t) => a + t.acknowledged_without_event, 0);
    const rawClosed = tenants
      .flatMap((t) => [t.symindx, t.trustgraph])
      .filter((x) => x?.closedEarly)
      .map((x) => `${x!.name}: ${x!.closedEarly}`);
    const mb = rss.map((s) => s.mb);
    const memory = mb.length
      ? {
          pids: rssPids,
          start_mb: mb[0],
          max_mb: Math.max(...mb),
          end_mb: mb.at(-1),
          start_by_pid: rss[0]!.by_pid,
          end_by_pid: rss.at(-1)!.by_pid,
          samples: rss.filter((_, i) => i % Math.max(1, Math.ceil(rss.length / 60)) === 0),
        }
      : { pids: rssPids, note: "not sampled (pass --pid with --url)" };
    const failures = [
      serverErrorCount && `${serverErrorCount} HTTP 5xx`,
      networkErrors && `${networkErrors} network errors`,
      wsInternalErrorCount && `${wsInternalErrorCount} internal error frames on sockets`,
      lost && `${lost} events lost (summed over sockets)`,
      duplicated && `${duplicated} events duplicated or out of order`,
      unseen && `${unseen} sequence numbers no socket received`,
      observerLost && `${observerLost} events lost by the SYMindX sockets (subscribed to all)`,
      ackedLost && `${ackedLost} acknowledged writes whose event never arrived`,
      notRecovered.length && `${notRecovered.length} sockets never recovered (missing ${missedWhileDown} events)`,
      rawClosed.length && `${rawClosed.length} SYMindX/TrustGraph sockets closed by the server`,
      stuck.length && `${stuck.length} load loops stuck after the deadline (${stuck.slice(0, 5).join(", ")})`,
    ].filter((x): x is string => typeof x === "string");

    // ---- Report --------------------------------------------------------------------------------
    const out: string[] = [];
    out.push(
      `\nedgemem soak — ${loadSeconds.toFixed(0)} s of load, ${SOCKETS} engram + ${2 * TENANTS} other sockets, ${TENANTS} tenants, ${CONCURRENCY} REST workers`,
    );
    out.push(
      `\nrequests: ${requests} (${(requests / loadSeconds).toFixed(1)}/s), 5xx: ${serverErrorCount}, network errors: ${networkErrors}\n`,
    );
    out.push(`${"route".padEnd(46)} ${"n".padStart(6)} ${"p50".padStart(7)} ${"p95".padStart(7)}  statuses`);
    for (const r of routes) {
      out.push(
        `${r.route.padEnd(46)} ${String(r.requests).padStart(6)} ${String(r.p50_ms).padStart(7)} ${String(r.p95_ms).padStart(7)}  ${Object.entries(
          r.statuses,
        )
          .map(([s, n]) => `${s}×${n}`)
          .join(" ")}`,
      );
    }
    if (serverErrors.length) {
      out.push(`\n5xx (first ${serverErrors.length} of ${serverErrorCount}):`);
      for (const e of serverErrors)
        out.push(`  ${e.status} ${e.method} ${e.path}\n    request:  ${e.request}\n    response: ${e.response}`);
    }
    if (oddClientErrors.length) {
      out.push(`\n4xx other than 404 on valid input (first ${oddClientErrors.length}):`);
      for (const e of oddClientErrors)
        out.push(`  ${e.status} ${e.method} ${e.path}\n    request:  ${e.request}\n    response: ${e.response}`);
    }
    if (networkErrorSamples.length) {
      out.push(`\nnetwork errors (first ${networkErrorSamples.length} of ${networkErrors}):`);
      for (const e of networkErrorSamples) out.push(`  ${e}`);
    }
    if (wsInternalErrors.length) {
      out.push(`\ninternal error frames (first ${wsInternalErrors.length} of ${wsInternalErrorCount}):`);
      for (const e of wsInternalErrors) out.push(`  ${e}`);
    }
    out.push(`\nevents per tenant (numbered by the hub, as seen by the sockets and the replay log):`);
    for (const t of tenantReports) {
      out.push(
        `  ${t.tenant}: last seq ${t.last_seq}, ${t.memory_events} memory + ${t.session_events} session events; ` +
          `seqs no socket received: ${t.seqs_seen_by_no_socket}${t.seqs_seen_by_no_socket ? ` (e.g. ${t.seqs_seen_by_no_socket_sample.join(", ")})` : ""}; ` +
          `acknowledged writes ${t.acknowledged_writes}, without event ${t.acknowledged_without_event}${t.acknowledged_without_event ? ` (by request: ${JSON.stringify(t.acknowledged_without_event_by_request)}; e.g. ids ${t.acknowledged_without_event_sample.slice(0, 3).join(", ")})` : ""}; ` +
          `replay log: ${t.replay_log?.events} events${t.replay_log?.gap ? `, gap ${JSON.stringify(t.replay_log.gap)}` : ""}`,
      );
      for (const raw of [t.symindx, t.trustgraph]) {
        if (raw && (Object.keys(raw.errors).length || raw.closed_early || ("missing" in raw && raw.missing)))
          out.push(`    ${JSON.stringify({ ...raw, error_samples: raw.error_samples.slice(0, 1) })}`);
      }
    }
    const received = socketReports.map((s) => s.received);
    out.push(
      `\nsockets: ${socketReports.length} engram; received per socket min ${Math.min(...received)} / max ${Math.max(...received)}; ` +
        `lost ${lost} (+ ${missedWhileDown} on sockets not open at the end), duplicated ${duplicated}, gap frames ${gapFrames} (announcing ${announcedMissing} events), replays de-duplicated by the SDK ${socketReports.reduce((a, s) => a + s.replayed_duplicates_dropped_by_sdk, 0)}, ` +
        `reconnects ${socketReports.reduce((a, s) => a + s.reconnects, 0)}, not open at the end ${notRecovered.length}`,
    );
    const commandFailures = new Map<string, number>();
    for (const s of socketReports)
      for (const [k, v] of Object.entries(s.commands_failed)) commandFailures.set(k, (commandFailures.get(k) ?? 0) + v);
    out.push(
      `engram commands: ${socketReports.reduce((a, s) => a + s.commands_ok, 0)} ok, failed ${JSON.stringify(Object.fromEntries(commandFailures))}`,
    );
    const bad = socketReports.filter(
      (s) =>
        s.missing || s.announced_missing || s.duplicates || s.out_of_order || s.gap_frames.length || s.state !== "open",
    );
    for (const s of bad.slice(0, 20)) {
      out.push(
        `  ${s.socket}: state ${s.state}, received ${s.received} (seq ${s.first_seq}…${s.last_seq}), missing ${s.missing}${s.missing ? ` (e.g. ${s.missing_sample.join(", ")})` : ""}, announced by a gap ${s.announced_missing}, duplicates ${s.duplicates}, out of order ${s.out_of_order}, gaps ${JSON.stringify(s.gap_frames)}, reconnects ${s.reconnects}`,
      );
    }
    if (bad.length > 20) out.push(`  … and ${bad.length - 20} more sockets`);
    out.push(`\nchaos:`);
    for (const c of chaosLog) out.push(`  +${c.at} s ${c.what}: ${c.result}`);
    out.push(
      `\nworkerd RSS: ${"max_mb" in memory ? `start ${memory.start_mb} MB, max ${memory.max_mb} MB, end ${memory.end_mb} MB (summed over the workerd processes, sampled every 2 s; per pid ${JSON.stringify(memory.start_by_pid)} → ${JSON.stringify(memory.end_by_pid)})` : memory.note}`,
    );
    const wall = (performance.now() - wallStart) / 1000;
    out.push(
      `wall time: ${wall.toFixed(1)} s; load average at the end ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")} on ${cpus().length} cores`,
    );
    out.push(
      failures.length
        ? `\nFAILED: ${failures.join("; ")}`
        : `\nOK: no 5xx, no lost or duplicated event, every socket recovered`,
    );
    console.log(out.join("\n"));

    writeFileSync(
      args.json!,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          options: {
            seconds: SECONDS,
            sockets: SOCKETS,
            tenants: TENANTS,
            concurrency: CONCURRENCY,
            reconnects: RECONNECTS,
            bulk: BULK,
            seed,
          },
          ok: failures.length === 0,
          failures,
          wall_seconds: Math.round(wall * 10) / 10,
          cores: cpus().length,
          load_average: loadavg(),
          load_seconds: Math.round(loadSeconds * 10) / 10,
          requests,
          server_errors: serverErrorCount,
          server_error_samples: serverErrors,
          network_errors: networkErrors,
          network_error_samples: networkErrorSamples,
          stuck_loops: stuck,
          client_error_samples: oddClientErrors,
          ws_internal_errors: wsInternalErrorCount,
          ws_internal_error_samples: wsInternalErrors,
          routes,
          tenants: tenantReports,
          sockets: socketReports,
          chaos: chaosLog,
          memory,
        },
        null,
        2,
      ),
    );
    console.log(`written to ${args.json}`);
    process.exitCode = failures.length ? 1 : 0;
    for (const rec of engram) rec.socket.close();
    for (const t of tenants) {
      t.symindx?.ws.close();
      t.trustgraph?.ws.close();
    }
  } finally {
    finished = true;
    clearInterval(rssTimer);
    blackhole?.close();
    agent.destroy();
    stop();
  }
}

await main();
