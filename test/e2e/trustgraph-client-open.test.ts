// TrustGraph's own client library against a real `wrangler dev` in open mode (AUTH_MODE=none,
// local development): no token, every socket is tenant `default`.
import type { BaseApi } from "@trustgraph/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quietClient, trustgraphClient, type Frame } from "./trustgraph.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

let dev: WranglerDev;
let api: BaseApi;

beforeAll(async () => {
  quietClient();
  dev = await startWranglerDev({ vars: { AUTH_MODE: "none" }, output: "ignore" });
  api = await trustgraphClient(dev.url);
});
afterAll(() => {
  api?.close();
  dev?.stop();
});

describe("@trustgraph/client against wrangler dev (open, no token)", () => {
  it("stores, searches, answers as agent, lists flows; errors reject", async () => {
    await api.makeRequest("memory", {
      operation: "store",
      memories: [{ id: "redis", text: "We decided to use Redis for caching" }],
    });
    const found = await api.makeFlowRequest<object, any>("search", { text: "caching" });
    expect(found.memories[0].id).toBe("redis");
    expect((await api.makeRequest<object, any>("status", {})).memories.total).toBe(1);
    const answer: string[] = [];
    await api.flow("default").agent(
      "What do we use for caching?",
      () => {},
      () => {},
      (c) => answer.push(c),
      () => {},
    );
    expect(answer.join("")).toContain("Redis for caching. [redis]");
    const old = await api.makeRequestMulti<object, Frame>(
      "agent",
      { question: "What do we use for caching?" },
      (m) => Boolean((m as Frame).response?.answer),
      10_000,
      1,
      "default",
    );
    expect(old.response!.answer).toBe(answer.join(""));
    expect(await api.flows().getFlows()).toEqual(["default"]);
    await expect(api.makeRequest("memory", { operation: "get", id: "nope" })).rejects.toThrow(/nope/);
  });

  it("the Python client's in-band auth is accepted whatever the token (open mode)", async () => {
    const ws = new WebSocket(`${dev.url.replace(/^http/, "ws")}/api/v1/socket`);
    const first = new Promise<any>((resolve) =>
      ws.addEventListener("message", (e) => resolve(JSON.parse(String(e.data)))),
    );
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    ws.send(JSON.stringify({ type: "auth", token: "anything" }));
    expect(await first).toEqual({ type: "auth-ok", workspace: "default" });
    ws.close();
  });
});
