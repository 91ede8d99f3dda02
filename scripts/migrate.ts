// `npm run migrate`: applies migrations/ to every D1 database the Worker binds (`DB` and each
// `DB_SHARD_n`), one after the other, with wrangler.
//
//   npm run migrate                              local state (.wrangler/state), the dev configuration
//   npm run migrate -- --remote --env production every shard of the production deployment
//   npm run migrate -- --persist-to DIR          local state in DIR (the e2e tests' wrangler dev)
//
// Shards come from wrangler.toml: the `[[d1_databases]]` of the top level, or of `[env.NAME]`.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs, promisify } from "node:util";

/** The D1 bindings of a wrangler.toml: `[[d1_databases]]` of the top level, or of `[env.<env>]`. */
export function d1Bindings(toml: string, env?: string): string[] {
  const header = env ? `[[env.${env}.d1_databases]]` : "[[d1_databases]]";
  const out: string[] = [];
  let inBlock = false;
  for (const raw of toml.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) inBlock = line === header;
    const m = inBlock ? /^binding\s*=\s*"([^"]+)"/.exec(line) : null;
    if (m) out.push(m[1]!);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      remote: { type: "boolean", default: false },
      env: { type: "string" },
      "persist-to": { type: "string" },
      config: { type: "string", default: "wrangler.toml" },
    },
  });
  const bindings = d1Bindings(readFileSync(values.config, "utf8"), values.env);
  if (!bindings.length)
    throw new Error(`no [[d1_databases]] in ${values.config}${values.env ? ` [env.${values.env}]` : ""}`);
  const flags = [
    values.remote ? "--remote" : "--local",
    ...(values.env ? ["--env", values.env] : []),
    ...(values["persist-to"] ? ["--persist-to", values["persist-to"]] : []),
    ...(values.config !== "wrangler.toml" ? ["--config", values.config] : []),
  ];
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
  // One after the other: two local migrations at once lock the shared state (SQLITE_BUSY).
  for (const binding of bindings) {
    try {
      await promisify(execFile)("npx", ["wrangler", "d1", "migrations", "apply", binding, ...flags], { env });
      console.error(`migrated ${binding} (${flags.join(" ")})`);
    } catch (e) {
      const { stdout, stderr } = e as { stdout?: string; stderr?: string };
      throw new Error(`migrating ${binding} failed:\n${stdout ?? ""}${stderr ?? ""}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
