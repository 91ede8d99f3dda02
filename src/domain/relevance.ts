/**
 * Whether retrieved memories are relevant enough to answer from. A search always returns its
 * best matches, however poor; `think` answers only from hits that clear a floor on either
 * signal the search explains, and abstains when none does (see {@link ABSTAIN_ANSWER}).
 */

/** What `think` answers when nothing retrieved is relevant enough: one text on every transport. */
export const ABSTAIN_ANSWER = "I don't have any memory of that.";

/** Per hit, the signals of a search's explain (`ScoreDetails`). */
export interface RelevanceSignals {
  /** Cosine similarity from the embedder, or null when the memory was not a vector hit. */
  vector: number | null;
  /** Share in [0, 1] of the query's IDF weight the memory matched, or null when not a keyword hit. */
  keyword_match: number | null;
}

/** The floors a hit must reach on at least one signal. */
export interface RelevanceFloors {
  /** Cosine similarity: the embedder's (`Embedder.relevanceFloor`), since each model spreads similarity differently. */
  vector: number;
  /** Share of the query's IDF weight matched. */
  keyword: number;
}

/**
 * Share of the question's IDF weight a memory must match. A word no memory has weighs most, so
 * an unanswerable question that shares only an ordinary word with a memory ("am I going to
 * Japan?" and "going to the gym": 0.19) stays under it, while one whose rare words are all in a
 * memory scores 0.5–1. Calibrated with the offline embedder's vector floor on the eval corpus
 * (test/eval/corpus.json: 313 answerable and 39 off-topic questions over 1,395 turns): 0.5 keeps
 * 85% of answerable questions answered and abstains on 44% of off-topic ones; 0.3 abstained on
 * barely a quarter, since questions about the same people share their names with many memories.
 */
export const DEFAULT_KEYWORD_FLOOR = 0.5;

/**
 * The vector floor for tests and tools; each embedder states its own (`Embedder.relevanceFloor`:
 * 0.35 for the offline one).
 */
export const DEFAULT_VECTOR_FLOOR = 0.35;

export const DEFAULT_RELEVANCE_FLOORS: RelevanceFloors = {
  vector: DEFAULT_VECTOR_FLOOR,
  keyword: DEFAULT_KEYWORD_FLOOR,
};

/** Whether one hit's signals clear either floor. A hit without signals (no text query) is not relevant. */
export function isRelevant(s: RelevanceSignals | undefined, floors: RelevanceFloors): boolean {
  if (!s) return false;
  return (
    (s.vector !== null && s.vector >= floors.vector) || (s.keyword_match !== null && s.keyword_match >= floors.keyword)
  );
}

/** The hits relevant enough to answer from, in their order. */
export function relevantHits<T extends { details?: RelevanceSignals }>(
  hits: readonly T[],
  floors: RelevanceFloors,
): T[] {
  return hits.filter((h) => isRelevant(h.details, floors));
}

/** Whether to answer "no memory of that": no hit clears a floor. */
export function shouldAbstain(hits: readonly { details?: RelevanceSignals }[], floors: RelevanceFloors): boolean {
  return !hits.some((h) => isRelevant(h.details, floors));
}

/**
 * Share of the floors a hit needs to be cited once some hit clears them: a question's other answers
 * are often worded further from it ("diet or allergies": "allergic to peanuts" 0.43, "vegetarian
 * since 2019" 0.26), and the answer is already known to be about something remembered.
 */
export const CITE_SHARE = 0.7;

/** What think answers from: nothing when no hit clears the floors, else every hit within {@link CITE_SHARE} of them. */
export function citedHits<T extends { details?: RelevanceSignals }>(hits: readonly T[], floors: RelevanceFloors): T[] {
  if (shouldAbstain(hits, floors)) return [];
  return relevantHits(hits, { vector: floors.vector * CITE_SHARE, keyword: floors.keyword * CITE_SHARE });
}
