import { describe, expect, it } from "vitest";
import { OfflineEmbedder } from "../../src/ai/offline-embedder.ts";
import { dot } from "../../src/ai/embedder.ts";
import {
  ABSTAIN_ANSWER,
  CITE_SHARE,
  citedHits,
  DEFAULT_KEYWORD_FLOOR,
  DEFAULT_RELEVANCE_FLOORS,
  DEFAULT_VECTOR_FLOOR,
  isRelevant,
  relevantHits,
  shouldAbstain,
  type RelevanceFloors,
} from "../../src/domain/relevance.ts";

const floors: RelevanceFloors = { vector: 0.3, keyword: 0.5 };
const hit = (id: string, vector: number | null, keyword_match: number | null) => ({
  id,
  details: { vector, keyword_match },
});

describe("relevance of retrieved memories", () => {
  it("a hit is relevant when either signal reaches its floor (inclusive); a missing signal never counts", () => {
    expect(isRelevant({ vector: 0.3, keyword_match: null }, floors)).toBe(true);
    expect(isRelevant({ vector: 0.29, keyword_match: 0.49 }, floors)).toBe(false);
    expect(isRelevant({ vector: null, keyword_match: 0.5 }, floors)).toBe(true);
    expect(isRelevant({ vector: 0.1, keyword_match: 1 }, floors)).toBe(true);
    expect(isRelevant({ vector: null, keyword_match: null }, floors)).toBe(false);
    expect(isRelevant(undefined, floors)).toBe(false);
  });

  it("relevantHits keeps the relevant hits in order; shouldAbstain is true exactly when none is left", () => {
    const hits = [hit("a", 0.2, null), hit("b", 0.6, 0.1), hit("c", null, 0.7), hit("d", 0.1, 0.2)];
    expect(relevantHits(hits, floors).map((h) => h.id)).toEqual(["b", "c"]);
    expect(shouldAbstain(hits, floors)).toBe(false);
    expect(shouldAbstain([hit("a", 0.2, null), hit("d", 0.1, 0.2)], floors)).toBe(true);
    expect(shouldAbstain([], floors)).toBe(true);
    expect(relevantHits([{ id: "no-details" } as { id: string; details?: undefined }], floors)).toEqual([]);
  });

  it("citedHits: nothing below the floors; once one hit clears them, hits within CITE_SHARE of them are cited too", () => {
    const floors = { vector: 0.4, keyword: 0.5 };
    const near = hit("near", 0.4 * CITE_SHARE, null);
    const far = hit("far", 0.4 * CITE_SHARE - 0.01, 0.5 * CITE_SHARE - 0.01);
    expect(citedHits([near, far], floors)).toEqual([]);
    expect(citedHits([hit("sure", 0.45, null), near, far], floors).map((h) => h.id)).toEqual(["sure", "near"]);
    expect(citedHits([hit("sure", null, 0.5), hit("kw", null, 0.5 * CITE_SHARE)], floors).map((h) => h.id)).toEqual([
      "sure",
      "kw",
    ]);
  });

  it("the defaults and the abstain text are constants every transport shares", () => {
    expect(DEFAULT_RELEVANCE_FLOORS).toEqual({ vector: DEFAULT_VECTOR_FLOOR, keyword: DEFAULT_KEYWORD_FLOOR });
    expect(ABSTAIN_ANSWER).toBe("I don't have any memory of that.");
  });

  it("the offline embedder's floor separates a question from its memory and from an unrelated one", async () => {
    const e = new OfflineEmbedder();
    const q = await e.embedQuery("when is the deploy window?");
    const [answer, unrelated] = await e.embed([
      "The deploy window is Friday at 6pm",
      "I drink two cups of coffee every morning",
    ]);
    expect(dot(q, answer!)).toBeGreaterThanOrEqual(e.relevanceFloor);
    expect(dot(q, unrelated!)).toBeLessThan(e.relevanceFloor);
  });
});
