import { describe, expect, it } from "vitest";
import { dot } from "../../src/ai/embedder.ts";
import { OfflineEmbedder } from "../../src/ai/offline-embedder.ts";
import { lookup, openWordTable, rowOf } from "../../src/ai/word-table.ts";
import table from "../../src/ai/word-vectors.bin";

const e = new OfflineEmbedder(256);
const sim = (a: string, b: string, embedder = e) => dot(embedder.embedOne(a), embedder.embedOne(b));
/** A search query against a stored text, as search compares them (the query embedded as a query). */
const searchSim = async (query: string, text: string) => dot(await e.embedQuery(query), e.embedOne(text));
const norm = (v: Float32Array) => Math.sqrt(dot(v, v));

describe("offline embedder (edgemem-lexsem-v2)", () => {
  it("is deterministic, unit-length and as long as configured", async () => {
    const text = "We decided to use Redis for caching";
    const [a, b] = await e.embed([text, text]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(Array.from(new OfflineEmbedder(256).embedOne(text))).toEqual(Array.from(a!));
    for (const dims of [16, 31, 32, 64, 99, 128, 256, 384, 768]) {
      const v = new OfflineEmbedder(dims).embedOne(text);
      expect(v.length).toBe(dims);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it("splits its dimensions between the lexical and the word-vector parts", () => {
    expect(e.model).toBe("edgemem-lexsem-v2-256");
    expect([e.lexicalDims, e.semanticDims]).toEqual([192, 64]);
    expect(new OfflineEmbedder(768).semanticDims).toBe(64);
    expect(new OfflineEmbedder(64).semanticDims).toBe(32);
    expect(new OfflineEmbedder(16).semanticDims).toBe(0);
    expect(new OfflineEmbedder(256, { lexicalWeight: 0.3 }).model).not.toBe(e.model);
  });

  it("puts related words nearer than unrelated ones", () => {
    expect(sim("Japan", "Kyoto")).toBeGreaterThan(sim("Japan", "banana") + 0.05);
    expect(sim("car", "automobile")).toBeGreaterThan(sim("car", "banana") + 0.2);
    expect(sim("diet", "vegetarian")).toBeGreaterThan(sim("diet", "guitar") + 0.2);
    expect(sim("car", "automobile")).toBeGreaterThan(e.noiseFloor);
  });

  it("finds paraphrases the lexical embedder could not", async () => {
    const q = "does the user have any diet restrictions or allergies?";
    expect(await searchSim(q, "I'm allergic to peanuts")).toBeGreaterThan(
      await searchSim(q, "The deploy moved to Friday"),
    );
    expect(await searchSim(q, "I have been vegetarian for six years")).toBeGreaterThan(e.noiseFloor);
    const trip = "is the user going to Japan?";
    expect(await searchSim(trip, "I booked a ryokan in Kyoto for April")).toBeGreaterThan(e.noiseFloor);
    expect(await searchSim(trip, "I booked a ryokan in Kyoto for April")).toBeGreaterThan(
      await searchSim(trip, "I booked a table for Friday"),
    );
  });

  it("still ranks shared words first", async () => {
    const q = "what do we use for caching";
    expect(await searchSim(q, "We decided to use Redis for caching")).toBeGreaterThan(0.5);
    expect(await searchSim(q, "the cache layer")).toBeGreaterThan(e.noiseFloor);
    expect(await searchSim(q, "Lunch is served at noon")).toBeLessThan(e.noiseFloor);
  });

  it("embeds a query leaning on meaning, a stored text on words", async () => {
    // The same text: as a query its word-vector part weighs more, so a synonym-only match scores higher.
    const text = "I booked a ryokan in Kyoto for April";
    expect(await searchSim("going to Japan", text)).toBeGreaterThan(sim("going to Japan", text));
    expect(norm(await e.embedQuery("going to Japan"))).toBeCloseTo(1, 5);
  });

  it("gives no NaN for empty, emoji, CJK, unknown or huge text", () => {
    for (const text of [
      "",
      "   ",
      "🎉🎉🎉",
      "東京の天気は晴れです",
      "zxqv blorft wubbalubb",
      "123 456 7890",
      "a".repeat(100_000),
      "word ".repeat(20_000),
    ]) {
      const v = e.embedOne(text);
      expect(v.length).toBe(256);
      expect(v.every((x) => Number.isFinite(x))).toBe(true);
      const n = norm(v);
      expect(n === 0 || Math.abs(n - 1) < 1e-5).toBe(true);
    }
    expect(norm(e.embedOne(""))).toBe(0);
    expect(norm(e.embedOne("東京の天気は晴れです"))).toBeCloseTo(1, 5);
  });

  it("scores restatements at or above nearDuplicate and distinct facts below it", () => {
    // A sample of test/eval/near-duplicates.json (measured in full by scripts/embedder-quality.ts).
    const same = [
      ["The deploy moved to Friday", "Deploy was moved to Friday"],
      ["User prefers dark mode", "The user prefers dark mode."],
      ["We use Redis for caching", "We are using Redis for caching"],
      ["I'm allergic to peanuts", "I am allergic to peanuts"],
      ["Bob lives in Berlin", "Bob lives in Berlin now"],
      ["We decided to use Redis for caching", "We decided to use Redis for caching in production"],
      ["The user works as a nurse", "The user is working as a nurse"],
      ["The project deadline is March 15", "Project deadline: March 15"],
    ];
    const distinct = [
      ["Alice prefers dark mode", "Bob prefers dark mode"],
      ["We use Redis for caching", "We use Memcached for caching"],
      ["The deploy moved to Friday", "The deploy moved to Monday"],
      ["The user has a dog named Max", "The user has a cat named Max"],
      ["The user prefers tea", "The user prefers coffee"],
      ["Alice prefers tea in the morning", "Alice prefers coffee in the morning"],
      ["The user works as a nurse", "The user works as a teacher"],
      ["Our main database is PostgreSQL", "Our main database is MySQL"],
      ["Item 10 costs $100", "Item 12 costs $120"],
    ];
    for (const [a, b] of same) expect(sim(a!, b!), `${a} | ${b}`).toBeGreaterThanOrEqual(e.nearDuplicate);
    for (const [a, b] of distinct) expect(sim(a!, b!), `${a} | ${b}`).toBeLessThan(e.nearDuplicate);
  });
});

describe("word table", () => {
  const t = openWordTable(table);

  it("looks words up exactly, and inflected forms by their stem", () => {
    expect(t.dims).toBe(64);
    expect(t.size).toBe(40_000);
    expect(lookup(t, "kyoto")).toBeGreaterThanOrEqual(0);
    expect(lookup(t, "Kyoto")).toBe(-1);
    expect(lookup(t, "")).toBe(-1);
    expect(lookup(t, "x".repeat(200))).toBe(-1);
    expect(lookup(t, "東京")).toBe(-1);
    expect(lookup(t, "redeploying")).toBe(-1);
    expect(rowOf(t, "redeploying")).toBe(lookup(t, "redeploy"));
    expect(rowOf(t, "kayaked")).toBe(lookup(t, "kayak"));
    expect(rowOf(t, "vegetarians")).toBe(lookup(t, "vegetarian"));
  });

  it("refuses what is not a table", () => {
    expect(() => openWordTable(new ArrayBuffer(64))).toThrow(/not an edgemem word table/);
    expect(() => openWordTable(table.slice(0, table.byteLength - 1))).toThrow(/disagree/);
  });
});
