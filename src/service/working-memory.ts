import type { LlmProvider } from "../ai/llm.ts";
import type { Config } from "../config.ts";
import { packPrompt, planSummarization } from "../domain/budget.ts";
import { AppError, WriteConflict } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import { buildMemory, sameList, type Memory, type NewMemory } from "../domain/memory.ts";
import {
  DEFAULT_STRATEGY,
  snapshot,
  type MessageRole,
  type ModelParams,
  type PromptRequest,
  type PromptResult,
  type Session,
  type SessionInput,
  type SessionMessage,
  type SessionListOptions,
  type SessionPage,
  type SessionSelector,
  type SessionView,
} from "../domain/session.ts";
import { messageTokens, modelInfo, tokenCounter, type TokenCounter } from "../domain/tokens.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { SessionEvent } from "../domain/events.ts";
import type { Principal } from "../domain/principal.ts";
import type { Profile } from "../domain/profile.ts";
import { inBackground } from "./background.ts";
import type { MemorySearch } from "./memory-search.ts";
import type { Memories } from "./memories.ts";
import type { Profiles, ProfileQuery } from "./profile.ts";
import type { EventSink, SessionStore } from "./ports.ts";
import { retryOnConflict } from "./retry.ts";

export interface WorkingMemoryDeps {
  sessionStore: SessionStore;
  memories: Memories;
  search: MemorySearch;
  profiles: Pick<Profiles, "get">;
  llm: LlmProvider;
  events: EventSink;
  config: Pick<
    Config,
    | "WORKING_MEMORY_SUMMARIZATION"
    | "SUMMARIZATION_THRESHOLD"
    | "DEFAULT_CONTEXT_WINDOW"
    | "LAST_ACCESSED_MIN_INTERVAL_SECONDS"
  >;
  log: Logger;
  clock: () => number;
  defer: (p: Promise<unknown>) => void;
}

interface Budget {
  window: number;
  counter: TokenCounter;
  /** Whether the caller named a model or a window (AMS reports usage only then). */
  explicit: boolean;
}

/**
 * Working memory (AMS sessions) and prompt hydration. Summarizes sessions over their token
 * budget with the LLM provider, promotes structured memories to long-term memory through
 * Memories, and emits session events.
 */
export class WorkingMemory {
  constructor(private readonly d: WorkingMemoryDeps) {}

  /**
   * Replaces a session. Over the summarization threshold, older messages are summarized into
   * `context` and dropped; if the provider fails, every message is kept (with a warning) and the
   * next write tries again. Memories are promoted to long-term memory after the response.
   */
  async put(p: Principal, sessionId: string, input: SessionInput, model: ModelParams): Promise<SessionView> {
    const now = this.d.clock();
    const budget = await this.budget(model);
    const warnings: string[] = [];
    const given = input.messages.map((m) => ({
      id: m.id ?? newId(now),
      role: m.role,
      content: m.content,
      created_at: m.created_at ?? now,
    }));
    const { messages, context, summarized } = await this.summarize(given, input.context, budget, warnings);

    // The same id twice is one memory: the last one given wins.
    const byId = new Map(input.memories.map((m) => [m.id ?? newId(now), m]));
    const memories = await Promise.all(
      [...byId].map(async ([id, m]) => {
        const record = await buildMemory(
          p.tenant,
          id,
          {
            ...m,
            session_id: m.session_id ?? sessionId,
            namespace: m.namespace ?? input.namespace,
            user_id: m.user_id ?? input.user_id,
          },
          now,
        );
        return { ...record, persisted_at: m.persisted_at ?? null };
      }),
    );
    const session: Omit<Session, "version"> = {
      tenant: p.tenant,
      session_id: sessionId,
      namespace: input.namespace,
      user_id: input.user_id,
      messages,
      memories,
      context,
      data: input.data,
      long_term_memory_strategy: input.long_term_memory_strategy ?? DEFAULT_STRATEGY,
      ttl_seconds: input.ttl_seconds,
      expires_at: input.ttl_seconds ? now + input.ttl_seconds * 1000 : null,
      created_at: now,
      updated_at: now,
      last_accessed: now,
    };
    const tokens = this.tokensOf(messages, budget.counter);
    // One statement: version 1 is a new session (or one replacing an expired row).
    const { version, created_at } = await this.d.sessionStore.put(session, tokens);
    return this.stored(p, { ...session, created_at, version }, tokens, summarized, budget, warnings);
  }

