import { env } from "cloudflare:workers";
import fc from "fast-check";
import { dbOf } from "./shards.ts";

/**
 * Property-based fuzzing support: request bodies generated from the very JSON Schemas the server
 * documents (OpenAPI components, MCP tool input schemas), with hostile values mixed in at every
 * level, so every route and tool is covered — including ones added later — without a hand-written
 * generator each.
 */

/** Runs per property: FUZZ_RUNS (`npm run fuzz -- --runs N`) or a small default that keeps `npm test` quick. */
export const RUNS = Number((env as unknown as Record<string, string | undefined>).FUZZ_RUNS ?? "") || 25;
/** A fixed seed by default (reproducible CI); FUZZ_SEED picks another. */
export const SEED = Number((env as unknown as Record<string, string | undefined>).FUZZ_SEED ?? "") || 20261202;

export type JsonSchema = Record<string, any>;

/** Strings users and attackers send: unicode edge cases, FTS/SQL/LIKE metacharacters, URLs, long runs. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff\ud800",
    "🧠💾🚀👩‍👩‍👧‍👦🏳️‍🌈",
    "記憶はエッジで動きます。東京で会いましょう、来週の火曜日に。",
    "مرحبا بالعالم",
    "Ω≈ç√∫˜µ≤≥÷",
    "e\u0301\u0301\u0301",
    "\u202egnp.exe",
    '"; DROP TABLE memories; --',
    "' OR 1=1 --",
    '"hello" AND world* NEAR(a b) ^start col:value -NOT (x OR',
    "%_\\%\\_%%",
    "https://example.com/a/very/long/path?with=query&and=more#fragment-that-is-long",
    "maria.lopez+work@example-company.co.uk",
    "supercalifragilisticexpialidociousantidisestablishment",
    "What programming language did I say I prefer for backend services, and why would that matter now?",
    '{"a":[[[[1]]]]}',
    "null",
    "-1",
    "1e309",
    "NaN",
    "2026-02-30T25:61:61Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "+275760-09-13T00:00:00.000Z",
    "%",
    "%zz",
    "%E0%A4%A",
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.nat({ max: 120_000 }).map((n) => "z".repeat(n)),
  fc
    .array(fc.constantFrom("alpha", "東京", "🦀", "x".repeat(49), "and", "the", "Redis", "2026"), { maxLength: 80 })
    .map((w) => w.join(" ")),
);

/** Numbers at the edges: zero, negatives, fractions, huge, dates in ms/s far outside any calendar. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    -0.5,
    1e-300,
    2 ** 31,
    2 ** 53,
    -(2 ** 53),
    9e12,
    -9e12,
    1e13,
    8.64e15,
    8.64e15 + 1,
    1e300,
    -1e300,
    Number.MAX_VALUE,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** JSON nested `depth` levels deep (arrays or objects). */
export const deepJson = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

/** A JSON text putting a `depth`-deep array in every free-form field a body may have. */
export const deepBody = (depth: number): string => {
  const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
  return `{"memories":[{"text":"deep","metadata":${deep}}],"metadata":${deep},"data":${deep},"value":"deep","key":"deep","text":"deep","messages":[{"role":"user","content":"deep"}]}`;
};

/** Any hostile JSON value: wrong types, deep nesting, big lists. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(null, true, false, [], {}),
  // Deeper values are sent as raw JSON text (see deepBody): fast-check cannot print them.
  fc.constantFrom(10, 31, 32, 33, 100).map((d) => deepJson(d)),
  fc.nat({ max: 1_200 }).map((n) => Array.from({ length: n }, (_, i) => `v${i}`)),
  fc.jsonValue({ maxDepth: 3 }),
);

interface Ctx {
  doc: JsonSchema;
  /** Probability that a node is replaced by a hostile value. */
  chaos: number;
  depth: number;
}

/**
 * An arbitrary for values of a JSON Schema (draft 2020-12 as zod emits it): mostly valid, with
 * hostile values swapped in at random nodes.
 */
export function fromSchema(schema: JsonSchema, doc: JsonSchema = {}, chaos = 0.08): fc.Arbitrary<unknown> {
  return node(schema, { doc, chaos, depth: 0 });
}

function node(schema: JsonSchema, ctx: Ctx): fc.Arbitrary<unknown> {
  const valid = validNode(schema, { ...ctx, depth: ctx.depth + 1 });
  if (ctx.chaos <= 0) return valid;
  const hostileWeight = Math.max(1, Math.round(100 * ctx.chaos));
  return fc.oneof(
    { weight: 100 - hostileWeight, arbitrary: valid },
    { weight: hostileWeight, arbitrary: hostileValue },
  );
}

