import * as z from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "on", "off", "yes", "no"])
    .optional()
    .transform((v) => (v === undefined ? fallback : ["true", "1", "on", "yes"].includes(v)));
const optionalString = z
  .string()
  .optional()
  .transform((s) => (s && s.trim() ? s.trim() : undefined));

/** Every configuration variable, validated once per isolate. Secrets arrive the same way as vars. */
const schema = z.object({
  AUTH_MODE: z.enum(["none", "jwt"]).default("none"),
  JWT_SECRET: optionalString,
  JWT_JWKS: optionalString,
  JWT_JWKS_URL: optionalString,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  TENANT_CLAIM: z.string().min(1).default("tenant_id"),
  /** Tokens without `exp` are refused unless this is false (a token that never expires cannot be revoked). */
  JWT_REQUIRE_EXP: flag(true),
  /** When set, tokens issued (`iat`) longer ago than this are refused whatever their `exp`. */
  JWT_MAX_AGE_SECONDS: z.coerce.number().int().positive().optional(),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  MAX_BATCH: positiveInt(100),
  EMBEDDING_PROVIDER: z.enum(["offline", "workers-ai"]).optional(),
  EMBEDDING_MODEL: z.string().min(1).default("@cf/baai/bge-base-en-v1.5"),
  EMBEDDING_DIMENSIONS: z.coerce.number().int().positive().optional(),
  VECTOR_INDEX: z.enum(["d1", "vectorize"]).optional(),
  /** Re-score the best hybrid candidates with a Workers AI cross-encoder (needs the AI binding; off otherwise). */
  RERANK: flag(false),
  RERANK_MODEL: z.string().min(1).default("@cf/baai/bge-reranker-base"),
  /** How many fused candidates the reranker reads (more costs latency). */
  RERANK_TOP_N: z.coerce.number().int().min(1).max(100).default(20),
  /** Past this, search answers in fused order with a warning. */
  RERANK_TIMEOUT_MS: positiveInt(1500),
  /**
   * How long an isolate trusts a tenant's placement (which shard holds it) before reading the
   * directory again. A tenant move waits at least this long after switching before it deletes the
   * source (docs/deploy.md "Moving a tenant").
   */
  PLACEMENT_TTL_SECONDS: z.coerce.number().positive().max(300).default(10),
  LAST_ACCESSED_MIN_INTERVAL_SECONDS: z.coerce.number().min(0).default(60),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LLM_PROVIDER: z.enum(["offline", "workers-ai", "openai"]).optional(),
  LLM_MODEL: optionalString,
  LLM_BASE_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  LLM_API_KEY: optionalString,
  LLM_TIMEOUT_MS: positiveInt(30_000),
  LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  LLM_CONTEXT_WINDOW: z.coerce.number().int().min(2048).optional(),
  WORKING_MEMORY_SUMMARIZATION: flag(true),
  SUMMARIZATION_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.7),
  DEFAULT_CONTEXT_WINDOW: positiveInt(16_000),
  DEDUP_ON_WRITE: flag(true),
  DEDUP_SIMILARITY: z.coerce.number().gt(0).max(1).optional(),
  FEEDBACK_RANK_WEIGHT: z.coerce.number().min(0).max(1).default(0.5),
  FEEDBACK_DELETE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.3),
  FEEDBACK_DELETE_AFTER: z.coerce.number().int().min(1).default(2),
  CONSOLIDATION: flag(true),
  FORGET_POLICY: optionalString,
  WS_RATE_LIMIT: positiveInt(120),
  WS_MAX_FRAME_BYTES: positiveInt(256 * 1024),
  /**
   * Origins whose pages may call the API from a browser (CORS), comma-separated, or `*` for any.
   * Unset: none (same-origin pages such as the explorer need nothing).
   */
  CORS_ORIGINS: optionalString
    .transform((s) =>
      s
        ? s
            .split(",")
            .map((o) => o.trim())
            .filter(Boolean)
        : [],
    )
    .pipe(
      z.array(
        z.string().refine((o) => o === "*" || URL.parse(o)?.origin === o, {
          message: "each entry must be * or an origin such as https://app.example.com (no path, no trailing slash)",
        }),
      ),
    ),
});

export type Config = z.output<typeof schema> & {
  embeddingProvider: "offline" | "workers-ai";
  llmProvider: "offline" | "workers-ai" | "openai";
  llmModel: string;
  vectorIndex: "d1" | "vectorize";
  embeddingDimensions: number;
};

const cache = new WeakMap<object, Config>();

/** Known dimensions of Workers AI embedding models. */
const MODEL_DIMENSIONS: Record<string, number> = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
  "@cf/baai/bge-m3": 1024,
};

/** The model each LLM provider uses unless LLM_MODEL names another. */
const DEFAULT_LLM_MODEL = {
  offline: "offline-extractive",
  "workers-ai": "@cf/meta/llama-3.1-8b-instruct",
  openai: "gpt-4o-mini",
} as const;

/**
 * Reads configuration from the Worker environment. Production adapters are chosen by
 * configuration: Workers AI and Vectorize when their bindings exist (or when named explicitly),
 * an OpenAI-compatible LLM when LLM_BASE_URL is set.
 */
export function loadConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const c = parsed.data;
  const bindings = env as unknown as Record<string, unknown>;
  const embeddingProvider = c.EMBEDDING_PROVIDER ?? (bindings.AI ? "workers-ai" : "offline");
  const vectorIndex = c.VECTOR_INDEX ?? (bindings.VECTORIZE ? "vectorize" : "d1");
  if (embeddingProvider === "workers-ai" && !bindings.AI)
    throw new Error("EMBEDDING_PROVIDER=workers-ai needs the AI binding");
  if (vectorIndex === "vectorize" && !bindings.VECTORIZE)
    throw new Error("VECTOR_INDEX=vectorize needs the VECTORIZE binding");
  const llmProvider = c.LLM_PROVIDER ?? (c.LLM_BASE_URL ? "openai" : bindings.AI ? "workers-ai" : "offline");
  if (llmProvider === "openai" && !c.LLM_BASE_URL) throw new Error("LLM_PROVIDER=openai needs LLM_BASE_URL");
  if (llmProvider === "workers-ai" && !bindings.AI) throw new Error("LLM_PROVIDER=workers-ai needs the AI binding");
  const llmModel = c.LLM_MODEL ?? DEFAULT_LLM_MODEL[llmProvider];
  if (c.AUTH_MODE === "jwt" && !c.JWT_SECRET && !c.JWT_JWKS && !c.JWT_JWKS_URL) {
    throw new Error("AUTH_MODE=jwt needs JWT_SECRET, JWT_JWKS or JWT_JWKS_URL");
  }
  const embeddingDimensions =
    c.EMBEDDING_DIMENSIONS ?? (embeddingProvider === "workers-ai" ? (MODEL_DIMENSIONS[c.EMBEDDING_MODEL] ?? 768) : 256);
  const config: Config = { ...c, embeddingProvider, llmProvider, llmModel, vectorIndex, embeddingDimensions };
  cache.set(env, config);
  return config;
}