  /**
   * Appends messages to a session (creating it if needed), keeping everything else it holds;
   * over the summarization threshold, older messages are summarized as on `put`. Concurrent
   * appends all land: each is a compare-and-set on the session's version, retried from a fresh
   * read when another write came first.
   */
  async append(p: Principal, sessionId: string, added: { role: MessageRole; content: string }[]): Promise<SessionView> {
    const budget = await this.budget({});
    return retryOnConflict(`session ${sessionId}`, async () => {
      const now = this.d.clock();
      const warnings: string[] = [];
      const existing = await this.d.sessionStore.get(p.tenant, sessionId, now);
      const all = [
        ...(existing?.messages ?? []),
        ...added.map((m) => ({ id: newId(now), role: m.role, content: m.content, created_at: now })),
      ];
      const { messages, context, summarized } = await this.summarize(all, existing?.context ?? null, budget, warnings);
      const ttl = existing?.ttl_seconds ?? null;
      const session: Omit<Session, "version"> = {
        tenant: p.tenant,
        session_id: sessionId,
        namespace: existing?.namespace ?? null,
        user_id: existing?.user_id ?? null,
        messages,
        memories: existing?.memories ?? [],
        context,
        data: existing?.data ?? null,
        long_term_memory_strategy: existing?.long_term_memory_strategy ?? DEFAULT_STRATEGY,
        ttl_seconds: ttl,
        expires_at: ttl ? now + ttl * 1000 : null,
        created_at: existing?.created_at ?? now,
        updated_at: now,
        last_accessed: now,
      };
      const tokens = this.tokensOf(messages, budget.counter);
      const written = await this.d.sessionStore.replaceIf(session, tokens, existing);
      if (!written) throw new WriteConflict(`session ${sessionId}`);
      return this.stored(p, { ...session, ...written }, tokens, summarized, budget, warnings);
    });
  }

  /**
   * Records an agent handoff in a session (creating it if needed): a system message, appended
   * as `append` does, so concurrent writes to the session all land.
   */
  async recordHandoff(
    p: Principal,
    sessionId: string,
    handoff: { from: string; to: string; reason?: string | null },
  ): Promise<SessionView> {
    const text = `Agent handoff from ${handoff.from} to ${handoff.to}${handoff.reason ? `: ${handoff.reason}` : ""}`;
    return this.append(p, sessionId, [{ role: "system", content: text }]);
  }

  /** After a session write: its event, promotion of its new memories (after the response), and its view. */
  private stored(
    p: Principal,
    stored: Session,
    tokens: number,
    summarized: number,
    budget: Budget,
    warnings: string[],
  ): SessionView {
    const created = stored.version === 1;
    this.emit(p.tenant, [
      {
        type: "session_updated",
        at: stored.updated_at,
        session: snapshot(stored, tokens, summarized),
        actor: p.subject,
        reason: summarized ? "summarized" : created ? "created" : "replaced",
      },
    ]);
    if (stored.memories.some((m) => m.persisted_at === null))
      inBackground(this.d, this.promote(p, stored), "working-memory promotion");
    return { session: stored, tokens, usage: this.usage(tokens, budget), newSession: created, warnings };
  }

  /**
   * Over the summarization threshold, older messages are summarized into `context` and dropped;
   * if the provider fails, every message is kept (with a warning) and the next write tries again.
   */
  private async summarize(
    messages: SessionMessage[],
    context: string | null,
    budget: Budget,
    warnings: string[],
  ): Promise<{ messages: SessionMessage[]; context: string | null; summarized: number }> {
    if (!this.d.config.WORKING_MEMORY_SUMMARIZATION) return { messages, context, summarized: 0 };
    const plan = planSummarization(
      messages.map((m) => messageTokens(budget.counter, m)),
      budget.window,
      this.d.config.SUMMARIZATION_THRESHOLD,
    );
    if (!plan.summarize) return { messages, context, summarized: 0 };
    const older = messages.slice(0, -plan.keep);
    try {
      const summary = await this.d.llm.summarize({
        previous: context,
        messages: older,
        maxTokens: plan.summaryTokens,
        count: (t) => budget.counter.count(t),
      });
      return { messages: messages.slice(-plan.keep), context: summary, summarized: older.length };
    } catch (e) {
      // Nothing is lost: the whole session is stored and the next write summarizes it.
      this.d.log.warn("summarization failed; session stored unsummarized", {
        provider: this.d.llm.name,
        error: errorMessage(e),
      });
      warnings.push(
        `summarization failed (${errorMessage(e)}); all ${messages.length} messages were kept and will be summarized on a later write`,
      );
      return { messages, context, summarized: 0 };
    }
  }

  /** A session (404 if there is none the selector matches); see {@link getIfExists}. */
  async get(
    p: Principal,
    sessionId: string,
    sel: SessionSelector & { recent_messages_limit?: number },
    model: ModelParams,
  ): Promise<SessionView> {
    const view = await this.getIfExists(p, sessionId, sel, model);
    if (!view) throw AppError.notFound(`session ${sessionId}`, "session");
    return view;
  }

