import { BookmarkStore } from "./bookmarks.ts";
import type { TokenSource } from "./rest.ts";
import type * as T from "./types.ts";

/** The engram commands: what each takes and what it answers. */
export interface EngramCommands {
  remember: {
    payload: {
      content: string;
      memory_type?: T.MemoryType | null;
      priority?: number | null;
      confidence?: number | null;
      topics?: string[] | null;
      entities?: string[] | null;
      metadata?: Record<string, unknown> | null;
      id?: string | null;
    } & T.Owner;
    reply: { memory_id: string; memory: T.MemoryRecord; deduplicated: boolean };
  };
  recall: {
    payload: { query?: string | null; limit?: number; memory_type?: T.MemoryType | null } & T.Owner;
    reply: { memories: (T.MemoryRecord & { score: number })[]; total: number };
  };
  think: { payload: T.ThinkRequest; reply: T.ThinkResult };
  feedback: {
    payload: {
      memory_id: string;
      rating?: "positive" | "negative";
      positive?: boolean;
      helpful?: boolean;
      comment?: string | null;
    };
    reply: T.FeedbackResult;
  };
  query: { payload: T.GraphQuery; reply: T.GraphResult };
  ingest: { payload: T.IngestRequest; reply: Omit<T.IngestResult, "warnings"> };
  status: { payload: Record<string, never>; reply: T.Status };
  profile: { payload: { user_id: string; namespace?: string }; reply: T.UserProfile };
}
export type EngramCommand = keyof EngramCommands;

export type EngramEventName = "memory_created" | "memory_updated" | "memory_deleted" | "feedback_recorded";

/** A push event as engram sends it, with edgemem's sequence number for replay. */
export interface EngramEvent {
  event: EngramEventName;
  data: {
    memory_id: string;
    content: string;
    memory_type: T.MemoryType;
    created_at: string;
    updated_at: string;
    priority: number;
    confidence: number;
    namespace: string | null;
    user_id: string | null;
    actor: string;
    reason: string | null;
  };
  seq: number;
}

/**
 * A gap in the event stream, sent first on a reconnect whose `since` the server cannot resume
 * from: events after `since` were dropped from the server's replay log (it keeps the last 1,000),
 * or `since` is ahead of the server or not a sequence number. Events after `resume_after` follow.
 * Resync what you derive from events (e.g. re-read it over REST); the socket carries on.
 */
export interface EngramGap {
  event: "gap";
  data: {
    /** The `since` sent, or null when the server could not read it. */
    since: number | null;
    /** The oldest event the server still holds (null: none). */
    oldest_seq: number | null;
    latest_seq: number;
    /** The replay (then the live stream) continues after this sequence number. */
    resume_after: number;
  };
}

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** A command that failed: engram's error code (INVALID_MESSAGE, NOT_FOUND, UNAUTHORIZED, ...). */
export class EngramError extends Error {
  override readonly name = "EngramError";
  readonly code: string;
  readonly issues: { field: string; message: string }[];

  constructor(code: string, message: string, issues: { field: string; message: string }[] = []) {
    super(message);
    this.code = code;
    this.issues = issues;
  }
}

/**
 * The WebSocket constructor shape the client needs: the global one (browsers, Deno, Workers,
 * Node ≥ 22), or on Node 18–21 one from a package (`ws`'s `WebSocket`, `undici`'s).
 */
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocket;

export interface EngramSocketOptions {
  /** The server (`https://…`, `http://…`) or the socket URL itself (`wss://…/ws`). */
  url: string;
  token?: TokenSource;
  /** Reconnect delays: `initialMs` (1 s) doubling up to `maxMs` (30 s), back to initial once open. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Resume after this event sequence number (events after it are replayed on connect). */
  since?: number;
  /** A command without a reply this long after it went out fails (default 30 s). */
  requestTimeoutMs?: number;
  /** The WebSocket implementation (default: the global one; required on Node 18–21, which have none). */
  WebSocket?: WebSocketFactory;
  /**
   * Read-your-writes (default: on, with a store of this socket's own): each command carries the
   * newest bookmark (`bookmark`, null before any) and each reply's updates it. Pass the
   * {@link BookmarkStore} of an `EdgememClient` so that commands read its writes and it reads
   * theirs; `false` sends commands without the field.
   */
  bookmarks?: BookmarkStore | false;
}

