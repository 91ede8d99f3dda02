// TrustGraph's own client library (`@trustgraph/client`, unchanged) against a real `wrangler dev`
// with JWT auth: every call issue 16 lists. Open mode: trustgraph-client-open.test.ts.
import type { BaseApi } from "@trustgraph/client";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectionState, quietClient, trustgraphClient, type Frame } from "./trustgraph.ts";
import { signToken } from "./tools.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

const SECRET = "e2e-secret-for-hs256-0123456789abcdef";
let dev: WranglerDev;
const clients: BaseApi[] = [];

const tokenFor = (tenant: string, scope?: string) => signToken(SECRET, tenant, { scope });

/** A client for a fresh tenant (or `tenant`), closed after the test. */
async function client(tenant = `tg-${crypto.randomUUID()}`, scope?: string) {
  const token = await tokenFor(tenant, scope);
  const api = await trustgraphClient(dev.url, token);
  clients.push(api);
  return { api, tenant, token };
}

const REDIS = { id: "redis", text: "We decided to use Redis for caching", topics: ["infra"] };

beforeAll(async () => {
  quietClient();
  dev = await startWranglerDev({ vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET }, output: "ignore" });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => dev?.stop());

describe("@trustgraph/client against wrangler dev (JWT)", () => {
  it("makeRequest / makeFlowRequest: memory, search, status; five concurrent requests matched by id", async () => {
    const { api } = await client();
    const stored = await api.makeRequest<object, any>("memory", { operation: "store", memories: [REDIS] });
    expect(stored.memories[0].id).toBe("redis");
    expect((await api.makeFlowRequest<object, any>("memory", { operation: "get", id: "redis" })).text).toBe(REDIS.text);
    const found = await api.makeFlowRequest<object, any>("search", { text: "what do we use for caching?", limit: 3 });
    expect(found.memories.map((m: { id: string }) => m.id)).toEqual(["redis"]);
    expect((await api.makeRequest<object, any>("status", {})).memories.total).toBe(1);

    const five = await Promise.all([
      api.makeRequest<object, any>("status", {}),
      api.makeFlowRequest<object, any>("search", { text: "caching" }),
      api.makeRequest<object, any>("memory", { operation: "get", id: "redis" }),
      api.makeFlowRequest<object, any>("graph-query", { query: "Redis" }),
      api.makeRequest<object, any>("search", { text: "nothing like it at all", distance_threshold: 0.01 }),
    ]);
    expect(five[0].memories.total).toBe(1);
    expect(five[1].memories[0].id).toBe("redis");
    expect(five[2].id).toBe("redis");
    expect(five[3]).toHaveProperty("entities");
    expect(five[4].total).toBe(0);
  });

  it("agent: makeRequestMulti streaming ends on the final frame; flow('default').agent(question) finishes with the answer", async () => {
    const { api } = await client();
    await api.makeRequest("memory", { operation: "store", memories: [REDIS] });
    const question = "What do we use for caching?";

    const frames: Frame[] = [];
    const last = await api.makeRequestMulti<object, Frame>("agent", { question, streaming: true }, (msg) => {
      frames.push(msg as Frame);
      return (msg as Frame).response?.["end-of-stream"] === true;
    });
    expect(frames.length).toBeGreaterThan(1);
    expect(last.complete).toBe(true);
    const streamed = frames
      .slice(0, -1)
      .map((f) => f.response!.content)
      .join("");
    expect(streamed).toContain("We decided to use Redis for caching. [redis]");
    expect(last.response!.answer).toBe(streamed);
    expect(last.response!.citations[0].memory_id).toBe("redis");

    // The client's own agent call: answer chunks, done when the server says complete.
    const chunks: string[] = [];
    const errors: unknown[] = [];
    await api.flow("default").agent(
      question,
      () => {},
      () => {},
      (chunk) => chunks.push(chunk),
      (e) => errors.push(e),
    );
    expect(errors).toEqual([]);
    expect(chunks.join("")).toBe(streamed);

    // The older client's agent (`{question}`, no streaming) waits for a frame carrying `answer`.
    const old = await api.makeRequestMulti<object, Frame>(
      "agent",
      { question },
      (msg) => Boolean((msg as Frame).response?.answer),
      10_000,
      1,
      "default",
    );
    expect(old.response!.answer).toBe(streamed);
  });

  it("errors reject (or reach the agent's error callback) instead of resolving undefined or hanging", async () => {
    const { api, tenant } = await client();
    const missing = await api.makeRequest("memory", { operation: "get", id: "nope" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toMatch(/nope/);

    const { api: reader } = await client(tenant, "memory:read");
    const forbidden = await reader
      .makeRequest("memory", { operation: "store", memories: [{ text: "not allowed" }] })
      .catch((e: unknown) => e);
    expect((forbidden as Error).message).toMatch(/memory:write/);
    expect((await reader.makeRequest<object, any>("status", {})).memories.total).toBe(0);

    await expect(api.makeFlowRequest("agent", { question: "" })).rejects.toThrow(/question/);
    const errors: unknown[] = [];
    await api.flow("default").agent(
      "   ",
      () => {},
      () => {},
      () => {},
      (e) => errors.push(e),
    );
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toMatch(/question/);
    await expect(api.makeRequest("teleport", {})).rejects.toThrow(/unknown service/);

    // Older clients (the repository's `trustgraph-socket.ts`) read only `response`: the error must be in it.
    const onlyResponse = (service: string, request: object) =>
      api.makeRequestMulti<object, Frame>(
        service,
        request,
        (msg) => (msg as Frame).response !== undefined,
        3000,
        1,
        "default",
      );
    expect((await onlyResponse("memory", { operation: "get", id: "nope" })).response!.error!.type).toBe("not_found");
    expect((await onlyResponse("agent", { question: "" })).response!.error!.message).toMatch(/^question/);
    // After all that the socket still serves.
    expect((await api.makeRequest<object, any>("status", {})).memories.total).toBe(0);
  });

  it("flows().getFlows() lists the default flow; getFlow describes it", async () => {
    const { api } = await client();
    expect(await api.flows().getFlows()).toEqual(["default"]);
    expect((await api.flows().getFlow("default")).services).toContain("agent");
    await expect(api.flows().getFlow("other")).rejects.toThrow(/no flow 'other'/);
  });

  it("config(): the read-only store lists, gets and returns the one flow; writes are refused", async () => {
    const { api } = await client();
    const config = api.config();
    expect(await config.list("flow")).toEqual({ version: 1, directory: ["default"] });
    const values = (await config.getValues("flow")) as { type: string; key: string; value: string }[];
    expect(values).toEqual([{ type: "flow", key: "default", value: expect.any(String) }]);
    expect(await config.getTokenCosts()).toEqual([]);
    expect(((await config.getConfigAll()) as any).config.flow.default).toBe(values[0]!.value);
    await expect(config.putConfig([{ type: "flow", key: "x", value: "{}" }])).rejects.toThrow(/read-only/);
  });

  it("tenants are isolated; bad tokens are refused at the upgrade", async () => {
    const a = await client();
    const b = await client();
    await a.api.makeRequest("memory", { operation: "store", memories: [REDIS] });
    expect((await b.api.makeRequest<object, any>("search", { text: "caching" })).total).toBe(0);
    expect((await b.api.makeRequest<object, any>("status", {})).memories.total).toBe(0);
    await expect(b.api.makeRequest("memory", { operation: "get", id: "redis" })).rejects.toThrow();
    expect((await a.api.makeRequest<object, any>("status", {})).memories.total).toBe(1);

    for (const token of [
      "garbage",
      await new SignJWT({ tenant_id: "x" })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode("another-secret-0123456789abcdef")),
    ]) {
      const { createTrustGraphSocket } = await import("@trustgraph/client");
      const refused = createTrustGraphSocket("edgemem-e2e", token, `${dev.url.replace(/^http/, "ws")}/api/socket`);
      clients.push(refused);
      // Node's WebSocket reports a refused handshake as an error (and no close), so the client stays connecting.
      const state = await connectionState(refused, (s) => s.lastError !== undefined);
      expect(state).toMatchObject({ status: "connecting", lastError: "Connection error occurred" });
    }
  });

  it("the Python client's in-band auth: auth-ok for the socket's tenant, auth-failed for another; nothing changes", async () => {
    const tenant = `tg-${crypto.randomUUID()}`;
    const { api } = await client(tenant);
    await api.makeRequest("memory", { operation: "store", memories: [REDIS] });
    const ws = new WebSocket(
      `${dev.url.replace(/^http/, "ws")}/api/v1/socket?token=${await tokenFor(tenant, "memory:read")}`,
    );
    const frames: any[] = [];
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    const next = async (pred: (f: any) => boolean) => {
      for (let i = 0; i < 500; i++) {
        const hit = frames.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no matching frame in ${JSON.stringify(frames)}`);
    };
    ws.send(JSON.stringify({ type: "auth", token: await tokenFor(tenant, "memory:write") }));
    expect(await next((f) => f.type === "auth-ok")).toEqual({ type: "auth-ok", workspace: tenant });
    ws.send(JSON.stringify({ type: "auth", token: await tokenFor("someone-else"), id: "x" }));
    expect((await next((f) => f.type === "auth-failed")).error).toMatch(/another tenant/);
    ws.send(JSON.stringify({ id: "s", service: "status", request: {} }));
    expect((await next((f) => f.id === "s")).response.memories.total).toBe(1);
    ws.send(
      JSON.stringify({
        id: "w",
        service: "memory",
        request: { operation: "store", memories: [{ text: "still read-only" }] },
      }),
    );
    expect((await next((f) => f.id === "w")).response.error.type).toBe("forbidden");
    ws.close();
  });
});
