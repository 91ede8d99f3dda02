import { describe, expect, it } from "vitest";
import { planReplay } from "../../src/realtime/replay.ts";
import type { DomainEvent } from "../../src/domain/events.ts";
import { chunkEvents } from "../../src/service/events.ts";

describe("planReplay (what ?since= gets)", () => {
  it("replays after since when the log covers it, with no gap", () => {
    expect(planReplay(null, 1, 10)).toBeNull();
    expect(planReplay("0", 1, 10)).toEqual({ gap: null, after: 0 });
    expect(planReplay("10", 1, 10)).toEqual({ gap: null, after: 10 });
    expect(planReplay("0", null, 0)).toEqual({ gap: null, after: 0 });
    expect(planReplay("50", 51, 1050)).toEqual({ gap: null, after: 50 });
  });

  it("sends a gap first when events were dropped, then the retained ones", () => {
    expect(planReplay("49", 51, 1050)).toEqual({
      gap: { since: 49, oldest_seq: 51, latest_seq: 1050, resume_after: 50 },
      after: 50,
    });
  });

  it("sends a gap and nothing else for a since ahead of the log or unreadable", () => {
    for (const raw of ["11", "-1", "abc", "1e309", "", "2.5", "9".repeat(16), " 3"]) {
      const since = raw === "11" ? 11 : null;
      expect(planReplay(raw, 1, 10), raw).toEqual({
        gap: { since, oldest_seq: 1, latest_seq: 10, resume_after: 10 },
        after: null,
      });
    }
  });
});

describe("chunkEvents (the sink's publish calls)", () => {
  const event = (id: string, text = "x") =>
    ({ type: "memory_created", at: 0, actor: "a", memory: { id, text } }) as unknown as DomainEvent;

  it("keeps order and bounds each chunk by count and by bytes; an oversized event goes alone", () => {
    const events = Array.from({ length: 450 }, (_, i) => event(`e${i}`));
    const chunks = chunkEvents(events);
    expect(chunks.map((c) => c.length)).toEqual([200, 200, 50]);
    expect(chunks.flat()).toEqual(events);
    const big = [event("a"), event("b", "y".repeat(3000)), event("c")];
    expect(chunkEvents(big, 100, 2000).map((c) => c.map((e) => (e as { memory: { id: string } }).memory.id))).toEqual([
      ["a"],
      ["b"],
      ["c"],
    ]);
    expect(chunkEvents([])).toEqual([]);
  });
});
