import * as z from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
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
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  MAX_BATCH: positiveInt(100),
  EMBEDDING_PROVIDER: z.enum(["offline", "workers-ai"]).optional(),
  EMBEDDING_MODEL: z.string().min(1).default("@cf/baai/bge-base-en-v1.5"),
  EMBEDDING_DIMENSIONS: z.coerce.number().int().positive().optional(),
  VECTOR_INDEX: z.enum(["d1", "vectorize"]).optional(),
  LAST_ACCESSED_MIN_INTERVAL_SECONDS: z.coerce.number().min(0).default(60),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type Config = z.output<typeof schema> & {
  embeddingProvider: "offline" | "workers-ai";
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

/**
 * Reads configuration from the Worker environment. Production adapters are chosen by
 * configuration: Workers AI and Vectorize when their bindings exist (or when named explicitly).
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
  if (embeddingProvider === "workers-ai" && !bindings.AI) throw new Error("EMBEDDING_PROVIDER=workers-ai needs the AI binding");
  if (vectorIndex === "vectorize" && !bindings.VECTORIZE) throw new Error("VECTOR_INDEX=vectorize needs the VECTORIZE binding");
  if (c.AUTH_MODE === "jwt" && !c.JWT_SECRET && !c.JWT_JWKS && !c.JWT_JWKS_URL) {
    throw new Error("AUTH_MODE=jwt needs JWT_SECRET, JWT_JWKS or JWT_JWKS_URL");
  }
  const embeddingDimensions =
    c.EMBEDDING_DIMENSIONS ?? (embeddingProvider === "workers-ai" ? (MODEL_DIMENSIONS[c.EMBEDDING_MODEL] ?? 768) : 256);
  const config: Config = { ...c, embeddingProvider, vectorIndex, embeddingDimensions };
  cache.set(env, config);
  return config;
}