  /**
   * A session, or null when none exists that the selector matches; with a model or window, the
   * oldest messages beyond it are left out (at least one stays).
   */
  async getIfExists(
    p: Principal,
    sessionId: string,
    sel: SessionSelector & { recent_messages_limit?: number },
    model: ModelParams,
  ): Promise<SessionView | null> {
    const now = this.d.clock();
    const budget = await this.budget(model);
    const session = await this.d.sessionStore.get(p.tenant, sessionId, now);
    if (!session || !matches(session, sel)) return null;
    let messages = session.messages;
    if (sel.recent_messages_limit !== undefined) messages = messages.slice(-sel.recent_messages_limit);
    const costs = messages.map((m) => messageTokens(budget.counter, m));
    let tokens = costs.reduce((a, b) => a + b, 0);
    if (budget.explicit) {
      let drop = 0;
      while (tokens > budget.window && drop < messages.length - 1) tokens -= costs[drop++]!;
      messages = messages.slice(drop);
    }
    const interval = this.d.config.LAST_ACCESSED_MIN_INTERVAL_SECONDS * 1000;
    if (session.last_accessed < now - interval) {
      inBackground(
        this.d,
        this.d.sessionStore.touch(p.tenant, sessionId, now, interval),
        "session last_accessed update",
      );
    }
    return {
      session: { ...session, messages },
      tokens,
      usage: this.usage(tokens, budget),
      newSession: false,
      warnings: [],
    };
  }

  /** Deletes a session's messages, context, memories and data; returns whether it existed. */
  async remove(p: Principal, sessionId: string, sel: SessionSelector): Promise<boolean> {
    const now = this.d.clock();
    const existing = await this.d.sessionStore.get(p.tenant, sessionId, now);
    if (!existing || !matches(existing, sel)) return false;
    const gone = await this.d.sessionStore.delete(p.tenant, sessionId, now);
    if (gone) this.emit(p.tenant, [this.deleted(gone, now, p.subject)]);
    return gone !== null;
  }

  async list(p: Principal, opts: SessionListOptions): Promise<SessionPage> {
    return this.d.sessionStore.list(p.tenant, this.d.clock(), opts);
  }

  /**
   * A prompt ready for an LLM: a system message with the session summary and the relevant
   * long-term memories, the session's recent messages, then the query, within the token budget
   * of the session's model (or window). A session that does not exist contributes nothing.
   */
  async prompt(p: Principal, req: PromptRequest): Promise<PromptResult> {
    if (!req.session && !req.longTermSearch) {
      throw new AppError("validation_error", "either session or long_term_search is required", [
        { field: "session", message: "either session or long_term_search is required" },
      ]);
    }
    const now = this.d.clock();
    const budget = await this.budget(req.session ?? {});
    let search = req.longTermSearch;
    if (search) {
      const filter = { ...search.filter };
      // As AMS: a session's user scopes its long-term search unless the search says otherwise.
      if (req.session?.user_id && !filter.user_id) filter.user_id = { eq: req.session.user_id };
      search = { ...search, filter, text: search.text?.trim() ? search.text : req.query };
    }
    const owner = req.includeProfile ? profileOwner(req) : null;
    const [session, found, profile] = await Promise.all([
      req.session ? this.d.sessionStore.get(p.tenant, req.session.session_id, now) : null,
      search ? this.d.search.search(p, search) : null,
      owner ? this.d.profiles.get(p, owner) : null,
    ]);
    const usable = session && req.session && matches(session, req.session) ? session : null;
    const packed = packPrompt(
      {
        query: req.query,
        summary: usable?.context ?? null,
        memories: found ? found.hits.map((h) => ({ id: h.memory.id, text: h.memory.text })) : null,
        messages: usable?.messages ?? [],
        ...(profile ? { profile: profileLines(profile) } : {}),
      },
      budget.window,
      budget.counter,
    );
    const warnings = [...(found?.warnings ?? []), ...(profile?.warnings ?? [])];
    return {
      messages: packed.messages,
      memories: found ? found.hits.slice(0, packed.memoriesUsed) : [],
      tokens: packed.tokens,
      window: budget.window,
      warnings,
      ...(profile
        ? {
            profile: {
              user_id: profile.user_id,
              generated_by: profile.generated_by,
              lines: profile.stable.length + profile.recent.length,
              lines_used: packed.profileUsed,
            },
          }
        : {}),
    };
  }

