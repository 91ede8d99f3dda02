// A signed development JWT for the local server: `npm run -s token -- --tenant acme --scope memory:read`.
//
// HS256 with JWT_SECRET, the way src/auth/jwt.ts verifies it: the tenant under TENANT_CLAIM, the
// scopes space-separated in `scope`, `sub`, `iat`, `exp`, and `iss` / `aud` when JWT_ISSUER /
// JWT_AUDIENCE are configured. Each setting is read from the environment, else from `.dev.vars`
// (wrangler's local secrets), else from `[vars]` in wrangler.toml, all in the current directory
// (npm runs scripts in the project's root). Prints the token alone on stdout; exits 1 with a
// message on stderr when no secret is configured or an option is wrong.
// Options: --tenant T (required), --scope "S1 S2" (repeatable), --sub S (default dev), --ttl T
// (default 1h; jose's time spans: 30m, 2h, 7d).
import { existsSync, readFileSync } from "node:fs";
import { parseArgs, parseEnv } from "node:util";
import { SignJWT } from "jose";
import { MAX_TENANT_BYTES } from "../src/domain/principal.ts";

const USAGE = "usage: npm run -s token -- --tenant T [--scope 'memory:read memory:write'] [--sub S] [--ttl 1h]";

function fail(message: string): never {
  console.error(`token: ${message}`);
  process.exit(1);
}

/** The string values of `[vars]` in a wrangler.toml (its only form here: `NAME = "value"`). */
function tomlVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      inVars = header[1] === "vars";
      continue;
    }
    const pair = inVars && /^\s*([A-Za-z_][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*(?:#.*)?$/.exec(line);
    if (pair) vars[pair[1]!] = pair[2]!.startsWith('"') ? (JSON.parse(pair[2]!) as string) : pair[2]!.slice(1, -1);
  }
  return vars;
}

function readIf(path: string): string | null {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

const devVarsText = readIf(".dev.vars");
const wranglerText = readIf("wrangler.toml");
const sources: Record<string, string | undefined>[] = [
  process.env,
  devVarsText === null ? {} : parseEnv(devVarsText),
  wranglerText === null ? {} : tomlVars(wranglerText),
];

/** A setting as `wrangler dev` would see it (the environment first, for `NAME=… npm run token`); blank is unset. */
function setting(name: string): string | undefined {
  for (const source of sources) {
    const value = source[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      tenant: { type: "string" },
      scope: { type: "string", multiple: true },
      sub: { type: "string", default: "dev" },
      ttl: { type: "string", default: "1h" },
    },
  }));
} catch (e) {
  fail(`${(e as Error).message}\n${USAGE}`);
}

const tenant = values.tenant?.trim();
if (!tenant) fail(`--tenant is required\n${USAGE}`);
if (new TextEncoder().encode(tenant).byteLength > MAX_TENANT_BYTES)
  fail(`--tenant is longer than ${MAX_TENANT_BYTES} bytes: the server would refuse the token`);

const secret = setting("JWT_SECRET");
if (!secret)
  fail(
    "no JWT_SECRET configured: put JWT_SECRET=<secret> in .dev.vars (npm run dev reads it too), " +
      "or set it in the environment (JWT_SECRET=<secret> npm run -s token -- ...)",
  );

const claim = setting("TENANT_CLAIM") ?? "tenant_id";
const scopes = (values.scope ?? []).flatMap((s) => s.split(/\s+/)).filter(Boolean);
const issuer = setting("JWT_ISSUER");
const audience = setting("JWT_AUDIENCE");

const jwt = new SignJWT({ [claim]: tenant, ...(scopes.length ? { scope: scopes.join(" ") } : {}) })
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setSubject(values.sub)
  .setIssuedAt();
if (issuer) jwt.setIssuer(issuer);
if (audience) jwt.setAudience(audience);
try {
  jwt.setExpirationTime(values.ttl);
} catch {
  fail(`--ttl ${values.ttl} is not a time span (e.g. 30m, 1h, 7d)`);
}
console.log(await jwt.sign(new TextEncoder().encode(secret)));
