import { DurableObject } from "cloudflare:workers";
import * as z from "zod";
import { loadConfig } from "../config.ts";
import { buildDeps, type AppDeps } from "../deps.ts";
import { createLogger, errorMessage, type Logger } from "../log.ts";
import type { DomainEvent } from "../domain/events.ts";
import { formatBookmark, newerBookmark, parseBookmark } from "../domain/placement.ts";
import type { Principal } from "../domain/principal.ts";
import {
  frameId,
  type Dialect,
  type DialectName,
  type Frame,
  type HubContext,
  type SequencedEvent,
  type SocketState,
  type Subscription,
} from "./dialect.ts";
import { AUTO_RESPONSE, DIALECTS, ENDPOINTS, frameDialect, HEARTBEATS } from "./dialects.ts";
import { planReplay } from "./replay.ts";

/** Where the hub keeps the tenant's newest bookmark. */
const BOOKMARK_KEY = "bookmark";
/** Events kept for replay to clients that reconnect (per tenant). */
const REPLAY_LOG_SIZE = 1000;
/** The window of the per-socket rate limit (WS_RATE_LIMIT frames per window). */
const RATE_WINDOW_MS = 10_000;
/** The Worker passes the verified principal to the hub in this header (the hub is not publicly routable). */
export const PRINCIPAL_HEADER = "x-edgemem-principal";

const principalSchema = z.object({
  tenant: z.string().min(1),
  subject: z.string(),
  scopes: z.array(z.string()).nullable(),
});

/**
 * Per-socket state, in the socket's attachment so it survives hibernation. Versioned. `dialect` is
 * what the socket speaks now: a `/ws` socket can become SYMindX (`frameDialect`).
 */
interface Attachment {
  v: 1;
  id: string;
  principal: Principal;
  dialect: DialectName;
  subscription: Subscription;
  /** SYMindX conversations joined (working-memory session ids). */
  rooms?: string[];
  /** The heartbeat (dialects with one): when the hub last pinged, and when the client last answered. */
  pingedAt?: number;
  pongAt?: number;
}

/**
 * The heartbeat: the hub pings the sockets of dialects that have one (SYMindX) this often. Only a
 * socket that answered a ping once and then missed one is closed: SYMindX's own clients never
 * answer an application ping (its servers use protocol pings), and the runtime's own liveness covers them.
 */
const HEARTBEAT_MS = 30_000;

/** Sockets are tagged with their id and this (tags are fixed at accept; the dialect is in the attachment). */
const WS_TAG = "ws";

const common = { at: z.number(), actor: z.string(), reason: z.string().optional() };
const eventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.enum(["memory_created", "memory_updated", "memory_deleted", "feedback_recorded"]),
    memory: z.looseObject({ id: z.string(), text: z.string() }),
    ...common,
  }),
  z.object({
    type: z.enum(["session_updated", "session_deleted"]),
    session: z.looseObject({ session_id: z.string() }),
    ...common,
  }),
]);
// No count cap: one write can emit thousands of events (an ingest, a forget), and refusing the call
// loses them all. The Worker's sink sends them in chunks (`chunkEvents`), which bounds each RPC.
const publishInput = z.array(eventSchema);

/**
 * One per tenant: numbers the tenant's memory and session events, keeps a bounded replay log in its SQLite
 * storage, and (with the WebSocket dialects) fans them out to the tenant's sockets.
 */
