import { describe, expect, it } from "vitest";
import { operations } from "../src/http/handler.ts";
import { openApiPath } from "../src/http/openapi.ts";
import { errorOut } from "../src/wire/http.ts";
import { router } from "../src/http/routes.ts";
import { call, tenantApi, type Reply } from "./support/api.ts";
import { env } from "cloudflare:workers";

const doc = async () => (await call(env, "GET", "/openapi.json")).body as any;

/** The (method, path) pairs itty-router really serves. */
function servedRoutes(): string[] {
  return (router.routes as unknown as [string, RegExp, unknown, string][]).map(
    // itty-router keeps the root as "".
    ([method, , , path]) => `${method.toLowerCase()} ${openApiPath(path) || "/"}`,
  );
}

describe("OpenAPI document (/openapi.json)", () => {
  // The refactors must not change the contract: a deliberate change updates the file with
  // `npx vitest run test/openapi.test.ts -u` and shows up in review as a diff of the document.
  it("is byte-for-byte the committed document (test/__snapshots__/openapi.json)", async () => {
    await expect(JSON.stringify(await doc(), null, 2) + "\n").toMatchFileSnapshot("./__snapshots__/openapi.json");
  });

  it("is OpenAPI 3.1 with bearer auth, and documents every route the router serves, and nothing else", async () => {
    const d = await doc();
    expect(d.openapi).toBe("3.1.0");
    expect(d.components.securitySchemes.bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    // itty-router drops a trailing slash (and matches with or without one); AMS paths keep theirs.
    const documented = Object.entries(d.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m} ${path.replace(/(.)\/$/, "$1")}`),
    );
    const served = servedRoutes();
    // A route added without an operation (r.get(...) directly) fails here.
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !served.includes(r))).toEqual([]);
    expect(served.length).toBeGreaterThan(25);
    const ids = Object.values(d.paths as Record<string, Record<string, any>>)
      .flatMap((item) => Object.values(item).map((o) => o.operationId))
      .filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("describes bodies, parameters, responses and errors from the route schemas; every $ref resolves", async () => {
    const d = await doc();
    const search = d.paths["/v1/long-term-memory/search"].post;
    expect(search.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/SearchLongTermMemoryRequest",
    });
    const body = d.components.schemas.SearchLongTermMemoryRequest;
    expect(body.properties.limit).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 10 });
    expect(body.properties.search_mode.anyOf[0].enum).toEqual(["hybrid", "semantic", "keyword"]);
    expect(search.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/MemoryRecordResults",
    });
    expect(d.components.schemas.MemoryRecordResults.properties.memories.items).toEqual({
      $ref: "#/components/schemas/MemoryHit",
    });
    expect(Object.keys(search.responses).sort()).toEqual(["200", "400", "401", "403", "413", "422", "default"]);
    expect(search.security).toEqual([{ bearerAuth: [] }]);
    expect(d.paths["/v1/health"].get.security).toEqual([]);

    const get = d.paths["/v1/working-memory/{session_id}"].get;
    expect(get.parameters.find((p: any) => p.name === "session_id")).toMatchObject({ in: "path", required: true });
    expect(get.parameters.find((p: any) => p.name === "recent_messages_limit")).toMatchObject({
      in: "query",
      required: false,
    });
    expect(d.paths["/api/memories"].post.responses["201"]).toBeDefined();
    expect(d.paths["/api/memories/{id}"].delete.responses["204"]).toEqual({ description: "Success, no body." });
    expect(d.paths["/v1/think"].post.responses["200"].content["text/event-stream"]).toBeDefined();
    expect(d.components.schemas.Error.properties.error.enum).toContain("validation_error");

    const refs = JSON.stringify(d).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(50);
    for (const r of new Set(refs)) {
      const target = r.slice(8, -1);
      expect(target.startsWith("#/components/schemas/"), target).toBe(true);
      expect(d.components.schemas[target.slice("#/components/schemas/".length)], target).toBeDefined();
    }
  });

  it("what every route answers matches its documented response schema", async () => {
    const api = await tenantApi();
    const checked = new Set<string>();
    /** Calls a route and validates the answer against the operation documented for it. */
    const check = async (method: string, path: string, template: string, body?: unknown): Promise<Reply> => {
      const res = await api.call(method, path, body);
      const op = operations.find((o) => o.method === method.toLowerCase() && o.path === template);
      expect(op, `${method} ${template} is documented`).toBeDefined();
      if (res.status >= 400) {
        expect(errorOut.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
      } else {
        expect(res.status, `${method} ${path}`).toBe(op!.status ?? (op!.response ? 200 : 204));
        if (op!.response) {
          const parsed = op!.response.safeParse(res.body);
          expect(parsed.success, `${method} ${path}: ${parsed.error?.message}`).toBe(true);
        }
      }
      checked.add(`${op!.method} ${op!.path}`);
      return res;
    };
    await check("GET", "/v1/health", "/v1/health");
    await check("POST", "/v1/long-term-memory/", "/v1/long-term-memory/", {
      memories: [
        { id: "m1", text: "We decided to use Redis for caching", user_id: "u1", event_date: "2025-01-02T00:00:00Z" },
        { id: "m2", text: "We decided to use Redis for caching" },
      ],
    });
    await check("POST", "/v1/long-term-memory/search", "/v1/long-term-memory/search", {
      text: "caching",
      explain: true,
    });
    await check("GET", "/v1/long-term-memory/m1", "/v1/long-term-memory/:id");
    await check("PATCH", "/v1/long-term-memory/m1", "/v1/long-term-memory/:id", { topics: ["infra"] });
    await check("GET", "/v1/long-term-memory/m1/history", "/v1/long-term-memory/:id/history");
    await check("POST", "/v1/long-term-memory/m1/invalidate", "/v1/long-term-memory/:id/invalidate", {
      reason: "no longer true",
    });
    await check("POST", "/v1/long-term-memory/forget", "/v1/long-term-memory/forget", { policy: { max_age_days: 0 } });
    await check("PUT", "/v1/working-memory/s1", "/v1/working-memory/:session_id", {
      messages: [{ role: "user", content: "Plan the launch" }],
      memories: [{ id: "wm1", text: "Launch is in May" }],
    });
    await check("GET", "/v1/working-memory/s1?model_name=gpt-4o", "/v1/working-memory/:session_id");
    await check("GET", "/v1/working-memory/", "/v1/working-memory/");
    await check("POST", "/v1/memory/prompt", "/v1/memory/prompt", {
      query: "When is the launch?",
      session: { session_id: "s1" },
      long_term_search: { text: "launch" },
    });
    await check("DELETE", "/v1/working-memory/s1", "/v1/working-memory/:session_id");
    await check("POST", "/v1/ingest", "/v1/ingest", {
      messages: [{ role: "user", content: "Maria prefers PostgreSQL for analytics." }],
    });
    await check("POST", "/v1/graph/query", "/v1/graph/query", { query: "Redis" });
    await check("POST", "/v1/think", "/v1/think", { question: "What do we use for caching?" });
    await check("POST", "/v1/feedback", "/v1/feedback", { memory_id: "m1", rating: "positive" });
    await check("GET", "/v1/profile?user_id=u1", "/v1/profile");
    await check("POST", "/v1/memory/prompt", "/v1/memory/prompt", {
      query: "When is the launch?",
      session: { session_id: "s1", user_id: "u1" },
      include_profile: true,
    });
    await check("GET", "/v1/status", "/v1/status");
    await check("GET", "/v1/whoami", "/v1/whoami");
    await check("GET", "/", "/");
    await check("POST", "/v1/consolidate", "/v1/consolidate");
    await check("DELETE", "/v1/long-term-memory/?memory_ids=m1", "/v1/long-term-memory/");
    const created = await check("POST", "/api/memories", "/api/memories", {
      key: "theme",
      value: "dark",
      agent_id: "a1",
      metadata: { tags: ["ui"] },
    });
    const id = created.body.id;
    await check("GET", "/api/memories?agent_id=a1", "/api/memories");
    await check("POST", "/api/memories/search", "/api/memories/search", { query: "dark" });
    await check("GET", `/api/memories/${id}`, "/api/memories/:id");
    await check("PUT", `/api/memories/${id}`, "/api/memories/:id", { value: "light" });
    await check("GET", `/api/memories/${id}/history`, "/api/memories/:id/history");
    await check("DELETE", `/api/memories/${id}`, "/api/memories/:id");
    await check("GET", "/openapi.json", "/openapi.json");
    // Export answers JSON Lines: every line matches the documented line schema; import takes them back.
    const exported = await api.call("GET", "/v1/export");
    const exportOp = operations.find((o) => o.path === "/v1/export")!;
    expect(exported.status).toBe(200);
    const exportedLines = String(exported.body).trimEnd().split("\n");
    for (const line of exportedLines) {
      const parsed = exportOp.response!.safeParse(JSON.parse(line));
      expect(parsed.success, `GET /v1/export: ${line.slice(0, 200)}: ${parsed.error?.message}`).toBe(true);
    }
    checked.add("get /v1/export");
    await check("POST", "/v1/import", "/v1/import", exportedLines.join("\n"));
    // The admin routes, on a tenant of their own (AUTH_MODE=jwt in tenantApi: the token needs memory:admin).
    const ops = await tenantApi({ scope: "memory:admin" });
    const adminCheck = async (method: string, path: string, template: string, body?: unknown) => {
      const res = await ops.call(method, path, body);
      const op = operations.find((o) => o.method === method.toLowerCase() && o.path === template)!;
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
      const parsed = op.response!.safeParse(res.body);
      expect(parsed.success, `${method} ${path}: ${parsed.error?.message}`).toBe(true);
      checked.add(`${op.method} ${op.path}`);
    };
    await adminCheck("GET", `/v1/admin/tenants/${api.tenant}`, "/v1/admin/tenants/:tenant");
    await adminCheck("POST", "/v1/admin/tenants/never-seen/move", "/v1/admin/tenants/:tenant/move", { to: "DB" });
    expect((await check("DELETE", "/v1/admin/tenants/never-seen/move", "/v1/admin/tenants/:tenant/move")).status).toBe(
      403,
    );
    expect((await ops.call("DELETE", "/v1/admin/tenants/never-seen/move")).status).toBe(409);
    // Errors are documented bodies too.
    expect((await check("GET", "/api/memories/nope", "/api/memories/:id")).status).toBe(404);
    expect(
      (await check("POST", "/v1/long-term-memory/search", "/v1/long-term-memory/search", { limit: 0 })).status,
    ).toBe(422);

    expect([...checked].sort()).toEqual(operations.map((o) => `${o.method} ${o.path}`).sort());
  });
});
