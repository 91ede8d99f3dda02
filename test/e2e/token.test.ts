// `npm run token` (scripts/token.ts) as a developer runs it: a child process in a directory holding
// the configuration it reads, its token checked by the server's own verifyToken.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { verifyToken } from "../../src/auth/jwt.ts";

const root = join(import.meta.dirname, "..", "..");
const script = join(root, "scripts", "token.ts");
const SECRET = "token-test-secret-0123456789abcdef";

/** The server's authentication settings, as src/config.ts defaults them, with `overrides`. */
function authConfig(overrides: Partial<Parameters<typeof verifyToken>[1]> = {}): Parameters<typeof verifyToken>[1] {
  return {
    AUTH_MODE: "jwt",
    JWT_SECRET: SECRET,
    JWT_JWKS: undefined,
    JWT_JWKS_URL: undefined,
    JWT_ISSUER: undefined,
    JWT_AUDIENCE: undefined,
    TENANT_CLAIM: "tenant_id",
    JWT_REQUIRE_EXP: true,
    JWT_MAX_AGE_SECONDS: undefined,
    ...overrides,
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project directory with these files (the script reads `.dev.vars` and `wrangler.toml` from its cwd). */
function project(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "edgemem-token-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs the script; the environment holds none of the settings it reads unless `env` gives them. */
async function token(cwd: string, args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(JWT_|TENANT_CLAIM$)/.test(k)),
  ) as NodeJS.ProcessEnv;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args], {
      cwd,
      env: { ...clean, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("npm run token", () => {
  it("prints a token the server accepts, for the tenant and scopes asked, with JWT_SECRET from the environment", async () => {
    const dir = project();
    copyFileSync(join(root, "wrangler.toml"), join(dir, "wrangler.toml"));
    const out = await token(dir, ["--tenant", "acme", "--scope", "memory:read memory:write"], { JWT_SECRET: SECRET });
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(out.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const principal = await verifyToken(out.stdout.trim(), authConfig());
    expect(principal).toEqual({ tenant: "acme", subject: "dev", scopes: ["memory:read", "memory:write"] });
    // Another secret does not verify it.
    await expect(verifyToken(out.stdout.trim(), authConfig({ JWT_SECRET: "another-secret" }))).rejects.toThrow(
      "token signature invalid",
    );
  });

  it("reads .dev.vars: the secret, the tenant claim, the issuer and the audience the server requires", async () => {
    const dir = project({
      ".dev.vars": `AUTH_MODE=jwt\nJWT_SECRET="${SECRET}"\nTENANT_CLAIM=org\nJWT_ISSUER=https://issuer.example\nJWT_AUDIENCE=edgemem\n`,
    });
    const out = await token(dir, ["--tenant", "acme", "--scope", "memory:read", "--sub", "alice"]);
    expect(out.code).toBe(0);
    const config = authConfig({ TENANT_CLAIM: "org", JWT_ISSUER: "https://issuer.example", JWT_AUDIENCE: "edgemem" });
    expect(await verifyToken(out.stdout.trim(), config)).toEqual({
      tenant: "acme",
      subject: "alice",
      scopes: ["memory:read"],
    });
    expect(decodeJwt(out.stdout)).toMatchObject({ org: "acme", iss: "https://issuer.example", aud: "edgemem" });
  });

  it("takes TENANT_CLAIM from wrangler.toml's [vars] (not another environment's), and the environment over .dev.vars", async () => {
    const dir = project({
      "wrangler.toml": `name = "x"\n[vars]\nAUTH_MODE = "jwt"\nTENANT_CLAIM = "workspace" # the claim\n\n[env.production.vars]\nTENANT_CLAIM = "other"\n`,
      ".dev.vars": "JWT_SECRET=from-dev-vars\n",
    });
    const out = await token(dir, ["--tenant", "acme"], { JWT_SECRET: SECRET });
    expect(out.code).toBe(0);
    const principal = await verifyToken(out.stdout.trim(), authConfig({ TENANT_CLAIM: "workspace" }));
    // No --scope: no scope claim, which the server reads as every scope.
    expect(principal).toEqual({ tenant: "acme", subject: "dev", scopes: null });
  });

  it("expires after --ttl", async () => {
    const out = await token(project(), ["--tenant", "acme", "--ttl", "10m"], { JWT_SECRET: SECRET });
    const { iat, exp } = decodeJwt(out.stdout);
    expect(exp! - iat!).toBe(600);
    const byDefault = decodeJwt((await token(project(), ["--tenant", "acme"], { JWT_SECRET: SECRET })).stdout);
    expect(byDefault.exp! - byDefault.iat!).toBe(3600);
  });

  it("refuses with exit code 1 and says why: no secret, no tenant, a bad --ttl, an unknown option", async () => {
    const noSecret = await token(project({ ".dev.vars": "AUTH_MODE=jwt\n" }), ["--tenant", "acme"]);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stdout).toBe("");
    expect(noSecret.stderr).toContain("no JWT_SECRET configured");
    for (const [args, message] of [
      [[], "--tenant is required"],
      [["--tenant", "acme", "--ttl", "soon"], "--ttl soon is not a time span"],
      [["--tenant", "acme", "--tennant", "x"], "Unknown option '--tennant'"],
      [["--tenant", "x".repeat(65)], "longer than 64 bytes"],
    ] as const) {
      const out = await token(project(), [...args], { JWT_SECRET: SECRET });
      expect(out.code, args.join(" ")).toBe(1);
      expect(out.stdout).toBe("");
      expect(out.stderr).toContain(message);
    }
  });
});