export class TenantHub extends DurableObject<Env> {
  /** When this instance started (SYMindX `uptime`). */
  private readonly startedAt = Date.now();
  /** Per-socket message counts for rate limiting (in memory: a hibernation simply resets them). */
  private readonly rates = new Map<string, { windowStart: number; count: number }>();
  private logger: Logger | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(AUTO_RESPONSE.request, AUTO_RESPONSE.response));
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL)",
      );
    });
  }

  /**
   * Records events in order and pushes them to the tenant's sockets; returns the sequence number of
   * the last (0 when none was recorded). An event that cannot be stored or shaped for a dialect is
   * logged and skipped: it never costs the others their delivery.
   */
  async publish(input: DomainEvent[], bookmark: string | null = null): Promise<number> {
    const events = publishInput.parse(input) as unknown as DomainEvent[];
    this.rememberBookmark(bookmark);
    let seq = 0;
    const sequenced: SequencedEvent[] = [];
    for (const e of events) {
      let body: string;
      try {
        body = JSON.stringify(e);
      } catch (err) {
        this.log.warn("event not recorded: not serializable", { type: e.type, error: errorMessage(err) });
        continue;
      }
      seq = this.ctx.storage.sql
        .exec<{ seq: number }>("INSERT INTO events (at, body) VALUES (?, ?) RETURNING seq", e.at, body)
        .one().seq;
      sequenced.push({ ...e, seq });
    }
    if (seq > REPLAY_LOG_SIZE) this.ctx.storage.sql.exec("DELETE FROM events WHERE seq <= ?", seq - REPLAY_LOG_SIZE);
    // Each socket gets the events as its dialect pushes them (engram: every event; SYMindX: what
    // the socket subscribed to; TrustGraph: none); frames the same for every socket are shaped once.
    const shared = new Map<DialectName, string[]>();
    for (const ws of this.ctx.getWebSockets(WS_TAG)) {
      const att = ws.deserializeAttachment() as Attachment;
      const socket = { subscription: att.subscription, rooms: att.rooms ?? [] };
      for (const f of this.pushes(DIALECTS[att.dialect], sequenced, socket, shared)) send(ws, f);
    }
    return seq;
  }

  /**
   * The WebSocket upgrade, forwarded by the Worker after it verified the token. The socket is
   * accepted with the Hibernation API; `?since=N` replays the events after N first.
   */
  override async fetch(req: Request): Promise<Response> {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket")
      return new Response("expected a WebSocket upgrade", { status: 426 });
    const principal = principalSchema.parse(JSON.parse(req.headers.get(PRINCIPAL_HEADER) ?? "null"));
    const url = new URL(req.url);
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
    const protocol = url.searchParams.get("protocol");
    const endpoint = ENDPOINTS.get(url.pathname);
    if (!endpoint) return new Response("no WebSocket endpoint here", { status: 404 });
    const dialect = DIALECTS[endpoint.dialect(protocol)];
    const attachment: Attachment = {
      v: 1,
      id: crypto.randomUUID(),
      principal,
      dialect: dialect.name,
      subscription: { events: [], minImportance: 0 },
    };
    this.ctx.acceptWebSocket(server, [attachment.id, WS_TAG]);
    server.serializeAttachment(attachment);
    if (dialect.greeting) send(server, JSON.stringify(dialect.greeting(attachment.id)));
    // Only dialects with a gap frame replay (engram; a `/ws` socket is engram until its first SYMindX
    // frame). All synchronous: no publish can slip in between.
    if (dialect.gap) {
      const bounds = this.ctx.storage.sql
        .exec<{ oldest: number | null; latest: number | null }>(
          "SELECT MIN(seq) AS oldest, MAX(seq) AS latest FROM events",
        )
        .one();
      const plan = planReplay(url.searchParams.get("since"), bounds.oldest, bounds.latest ?? 0);
      if (plan?.gap) send(server, JSON.stringify(dialect.gap(plan.gap)));
      if (plan?.after != null) {
        const socket = { subscription: attachment.subscription, rooms: [] };
        for (const f of this.pushes(dialect, this.eventsAfter(plan.after), socket)) send(server, f);
      }
    }
    if (dialect.heartbeat) await this.armHeartbeat();
    const headers = new Headers();
    if (protocol) headers.set("sec-websocket-protocol", protocol);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** A frame from a socket: checked, then run by the dialect `frameDialect` picks. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    // An awaited frame's events are held until its reply is sent, so its sender reads the reply
    // first (engram's own example reads the first frame after `remember` as its reply).
    // Work that outlives the frame (purge on read, promotion) publishes directly once it is answered.
    const held: Held = { events: [], open: false };
    const app = this.deps(held);
    // Commands read at least as fresh as the newest write the hub has heard of (REST or socket).
    app.databases.atLeast(this.newestBookmark());
    try {
      await this.dispatch(ws, att, app, message, held);
    } finally {
      this.rememberBookmark(app.databases.bookmark());
      held.open = false;
      if (held.events.length) this.ctx.waitUntil(this.publish(held.events));
    }
  }

  private async dispatch(
    ws: WebSocket,
    att: Attachment,
    app: AppDeps,
    message: string | ArrayBuffer,
    held: Held,
  ): Promise<void> {
    const own = DIALECTS[att.dialect];
    // A frame that carries a `bookmark` field (a string, or null for none yet) opts in: its
    // replies carry the bookmark to send back (on a socket or REST) to read at least what it saw.
    // Frames without one get the dialect's frames exactly as its document shows them.
    let optedIn = false;
    const reply = (f: Frame) => {
      const bookmark = optedIn ? app.databases.bookmark() : null;
      send(ws, JSON.stringify(bookmark ? { ...f, bookmark } : f));
    };
    const limit = app.config.WS_RATE_LIMIT;
    if (!this.allow(att.id, limit))
      return reply(own.refuse("rate_limited", `more than ${limit} frames in ${RATE_WINDOW_MS / 1000} s`));
    const maxBytes = app.config.WS_MAX_FRAME_BYTES;
    const bytes = typeof message === "string" ? utf8Length(message, maxBytes) : message.byteLength;
    if (bytes > maxBytes) return reply(own.refuse("too_large", `frame exceeds ${maxBytes} bytes`));
    if (typeof message !== "string")
      return reply(own.refuse("binary", "binary frames are not supported; send JSON text"));
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      return reply(own.refuse("not_json", "frame is not valid JSON"));
    }
    if (typeof raw === "object" && raw !== null && "bookmark" in raw) {
      optedIn = true;
      if (typeof raw.bookmark === "string") app.databases.atLeast(raw.bookmark);
    }
    // A pong answers the hub's ping: recorded, not run, on whatever socket it comes (as the runtime
    // answers a ping on any), and it changes no socket's dialect.
    if (HEARTBEATS.some((h) => h.isPong(raw))) return this.update(ws, att, { pongAt: Date.now() });
    const { run: dialect, speaks } = frameDialect(att.dialect, raw);
    if (speaks !== att.dialect) {
      this.update(ws, att, { dialect: speaks });
      if (DIALECTS[speaks].heartbeat) await this.armHeartbeat();
    }
    // A batch is as many operations as it has messages: the frame itself was counted above.
    const more = (dialect.cost?.(raw) ?? 1) - 1;
    if (more > 0 && !this.allow(att.id, limit, more)) {
      return reply(
        dialect.refuse(
          "rate_limited",
          `more than ${limit} operations in ${RATE_WINDOW_MS / 1000} s (each message of a batch counts)`,
          frameId(raw),
        ),
      );
    }
    const ctx = this.context(ws, att, app, dialect, reply);
    if (dialect.runs === "detached") return this.ctx.waitUntil(dialect.receive(raw, ctx));
    held.open = true;
    await dialect.receive(raw, ctx);
  }

  /**
   * Changes fields of a socket's attachment: applied to `att` (this frame's copy) and written over
   * the attachment as it is now, so a write by a frame that ran meanwhile (a pong) is kept.
   */
  private update(ws: WebSocket, att: Attachment, patch: Partial<Attachment>): void {
    Object.assign(att, patch);
    ws.serializeAttachment({ ...(ws.deserializeAttachment() as Attachment), ...patch });
  }

  /** What a frame's handler gets: the services, the socket's state, its reply channel and the other sockets of its dialect. */
  private context(
    ws: WebSocket,
    att: Attachment,
    app: AppDeps,
    dialect: Dialect,
    reply: (f: Frame) => void,
  ): HubContext {
    const peers = () =>
      this.ctx
        .getWebSockets(WS_TAG)
        .map((other) => ({ other, o: other.deserializeAttachment() as Attachment }))
        .filter(({ o }) => o.dialect === dialect.name);
    return {
      app,
      principal: att.principal,
      send: reply,
      connectionId: att.id,
      startedAt: this.startedAt,
      // Read live: a batch's second subscribe sees its first.
      get subscription() {
        return att.subscription ?? { events: [], minImportance: 0 };
      },
      setSubscription: (subscription) => this.update(ws, att, { subscription }),
      get rooms() {
        return att.rooms ?? [];
      },
      setRooms: (rooms) => this.update(ws, att, { rooms }),
      broadcast: (frame) => {
        const text = JSON.stringify(frame);
        for (const { other } of peers()) send(other, text);
      },
      toRoom: (conversationId, frame) => {
        let n = 0;
        const text = JSON.stringify(frame);
        for (const { other, o } of peers()) {
          if (o.id !== att.id && o.rooms?.includes(conversationId)) {
            send(other, text);
            n++;
          }
        }
        return n;
      },
    };
  }

  /**
   * The heartbeat: each socket of a dialect with one (SYMindX) gets its ping; one that answered a
   * ping before but not the previous one is dead and closed. A socket that never answered stays
   * open (see HEARTBEAT_MS). Re-armed while such sockets remain.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let alive = 0;
    for (const ws of this.ctx.getWebSockets(WS_TAG)) {
      const att = ws.deserializeAttachment() as Attachment;
      const heartbeat = DIALECTS[att.dialect].heartbeat;
      if (!heartbeat) continue;
      if (att.pingedAt !== undefined && att.pongAt !== undefined && att.pongAt < att.pingedAt) {
        try {
          ws.close(1011, "heartbeat timeout");
        } catch {
          // already gone
        }
        continue;
      }
      send(ws, heartbeat.ping);
      att.pingedAt = now;
      ws.serializeAttachment(att);
      alive++;
    }
    if (alive) await this.ctx.storage.setAlarm(now + HEARTBEAT_MS);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.rates.delete((ws.deserializeAttachment() as Attachment | null)?.id ?? "");
    try {
      // Echo the close so the client's close handshake completes. 1005 (no status), 1006 and 1015
      // are reported, never sent: answering them as-is throws and the client would wait for its
      // close timeout (10 s in Node) before it notices.
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  private async armHeartbeat(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + HEARTBEAT_MS);
  }

  /** Fixed-window rate limit per socket: counts `ops` operations, refused ones included. */
  private allow(socketId: string, limit: number, ops = 1): boolean {
    const now = Date.now();
    let r = this.rates.get(socketId);
    if (!r || now - r.windowStart >= RATE_WINDOW_MS) {
      r = { windowStart: now, count: 0 };
      this.rates.set(socketId, r);
    }
    r.count += ops;
    return r.count <= limit;
  }

  private get log(): Logger {
    return (this.logger ??= createLogger(loadConfig(this.env).LOG_LEVEL));
  }

  /**
   * Events as a dialect pushes them to one socket, in order; an event that cannot be shaped or
   * serialized is logged and skipped. Frames the same for every socket are kept in `shared`.
   */
  private pushes(
    d: Dialect,
    events: SequencedEvent[],
    socket: SocketState,
    shared?: Map<DialectName, string[]>,
  ): string[] {
    const push = d.push;
    if (!push) return [];
    if (!push.shared) return events.flatMap((e) => this.frames(e, (x) => push.frames(x, socket)));
    let frames = shared?.get(d.name);
    if (!frames) {
      frames = events.flatMap((e) => this.frames(e, push.frames));
      shared?.set(d.name, frames);
    }
    return frames;
  }

  /** An event as frames, or none when it cannot be shaped or serialized (logged, skipped). */
  private frames(e: SequencedEvent, shape: (e: SequencedEvent) => Frame[]): string[] {
    try {
      return shape(e).map((f) => JSON.stringify(f));
    } catch (err) {
      this.log.warn("event skipped: not serializable", { seq: e.seq, type: e.type, error: errorMessage(err) });
      return [];
    }
  }

  /** The retained events after `since`, oldest first; a stored row that does not parse is logged and skipped. */
  private eventsAfter(since: number): SequencedEvent[] {
    const out: SequencedEvent[] = [];
    for (const r of this.ctx.storage.sql.exec<{ seq: number; body: string }>(
      "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq",
      since,
    )) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        parsed = undefined;
      }
      const e = eventSchema.safeParse(parsed);
      if (e.success) out.push({ ...(e.data as unknown as DomainEvent), seq: r.seq });
      else this.log.warn("event skipped: stored row is not an event", { seq: r.seq });
    }
    return out;
  }

  /**
   * The services, publishing their events here directly rather than through an RPC to this object;
   * into `held` while it is open (published once the frame that caused them is answered).
   */
  private deps(held: Held): AppDeps {
    return buildDeps(this.env, this.ctx, {
      publish: (_tenant, events) =>
        held.open ? held.events.push(...events) : this.ctx.waitUntil(this.publish(events)),
    });
  }

  /**
   * The newest D1 bookmark of the tenant's writes that this hub has seen (kept in its storage, so
   * it outlives hibernation). Bookmarks of one shard order as strings; one of another shard is
   * newer (the tenant moved).
   */
  private newestBookmark(): string | null {
    return this.ctx.storage.kv.get<string>(BOOKMARK_KEY) ?? null;
  }

  private rememberBookmark(bookmark: string | null): void {
    const incoming = bookmark ? parseBookmark(bookmark) : null;
    if (!incoming) return;
    const held = this.newestBookmark();
    const newest = newerBookmark(held ? parseBookmark(held) : null, incoming)!;
    if (newest === incoming) this.ctx.storage.kv.put(BOOKMARK_KEY, formatBookmark(incoming));
  }

  /** Events after `since`, oldest first (at most the replay log's size; unreadable rows skipped). */
  async replay(since: number): Promise<SequencedEvent[]> {
    return this.eventsAfter(z.number().int().min(0).parse(since));
  }
}

/** The events a frame causes, held while `open` (until the frame is answered). */
interface Held {
  events: DomainEvent[];
  open: boolean;
}

/** Sends without throwing: a socket closing meanwhile must not fail the hub or other sockets. */
function send(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // closed or closing; its close handler cleans up
  }
}

/** The UTF-8 length of a string (what the wire carried), counting no further than just past `max`. */
function utf8Length(s: string, max = Infinity): number {
  let n = 0;
  for (let i = 0; i < s.length && n <= max; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is 4 bytes, 2 per half; the rest of the BMP is 1 to 3.
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return n;
}
