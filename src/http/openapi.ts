import * as z from "zod";
import type { Operation } from "./handler.ts";
import { errorOut } from "../wire/http.ts";

type Json = Record<string, unknown>;

const REF = "#/components/schemas/";
const NDJSON = "application/x-ndjson";

/** Error responses an operation can give, by what it declares. */
function errorStatuses(op: Operation): Record<string, string> {
  const out: Record<string, string> = {};
  if (op.body) out["400"] = "The body is not JSON.";
  if (op.auth !== "open") {
    out["401"] = "No token, or an invalid or expired one (when auth is on).";
    out["403"] = `The token lacks the memory:${op.auth} scope.`;
  }
  // Admin routes name a tenant, not a record: an unknown tenant is an answer, not a 404.
  if (op.params && op.auth !== "admin") out["404"] = "Not found (or another tenant's).";
  if (op.body) out["413"] = "The body exceeds MAX_BODY_BYTES.";
  if (op.linesBody) out["413"] = "The body exceeds the import's size cap.";
  if (op.params || op.query || op.body || op.linesBody) out["422"] = "Invalid input; `issues` names each field.";
  return { ...out, ...op.errors };
}

/** `/v1/long-term-memory/:id` → `/v1/long-term-memory/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/g, "{$1}");

/**
 * The OpenAPI 3.1 document of every registered operation, generated from the zod schemas that
 * validate the routes (zod's JSON Schema output: OpenAPI 3.1 uses JSON Schema 2020-12). Named
 * schemas (`.meta({id})`) become components; each operation's own body and response too.
 */
export function openApiDocument(operations: readonly Operation[], info: { version: string }): Json {
  // Components: every named schema (`.meta({id})`, nested ones included, so references land in
  // components rather than a shared `$defs` bag), and each operation's body and response.
  const registry = z.registry<{ id: string }>();
  const name = (schema: z.ZodType, id: string) => registry.has(schema) || registry.add(schema, { id });
  for (const schema of [errorOut, ...operations.flatMap((o) => [o.body, o.linesBody, o.response, o.events])]) {
    if (schema) collectNamed(schema, name);
  }
  for (const op of operations) {
    if (op.body) name(op.body, `${cap(op.operationId)}Request`);
    if (op.linesBody) name(op.linesBody, `${cap(op.operationId)}Line`);
    if (op.response) name(op.response, `${cap(op.operationId)}Response`);
    if (op.events) name(op.events, `${cap(op.operationId)}Event`);
  }
  const ref = (schema: z.ZodType) => ({ $ref: REF + registry.get(schema)!.id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => REF + id, io: "input", unrepresentable: "any" }) as {
    schemas: Record<string, Json>;
  };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }

  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const parameters: Json[] = [];
    for (const [where, obj] of [
      ["path", op.params],
      ["query", op.query],
    ] as const) {
      if (!obj) continue;
      for (const [name, field] of Object.entries(obj.shape as Record<string, z.ZodType>)) {
        const schema = jsonSchemaOf(field);
        const description = schema.description;
        delete schema.description;
        parameters.push({
          name,
          in: where,
          required: where === "path" || !field.safeParse(undefined).success,
          ...(description ? { description } : {}),
          schema,
        });
      }
    }
    const error = { "application/json": { schema: ref(errorOut) } };
    const ok: Json = { description: op.response ? "Success." : "Success, no body." };
    if (op.headers) {
      ok.headers = Object.fromEntries(
        Object.entries(op.headers).map(([name, description]) => [name, { description, schema: { type: "string" } }]),
      );
    }
    if (op.response) {
      ok.content = {
        [op.linesResponse ? NDJSON : "application/json"]: {
          schema: ref(op.response),
          ...(op.linesResponse ? { description: "JSON Lines: one such object per line." } : {}),
        },
        ...(op.events
          ? {
              "text/event-stream": {
                schema: ref(op.events),
                description: "With stream: true, one JSON event per `data:` line.",
              },
            }
          : {}),
      };
    }
    const responses: Json = { [String(op.status ?? (op.response ? 200 : 204))]: ok };
    for (const [status, description] of Object.entries(errorStatuses(op)))
      responses[status] = { description, content: error };
    responses.default = { description: "Any other error (5xx: upstream LLM or internal).", content: error };
    const operation: Json = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security: op.auth === "open" ? [] : [{ bearerAuth: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? { requestBody: { required: !op.bodyOptional, content: { "application/json": { schema: ref(op.body) } } } }
        : {}),
      ...(op.linesBody
        ? {
            requestBody: {
              required: true,
              content: {
                [NDJSON]: { schema: ref(op.linesBody), description: "JSON Lines: one such object per line." },
              },
            },
          }
        : {}),
      responses,
    };
    (paths[openApiPath(op.path)] ??= {})[op.method] = operation;
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "edgemem",
      version: info.version,
      description:
        "Memory for AI agents on Cloudflare's edge: the Agent Memory Server REST API, the memory CRUD API and edgemem's knowledge layer. WebSockets (/ws, /api/v1/socket) and MCP (/mcp) are described in the README.",
    },
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "The tenant comes from the token's tenant claim; scope memory:read or memory:write (none: both). Not needed when AUTH_MODE=none.",
        },
      },
    },
  };
}

function cap(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

function jsonSchemaOf(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", reused: "inline" }) as Json;
  delete out.$schema;
  return out;
}

/**
 * Calls `found` for each schema with a global `.meta({id})` inside `schema`, its own included
 * (walks the definition: object shapes, array elements, union options, wrapped types).
 */
function collectNamed(schema: z.ZodType, found: (s: z.ZodType, id: string) => void, seen = new Set<z.ZodType>()): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  const id = z.globalRegistry.get(schema)?.id;
  if (typeof id === "string") found(schema, id);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  for (const v of Object.values(def)) {
    const children =
      v instanceof z.ZodType ? [v] : Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : [];
    for (const c of children) if (c instanceof z.ZodType) collectNamed(c, found, seen);
  }
}
