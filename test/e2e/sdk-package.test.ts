// End to end: the client SDK as the package `@edgemem/client`. `npm pack` builds it (prepack) and
// packs it; a temporary project installs the tarball, a script there imports it by its name and
// drives a real `wrangler dev` (JWT on), and `tsc` checks a strict consumer against the installed
// declarations. The pack runs on a copy of client/: wrangler.toml's [build] watches client/, so
// building into client/dist/ would rebuild and reload every `wrangler dev` of the e2e files
// running alongside.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "./tools.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

const SECRET = "e2e-secret-for-hs256-0123456789abcdef";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "edgemem-sdk-package-"));
const app = join(tmp, "app");

// npm settings a parent `npm test` exports (npm_config_*, npm_package_*) must not reach the
// nested npm; nothing it does needs the network.
const npmEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  npm_config_loglevel: "error",
};

/** Runs a command; rejects with its output. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed (${err.message}):\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

interface Packed {
  filename: string;
  size: number;
  files: { path: string }[];
}

/** `npm pack` of a copy of client/ laid out as in the repository (its build reads ../tsconfig.json and ../scripts). */
async function pack(): Promise<Packed> {
  const repo = join(tmp, "repo");
  cpSync(join(root, "client"), join(repo, "client"), {
    recursive: true,
    filter: (src) => !["dist", "node_modules"].includes(basename(src)) && !src.endsWith(".tgz"),
  });
  mkdirSync(join(repo, "scripts"));
  cpSync(join(root, "scripts", "build-client.ts"), join(repo, "scripts", "build-client.ts"));
  cpSync(join(root, "tsconfig.json"), join(repo, "tsconfig.json"));
  symlinkSync(join(root, "node_modules"), join(repo, "node_modules"), "dir");
  // The lifecycle scripts' output goes to stderr; stdout is the JSON.
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", tmp], {
    cwd: join(repo, "client"),
    env: npmEnv,
  });
  return (JSON.parse(stdout) as Packed[])[0]!;
}

/** A project that installs the tarball: from the file, offline (the package has no dependencies). */
async function install(tarball: string): Promise<void> {
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: app, env: npmEnv });
}

// What a JavaScript user runs: store → search → subscribe (the socket is told of a REST write) →
// think (REST, and over the socket with its tokens streamed). Prints what it saw as JSON.
const CONSUMER_JS = `
import { EdgememClient, EdgememError, EngramSocket } from "@edgemem/client";

const url = process.env.EDGEMEM_URL;
const token = process.env.EDGEMEM_TOKEN;
const client = new EdgememClient({ baseUrl: url, token });
const out = {};

const stored = await client.createLongTermMemories([
  { id: "redis", text: "We decided to use Redis for caching", topics: ["infra"] },
]);
out.store = stored.status;
out.search = (await client.searchLongTermMemory({ text: "what do we use for caching?", limit: 3 })).memories.map(
  (m) => m.id,
);

const socket = new EngramSocket({ url, token: async () => token });
const states = [];
socket.onState((s) => states.push(s));
let timer;
const pushed = new Promise((resolve, reject) => {
  timer = setTimeout(() => reject(new Error("no memory_created event in 15 s")), 15_000);
  socket.on("memory_created", (e) => e.data.memory_id === "kafka" && resolve(e));
});
await socket.connect();
await client.createLongTermMemories([{ id: "kafka", text: "Events flow through Kafka" }]);
const event = await pushed;
clearTimeout(timer);
out.event = { event: event.event, memory_id: event.data.memory_id, content: event.data.content, seq: event.seq };

const thought = await client.think({ question: "What do we use for caching?" });
out.think = { answer: thought.answer, citations: thought.citations.map((c) => c.memory_id) };
const tokens = [];
const viaSocket = await socket.send("think", { question: "What do we use for caching?" }, { onToken: (t) => tokens.push(t) });
out.socketThink = { answer: viaSocket.answer, streamed: tokens.join("") };

const missing = await client.getLongTermMemory("missing").catch((e) => e);
out.error = { instance: missing instanceof EdgememError, status: missing.status, code: missing.code };
socket.close();
out.states = states;
console.log(JSON.stringify(out));
`;

