import { describe, expect, it } from "vitest";
import { jsonDepth, MAX_DATE_MS, MIN_DATE_MS, timestamp } from "../../src/domain/input-limits.ts";
import { formatIso, formatIsoOrNull, parseStoredJson } from "../../src/domain/stored-values.ts";

describe("input limits", () => {
  it("jsonDepth walks a million levels without recursion, and stops early past its limit", () => {
    let deep: unknown[] = [];
    for (let i = 1; i < 1_000_000; i++) deep = [deep];
    expect(jsonDepth(deep)).toBe(1_000_000);
    expect(jsonDepth(deep, 32)).toBe(33);
    expect([jsonDepth(5), jsonDepth({}), jsonDepth({ a: [1, { b: null }] })]).toEqual([0, 1, 3]);
  });

  it("timestamp: the window's ends are accepted, one millisecond beyond is not", () => {
    expect(timestamp.parse(MIN_DATE_MS / 1000)).toBe(MIN_DATE_MS);
    expect(timestamp.parse("9999-12-31T23:59:59.999Z")).toBe(MAX_DATE_MS);
    expect(timestamp.safeParse((MIN_DATE_MS - 1) / 1000).success).toBe(false);
    expect(timestamp.safeParse("+010000-01-01T00:00:00.000Z").success).toBe(false);
    expect(timestamp.safeParse(1e308).success).toBe(false);
  });
});

describe("stored values never throw", () => {
  it("formatIso clamps out-of-range and non-numeric dates into the window", () => {
    expect(formatIso(9e15)).toBe("9999-12-31T23:59:59.999Z");
    expect(formatIso(-9e15)).toBe("1000-01-01T00:00:00.000Z");
    expect(formatIso(Number.NaN)).toBe("1970-01-01T00:00:00.000Z");
    expect(formatIsoOrNull(null)).toBeNull();
    expect(formatIso(Date.UTC(2024, 0, 1))).toBe("2024-01-01T00:00:00.000Z");
  });

  it("parseStoredJson falls back on bad text, the wrong kind, or too deep a value", () => {
    expect(parseStoredJson("not json", {}, "t")).toEqual({});
    expect(parseStoredJson("[1]", {}, "t")).toEqual({});
    expect(parseStoredJson('{"a":1}', [], "t")).toEqual([]);
    expect(parseStoredJson(`{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}`, {}, "t")).toEqual({});
    expect(parseStoredJson('{"a":[1]}', {}, "t")).toEqual({ a: [1] });
    expect(parseStoredJson<Record<string, unknown> | null>("null", null, "t")).toBeNull();
  });
});
