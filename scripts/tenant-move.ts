// Moves a tenant to another shard: `npm run tenant:move -- --tenant T --to SHARD`.
//
// Drives POST /v1/admin/tenants/{T}/move until the move is done, printing each step: every call
// does a few seconds of work (fence, clear, copy, verify, switch, drain, purge; docs/deploy.md
// "Moving a tenant") and answers where the move stands. Interrupted, it can simply be run again:
// the move resumes where it stopped (after a minute, when the interrupted call's lease runs out).
//
//   --tenant T           the tenant to move (required)
//   --to SHARD           the D1 binding to move it to: DB, DB_SHARD_1, … (required, unless --cancel)
//   --url URL            the Worker (default http://127.0.0.1:8787, i.e. `npm run dev`)
//   --token JWT          a token with the memory:admin scope (default: $EDGEMEM_TOKEN; none with
//                        AUTH_MODE=none). Locally: npm run -s token -- --tenant ops --scope memory:admin
//   --drain-seconds N    how long the source stays intact after the switch (default: the server's,
//                        twice PLACEMENT_TTL_SECONDS)
//   --cancel             roll back a move that has not switched yet, instead
//   --status             print where the tenant is and its latest move, and exit
//
// Exits 0 when the move is done, 1 when it failed (rolled back; the message says why) or the
// server refused it, 2 on wrong options.
import { parseArgs } from "node:util";

const USAGE =
  "usage: npm run tenant:move -- --tenant T --to SHARD [--url http://127.0.0.1:8787] [--token JWT] [--drain-seconds N] [--cancel] [--status]";

interface Move {
  tenant: string;
  from: string | null;
  to: string;
  phase: string;
  copied: Record<string, number>;
  checksums: Record<string, { rows: number; sha256: string }>;
  done: boolean;
  retry_after_ms?: number;
  error: string | null;
}

function fail(message: string, code = 1): never {
  console.error(`tenant:move: ${message}`);
  process.exit(code);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      tenant: { type: "string" },
      to: { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
      token: { type: "string" },
      "drain-seconds": { type: "string" },
      cancel: { type: "boolean", default: false },
      status: { type: "boolean", default: false },
    },
  }));
} catch (e) {
  fail(`${(e as Error).message}\n${USAGE}`, 2);
}

const tenant = values.tenant?.trim();
if (!tenant) fail(`--tenant is required\n${USAGE}`, 2);
if (!values.to && !values.cancel && !values.status) fail(`--to is required\n${USAGE}`, 2);
const drain = values["drain-seconds"];
if (drain !== undefined && !/^\d+$/.test(drain)) fail(`--drain-seconds must be a whole number of seconds`, 2);
const token = values.token ?? process.env.EDGEMEM_TOKEN;
const base = values.url.replace(/\/+$/, "");
const path = `${base}/v1/admin/tenants/${encodeURIComponent(tenant)}`;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One call; a network error or a 5xx is retried (the move is resumable and each call idempotent),
 * a 4xx ends the run with the server's message.
 */
async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  for (let attempt = 1; ; attempt++) {
    let status = 0;
    let text = "";
    try {
      const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      status = res.status;
      text = await res.text();
      if (res.ok) return JSON.parse(text) as T;
    } catch (e) {
      text = (e as Error).message;
    }
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON
    }
    if (status >= 400 && status < 500) fail(`${method} ${url}: ${status} ${message}`);
    if (attempt >= 8) fail(`${method} ${url}: ${status || "no answer"} ${message} (gave up after ${attempt} tries)`);
    const wait = Math.min(500 * 2 ** attempt, 15_000);
    console.error(`tenant:move: ${status || "no answer"} ${message.slice(0, 200)}; retrying in ${wait / 1000} s`);
    await pause(wait);
  }
}

const rows = (counts: Record<string, number>) => Object.values(counts).reduce((n, c) => n + c, 0);

function progress(m: Move): string {
  const copied = rows(m.copied);
  const verified = Object.keys(m.checksums).length;
  switch (m.phase) {
    case "copy":
      return `copy: ${copied} rows copied (${Object.entries(m.copied)
        .filter(([, n]) => n)
        .map(([t, n]) => `${t} ${n}`)
        .join(", ")})`;
    case "verify":
      return `verify: ${verified} tables checked of ${Object.keys(m.copied).length}`;
    case "drain":
      return `drain: switched to ${m.to}; the source stays intact for ${Math.ceil((m.retry_after_ms ?? 0) / 1000)} s more`;
    default:
      return m.phase;
  }
}

if (values.status) {
  console.log(JSON.stringify(await request("GET", path), null, 2));
  process.exit(0);
}

const started = Date.now();
let last = "";
for (;;) {
  const move = values.cancel
    ? await request<Move>("DELETE", `${path}/move`)
    : await request<Move>("POST", `${path}/move`, {
        to: values.to,
        ...(drain !== undefined ? { drain_seconds: Number(drain) } : {}),
      });
  const line = progress(move);
  if (line !== last) console.log(`${tenant}: ${line}`);
  last = line;
  if (move.done) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (move.phase === "failed") fail(`${tenant} stays on ${move.from}: ${move.error} (${seconds} s)`);
    if (move.from === move.to) console.log(`${tenant} is on ${move.to} already: nothing to move`);
    else if (move.from === null) console.log(`${tenant} was on no shard: placed on ${move.to}`);
    else {
      const tables = Object.entries(move.checksums).map(([t, c]) => `  ${t}: ${c.rows} rows, sha256 ${c.sha256}`);
      console.log(
        `${tenant} moved from ${move.from} to ${move.to} in ${seconds} s: ${rows(move.copied)} rows copied, verified:\n${tables.join("\n")}`,
      );
    }
    break;
  }
  // Draining, or another caller is driving the move: wait as the server says (a few seconds at most).
  if (move.retry_after_ms) await pause(Math.min(move.retry_after_ms, 5_000));
}