  /** Deletes expired sessions (upkeep); returns how many. */
  async purgeExpired(limit = 500): Promise<number> {
    const now = this.d.clock();
    const gone = await this.d.sessionStore.deleteExpired(now, limit);
    const byTenant = new Map<string, SessionEvent[]>();
    for (const s of gone) {
      const list = byTenant.get(s.tenant) ?? [];
      list.push(this.deleted(s, now, "system", "expired"));
      byTenant.set(s.tenant, list);
    }
    for (const [tenant, events] of byTenant) this.emit(tenant, events);
    return gone.length;
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Promotes the session's unpromoted memories to long-term memory, deduplicated by id (an
   * existing long-term memory with the same id is updated only if its content differs), then
   * marks them promoted in the session, unless a newer write replaced the session meanwhile.
   */
  private async promote(p: Principal, session: Session): Promise<void> {
    const pending = session.memories.filter((m) => m.persisted_at === null);
    const existing = new Map(
      (
        await this.d.memories.getMany(
          p,
          pending.map((m) => m.id),
        )
      ).map((m) => [m.id, m]),
    );
    const changed = pending.filter((m) => {
      const e = existing.get(m.id);
      return (
        !e ||
        e.memory_hash !== m.memory_hash ||
        e.memory_type !== m.memory_type ||
        !sameList(e.topics, m.topics) ||
        !sameList(e.entities, m.entities)
      );
    });
    if (changed.length)
      await this.d.memories.create(p, changed.map(asNewMemory), { reason: "promoted from working memory" });
    const at = this.d.clock();
    const promoted = new Set(pending.map((m) => m.id));
    const memories = session.memories.map((m) => (promoted.has(m.id) ? { ...m, persisted_at: at } : m));
    await this.d.sessionStore.setMemories(session, memories);
  }

  private async budget(model: ModelParams): Promise<Budget> {
    const info = model.model_name ? modelInfo(model.model_name) : null;
    if (model.model_name && !info && !model.context_window_max) {
      throw new AppError(
        "validation_error",
        `unknown model_name '${model.model_name}': give context_window_max instead`,
        [{ field: "model_name", message: "unknown model; give context_window_max instead" }],
      );
    }
    return {
      window: model.context_window_max ?? info?.window ?? this.d.config.DEFAULT_CONTEXT_WINDOW,
      counter: await tokenCounter(info?.encoding ?? "cl100k_base"),
      explicit: Boolean(model.model_name || model.context_window_max),
    };
  }

  private tokensOf(messages: SessionMessage[], counter: TokenCounter): number {
    return messages.reduce((n, m) => n + messageTokens(counter, m), 0);
  }

  /** AMS's usage percentages (capped at 100), or null when the caller named no model or window. */
  private usage(tokens: number, budget: Budget): SessionView["usage"] {
    if (!budget.explicit) return null;
    const limit = Math.floor(budget.window * this.d.config.SUMMARIZATION_THRESHOLD);
    const pct = (n: number, of: number) => (of > 0 ? Math.min(100, (n / of) * 100) : 100);
    return { total: pct(tokens, budget.window), untilSummarization: pct(tokens, limit) };
  }

  private deleted(s: Session, at: number, actor: string, reason?: string): SessionEvent {
    return { type: "session_deleted", at, session: snapshot(s, 0, 0), actor, reason };
  }

  private emit(tenant: string, events: SessionEvent[]): void {
    if (events.length) this.d.events.publish(tenant, events);
  }
}

/** A namespace or user_id given by a reader must be the session's; one not given matches anything. */
function matches(s: Session, sel: SessionSelector): boolean {
  return (sel.namespace == null || s.namespace === sel.namespace) && (sel.user_id == null || s.user_id === sel.user_id);
}

/** A working-memory record as a long-term creation request (derived fields are rebuilt there). */
function asNewMemory(m: Memory): NewMemory {
  const {
    tenant: _t,
    memory_hash: _h,
    updated_at: _u,
    persisted_at: _p,
    embedding_model: _e,
    version: _v,
    ...rest
  } = m;
  return rest;
}

/**
 * Whose profile a prompt includes: the session's user, else the long-term search's `user_id`
 * filter ({eq}); the namespace likewise. Neither names one: a 422 on `include_profile`.
 */
function profileOwner(req: PromptRequest): ProfileQuery {
  const filter = req.longTermSearch?.filter;
  const userId = req.session?.user_id ?? filter?.user_id?.eq;
  if (!userId) {
    throw new AppError(
      "validation_error",
      "include_profile needs a user: give session.user_id or long_term_search.user_id",
      [{ field: "include_profile", message: "needs session.user_id or a long_term_search user_id filter ({eq})" }],
    );
  }
  return { userId, namespace: req.session?.namespace ?? filter?.namespace?.eq ?? null };
}

/** A profile as prompt lines, stable before recent, each citing its memories as the memory lines do. */
function profileLines(p: Profile): string[] {
  return [...p.stable, ...p.recent].map((l) => `- ${l.text} (IDs: ${l.memory_ids.join(", ")})`);
}