/** The delay before reconnect attempt `attempt` (0-based): initial × 2^attempt, capped. */
export function backoffDelay(attempt: number, initialMs = 1000, maxMs = 30_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

interface Pending {
  id: string;
  command: EngramCommand;
  payload: unknown;
  resolve: (data: any) => void;
  reject: (e: Error) => void;
  onToken?: (token: string) => void;
  timer?: ReturnType<typeof setTimeout>;
  sent: boolean;
}

/**
 * An engram-dialect WebSocket client (`/ws`, `{command, payload}` frames) that stays connected:
 * it reconnects with exponential backoff (1 s doubling to 30 s, reset once open), keeps commands
 * issued while disconnected in a queue and sends them once open, and resumes the event stream
 * with the last sequence number it saw (`?since=`), so events missed while away arrive after the
 * reconnect, each once. Commands in flight when the connection drops fail with
 * `CONNECTION_LOST` (they may or may not have run; retry if the command is idempotent).
 */
export class EngramSocket {
  private ws: WebSocket | null = null;
  private state: ConnectionState = "closed";
  private attempt = 0;
  private seq: number;
  private nextId = 1;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly handlers = new Map<string, Set<(e: EngramEvent) => void>>();
  private readonly gapHandlers = new Set<(g: EngramGap) => void>();
  private readonly stateHandlers = new Set<(s: ConnectionState, info: { attempt: number; delayMs?: number }) => void>();
  private opened: Promise<void> | null = null;
  /** close() was called: no reconnects, no new commands. */
  private finished = false;
  private readonly options: EngramSocketOptions;
  /** The socket URL without token and since. */
  private readonly url: URL;
  private readonly Impl: WebSocketFactory;
  /** Where this socket keeps the newest bookmark (null with `bookmarks: false`). */
  readonly bookmarks: BookmarkStore | null;

  /**
   * Throws a TypeError when `url` is not a URL or there is no WebSocket implementation (Node 18–21
   * without `options.WebSocket`): found here, not later on a reconnect where nothing could catch it.
   */
  // No parameter properties here or below: Node runs this file by stripping types only.
  constructor(options: EngramSocketOptions) {
    this.options = options;
    this.seq = options.since ?? 0;
    this.url = new URL(options.url);
    if (this.url.protocol === "http:" || this.url.protocol === "https:") {
      this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
      if (this.url.pathname === "/" || this.url.pathname === "") this.url.pathname = "/ws";
    }
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!Impl)
      throw new TypeError("no global WebSocket (Node < 22): pass one as options.WebSocket, e.g. the ws package's");
    this.Impl = Impl;
    this.bookmarks = options.bookmarks === false ? null : (options.bookmarks ?? new BookmarkStore());
  }

  /** The sequence number of the last event received (pass it as `since` to resume later). */
  get lastSeq(): number {
    return this.seq;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Opens the connection; resolves once it is open the first time. */
  connect(): Promise<void> {
    if (!this.opened) {
      this.opened = new Promise((resolve) => {
        const off = this.onState((s) => {
          if (s !== "open") return;
          off();
          resolve();
        });
      });
      void this.open();
    }
    return this.opened;
  }

  /** Sends a command (queued while disconnected); resolves with its reply's data. */
  send<C extends EngramCommand>(
    command: C,
    payload: EngramCommands[C]["payload"],
    opts: { onToken?: (token: string) => void } = {},
  ): Promise<EngramCommands[C]["reply"]> {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (this.finished) return reject(new EngramError("CLOSED", "the socket was closed"));
      const p: Pending = {
        id,
        command,
        payload,
        resolve,
        reject,
        onToken: opts.onToken,
        sent: false,
      };
      this.pending.set(id, p);
      if (this.state === "closed" && !this.opened) void this.connect();
      this.flush();
    });
  }

  /**
   * Calls `handler` for each pushed event named `event` ("*": all memory events), or for each
   * `"gap"` (events missed for good: resync); returns the unsubscribe.
   */
  on(event: "gap", handler: (g: EngramGap) => void): () => void;
  on(event: EngramEventName | "*", handler: (e: EngramEvent) => void): () => void;
  on(event: EngramEventName | "*" | "gap", handler: ((e: EngramEvent) => void) | ((g: EngramGap) => void)): () => void {
    if (event === "gap") {
      const h = handler as (g: EngramGap) => void;
      this.gapHandlers.add(h);
      return () => this.gapHandlers.delete(h);
    }
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const h = handler as (e: EngramEvent) => void;
    set.add(h);
    return () => set.delete(h);
  }

  /** Calls `handler` on every connection state change (with the reconnect delay when reconnecting). */
  onState(handler: (s: ConnectionState, info: { attempt: number; delayMs?: number }) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  /** Closes for good: no reconnect; queued and in-flight commands fail with CLOSED. */
  close(): void {
    this.finished = true;
    clearTimeout(this.reconnectTimer);
    this.setState("closed");
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "client closed");
    this.failPending(() => true, "CLOSED", "the socket was closed");
  }

  // Runs detached (from connect() and reconnect timers), so it must not reject: a failure to
  // get a token or to create the socket is retried after the backoff, like a refused connection.
  private async open(): Promise<void> {
    if (this.attempt === 0) this.setState("connecting", { attempt: 0 });
    const url = new URL(this.url);
    const t = this.options.token;
    let ws: WebSocket;
    try {
      const token = typeof t === "function" ? await t() : t;
      if (token) url.searchParams.set("token", token);
      if (this.seq > 0) url.searchParams.set("since", String(this.seq));
      if (this.finished) return; // closed while the token was fetched
      ws = new this.Impl(url.toString());
    } catch {
      if (!this.finished) this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setState("open", { attempt: 0 });
      this.flush();
    });
    ws.addEventListener("message", (e) => {
      if (this.ws === ws) this.receive(String(e.data));
    });
    const drop = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending((p) => p.sent, "CONNECTION_LOST", "the connection dropped before the reply");
      this.scheduleReconnect();
    };
    ws.addEventListener("close", drop);
    // Node 22's WebSocket fires only `error`, never `close`, when the upgrade is refused (401, 5xx)
    // or the connection fails: an error ends the connection either way, so it reconnects too.
    ws.addEventListener("error", () => {
      drop();
      try {
        ws.close();
      } catch {
        // already closing
      }
    });
  }

  private scheduleReconnect(): void {
    if (this.finished) return;
    const { initialMs, maxMs } = this.options.backoff ?? {};
    const delayMs = backoffDelay(this.attempt, initialMs, maxMs);
    this.attempt++;
    this.setState("reconnecting", { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => void this.open(), delayMs);
  }

  private flush(): void {
    const ws = this.ws;
    if (this.state !== "open" || !ws || ws.readyState !== 1) return;
    for (const p of this.pending.values()) {
      if (p.sent) continue;
      // The bookmark as it is when the frame goes out: a command queued before a REST write
      // (through a shared store) and sent after it reads that write.
      const bookmark = this.bookmarks ? { bookmark: this.bookmarks.value } : {};
      ws.send(JSON.stringify({ id: p.id, command: p.command, payload: p.payload, ...bookmark }));
      p.sent = true;
      p.timer = setTimeout(() => {
        if (this.pending.delete(p.id))
          p.reject(new EngramError("TIMEOUT", `no reply in ${this.options.requestTimeoutMs ?? 30_000} ms`));
      }, this.options.requestTimeoutMs ?? 30_000);
    }
  }

  private receive(text: string): void {
    let f: any;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (f?.event === "gap") {
      // Continue from where the server resumes: below our position after a reset, so its new
      // events are not taken for ones already seen.
      if (typeof f.data?.resume_after === "number") this.seq = f.data.resume_after;
      for (const h of this.gapHandlers) h(f as EngramGap);
      return;
    }
    if (typeof f?.event === "string") {
      // A replayed event already seen (or one from before `since`) is not delivered twice.
      if (typeof f.seq === "number") {
        if (f.seq <= this.seq) return;
        this.seq = f.seq;
      }
      for (const key of [f.event, "*"]) for (const h of this.handlers.get(key) ?? []) h(f as EngramEvent);
      return;
    }
    const p = typeof f?.id === "string" ? this.pending.get(f.id) : undefined;
    if (!p) return;
    if (typeof f.bookmark === "string") this.bookmarks?.offer(f.bookmark);
    if (f.status === "streaming") {
      p.onToken?.(f.data?.token ?? "");
      return;
    }
    this.pending.delete(f.id);
    clearTimeout(p.timer);
    if (f.status === "ok") p.resolve(f.data);
    else
      p.reject(
        new EngramError(f.error?.code ?? "INTERNAL_ERROR", f.error?.message ?? "command failed", f.error?.issues ?? []),
      );
  }

  private failPending(which: (p: Pending) => boolean, code: string, message: string): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new EngramError(code, message));
    }
  }

  private setState(s: ConnectionState, info: { attempt: number; delayMs?: number } = { attempt: this.attempt }): void {
    this.state = s;
    for (const h of this.stateHandlers) h(s, info);
  }
}
