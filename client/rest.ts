import { BookmarkStore, checked } from "./bookmarks.ts";
import type * as T from "./types.ts";

/** How the client gets a token: a fixed string, or a function (e.g. to refresh it). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** The server, e.g. `https://edgemem.example.workers.dev` or `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** A JWT (when the server runs with AUTH_MODE=jwt). */
  token?: TokenSource;
  /** A fetch implementation (default: the global fetch). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Read-your-writes (default: on, with a store of this client's own): the newest bookmark of
   * every answer is sent back with each request, so reads see at least what was written. Pass a
   * {@link BookmarkStore} to share it with other clients or an `EngramSocket`; `false` sends none.
   */
  bookmarks?: BookmarkStore | false;
  /**
   * Retrying `503 unavailable` (a tenant moving between databases: nothing was written): after
   * the answer's `Retry-After`, up to `attempts` tries in all (4) while the waits add up to at
   * most `maxWaitMs` (30 s). No other status is retried. `false`: never retry.
   */
  retry?: { attempts?: number; maxWaitMs?: number } | false;
}

/** What a request may carry besides its method and path. */
export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** A JSON Lines body, sent as it is (instead of `body`). */
  lines?: string;
  /** Aborts the request, and any wait before retrying it; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of a streamed call ({@link EdgememClient.thinkStream}). */
export interface StreamOptions {
  /**
   * Stops the stream: aborting cancels the request (or the body being read) and the `for await`
   * loop throws the signal's reason (an `AbortError` `DOMException` unless `abort()` was given one).
   */
  signal?: AbortSignal;
}

/** An error answer from the server: its HTTP status, code, message and invalid fields. */
export class EdgememError extends Error {
  override readonly name = "EdgememError";
  readonly status: number;
  readonly code: T.ErrorCode | "network_error" | "invalid_response";
  readonly issues: { field: string; message: string }[];

