import type { Deduplication, Memory } from "./memory.ts";
import type { GraphIntent } from "./writes.ts";

/**
 * What a create would do, decided from what is stored now (reads only): the writes, the
 * deduplications, and what becomes of each input. `Memories.create` commits it; a dry run stops
 * at it.
 */
export interface WritePlan {
  /** The writes: new memories (`before` null), replacements, near duplicates' updates. */
  pairs: { before: Memory | null; after: Memory }[];
  deduplicated: Deduplication[];
  /** One per input id (an id given twice is one input, the last), in input order. */
  outcomes: WriteOutcome[];
  /** Graph facts recorded with the writes: the claims of new memories (docs/temporal.md). */
  intents: GraphIntent[];
}

/** What becomes of one input of a create. */
export interface WriteOutcome {
  /** The input's id: the one it was given, or the one generated for it. */
  id: string;
  /**
   * `kept`: stored under its own id; `merged`: not stored, an existing memory holds it (exact:
   * the same content, nothing written; near: that memory is rewritten with the new text);
   * `superseding`: stored, and it closes a contradicted current memory (`supersedes`).
   */
  outcome: "kept" | "merged" | "superseding";
  /** The memory that holds the input afterwards: its own id, or the one it merged into. */
  memory_id: string;
  merged_into?: { memory_id: string; kind: "exact" | "near"; similarity?: number };
  supersedes?: { memory_id: string; text: string; reason: string };
}
