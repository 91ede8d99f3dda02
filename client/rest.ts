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

/**
 * The REST API of edgemem: the Agent Memory Server routes (long-term and working memory, prompt
 * hydration), edgemem's knowledge routes (ingest, graph, think, feedback, status) and the CRUD API
 * (`client.memories`). Every method resolves with the parsed answer or rejects with an
 * {@link EdgememError}. Runs wherever `fetch` does: browsers, Node ≥ 18, Workers, Deno.
 */
export class EdgememClient {
  readonly baseUrl: string;
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
  }

  /** The current token, if any. */
  async token(): Promise<string | undefined> {
    const t = this.options.token;
    return typeof t === "function" ? await t() : t;
  }

  /** One request; JSON in and out. Exposed for routes this client does not wrap. */
  async request<R>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<R> {
    const res = await this.send(method, path, opts);
    if (res.status === 204) return undefined as R;
    try {
      return (await res.json()) as R;
    } catch {
      throw new EdgememError(res.status, "invalid_response", `${method} ${path}: the answer is not JSON`);
    }
  }

  private async send(
    method: string,
    path: string,
    { query, body, signal }: { query?: Query; body?: unknown; signal?: AbortSignal },
  ): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {}) as [string, unknown][]) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    const headers: Record<string, string> = { accept: "application/json", ...this.options.headers };
    if (body !== undefined) headers["content-type"] = "application/json";
    const token = await this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const doFetch = this.options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
    let res: Response;
    try {
      res = await doFetch(url.toString(), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      // An abort is the caller's doing, not the network's: it gets its own reason back.
      signal?.throwIfAborted();
      throw new EdgememError(0, "network_error", `${method} ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res.ok) return res;
    let err: Partial<T.ErrorBody> = {};
    try {
      err = (await res.json()) as T.ErrorBody;
    } catch {
      // not JSON: keep the status
    }
    throw new EdgememError(
      res.status,
      (err.error as T.ErrorCode) ?? "internal_error",
      err.message ?? `${method} ${path} failed with ${res.status}`,
      err.issues,
    );
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

  deleteLongTermMemories(ids: string[], opts: { namespace?: string } = {}): Promise<T.Ack> {
    return this.request("DELETE", "/v1/long-term-memory/", { query: { memory_ids: ids, namespace: opts.namespace } });
  }

  /** Every create, update and delete of a memory, with the record before and after. */
  memoryHistory(id: string): Promise<T.History> {
    return this.request("GET", `/v1/long-term-memory/${encodeURIComponent(id)}/history`);
  }

  /** Applies a forgetting policy; `dry_run` (the default) only reports what would go. */
  forget(req: T.ForgetRequest = {}): Promise<T.ForgetResult> {
    return this.request("POST", "/v1/long-term-memory/forget", { body: req });
  }

  // ---- Agent Memory Server: working memory and prompts ---------------------------------------

  listSessions(
    opts: { limit?: number; offset?: number; namespace?: string; user_id?: string } = {},
  ): Promise<T.SessionList> {
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
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          // Events already read are not handed out after an abort.
          signal?.throwIfAborted();
          if (data) yield JSON.parse(data) as T.ThinkEvent;
        }
      }
      signal?.throwIfAborted();
    } finally {
      // Ends the response (and the server's work on it) when the loop stops early; a stream
      // that has already ended or failed rejects the cancel, which has nothing left to say.
      await reader.cancel().catch(() => {});
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

  /** The server's OpenAPI 3.1 document. */
  openapi(): Promise<Record<string, unknown>> {
    return this.request("GET", "/openapi.json");
  }

  // ---- The memory CRUD API (/api/memories) -----------------------------------------------------

  readonly memories = {
    /** Creates the memory, or replaces the value of the one with the same (agent_id, scope, key). */
    upsert: (m: T.CrudCreate): Promise<T.CrudMemory> => this.request("POST", "/api/memories", { body: m }),
    list: (q: T.CrudListQuery = {}): Promise<T.CrudMemory[]> => this.request("GET", "/api/memories", { query: q }),
    search: (q: T.CrudSearch): Promise<T.CrudMemory[]> => this.request("POST", "/api/memories/search", { body: q }),
    get: (id: string): Promise<T.CrudMemory> => this.request("GET", `/api/memories/${encodeURIComponent(id)}`),
    update: (id: string, patch: T.CrudUpdate): Promise<T.CrudMemory> =>
      this.request("PUT", `/api/memories/${encodeURIComponent(id)}`, { body: patch }),
    delete: (id: string): Promise<void> => this.request("DELETE", `/api/memories/${encodeURIComponent(id)}`),
    history: (id: string): Promise<T.History> => this.request("GET", `/api/memories/${encodeURIComponent(id)}/history`),
  };
}
