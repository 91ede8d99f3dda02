import { ChatLlm } from "./ai/chat-llm.ts";
import type { Embedder } from "./ai/embedder.ts";
import type { LlmProvider } from "./ai/llm.ts";
import { OfflineLlm } from "./ai/offline-llm.ts";
import { OpenAiChat } from "./ai/openai-chat.ts";
import { WorkersAiChat, type AiRunner } from "./ai/workers-ai-chat.ts";
import { OfflineEmbedder } from "./ai/offline-embedder.ts";
import { WorkersAiReranker } from "./ai/workers-ai-reranker.ts";
import { WorkersAiEmbedder } from "./ai/workers-ai-embedder.ts";
import { loadConfig, type Config } from "./config.ts";
import { DEFAULT_KEYWORD_FLOOR } from "./domain/relevance.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { chunkEvents } from "./service/events.ts";
import { Consolidation } from "./service/consolidation.ts";
import { TenantExport } from "./service/export.ts";
import { Feedback } from "./service/feedback.ts";
import { KnowledgeGraph } from "./service/graph.ts";
import { MemorySearch } from "./service/memory-search.ts";
import { MemoryCommit } from "./service/memory-commit.ts";
import { Memories } from "./service/memories.ts";
import type { EventSink } from "./service/ports.ts";
import { Profiles } from "./service/profile.ts";
import { TenantStats } from "./service/stats.ts";
import { TenantMoves } from "./service/tenant-move.ts";
import { Thinker } from "./service/think.ts";
import { Upkeep } from "./service/upkeep.ts";
import { WorkingMemory } from "./service/working-memory.ts";
import { RequestDatabases, ShardSweep, Shards, DIRECTORY, type TenantDb } from "./store/databases.ts";
import { ExportRepo } from "./store/export-repo.ts";
import { GraphRepo } from "./store/graph-repo.ts";
import { MaintenanceRepo } from "./store/maintenance-repo.ts";
import { MemoryRepo } from "./store/memory-repo.ts";
import { ProfileRepo } from "./store/profile-repo.ts";
import { SessionRepo } from "./store/session-repo.ts";
import { TenantCopy } from "./store/tenant-copy.ts";
import { VectorRepo } from "./store/vector-repo.ts";
import { D1VectorIndex } from "./vector/d1-vector-index.ts";
import type { VectorIndex } from "./vector/vector-index.ts";
import { VectorizeVectorIndex } from "./vector/vectorize-index.ts";

export interface AppDeps {
  config: Config;
  log: Logger;
  memories: Memories;
  search: MemorySearch;
  upkeep: Upkeep;
  sessions: WorkingMemory;
  graph: KnowledgeGraph;
  think: Thinker;
  feedback: Feedback;
  stats: TenantStats;
  consolidation: Consolidation;
  profiles: Profiles;
  /** The tenant's export and import (`edgemem-export` JSON Lines). */
  exports: TenantExport;
  /** This request's D1 sessions: its consistency (primary or nearest replica) and its bookmark. */
  databases: RequestDatabases;
  /** Tenant placement and moves between shards (the admin routes). */
  moves: TenantMoves;
}

/** What a cron sweep of one shard gets: the services, every query on that shard's primary. */
export type SweepDeps = Omit<AppDeps, "databases" | "moves">;

/**
 * The only place that reads the storage and AI bindings (D1, Vectorize, Workers AI): picks production or offline adapters by configuration.
 * `events` replaces the hub sink (the hub itself publishes locally).
 */
export function buildDeps(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, events?: EventSink): AppDeps {
  const shards = shardsOf(env);
  const placementTtlMs = loadConfig(env).PLACEMENT_TTL_SECONDS * 1000;
  const databases = new RequestDatabases(shards, Date.now, placementTtlMs);
  const app = services(env, ctx, databases, events ?? hubSink(env, ctx, databases));
  const moves = new TenantMoves({ store: new TenantCopy(shards), log: app.log, clock: Date.now, placementTtlMs });
  return { ...app, databases, moves };
}

/** One set of services per bound shard, for the cron sweeps (upkeep, consolidation). */
export function buildSweeps(env: Env, ctx: Pick<ExecutionContext, "waitUntil">): { shard: string; deps: SweepDeps }[] {
  const shards = shardsOf(env);
  return shards.names.map((shard) => {
    const sweep = new ShardSweep(shard, shards.db(shard));
    return { shard, deps: services(env, ctx, sweep, hubSink(env, ctx, null)) };
  });
}

/** The D1 databases bound: `DB`, then `DB_SHARD_1`, `DB_SHARD_2`, … in number order. */
function shardsOf(env: Env): Shards {
  const bound = env as unknown as Record<string, unknown>;
  const extra = Object.keys(bound)
    .filter((k) => /^DB_SHARD_\d+$/.test(k))
    .sort((a, b) => Number(a.slice(9)) - Number(b.slice(9)));
  return new Shards(new Map([DIRECTORY, ...extra].map((k) => [k, bound[k] as D1Database])));
}