  // No parameter properties: Node runs this file by stripping types only.
  constructor(
    status: number,
    code: EdgememError["code"],
    message: string,
    issues: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

/** Query parameters: undefined and null are left out, arrays repeat the key. */
type Query = object;

const BOOKMARK_HEADER = "x-edgemem-bookmark";
const NEXT_CURSOR_HEADER = "x-edgemem-next-cursor";
const NDJSON = "application/x-ndjson";
/** The wait when a 503 says nothing of when to retry. */
const DEFAULT_RETRY_MS = 1000;

function addCounts(a: T.RecordCounts, b: T.RecordCounts): T.RecordCounts {
  const out = { ...a };
  for (const k of Object.keys(b) as (keyof T.RecordCounts)[]) out[k] += b[k];
  return out;
}

/** Retry-After in milliseconds (seconds, or an HTTP date), or null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/** The EdgememError an unsuccessful answer stands for (its body read). */
async function errorOf(res: Response, method: string, path: string): Promise<EdgememError> {
  let err: Partial<T.ErrorBody> = {};
  try {
    err = (await res.json()) as T.ErrorBody;
  } catch {
    // not JSON: keep the status
  }
  return new EdgememError(
    res.status,
    (err.error as T.ErrorCode) ?? "internal_error",
    err.message ?? `${method} ${path} failed with ${res.status}`,
    err.issues,
  );
}

/**
 * The REST API of edgemem: the Agent Memory Server routes (long-term and working memory, prompt
 * hydration), edgemem's knowledge routes (ingest, graph, think, feedback, status) and the CRUD API
 * (`client.memories`). Every method resolves with the parsed answer or rejects with an
 * {@link EdgememError}. Runs wherever `fetch` does: browsers, Node ≥ 18, Workers, Deno.
 */
export class EdgememClient {
  readonly baseUrl: string;
  /** Where this client keeps the newest bookmark (null with `bookmarks: false`). */
  readonly bookmarks: BookmarkStore | null;
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.bookmarks = options.bookmarks === false ? null : (options.bookmarks ?? new BookmarkStore());
  }

  /**
   * The newest read-your-writes bookmark this client has seen (null: none yet, or bookmarks off).
   * Hand it to another client or process so that it reads what this one wrote. Setting keeps the
   * fresher of the two (one of another database replaces it: the tenant moved); null forgets it.
   * A malformed bookmark, or setting one with bookmarks off, is a TypeError.
   */
  get bookmark(): string | null {
    return this.bookmarks?.value ?? null;
  }

  set bookmark(value: string | null) {
    if (!this.bookmarks) throw new TypeError("this client was made with bookmarks: false");
    if (value === null) this.bookmarks.clear();
    else this.bookmarks.offer(checked(value));
  }

  /** The current token, if any. */
  async token(): Promise<string | undefined> {
    const t = this.options.token;
    return typeof t === "function" ? await t() : t;
  }

  /** One request; JSON in and out. Exposed for routes this client does not wrap. */
  async request<R>(method: string, path: string, opts: RequestOptions = {}): Promise<R> {
    return (await this.exchange<R>(method, path, opts)).body;
  }

  /** A request's parsed answer with its headers (for what a route says in them, e.g. a next cursor). */
  private async exchange<R>(
    method: string,
    path: string,
    opts: RequestOptions,
  ): Promise<{ body: R; headers: Headers }> {
    const res = await this.send(method, path, opts);
    if (res.status === 204) return { body: undefined as R, headers: res.headers };
    try {
      return { body: (await res.json()) as R, headers: res.headers };
    } catch {
      throw new EdgememError(res.status, "invalid_response", `${method} ${path}: the answer is not JSON`);
    }
  }

  /**
   * Sends a request and returns its successful answer, retrying `503 unavailable` as the retry
   * option allows; any other failure rejects with an EdgememError. Every answer's bookmark is
   * kept, a failed one's too (a 404 read at some freshness is still a read).
   */
  private async send(method: string, path: string, { query, body, lines, signal }: RequestOptions): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {}) as [string, unknown][]) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    const payload = lines ?? (body === undefined ? undefined : JSON.stringify(body));
    const contentType = lines === undefined ? "application/json" : NDJSON;
    const retry = this.options.retry === false ? { attempts: 1 } : (this.options.retry ?? {});
    const attempts = Math.max(1, retry.attempts ?? 4);
    const maxWaitMs = retry.maxWaitMs ?? 30_000;
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const res = await this.fetchOnce(method, path, url, payload, contentType, signal);
      this.bookmarks?.offer(res.headers.get(BOOKMARK_HEADER));
      if (res.ok) return res;
      const error = await errorOf(res, method, path);
      const waitMs =
        error.code === "unavailable" ? (retryAfterMs(res.headers.get("retry-after")) ?? DEFAULT_RETRY_MS) : null;
      if (waitMs === null || attempt >= attempts || waited + waitMs > maxWaitMs) throw error;
      await sleep(waitMs, signal);
      waited += waitMs;
    }
  }

  private async fetchOnce(
    method: string,
    path: string,
    url: URL,
    body: string | undefined,
    contentType: string,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...this.options.headers };
    if (body !== undefined) headers["content-type"] = contentType;
    const bookmark = this.bookmarks?.value;
    if (bookmark) headers[BOOKMARK_HEADER] = bookmark;
    // Asked for on each try: a token function may refresh it during a long retry.
    const token = await this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const doFetch = this.options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
    try {
      return await doFetch(url.toString(), { method, headers, body, signal });
    } catch (e) {
      // An abort is the caller's doing, not the network's: it gets its own reason back.
      signal?.throwIfAborted();
      throw new EdgememError(0, "network_error", `${method} ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---- Agent Memory Server: long-term memory -------------------------------------------------

  health(): Promise<{ now: number }> {
    return this.request("GET", "/v1/health");
  }

  /** Stores memories; identical ones are not stored twice unless `deduplicate: false`. */
  createLongTermMemories(
    memories: T.MemoryInput[],
    opts: { namespace?: string; deduplicate?: boolean } = {},
  ): Promise<T.CreateResult> {
    return this.request("POST", "/v1/long-term-memory/", {
      query: { namespace: opts.namespace },
      body: { memories, deduplicate: opts.deduplicate },
    });
  }

  searchLongTermMemory(req: T.SearchRequest): Promise<T.SearchResult> {
    return this.request("POST", "/v1/long-term-memory/search", { body: req });
  }

  getLongTermMemory(id: string, opts: { namespace?: string } = {}): Promise<T.MemoryRecord> {
    return this.request("GET", `/v1/long-term-memory/${encodeURIComponent(id)}`, { query: opts });
  }

  editLongTermMemory(id: string, patch: T.MemoryPatch): Promise<T.MemoryRecord> {
    return this.request("PATCH", `/v1/long-term-memory/${encodeURIComponent(id)}`, { body: patch });
  }

  /**
   * Marks a memory as no longer true from `at` (default now): it stays, with its history, and
   * reads skip it unless asked `as_of` a time it held or `include_superseded`.
   */
  invalidateLongTermMemory(id: string, body: T.InvalidateRequest): Promise<T.MemoryRecord> {
    return this.request("POST", `/v1/long-term-memory/${encodeURIComponent(id)}/invalidate`, { body });
  }

  deleteLongTermMemories(ids: string[], opts: { namespace?: string } = {}): Promise<T.Ack> {
    return this.request("DELETE", "/v1/long-term-memory/", { query: { memory_ids: ids, namespace: opts.namespace } });
  }

  /**
   * A memory's creates, updates and deletes, with the record before and after: a page of
   * `q.limit` (100), oldest first (`order: "desc"`: newest first); pass `next_cursor` back as
   * `q.cursor` for the next page.
   */
  memoryHistory(id: string, q: T.HistoryQuery = {}): Promise<T.History> {
    return this.request("GET", `/v1/long-term-memory/${encodeURIComponent(id)}/history`, { query: q });
  }

  /** Applies a forgetting policy; `dry_run` (the default) only reports what would go. */
  forget(req: T.ForgetRequest = {}): Promise<T.ForgetResult> {
    return this.request("POST", "/v1/long-term-memory/forget", { body: req });
  }

  // ---- Agent Memory Server: working memory and prompts ---------------------------------------

  /** Session ids, most recently written first; page with `cursor` (the last answer's `next_cursor`). */
  listSessions(opts: T.SessionListQuery = {}): Promise<T.SessionList> {
    return this.request("GET", "/v1/working-memory/", { query: opts });
  }

  getWorkingMemory(
    sessionId: string,
    opts: T.SessionOptions & { recent_messages_limit?: number } = {},
  ): Promise<T.WorkingMemory> {
    return this.request("GET", `/v1/working-memory/${encodeURIComponent(sessionId)}`, { query: opts });
  }

  /** Replaces the session; messages beyond the model's budget are summarized into `context`. */
  putWorkingMemory(
    sessionId: string,
    session: T.WorkingMemoryInput,
    opts: T.SessionOptions = {},
  ): Promise<T.WorkingMemory> {
    return this.request("PUT", `/v1/working-memory/${encodeURIComponent(sessionId)}`, { query: opts, body: session });
  }

  deleteWorkingMemory(sessionId: string, opts: { namespace?: string; user_id?: string } = {}): Promise<T.Ack> {
    return this.request("DELETE", `/v1/working-memory/${encodeURIComponent(sessionId)}`, { query: opts });
  }

  /** Chat messages ready for an LLM: memory context, the session's recent messages, the query. */
  memoryPrompt(req: T.PromptRequest): Promise<T.PromptResult> {
    return this.request("POST", "/v1/memory/prompt", { body: req });
  }

  // ---- edgemem: knowledge ----------------------------------------------------------------------

  /**
   * What edgemem knows about a user: stable lines (name, location, work, preferences, …) and
   * recent ones (topics, tasks), each citing memory ids. An unknown user has an empty profile.
   */
  profile(userId: string, opts: { namespace?: string } = {}): Promise<T.UserProfile> {
    return this.request("GET", "/v1/profile", { query: { user_id: userId, namespace: opts.namespace } });
  }

  /**
   * Extracts and stores memories from chat messages. `trace: true` answers also with what became
   * of every candidate (and the LLM tokens spent); `dry_run: true` decides it all and writes nothing.
   */
  ingest(req: T.IngestRequest & { trace: true }): Promise<T.TracedIngestResult>;
  ingest(req: T.IngestRequest): Promise<T.IngestResult>;
  ingest(req: T.IngestRequest): Promise<T.IngestResult> {
    return this.request("POST", "/v1/ingest", { body: req });
  }

  queryGraph(req: T.GraphQuery): Promise<T.GraphResult> {
    return this.request("POST", "/v1/graph/query", { body: req });
  }

  think(req: T.ThinkRequest): Promise<T.ThinkResult> {
    return this.request("POST", "/v1/think", { body: { ...req, stream: false } });
  }

  /**
   * think, streamed: tokens as they come, then the sources (`done`) or an `error` event. Leaving
   * the loop early (`break`) or aborting `options.signal` cancels the request.
   */
  async *thinkStream(req: T.ThinkRequest, options: StreamOptions = {}): AsyncGenerator<T.ThinkEvent> {
    const { signal } = options;
    const res = await this.send("POST", "/v1/think", { body: { ...req, stream: true }, signal });
    if (!res.body) throw new EdgememError(res.status, "invalid_response", "think: the stream has no body");
    for await (const event of pieces(res.body, "\n\n", signal, false)) {
      const data = event
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data) as T.ThinkEvent;
    }
  }

  feedback(req: T.FeedbackRequest): Promise<T.FeedbackResult> {
    return this.request("POST", "/v1/feedback", { body: req });
  }

  /** Who the token is: tenant, subject, scopes, whether it may write, and the server's auth mode. */
  whoami(): Promise<T.Whoami> {
    return this.request("GET", "/v1/whoami");
  }

  status(): Promise<T.Status> {
    return this.request("GET", "/v1/status");
  }

  consolidate(): Promise<T.ConsolidationResult> {
    return this.request("POST", "/v1/consolidate");
  }

  // ---- edgemem: export and import -------------------------------------------------------------

  /**
   * The tenant's export, line by line as it streams (`edgemem-export` version 1): the header,
   * every record, a `cursor` line after each page, the `end` line (without it, the stream was cut
   * short: call again with the last `cursor` seen to get the rest). Leaving the loop early or
   * aborting `options.signal` cancels the request.
   */
  async *export(opts: { cursor?: string } = {}, options: StreamOptions = {}): AsyncGenerator<T.ExportLine> {
    const { signal } = options;
    const res = await this.send("GET", "/v1/export", { query: { cursor: opts.cursor }, signal });
    if (!res.body) throw new EdgememError(res.status, "invalid_response", "export: the answer has no body");
    for await (const line of pieces(res.body, "\n", signal, true)) {
      if (line.trim()) yield JSON.parse(line) as T.ExportLine;
    }
  }

  /**
   * Imports records: an export (its lines, as objects or as JSON Lines text), or mem0 or Agent
   * Memory Server memories (`opts.format`). Idempotent: ids are kept, and records already stored
   * identically are left alone (`unchanged`); bad lines are reported in `errors`, the rest import.
   * One request: post a large file in parts (the `npm run import` CLI does).
   */
  async import(
    records: string | Iterable<unknown>,
    opts: { format?: T.ImportFormat; namespace?: string; signal?: AbortSignal } = {},
  ): Promise<T.ImportResult> {
    let lines = typeof records === "string" ? records.split("\n") : Array.from(records, (r) => JSON.stringify(r));
    // A request takes so many records (`stopped_at_line`): the rest goes in the next, and the
    // answers add up, their line numbers those of `records`.
    let offset = 0;
    let total: T.ImportResult | null = null;
    for (;;) {
      const part: T.ImportResult = await this.request("POST", "/v1/import", {
        query: { format: opts.format, namespace: opts.namespace },
        lines: lines.join("\n"),
        signal: opts.signal,
      });
      const errors = part.errors.map((e) => ({ ...e, line: e.line + offset }));
      const warnings = part.warnings.filter((w) => part.stopped_at_line === null || !w.startsWith("stopped at line"));
      total = total
        ? {
            imported: addCounts(total.imported, part.imported),
            unchanged: addCounts(total.unchanged, part.unchanged),
            errors: [...total.errors, ...errors],
            failed: total.failed + part.failed,
            lines: part.lines + offset,
            truncated: part.truncated,
            stopped_at_line: null,
            warnings: [...total.warnings, ...warnings],
          }
        : { ...part, errors, warnings, stopped_at_line: null };
      if (part.stopped_at_line === null) return total;
      lines = lines.slice(part.stopped_at_line - 1);
      offset += part.stopped_at_line - 1;
    }
  }

  /** The server's OpenAPI 3.1 document. */
  openapi(): Promise<Record<string, unknown>> {
    return this.request("GET", "/openapi.json");
  }

  // ---- The memory CRUD API (/api/memories) -----------------------------------------------------

  readonly memories = {
    /** Creates the memory, or replaces the value of the one with the same (agent_id, scope, key). */
    upsert: (m: T.CrudCreate): Promise<T.CrudMemory> => this.request("POST", "/api/memories", { body: m }),
    /** A page of memories, newest first (the API's array; {@link page} has the next cursor too). */
    list: (q: T.CrudListQuery = {}): Promise<T.CrudMemory[]> => this.request("GET", "/api/memories", { query: q }),
    /** A page of memories and the `next_cursor` to pass as `q.cursor` for the next (null on the last page). */
    page: async (q: T.CrudListQuery = {}): Promise<T.CrudPage> => {
      const { body, headers } = await this.exchange<T.CrudMemory[]>("GET", "/api/memories", { query: q });
      return { memories: body, next_cursor: headers.get(NEXT_CURSOR_HEADER) };
    },
    search: (q: T.CrudSearch): Promise<T.CrudMemory[]> => this.request("POST", "/api/memories/search", { body: q }),
    get: (id: string): Promise<T.CrudMemory> => this.request("GET", `/api/memories/${encodeURIComponent(id)}`),
    update: (id: string, patch: T.CrudUpdate): Promise<T.CrudMemory> =>
      this.request("PUT", `/api/memories/${encodeURIComponent(id)}`, { body: patch }),
    delete: (id: string): Promise<void> => this.request("DELETE", `/api/memories/${encodeURIComponent(id)}`),
    history: (id: string, q: T.HistoryQuery = {}): Promise<T.History> =>
      this.request("GET", `/api/memories/${encodeURIComponent(id)}/history`, { query: q }),
  };
}

/**
 * A streamed body's text, piece by piece between `separator`s (SSE events, JSON lines), and the
 * text after the last one when `trailing`. Pieces already read are not handed out after an abort;
 * leaving the loop early cancels the response (and the server's work on it).
 */
async function* pieces(
  body: NonNullable<Response["body"]>,
  separator: string,
  signal: AbortSignal | undefined,
  trailing: boolean,
): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf(separator)) >= 0) {
        const piece = buffer.slice(0, end);
        buffer = buffer.slice(end + separator.length);
        signal?.throwIfAborted();
        yield piece;
      }
    }
    signal?.throwIfAborted();
    if (trailing && buffer) yield buffer;
  } finally {
    // A stream that has already ended or failed rejects the cancel, which has nothing left to say.
    await reader.cancel().catch(() => {});
  }
}