// What a TypeScript user compiles (checked, not run): the declarations resolve under nodenext,
// are themselves valid (skipLibCheck off), and are real types (the @ts-expect-error lines need errors).
const CONSUMER_TS = `
import {
  EdgememClient,
  EdgememError,
  EngramSocket,
  type EngramEvent,
  type SearchResult,
  type ThinkResult,
  type WebSocketFactory,
} from "@edgemem/client";

const client = new EdgememClient({ baseUrl: "http://127.0.0.1:8787", token: async () => "jwt" });
export const found: Promise<SearchResult> = client.searchLongTermMemory({ text: "caching", limit: 3 });
const Impl: WebSocketFactory = WebSocket;
const socket = new EngramSocket({ url: "http://127.0.0.1:8787", token: "jwt", WebSocket: Impl });
socket.on("memory_created", (e: EngramEvent) => e.data.memory_id.toUpperCase());
socket.on("gap", (g) => g.data.resume_after.toFixed());
export const reply: Promise<ThinkResult> = socket.send("think", { question: "why?" });
export const score: Promise<number | undefined> = socket.send("recall", { query: "x" }).then((r) => r.memories[0]?.score);
export const code = (e: unknown): string | undefined => (e instanceof EdgememError ? e.code : undefined);

// @ts-expect-error search takes a request object
void client.searchLongTermMemory("caching");
// @ts-expect-error there is no such command
void socket.send("explode", {});
`;

let dev: WranglerDev;
let packed: Packed;

beforeAll(async () => {
  const started = startWranglerDev({ vars: { AUTH_MODE: "jwt", JWT_SECRET: SECRET }, output: "ignore" });
  try {
    packed = await pack();
    await install(join(tmp, packed.filename));
  } finally {
    dev = await started;
  }
});
afterAll(() => {
  dev?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the client SDK as the package @edgemem/client", () => {
  it("packs dist/ (ES2022 JavaScript and declarations) and the README, with the server's version and no dependencies", () => {
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    expect(packed.filename).toBe(`edgemem-client-${version}.tgz`);
    expect(packed.files.map((f) => f.path).sort()).toEqual([
      "README.md",
      "dist/bookmarks.d.ts",
      "dist/bookmarks.js",
      "dist/engram-socket.d.ts",
      "dist/engram-socket.js",
      "dist/index.d.ts",
      "dist/index.js",
      "dist/rest.d.ts",
      "dist/rest.js",
      "dist/types.d.ts",
      "dist/types.js",
      "package.json",
    ]);
    const installed = join(app, "node_modules", "@edgemem", "client");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(manifest).toMatchObject({ name: "@edgemem/client", version, type: "module", sideEffects: false });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    // Relative imports name the emitted files, in the JavaScript and in the declarations.
    for (const file of ["index.js", "index.d.ts", "rest.d.ts", "engram-socket.d.ts"])
      expect(readFileSync(join(installed, "dist", file), "utf8")).not.toMatch(/["']\.\/[\w-]+\.ts["']/);
  });

  it("imported by its name in a project that installed it: store, search, subscribe, think against wrangler dev", async () => {
    writeFileSync(join(app, "consumer.mjs"), CONSUMER_JS);
    const token = await signToken(SECRET, `e2e-${crypto.randomUUID()}`);
    const { stdout } = await run(process.execPath, ["consumer.mjs"], {
      cwd: app,
      env: { ...process.env, EDGEMEM_URL: dev.url, EDGEMEM_TOKEN: token },
    });
    const out = JSON.parse(stdout);
    expect(out.store).toBe("ok");
    expect(out.search[0]).toBe("redis");
    expect(out.event).toMatchObject({
      event: "memory_created",
      memory_id: "kafka",
      content: "Events flow through Kafka",
    });
    expect(out.event.seq).toBeGreaterThan(0);
    expect(out.think.answer).toContain("Redis");
    expect(out.think.citations[0]).toBe("redis");
    expect(out.socketThink.answer).toBe(out.think.answer);
    expect(out.socketThink.streamed).toBe(out.think.answer);
    expect(out.error).toEqual({ instance: true, status: 404, code: "not_found" });
    expect(out.states).toEqual(["connecting", "open", "closed"]);
  });

  it("its declarations typecheck a strict TypeScript consumer (nodenext, skipLibCheck off)", async () => {
    writeFileSync(join(app, "consumer.ts"), CONSUMER_TS);
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2022", "dom"],
          types: [],
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    await run(process.execPath, [tsc, "-p", app], { cwd: app });
  });
});