function services(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, dbs: TenantDb, events: EventSink): SweepDeps {
  const config = loadConfig(env);
  const log = createLogger(config.LOG_LEVEL);
  const defer = (p: Promise<unknown>) => ctx.waitUntil(p);
  const vectors = new VectorRepo(dbs);
  const index: VectorIndex =
    config.vectorIndex === "vectorize"
      ? new VectorizeVectorIndex(env.VECTORIZE as unknown as Vectorize, vectors, defer)
      : new D1VectorIndex(vectors);
  const embedder: Embedder =
    config.embeddingProvider === "workers-ai"
      ? new WorkersAiEmbedder(env.AI!, config.EMBEDDING_MODEL, config.embeddingDimensions)
      : offlineEmbedder(config.embeddingDimensions);
  // The reranker runs only where Workers AI does: offline there is no cross-encoder to call.
  const reranker =
    config.RERANK && env.AI ? new WorkersAiReranker(env.AI as unknown as AiRunner, config.RERANK_MODEL) : null;
  const clock = Date.now;
  const memoryStore = new MemoryRepo(dbs, index.remote);
  const graphStore = new GraphRepo(dbs);
  // The consolidation state and the statistics (feedback rows are written with their memory's change).
  const maintenanceStore = new MaintenanceRepo(dbs);
  const commit = new MemoryCommit({ memoryStore, index, embedder, events, log, clock, defer });
  const upkeep = new Upkeep({ memoryStore, index, embedder, commit, log, clock, defer });
  const memories = new Memories({ memoryStore, graphStore, index, embedder, commit, upkeep, config, clock });
  const search = new MemorySearch({ memoryStore, index, embedder, reranker, upkeep, config, log, clock, defer });
  const llm = llmProvider(env, config);
  const profiles = new Profiles({
    memoryStore,
    graphStore,
    profileStore: new ProfileRepo(dbs),
    llm,
    summarize: config.llmProvider !== "offline",
    log,
    clock,
  });
  const sessions = new WorkingMemory({
    sessionStore: new SessionRepo(dbs),
    memories,
    search,
    profiles,
    llm,
    events,
    config,
    log,
    clock,
    defer,
  });
  const graph = new KnowledgeGraph({ memories, graphStore, llm, clock });
  const think = new Thinker({
    search,
    graph,
    memories,
    llm,
    relevance: { vector: embedder.relevanceFloor, keyword: DEFAULT_KEYWORD_FLOOR },
    clock,
  });
  const feedback = new Feedback({ memories, feedbackStore: maintenanceStore, config, clock });
  const stats = new TenantStats({ graphStore, maintenanceStore, clock });
  const consolidation = new Consolidation({
    memories,
    maintenanceStore,
    llm,
    config,
    nearDuplicate: config.DEDUP_SIMILARITY ?? embedder.nearDuplicate,
    log,
    clock,
  });
  const exports = new TenantExport({
    exportStore: new ExportRepo(dbs),
    memoryStore,
    memories,
    commit,
    log,
    clock,
  });
  return {
    config,
    log,
    memories,
    search,
    upkeep,
    sessions,
    graph,
    think,
    feedback,
    stats,
    consolidation,
    profiles,
    exports,
  };
}

const offlineLlm = new OfflineLlm();

/** The configured LLM: an OpenAI-compatible endpoint, Workers AI, or the offline extractive provider. */
function llmProvider(env: Env, config: Config): LlmProvider {
  const retry = { retries: config.LLM_MAX_RETRIES, baseMs: 500 };
  switch (config.llmProvider) {
    case "openai":
      return new ChatLlm(
        new OpenAiChat({
          baseUrl: config.LLM_BASE_URL!,
          apiKey: config.LLM_API_KEY,
          model: config.llmModel,
          timeoutMs: config.LLM_TIMEOUT_MS,
          retry,
        }),
        config.llmModel,
        config.LLM_CONTEXT_WINDOW,
      );
    case "workers-ai":
      return new ChatLlm(
        new WorkersAiChat(env.AI as unknown as AiRunner, config.llmModel, config.LLM_TIMEOUT_MS, retry),
        config.llmModel,
        config.LLM_CONTEXT_WINDOW,
      );
    case "offline":
      return offlineLlm;
  }
}

let offline: OfflineEmbedder | null = null;
function offlineEmbedder(dims: number): OfflineEmbedder {
  if (offline?.dimensions !== dims) offline = new OfflineEmbedder(dims);
  return offline;
}

/**
 * Publishes events to the tenant's hub after the response, in chunks sent one after the other (and
 * after this request's earlier publishes), so the hub numbers them in the order they happened. A hub
 * failure never fails a write. Each chunk carries the request's bookmark (after the write that
 * caused it), so the hub's WebSocket commands read at least that fresh.
 */
function hubSink(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, dbs: RequestDatabases | null): EventSink {
  const log = createLogger(loadConfig(env).LOG_LEVEL);
  let tail: Promise<void> = Promise.resolve();
  return {
    publish(tenant, events) {
      const hub = env.TENANT_HUB.getByName(tenant);
      const chunks = chunkEvents(events);
      tail = tail.then(async () => {
        for (const chunk of chunks) {
          await hub
            .publish(chunk, dbs?.bookmark() ?? null)
            .catch((e: unknown) =>
              log.warn("event publish failed", { tenant, events: chunk.length, error: errorMessage(e) }),
            );
        }
      });
      ctx.waitUntil(tail);
    },
  };
}
