// CORS_ORIGINS: pages on other origins may call the API (the SDK in a browser app); by default none may.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./support/api.ts";

const APP = "https://app.example.com";
const withOrigins = (origins: string) => ({ ...env, CORS_ORIGINS: origins }) as Env;
const preflightFrom = (e: Env, origin: string, method = "POST") =>
  call(e, "OPTIONS", "/v1/long-term-memory/search", undefined, {
    origin,
    "access-control-request-method": method,
    "access-control-request-headers": "authorization, content-type",
  });

describe("CORS", () => {
  it("answers an allowed origin's preflight with the methods and headers the SDK sends", async () => {
    const res = await preflightFrom(withOrigins(`${APP}, https://other.example`), APP, "PATCH");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-methods")).toMatch(/PATCH/);
    expect(res.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(res.headers.get("access-control-allow-headers")).toMatch(/content-type/);
  });

  it("marks answers to an allowed origin, errors and streams included, and no others", async () => {
    const e = withOrigins(APP);
    const ok = await call(e, "POST", "/v1/long-term-memory/search", { text: "" }, { origin: APP });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    expect(ok.headers.get("vary")).toMatch(/Origin/);
    const bad = await call(e, "POST", "/v1/long-term-memory/search", { limit: 0 }, { origin: APP });
    expect(bad.status).toBe(422);
    expect(bad.headers.get("access-control-allow-origin")).toBe(APP);
    const think = await call(e, "POST", "/v1/think", { question: "anything?", stream: true }, { origin: APP });
    expect(think.headers.get("content-type")).toMatch(/text\/event-stream/);
    expect(think.headers.get("access-control-allow-origin")).toBe(APP);

    const other = await call(
      e,
      "POST",
      "/v1/long-term-memory/search",
      { text: "" },
      { origin: "https://evil.example" },
    );
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(other.headers.get("vary")).toMatch(/Origin/);
    const refused = await preflightFrom(e, "https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("`*` allows any origin; unset allows none", async () => {
    const any = await call(withOrigins("*"), "GET", "/v1/health", undefined, { origin: "https://x.example" });
    expect(any.headers.get("access-control-allow-origin")).toBe("https://x.example");
    const none = await call(env, "GET", "/v1/health", undefined, { origin: APP });
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflightFrom(env, APP)).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a malformed CORS_ORIGINS is a configuration error, not an open door", async () => {
    const res = await call(withOrigins("https://app.example.com/path"), "GET", "/v1/health", undefined, {
      origin: APP,
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