function validNode(schema: JsonSchema, ctx: Ctx): fc.Arbitrary<unknown> {
  if (ctx.depth > 12) return fc.constant(null);
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return node(ctx.doc.components?.schemas?.[name] ?? ctx.doc.$defs?.[name] ?? {}, ctx);
  }
  if ("const" in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map((s) => node(s, ctx)));
  if (schema.allOf) return node(Object.assign({}, ...(schema.allOf as JsonSchema[])), ctx);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object":
      return objectNode(schema, ctx);
    case "array": {
      const min = schema.minItems ?? 0;
      const max = Math.max(min, Math.min(schema.maxItems ?? 6, min + 6));
      if (schema.prefixItems) return fc.tuple(...(schema.prefixItems as JsonSchema[]).map((s) => node(s, ctx)));
      const big = schema.maxItems !== undefined && schema.maxItems > 6 ? [fc.constant(schema.maxItems as number)] : [];
      return fc
        .oneof(fc.integer({ min, max }), ...big)
        .chain((n) => fc.array(node(schema.items ?? {}, ctx), { minLength: n, maxLength: n }));
    }
    case "string":
      return stringNode(schema);
    case "integer":
    case "number":
      return numberNode(schema, type === "integer");
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectNode(schema: JsonSchema, ctx: Ctx): fc.Arbitrary<unknown> {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set<string>((schema.required as string[]) ?? []);
  const keys = Object.keys(props);
  if (!keys.length) {
    // Free-form objects (metadata, data): small JSON, sometimes deep or big.
    return fc.oneof(
      {
        weight: 6,
        arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
      },
      { weight: 1, arbitrary: fc.constantFrom(20, 31, 32, 33, 60).map((d) => ({ a: deepJson(d) })) },
    );
  }
  const record = fc.record(Object.fromEntries(keys.map((k) => [k, node(props[k]!, ctx)])), {
    requiredKeys: keys.filter((k) => required.has(k)),
  });
  if (ctx.chaos <= 0) return record;
  // Now and then an unknown field rides along.
  return fc
    .tuple(record, fc.option(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), hostileValue), { freq: 10 }))
    .map(([r, extra]) => (extra ? { ...(r as object), [extra[0]]: extra[1] } : r));
}

function stringNode(schema: JsonSchema): fc.Arbitrary<string> {
  const max = Math.min(schema.maxLength ?? 200, 200);
  const min = Math.min(schema.minLength ?? 0, max);
  if (schema.format === "date-time") {
    return fc
      .date({ min: new Date("1000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  const sized = (s: string) => (s.length < min ? s.padEnd(min, "x") : s.slice(0, Math.max(min, max)));
  return fc
    .oneof(
      { weight: 5, arbitrary: fc.lorem({ maxCount: 12 }) },
      { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: max }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("東京で会いましょう", "🧠 memory 💾", "Maria prefers Rust for backend services"),
      },
      // At the documented maximum (long texts stress the write path).
      { weight: 1, arbitrary: fc.constant("long words ".repeat(Math.ceil((schema.maxLength ?? 200) / 11))) },
    )
    .map((s) => {
      const full =
        schema.maxLength !== undefined && s.startsWith("long words ") ? s.slice(0, schema.maxLength) : sized(s);
      return full.length < min ? full.padEnd(min, "x") : full;
    });
}

function numberNode(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo =
    schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : 1e-9) : -1e6);
  const hi =
    schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : 1e-9) : 1e6);
  if (integer) {
    const min = Math.max(Math.ceil(lo), Number.MIN_SAFE_INTEGER);
    const max = Math.min(Math.floor(hi), Number.MAX_SAFE_INTEGER);
    return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
  }
  return fc.oneof(fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(lo, hi));
}

/**
 * fc.assert, with its failure report made well-formed UTF-16: a counterexample holding a lone
 * surrogate would otherwise break the test pool's WebSocket and hide the failure itself.
 */
export async function check<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  try {
    await fc.assert(property, params);
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `\ncaused by: ${e.cause.message}` : "";
    const message = `${e instanceof Error ? e.message : String(e)}${cause}`;
    throw new Error(
      message.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"),
    );
  }
}

/** Rows a tenant owns, by table: a rejected request must leave every count as it was. */
export async function footprint(tenant: string): Promise<Record<string, number>> {
  const tables = [
    "memories",
    "memory_history",
    "memory_vectors",
    "working_memory",
    "entities",
    "relations",
    "feedback",
  ];
  const db = await dbOf(tenant);
  const rows = await db.batch<{ n: number }>(
    tables.map((t) => db.prepare(`SELECT count(*) AS n FROM ${t} WHERE tenant = ?`).bind(tenant)),
  );
  return Object.fromEntries(tables.map((t, i) => [t, Number(rows[i]!.results[0]!.n)]));
}
