import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { call, jwtEnv, SECRET, sign } from "./support/api.ts";
import { testShards, dbOf } from "./support/shards.ts";

const SEARCH = "/v1/long-term-memory/search";
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const b64url = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

describe("AUTH_MODE=jwt with an HS256 secret", () => {
  const e = jwtEnv({ JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "edgemem" });
  const good = { tenant_id: "acme", sub: "alice", iss: "https://issuer.test", aud: "edgemem" };

  it("accepts a valid token from the Authorization header, X-API-Key or ?token=", async () => {
    const t = await sign(good, { expiresIn: "5m" });
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(t))).status).toBe(200);
    expect((await call(e, "POST", SEARCH, { text: "" }, { "x-api-key": t })).status).toBe(200);
    expect((await call(e, "POST", `${SEARCH}?token=${t}`, { text: "" })).status).toBe(200);
  });

  const failures: [string, () => Promise<string | null>, RegExp][] = [
    ["missing token", async () => null, /missing bearer token/],
    ["garbage token", async () => "not.a.jwt", /malformed token/],
    ["expired token", async () => sign(good, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /expired/],
    ["wrong audience", async () => sign({ ...good, aud: "someone-else" }, { expiresIn: "5m" }), /audience/],
    ["wrong issuer", async () => sign({ ...good, iss: "https://evil.test" }, { expiresIn: "5m" }), /issuer/],
    [
      "wrong secret",
      async () => sign(good, { expiresIn: "5m", secret: "another-secret-of-enough-length-1234" }),
      /signature/,
    ],
    ["no tenant claim", async () => sign({ ...good, tenant_id: undefined }, { expiresIn: "5m" }), /tenant_id/],
    [
      "tenant over 64 bytes",
      async () => sign({ ...good, tenant_id: "x".repeat(65) }, { expiresIn: "5m" }),
      /tenant_id/,
    ],
    ["a token without exp (it would never expire)", async () => sign(good, { expiresIn: null }), /no exp claim/],
    [
      "alg: none",
      async () =>
        `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ ...good, exp: Math.floor(Date.now() / 1000) + 300 })}.`,
      /algorithm not allowed/,
    ],
    [
      "HS512 (not the configured algorithm)",
      async () =>
        new SignJWT(good)
          .setProtectedHeader({ alg: "HS512" })
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(SECRET)),
      /algorithm not allowed/,
    ],
  ];

  it.each(failures)("401 for %s", async (_name, make, message) => {
    const t = await make();
    const res = await call(e, "POST", SEARCH, { text: "" }, t ? bearer(t) : {});
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("unauthorized");
    expect(res.body.message).toMatch(message);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("JWT_REQUIRE_EXP=false accepts a token without exp; JWT_MAX_AGE_SECONDS refuses old tokens whatever their exp", async () => {
    const lenient = jwtEnv({ JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "edgemem", JWT_REQUIRE_EXP: "false" });
    expect(
      (await call(lenient, "POST", SEARCH, { text: "" }, bearer(await sign(good, { expiresIn: null })))).status,
    ).toBe(200);

    const bounded = jwtEnv({ JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "edgemem", JWT_MAX_AGE_SECONDS: "600" });
    const fresh = await sign(good, { expiresIn: "1d" });
    expect((await call(bounded, "POST", SEARCH, { text: "" }, bearer(fresh))).status).toBe(200);
    const old = await new SignJWT(good)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime("1d")
      .sign(new TextEncoder().encode(SECRET));
    const res = await call(bounded, "POST", SEARCH, { text: "" }, bearer(old));
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/expired|too old/);
  });

  it("403 for a write without memory:write when the token has scopes; reads need memory:read", async () => {
    const readOnly = await sign({ ...good, scope: "memory:read" }, { expiresIn: "5m" });
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(readOnly))).status).toBe(200);
    const denied = await call(e, "POST", "/v1/long-term-memory/", { memories: [{ text: "x" }] }, bearer(readOnly));
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(/memory:write/);
    expect((await call(e, "DELETE", "/api/memories/x", undefined, bearer(readOnly))).status).toBe(403);

    const writer = await sign({ ...good, scp: ["memory:write"] }, { expiresIn: "5m" });
    expect((await call(e, "POST", "/v1/long-term-memory/", { memories: [{ text: "x" }] }, bearer(writer))).status).toBe(
      200,
    );
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(writer))).status).toBe(200);

    const unrelated = await sign({ ...good, scope: "profile email" }, { expiresIn: "5m" });
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(unrelated))).status).toBe(403);
  });

  it("/v1/whoami tells the tenant, subject, scopes and whether the token may write", async () => {
    const readOnly = await sign({ ...good, scope: "memory:read" }, { expiresIn: "5m" });
    expect((await call(e, "GET", "/v1/whoami", undefined, bearer(readOnly))).body).toEqual({
      tenant: "acme",
      subject: "alice",
      scopes: ["memory:read"],
      can_write: false,
      auth_mode: "jwt",
    });
    const writer = await sign({ ...good, scope: "memory:read memory:write" }, { expiresIn: "5m" });
    expect((await call(e, "GET", "/v1/whoami", undefined, bearer(writer))).body.can_write).toBe(true);
    const unscoped = await sign(good, { expiresIn: "5m" });
    expect((await call(e, "GET", "/v1/whoami", undefined, bearer(unscoped))).body).toMatchObject({
      scopes: null,
      can_write: true,
    });
    expect((await call(e, "GET", "/v1/whoami")).status).toBe(401);
  });

  it("nothing is written when auth fails", async () => {
    await call(e, "POST", "/v1/long-term-memory/", { memories: [{ id: "never", text: "should not exist" }] });
    for (const db of testShards().names.map((n) => testShards().db(n))) {
      const row = await db.prepare("SELECT count(*) AS n FROM memories WHERE id = 'never'").first<{ n: number }>();
      expect(row?.n).toBe(0);
    }
  });

  it("the tenant comes from the token, never from the request", async () => {
    const t = await sign({ ...good, tenant_id: "tenant-from-token" }, { expiresIn: "5m" });
    await call(
      e,
      "POST",
      "/v1/long-term-memory/",
      { memories: [{ id: "tt", text: "x", tenant: "spoofed", tenant_id: "spoofed" }] },
      bearer(t),
    );
    const row = await (
      await dbOf("tenant-from-token")
    )
      .prepare("SELECT tenant FROM memories WHERE id = 'tt'")
      .first<{ tenant: string }>();
    expect(row?.tenant).toBe("tenant-from-token");
  });

  it("records the token's sub as the actor", async () => {
    const t = await sign({ ...good, tenant_id: "actor-test", sub: "bob" }, { expiresIn: "5m" });
    await call(e, "POST", "/v1/long-term-memory/", { memories: [{ id: "h1", text: "x" }] }, bearer(t));
    const h = await call(e, "GET", "/v1/long-term-memory/h1/history", undefined, bearer(t));
    expect(h.body.history[0].actor).toBe("bob");
  });

  it("honours a custom TENANT_CLAIM", async () => {
    const custom = jwtEnv({ TENANT_CLAIM: "org" });
    const t = await sign({ org: "org-1", sub: "x" }, { expiresIn: "5m" });
    expect((await call(custom, "POST", SEARCH, { text: "" }, bearer(t))).status).toBe(200);
    const withoutOrg = await sign({ tenant_id: "t", sub: "x" }, { expiresIn: "5m" });
    expect((await call(custom, "POST", SEARCH, { text: "" }, bearer(withoutOrg))).status).toBe(401);
  });

  it("health stays public, unknown routes are 404 before auth", async () => {
    expect((await call(e, "GET", "/v1/health")).status).toBe(200);
    const res = await call(e, "GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.message).toMatch(/no route/);
  });
});

