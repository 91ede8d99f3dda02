// edgemem retrieval evaluation: `npm run eval -- <file> [options]` (on the pinned Node 22, which runs this TypeScript directly).
//
// Loads a conversation benchmark (LoCoMo or LongMemEval JSON layout, detected), seeds each
// conversation through the REST API into its own namespace, asks every question in each search
// mode, and prints evidence recall@5/@10 per mode and question type with search latency p50/p95.
// Without --url it starts `wrangler dev` itself (fresh local state, LOG_LEVEL warn) and stops it
// at the end; with --url it runs against that server (--token or EDGEMEM_TOKEN for a JWT deployment).
// Options:
//   --url URL          an edgemem to evaluate instead of a local wrangler dev
//   --token JWT        bearer token for --url (default: $EDGEMEM_TOKEN)
//   --port N           port of the wrangler dev it starts (default: a free one)
//   --modes LIST       comma-separated of hybrid,semantic,keyword (default: all three)
//   --limit N          only the first N questions (and only their conversations are seeded)
//   --think            also ask every question through POST /v1/think (answered vs abstained)
//   --concurrency N    searches in flight (default 4)
//   --json FILE        write the report and every question's results
//   --search JSON      extra search-body fields for every search, e.g. '{"hybrid_alpha": 0.3}'
//   --var K=V          a variable for the wrangler dev it starts (repeatable), e.g. --var RERANK=true
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startWranglerDev } from "../e2e/wrangler-dev.ts";
import { loadDataset, type Dataset } from "./datasets.ts";
import { formatReport, runEval, SEARCH_MODES, type SearchMode } from "./harness.ts";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    token: { type: "string" },
    port: { type: "string" },
    modes: { type: "string" },
    limit: { type: "string" },
    think: { type: "boolean", default: false },
    concurrency: { type: "string", default: "4" },
    json: { type: "string" },
    search: { type: "string" },
    var: { type: "string", multiple: true },
  },
});

function fail(message: string): never {
  console.error(
    `eval: ${message}\nusage: npm run eval -- <file> [--url URL] [--token JWT] [--port N] [--modes hybrid,semantic,keyword] [--limit N] [--think] [--concurrency N] [--json out.json] [--search JSON] [--var K=V]`,
  );
  process.exit(2);
}

const file = positionals[0] ?? fail("no dataset file given");
const modes = (args.modes ?? SEARCH_MODES.join(","))
  .split(",")
  .map((m) => m.trim())
  .filter(Boolean) as SearchMode[];
for (const m of modes) if (!SEARCH_MODES.includes(m)) fail(`unknown mode ${JSON.stringify(m)}`);
const limit = args.limit === undefined ? undefined : Number(args.limit);
if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) fail("--limit takes a positive integer");
const concurrency = Number(args.concurrency);
if (!(Number.isInteger(concurrency) && concurrency > 0)) fail("--concurrency takes a positive integer");

let searchOptions: Record<string, unknown> | undefined;
try {
  searchOptions = args.search === undefined ? undefined : (JSON.parse(args.search) as Record<string, unknown>);
} catch {
  fail("--search takes a JSON object");
}
const vars = Object.fromEntries(
  (args.var ?? []).map((kv) => {
    const at = kv.indexOf("=");
    return at > 0 ? [kv.slice(0, at), kv.slice(at + 1)] : fail(`--var takes K=V, not ${JSON.stringify(kv)}`);
  }),
);

/** The first `n` questions and only the conversations they are asked in. */
function firstQuestions(d: Dataset, n: number): Dataset {
  const questions = d.questions.slice(0, n);
  const used = new Set(questions.map((q) => q.conversation));
  return { ...d, questions, conversations: d.conversations.filter((c) => used.has(c.id)) };
}

async function main(): Promise<void> {
  let dataset = loadDataset(JSON.parse(readFileSync(file, "utf8")));
  if (limit !== undefined) dataset = firstQuestions(dataset, limit);
  const turns = dataset.conversations.reduce((n, c) => n + c.turns.length, 0);
  console.error(
    `${file}: ${dataset.layout}, ${dataset.conversations.length} conversation(s), ${turns} turns, ${dataset.questions.length} questions`,
  );

  const dev = args.url ? null : await startWranglerDev({ port: args.port ? Number(args.port) : undefined, vars });
  const stop = () => dev?.stop();
  process.on("SIGINT", () => {
    stop();
    process.exit(130);
  });
  try {
    const token = args.token ?? process.env.EDGEMEM_TOKEN;
    const { report, results } = await runEval(dataset, {
      baseUrl: args.url ?? dev!.url,
      fetch: (url, init) => fetch(url, init),
      headers: token ? { authorization: `Bearer ${token}` } : {},
      modes,
      think: args.think,
      searchOptions,
      askConcurrency: concurrency,
      log: (line) => console.error(line),
    });
    console.log(`\n${formatReport(report)}`);
    if (args.json) {
      writeFileSync(
        args.json,
        JSON.stringify({ date: new Date().toISOString(), file, url: args.url ?? null, report, results }, null, 2),
      );
      console.log(`\nwritten to ${args.json}`);
    }
    if (report.errors.length) process.exitCode = 1;
  } finally {
    stop();
  }
}

await main();
