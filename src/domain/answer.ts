import type { GraphFact } from "./graph.ts";
import type { SearchHit } from "./search.ts";
import { sentences } from "./summarize.ts";
import { stem, STOPWORDS, words } from "./text.ts";

/**
 * The offline answer: the sentences of the retrieved memories that best match the question
 * (shared content words, rare ones weighing more, times the memory's search score), each with
 * its citation, plus the graph facts that mention the question's words. Pure, deterministic.
 */
export function extractiveAnswer(
  question: string,
  memories: { id: string; text: string; score: number }[],
  facts: string[],
): string[] {
  const q = new Set(
    words(question)
      .filter((w) => !STOPWORDS.has(w))
      .map(stem),
  );
  const candidates = memories.flatMap((m, rank) =>
    sentences(m.text).map((s) => ({ id: m.id, text: s, rank, stems: new Set(words(s).map(stem)), score: 0 })),
  );
  // A word found in fewer sentences says more about which one answers.
  const df = new Map<string, number>();
  for (const c of candidates) for (const t of c.stems) if (q.has(t)) df.set(t, (df.get(t) ?? 0) + 1);
  for (const c of candidates) {
    let overlap = 0;
    for (const t of c.stems) if (q.has(t)) overlap += 1 / df.get(t)!;
    c.score = (overlap + 0.1) * (memories[c.rank]!.score + 0.1);
  }
  const ranked = candidates.filter((c) => c.score > 0.1 * 0.2).sort((a, b) => b.score - a.score || a.rank - b.rank);
  const best = ranked[0]?.score ?? 0;
  const picked = ranked.filter((c) => c.score >= best * 0.5).slice(0, 3);
  const lines = picked.map((c) => `${/[.!?]$/.test(c.text) ? c.text : `${c.text}.`} [${c.id}]`);
  const relevant = facts.filter((f) => words(f).some((w) => q.has(stem(w))));
  if (relevant.length) lines.push(`Known facts: ${relevant.slice(0, 5).join("; ")}.`);
  return lines;
}

/** What think returns, whatever the transport. */
export interface ThinkResult {
  /** The answer as it is produced (streamed when the provider streams). */
  answer: AsyncIterable<string>;
  citations: SearchHit[];
  facts: GraphFact[];
  provider: string;
}