describe("AUTH_MODE=jwt with a JWK set (RS256)", () => {
  let e: Env;
  let privateKey: CryptoKey;
  let publicJwk: JWK;
  const claims = { tenant_id: "rsa-tenant", sub: "carol" };

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    e = { ...env, AUTH_MODE: "jwt", JWT_JWKS: JSON.stringify({ keys: [publicJwk] }) } as Env;
  });

  it("accepts a token signed by a key in the set", async () => {
    const t = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(t))).status).toBe(200);
  });

  it("refuses algorithm confusion: HS256 signed with the public key as the secret", async () => {
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const res = await call(e, "POST", SEARCH, { text: "" }, bearer(forged));
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/algorithm not allowed/);
  });

  it("refuses a token from an unknown key", async () => {
    const other = await generateKeyPair("RS256");
    const t = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k2" })
      .setExpirationTime("5m")
      .sign(other.privateKey);
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(t))).status).toBe(401);
  });
});

describe("AUTH_MODE=jwt with a remote JWK set (JWT_JWKS_URL)", () => {
  const url = "https://issuer.example/.well-known/jwks.json";
  afterEach(() => vi.restoreAllMocks());

  it("fetches the key set once, caches it, and verifies tokens signed by its keys", async () => {
    const pair = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "remote-1", alg: "ES256" };
    const realFetch = globalThis.fetch;
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const target = input instanceof Request ? input.url : String(input);
      if (target === url) return Response.json({ keys: [jwk] });
      return realFetch(input, init);
    });
    const e = { ...env, AUTH_MODE: "jwt", JWT_JWKS_URL: url } as Env;
    const token = await new SignJWT({ tenant_id: "remote-tenant", sub: "dora" })
      .setProtectedHeader({ alg: "ES256", kid: "remote-1" })
      .setExpirationTime("5m")
      .sign(pair.privateKey);

    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(token))).status).toBe(200);
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(token))).status).toBe(200);
    expect(fetchSpy.mock.calls.filter(([i]) => String(i instanceof Request ? i.url : i) === url)).toHaveLength(1);

    const stranger = await generateKeyPair("ES256");
    const forged = await new SignJWT({ tenant_id: "remote-tenant" })
      .setProtectedHeader({ alg: "ES256", kid: "remote-1" })
      .setExpirationTime("5m")
      .sign(stranger.privateKey);
    expect((await call(e, "POST", SEARCH, { text: "" }, bearer(forged))).status).toBe(401);
  });
});

