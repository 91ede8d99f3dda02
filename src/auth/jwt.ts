import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { Config } from "../config.ts";
import { AppError } from "../domain/errors.ts";
import { byteLength } from "../domain/ids.ts";
import { MAX_TENANT_BYTES, type Principal } from "../domain/principal.ts";

/** HS256 for a shared secret; asymmetric algorithms only for keys from a JWK set (no confusion). */
const SECRET_ALGS = ["HS256"];
const JWKS_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export const READ_SCOPE = "memory:read";
export const WRITE_SCOPE = "memory:write";
/** Operating the deployment (tenant moves): not a tenant's right, whatever tenant the token names. */
export const ADMIN_SCOPE = "memory:admin";

const remoteSets = new Map<string, JWTVerifyGetKey>();
const localSets = new Map<string, JWTVerifyGetKey>();

/** Everyone is this principal when AUTH_MODE=none (local development). */
export const ANONYMOUS: Principal = { tenant: "default", subject: "anonymous", scopes: null };

type AuthConfig = Pick<
  Config,
  | "AUTH_MODE"
  | "JWT_SECRET"
  | "JWT_JWKS"
  | "JWT_JWKS_URL"
  | "JWT_ISSUER"
  | "JWT_AUDIENCE"
  | "TENANT_CLAIM"
  | "JWT_REQUIRE_EXP"
  | "JWT_MAX_AGE_SECONDS"
>;

/** The bearer token of a request: `Authorization: Bearer`, `X-API-Key`, or `?token=`. */
export function tokenOf(req: Request, url: URL): string | null {
  const auth = req.headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return m ? m[1]!.trim() : null;
  }
  return req.headers.get("x-api-key") ?? url.searchParams.get("token");
}

/**
 * Verifies a JWT and derives the principal: tenant from TENANT_CLAIM, subject from `sub`,
 * scopes from `scope` (space-separated), `scp` or `scopes`. Throws a 401 AppError on any failure.
 */
export async function verifyToken(token: string | null, config: AuthConfig): Promise<Principal> {
  if (config.AUTH_MODE === "none") return ANONYMOUS;
  if (!token) throw new AppError("unauthorized", "missing bearer token");

  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    const options = {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      requiredClaims: config.JWT_REQUIRE_EXP ? ["exp"] : [],
      // jose then also requires `iat`.
      maxTokenAge: config.JWT_MAX_AGE_SECONDS,
    };
    if (alg?.startsWith("HS")) {
      if (!config.JWT_SECRET) throw new errors.JOSEAlgNotAllowed(`algorithm ${alg} not allowed`);
      const key = new TextEncoder().encode(config.JWT_SECRET);
      ({ payload } = await jwtVerify(token, key, { ...options, algorithms: SECRET_ALGS }));
    } else {
      const keys = keySet(config);
      if (!keys) throw new errors.JOSEAlgNotAllowed(`algorithm ${alg ?? "none"} not allowed`);
      ({ payload } = await jwtVerify(token, keys, { ...options, algorithms: JWKS_ALGS }));
    }
  } catch (e) {
    throw new AppError("unauthorized", describeFailure(e));
  }

  const tenant = payload[config.TENANT_CLAIM];
  if (typeof tenant !== "string" || !tenant || byteLength(tenant) > MAX_TENANT_BYTES) {
    throw new AppError("unauthorized", `token has no valid ${config.TENANT_CLAIM} claim`);
  }
  return { tenant, subject: typeof payload.sub === "string" ? payload.sub : "unknown", scopes: scopesOf(payload) };
}

/** Whether the principal may write (no scopes at all, as with AUTH_MODE=none, allows everything). */
export function canWrite(p: Principal): boolean {
  return !p.scopes || p.scopes.includes(WRITE_SCOPE);
}

/** 403 unless the principal's scopes (when it has any) allow the operation. Write implies read. */
export function requireScope(p: Principal, scope: typeof READ_SCOPE | typeof WRITE_SCOPE): void {
  if (!p.scopes) return;
  if (p.scopes.includes(scope) || (scope === READ_SCOPE && p.scopes.includes(WRITE_SCOPE))) return;
  throw new AppError("forbidden", `token lacks the ${scope} scope`);
}

/**
 * 403 unless the principal may operate the deployment: a token naming the memory:admin scope.
 * Unlike read and write, a token without any scopes does not have it; only AUTH_MODE=none (local
 * development, where everyone may do everything) lets anyone in.
 */
export function requireAdmin(p: Principal, authMode: Config["AUTH_MODE"]): void {
  if (authMode === "none") return;
  if (p.scopes?.includes(ADMIN_SCOPE)) return;
  throw new AppError("forbidden", `token lacks the ${ADMIN_SCOPE} scope`);
}

function keySet(config: AuthConfig): JWTVerifyGetKey | null {
  if (config.JWT_JWKS) {
    let set = localSets.get(config.JWT_JWKS);
    if (!set) {
      set = createLocalJWKSet(JSON.parse(config.JWT_JWKS) as Parameters<typeof createLocalJWKSet>[0]);
      localSets.set(config.JWT_JWKS, set);
    }
    return set;
  }
  if (config.JWT_JWKS_URL) {
    let set = remoteSets.get(config.JWT_JWKS_URL);
    if (!set) {
      // jose caches the fetched keys and refetches at most every 30 s for an unknown kid.
      set = createRemoteJWKSet(new URL(config.JWT_JWKS_URL), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      remoteSets.set(config.JWT_JWKS_URL, set);
    }
    return set;
  }
  return null;
}

function scopesOf(payload: JWTPayload): string[] | null {
  const raw = payload.scope ?? payload.scp ?? payload.scopes;
  if (typeof raw === "string") return raw.split(/\s+/).filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === "string");
  return null;
}

/** Specific enough to act on, never echoing key material or internals. */
function describeFailure(e: unknown): string {
  if (e instanceof errors.JWTExpired)
    return e.claim === "iat" ? "token too old (JWT_MAX_AGE_SECONDS)" : "token expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "aud") return "token audience not accepted";
    if (e.claim === "iss") return "token issuer not accepted";
    if (e.claim === "nbf") return "token not yet valid";
    if (e.claim === "exp")
      return e.reason === "missing" ? "token has no exp claim (JWT_REQUIRE_EXP)" : "token exp claim invalid";
    if (e.claim === "iat")
      return e.reason === "missing"
        ? "token has no iat claim (JWT_MAX_AGE_SECONDS)"
        : "token iat claim invalid or in the future";
    return `token claim ${e.claim} invalid`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (e instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (e instanceof errors.JWKSNoMatchingKey) return "no key matches the token";
  return "malformed token";
}