describe("misconfiguration", () => {
  it("AUTH_MODE=jwt without any key is a generic JSON 500, never an open door", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call({ ...env, AUTH_MODE: "jwt" } as Env, "POST", SEARCH, { text: "" });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: "internal_error",
      message: "server misconfigured",
      detail: "server misconfigured",
    });
    expect(String(spy.mock.calls[0]?.[0])).toMatch(/AUTH_MODE=jwt needs JWT_SECRET/);
    spy.mockRestore();
  });
});

describe("AUTH_MODE=none", () => {
  it("puts everyone in tenant 'default' and ignores tokens", async () => {
    const t = await sign({ tenant_id: "ignored" }, { expiresIn: "5m" });
    await call(
      env,
      "POST",
      "/v1/long-term-memory/",
      { memories: [{ id: "open-1", text: "anyone can write" }] },
      bearer(t),
    );
    const row = await (
      await dbOf("default")
    )
      .prepare("SELECT tenant FROM memories WHERE id = 'open-1'")
      .first<{ tenant: string }>();
    expect(row?.tenant).toBe("default");
    expect((await call(env, "GET", "/v1/long-term-memory/open-1")).status).toBe(200);
    expect((await call(env, "GET", "/v1/whoami")).body).toEqual({
      tenant: "default",
      subject: "anonymous",
      scopes: null,
      can_write: true,
      auth_mode: "none",
    });
  });

  it("the root leads to the explorer", async () => {
    const res = await call(env, "GET", "/");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://edgemem.test/explorer/");
  });
});
