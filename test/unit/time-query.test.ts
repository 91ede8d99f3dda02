import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_DATE_MS, MIN_DATE_MS } from "../../src/domain/input-limits.ts";
import { parseTimeQuery, timeBoost, type TimeQuery } from "../../src/domain/time-query.ts";

/** Wednesday 2 December 2026, noon UTC. */
const NOW = Date.UTC(2026, 11, 2, 12);
const DAY = 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** [from, to) as dates, the precision and the matched phrase; null when nothing parses. */
function parsed(text: string, now = NOW): [string, string, string, string] | null {
  const q = parseTimeQuery(text, now);
  if (!q) return null;
  const to = q.to > MAX_DATE_MS ? "end" : day(q.to);
  const from = q.from === MIN_DATE_MS ? "start" : day(q.from);
  return [from, to, q.precision, q.matched];
}

type Row = [string, [string, string, string, string]];
function table(rows: Row[], now = NOW) {
  for (const [text, want] of rows) expect(parsed(text, now), text).toEqual(want);
}

describe("parseTimeQuery: forms", () => {
  it("months, with or without a year, and early/mid/late", () => {
    table([
      ["what did I do in May 2023?", ["2023-05-01", "2023-06-01", "month", "in May 2023"]],
      ["in May", ["2026-05-01", "2026-06-01", "month", "in May"]],
      ["May 2023", ["2023-05-01", "2023-06-01", "month", "May 2023"]],
      ["in May of 2023", ["2023-05-01", "2023-06-01", "month", "in May of 2023"]],
      ["what happened in march", ["2026-03-01", "2026-04-01", "month", "in march"]],
      ["news from January", ["2026-01-01", "2026-02-01", "month", "from January"]],
      ["September was busy", ["2026-09-01", "2026-10-01", "month", "September"]],
      ["early May 2023", ["2023-05-01", "2023-05-11", "week", "early May 2023"]],
      ["mid-May 2023", ["2023-05-11", "2023-05-21", "week", "mid-May 2023"]],
      ["late May 2023", ["2023-05-21", "2023-06-01", "week", "late May 2023"]],
      ["at the end of February 2024", ["2024-02-21", "2024-03-01", "week", "at the end of February 2024"]],
      ["this May", ["2026-05-01", "2026-06-01", "month", "this May"]],
      ["last June", ["2026-06-01", "2026-07-01", "month", "last June"]],
      ["next March", ["2027-03-01", "2027-04-01", "month", "next March"]],
    ]);
  });

  it("years, decades and thirds of a year", () => {
    table([
      ["in 2023", ["2023-01-01", "2024-01-01", "year", "in 2023"]],
      ["during the year 2021", ["2021-01-01", "2022-01-01", "year", "during the year 2021"]],
      ["in the 1990s", ["1990-01-01", "2000-01-01", "year", "in the 1990s"]],
      ["early 2023", ["2023-01-01", "2023-05-01", "season", "early 2023"]],
      ["by the end of 2023", ["2023-09-01", "2024-01-01", "season", "by the end of 2023"]],
      ["late last year", ["2025-09-01", "2026-01-01", "season", "late last year"]],
    ]);
  });

  it("seasons: meteorological, northern; winter Y is the one whose January is in Y", () => {
    table([
      ["summer 2024", ["2024-06-01", "2024-09-01", "season", "summer 2024"]],
      ["last summer", ["2026-06-01", "2026-09-01", "season", "last summer"]],
      ["in the spring of 2025", ["2025-03-01", "2025-06-01", "season", "in the spring of 2025"]],
      ["fall 2023", ["2023-09-01", "2023-12-01", "season", "fall 2023"]],
      ["in the autumn", ["2026-09-01", "2026-12-01", "season", "in the autumn"]],
      ["winter 2024", ["2023-12-01", "2024-03-01", "season", "winter 2024"]],
      ["this winter", ["2026-12-01", "2027-03-01", "season", "this winter"]],
      ["last winter", ["2025-12-01", "2026-03-01", "season", "last winter"]],
      ["early summer 2024", ["2024-06-01", "2024-07-01", "month", "early summer 2024"]],
    ]);
  });

  it("holidays get a five-day window around the day", () => {
    table([
      ["Christmas 2024", ["2024-12-23", "2024-12-28", "day", "Christmas 2024"]],
      ["around Christmas 2024", ["2024-12-23", "2024-12-28", "day", "around Christmas 2024"]],
      ["New Year's Eve", ["2025-12-29", "2026-01-03", "day", "New Year's Eve"]],
      ["new years day 2025", ["2024-12-30", "2025-01-04", "day", "new years day 2025"]],
      // Fourth Thursday of November: 28 November 2024.
      ["Thanksgiving 2024", ["2024-11-26", "2024-12-01", "day", "Thanksgiving 2024"]],
      // Easter Sunday 2024 was 31 March, 2025 was 20 April.
      ["Easter 2024", ["2024-03-29", "2024-04-03", "day", "Easter 2024"]],
      ["at Easter", ["2026-04-03", "2026-04-08", "day", "at Easter"]],
      ["Halloween", ["2026-10-29", "2026-11-03", "day", "Halloween"]],
      ["Valentine’s Day 2023", ["2023-02-12", "2023-02-17", "day", "Valentine’s Day 2023"]],
      ["last Christmas", ["2025-12-23", "2025-12-28", "day", "last Christmas"]],
      ["the fourth of July", ["2026-07-02", "2026-07-07", "day", "the fourth of July"]],
    ]);
    expect(parsed("Easter 2025")?.slice(0, 2)).toEqual(["2025-04-18", "2025-04-23"]);
  });

  it("explicit dates; numeric day/month only year-first", () => {
    table([
      ["on 8 May 2023", ["2023-05-08", "2023-05-09", "day", "on 8 May 2023"]],
      ["the 8th of May", ["2026-05-08", "2026-05-09", "day", "the 8th of May"]],
      ["May 8th", ["2026-05-08", "2026-05-09", "day", "May 8th"]],
      ["May 8, 2023", ["2023-05-08", "2023-05-09", "day", "May 8, 2023"]],
      ["1:56 pm on 8 May, 2023", ["2023-05-08", "2023-05-09", "day", "on 8 May, 2023"]],
      ["2023-05-08", ["2023-05-08", "2023-05-09", "day", "2023-05-08"]],
      ["at 2023-05-08T10:00:00Z", ["2023-05-08", "2023-05-09", "day", "at 2023-05-08T10:00:00Z"]],
      ["2023/05/08", ["2023-05-08", "2023-05-09", "day", "2023/05/08"]],
      ["in 2023-05", ["2023-05-01", "2023-06-01", "month", "in 2023-05"]],
      ["on 29 February 2024", ["2024-02-29", "2024-03-01", "day", "on 29 February 2024"]],
    ]);
    expect(parsed("8/5/2023")).toBeNull();
    expect(parsed("on 5/8")).toBeNull();
    expect(parsed("2023-13-01")).toBeNull();
    // An impossible day still names its month.
    expect(parsed("on 29 February 2023")).toEqual(["2023-02-01", "2023-03-01", "month", "February 2023"]);
    expect(parsed("31 April 2023")?.[2]).toBe("month");
  });

  it("relative to now (Wednesday 2 December 2026)", () => {
    table([
      ["yesterday", ["2026-12-01", "2026-12-02", "day", "yesterday"]],
      ["today", ["2026-12-02", "2026-12-03", "day", "today"]],
      ["the day before yesterday", ["2026-11-30", "2026-12-01", "day", "the day before yesterday"]],
      ["last night", ["2026-12-01", "2026-12-02", "day", "last night"]],
      ["last week", ["2026-11-23", "2026-11-30", "week", "last week"]],
      ["this week", ["2026-11-30", "2026-12-07", "week", "this week"]],
      ["next week", ["2026-12-07", "2026-12-14", "week", "next week"]],
      ["last month", ["2026-11-01", "2026-12-01", "month", "last month"]],
      ["last year", ["2025-01-01", "2026-01-01", "year", "last year"]],
      ["3 days ago", ["2026-11-29", "2026-11-30", "day", "3 days ago"]],
      ["two weeks ago", ["2026-11-16", "2026-11-23", "week", "two weeks ago"]],
      ["a couple of weeks ago", ["2026-11-16", "2026-11-23", "week", "a couple of weeks ago"]],
      ["a few days ago", ["2026-11-28", "2026-12-01", "day", "a few days ago"]],
      ["6 months ago", ["2026-06-01", "2026-07-01", "month", "6 months ago"]],
      ["a year ago", ["2025-01-01", "2026-01-01", "year", "a year ago"]],
      ["last Friday", ["2026-11-27", "2026-11-28", "day", "last Friday"]],
      ["on Wednesday", ["2026-12-02", "2026-12-03", "day", "on Wednesday"]],
      ["next Friday", ["2026-12-04", "2026-12-05", "day", "next Friday"]],
      ["last weekend", ["2026-11-28", "2026-11-30", "day", "last weekend"]],
      ["over the weekend", ["2026-11-28", "2026-11-30", "day", "over the weekend"]],
      ["in the past week", ["2026-11-25", "2026-12-03", "week", "in the past week"]],
      ["the last 3 days", ["2026-11-29", "2026-12-03", "day", "the last 3 days"]],
      ["over the past few months", ["2026-08-02", "2026-12-03", "month", "over the past few months"]],
    ]);
  });

  it("ranges take a missing year from the other side; bounds are open to the storable window", () => {
    table([
      ["between March and May 2024", ["2024-03-01", "2024-06-01", "month", "between March and May 2024"]],
      ["from November to February 2024", ["2023-11-01", "2024-03-01", "month", "from November to February 2024"]],
      ["from May 2023 to August", ["2023-05-01", "2023-09-01", "month", "from May 2023 to August"]],
      ["between 2019 and 2021", ["2019-01-01", "2022-01-01", "year", "between 2019 and 2021"]],
      ["between May 2024 and March 2024", ["2024-03-01", "2024-06-01", "month", "between May 2024 and March 2024"]],
      ["before June 2024", ["start", "2024-06-01", "open", "before June 2024"]],
      ["prior to 2020", ["start", "2020-01-01", "open", "prior to 2020"]],
      ["after the summer of 2024", ["2024-09-01", "end", "open", "after the summer of 2024"]],
      ["since 2023", ["2023-01-01", "end", "open", "since 2023"]],
      ["until last week", ["start", "2026-11-30", "open", "until last week"]],
      ["the week before 9 June 2023", ["2023-06-02", "2023-06-09", "week", "the week before 9 June 2023"]],
      ["the Friday before 9 June 2023", ["2023-06-02", "2023-06-03", "day", "the Friday before 9 June 2023"]],
      ["a week after Christmas 2024", ["2024-12-28", "2025-01-04", "week", "a week after Christmas 2024"]],
      // 8 May 2023 was a Monday.
      ["on the weekend of 13 May 2023", ["2023-05-13", "2023-05-15", "day", "on the weekend of 13 May 2023"]],
      ["in the week of 10 May 2023", ["2023-05-08", "2023-05-15", "week", "in the week of 10 May 2023"]],
    ]);
    const open = parseTimeQuery("before June 2024", NOW)!;
    expect([open.from, open.to - 1, open.scale]).toEqual([MIN_DATE_MS, Date.UTC(2024, 5, 1) - 1, 30 * DAY]);
    expect(parseTimeQuery("after 2024", NOW)!.to).toBe(MAX_DATE_MS + 1);
  });

  it("events cannot be resolved by parsing", () => {
    for (const text of [
      "before the trip",
      "after I moved to Berlin",
      "since the wedding",
      "between the move and the trip",
    ]) {
      expect(parsed(text), text).toBeNull();
    }
  });
});

describe("parseTimeQuery: year-less resolution", () => {
  const at = (iso: string) => Date.parse(iso);
  it("the most recent month that has started on or before now", () => {
    expect(parsed("in May", at("2026-12-10T00:00:00Z"))?.[0]).toBe("2026-05-01");
    expect(parsed("in May", at("2026-03-10T00:00:00Z"))?.[0]).toBe("2025-05-01");
    expect(parsed("in May", at("2026-05-01T00:00:00Z"))?.[0]).toBe("2026-05-01");
    expect(parsed("in May", at("2026-04-30T23:59:59Z"))?.[0]).toBe("2025-05-01");
    // "last May" is the most recent May that is over.
    expect(parsed("last May", at("2026-05-15T00:00:00Z"))?.[0]).toBe("2025-05-01");
    expect(parsed("this May", at("2026-03-10T00:00:00Z"))?.[0]).toBe("2026-05-01");
  });

  it("seasons, holidays, days and weekdays follow the same rule", () => {
    expect(parsed("in the summer", at("2026-07-10T00:00:00Z"))?.[0]).toBe("2026-06-01");
    expect(parsed("last summer", at("2026-07-10T00:00:00Z"))?.[0]).toBe("2025-06-01");
    expect(parsed("in the winter", at("2026-02-10T00:00:00Z"))?.slice(0, 2)).toEqual(["2025-12-01", "2026-03-01"]);
    expect(parsed("at Christmas", at("2026-12-02T00:00:00Z"))?.[0]).toBe("2025-12-23");
    expect(parsed("at Christmas", at("2026-12-24T00:00:00Z"))?.[0]).toBe("2026-12-23");
    expect(parsed("May 8th", at("2026-05-08T00:00:00Z"))?.[0]).toBe("2026-05-08");
    expect(parsed("May 8th", at("2026-05-07T00:00:00Z"))?.[0]).toBe("2025-05-08");
    // On a Friday, "on Friday" is today and "last Friday" a week ago.
    expect(parsed("on Friday", at("2026-12-04T09:00:00Z"))?.[0]).toBe("2026-12-04");
    expect(parsed("last Friday", at("2026-12-04T09:00:00Z"))?.[0]).toBe("2026-11-27");
    // On a Sunday the weekend is not over: "last weekend" is the one before.
    expect(parsed("last weekend", at("2026-11-29T09:00:00Z"))?.[0]).toBe("2026-11-21");
  });
});

describe("parseTimeQuery: traps", () => {
  it("ordinary words that look like times do not parse", () => {
    const traps = [
      "May I ask what you did?",
      "you may want to check",
      "it may rain",
      "this may take a while",
      "the last may be wrong",
      "they march on",
      "we march 10 miles",
      "the march of progress",
      "a spring in the mattress",
      "drink spring water",
      "leaves fall",
      "did you fall?",
      "before the fall of Rome",
      "the summer of love",
      "April said hi",
      "I asked June about it",
      "an august institution",
      "the second time",
      "wait a second",
      "a Sunday roast",
      "2,000 users",
      "version 2023.1",
      "in 1500 ms",
      "it costs $2000",
      "build 2024",
      "room 1999",
      "in 2000 users",
      "what's an easter egg",
      "we may 2 times try",
      "8/5/2023",
      "today's agenda",
      "my spring project",
      "",
      "   ",
      "🙂",
      "五月に何をしましたか",
      "now",
    ];
    for (const text of traps) expect(parsed(text), text).toBeNull();
  });

  it("a trap beside a real time leaves the real one", () => {
    expect(parsed("May I ask what I did in June 2023?")).toEqual(["2023-06-01", "2023-07-01", "month", "in June 2023"]);
    expect(parsed("April said we met last Friday")?.[3]).toBe("last Friday");
    expect(parsed("the summer of love, in 1969")?.[3]).toBe("in 1969");
  });
});

describe("parseTimeQuery: choosing among several", () => {
  it("a year or full date beats a relative time, which beats a year-less one or today", () => {
    expect(parsed("in May … or was it in 2023?")?.[3]).toBe("in 2023");
    expect(parsed("today I wonder about last summer")?.[3]).toBe("last summer");
    expect(parsed("last week, like on 8 May 2023")?.[3]).toBe("on 8 May 2023");
    expect(parsed("in May or in June")?.[3]).toBe("in May");
  });

  it("matched and index locate the phrase in the text", () => {
    const text = "So — what did we cook in the spring of 2025, again?";
    const q = parseTimeQuery(text, NOW)!;
    expect(text.slice(q.index, q.index + q.matched.length)).toBe("in the spring of 2025");
  });
});

describe("timeBoost", () => {
  const may2023 = parseTimeQuery("May 2023", NOW)!;
  it("is 1 inside, 0 without a date, and falls off smoothly outside", () => {
    expect(timeBoost(Date.UTC(2023, 4, 1), may2023)).toBe(1);
    expect(timeBoost(Date.UTC(2023, 5, 1) - 1, may2023)).toBe(1);
    expect(timeBoost(null, may2023)).toBe(0);
    expect(timeBoost(undefined, may2023)).toBe(0);
    expect(timeBoost(Number.NaN, may2023)).toBe(0);
    const june3 = timeBoost(Date.UTC(2023, 5, 3), may2023);
    const dec = timeBoost(Date.UTC(2023, 11, 15), may2023);
    expect(june3).toBeGreaterThan(0.9);
    expect(june3).toBeLessThan(1);
    expect(dec).toBeLessThan(0.01);
    expect(dec).toBeGreaterThan(0);
    // Just outside the edge it is still almost 1: no cliff.
    expect(timeBoost(Date.UTC(2023, 5, 1), may2023)).toBeCloseTo(1, 6);
    expect(timeBoost(Date.UTC(2023, 3, 30), may2023)).toBeGreaterThan(0.99);
  });

  it("decays over the period's width: a day for yesterday, a month for before June", () => {
    const yesterday = parseTimeQuery("yesterday", NOW)!;
    expect(timeBoost(NOW - 4 * DAY, yesterday)).toBeLessThan(0.06);
    const before = parseTimeQuery("before June 2024", NOW)!;
    expect(timeBoost(Date.UTC(2020, 0, 1), before)).toBe(1);
    expect(timeBoost(Date.UTC(2024, 5, 5), before)).toBeGreaterThan(0.9);
    expect(timeBoost(Date.UTC(2025, 5, 1), before)).toBeLessThan(0.01);
  });

  it("never leaves [0, 1] and never grows with distance", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: false }), fc.double({ min: 0, max: 1e15, noNaN: true }), (date, step) => {
        const b = timeBoost(date, may2023);
        expect(b >= 0 && b <= 1).toBe(true);
        if (Number.isFinite(date) && date >= may2023.to && Number.isFinite(date + step)) {
          expect(timeBoost(date + step, may2023)).toBeLessThanOrEqual(b);
        }
      }),
    );
  });
});

describe("parseTimeQuery: properties", () => {
  const valid = (q: TimeQuery | null, text: string) => {
    if (!q) return;
    expect(Number.isFinite(q.from) && Number.isFinite(q.to)).toBe(true);
    expect(q.from).toBeGreaterThanOrEqual(MIN_DATE_MS);
    expect(q.to).toBeLessThanOrEqual(MAX_DATE_MS + 1);
    expect(q.from).toBeLessThan(q.to);
    expect(q.scale).toBeGreaterThan(0);
    expect(text.slice(q.index, q.index + q.matched.length)).toBe(q.matched);
  };
  const anyNow = fc.integer({ min: MIN_DATE_MS, max: MAX_DATE_MS });

  it("any string (Unicode, emoji, CJK, control characters) at any now: no throw, a valid range or null", () => {
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.string({
        unit: fc.constantFrom("五", "月", "🙂", "\u0000", "\ud800", " ", "2", "0", "-", "/", "M", "a", "y"),
        maxLength: 60,
      }),
    );
    fc.assert(
      fc.property(text, anyNow, (t, now) => valid(parseTimeQuery(t, now), t)),
      { numRuns: 500 },
    );
  });

  it("sentences made of time words at any now, including the window's ends", () => {
    const vocab = (
      "in on of the a last this next past early mid late end beginning between and from to before after since until " +
      "ago day days week weeks month months year years weekend couple few several two 3 12 9999 8th 31st 29 " +
      "May may March June December summer winter fall spring Christmas Easter New Year's Eve Thanksgiving " +
      "Friday Sunday yesterday today tomorrow 2023 1000 2999 1990s 2023-05-08 2023-02-30 9999-12-31 1000-01-01 , - 🙂 五月"
    ).split(" ");
    const sentence = fc.array(fc.constantFrom(...vocab), { maxLength: 12 }).map((ws) => ws.join(" "));
    const now = fc.oneof(anyNow, fc.constantFrom(MIN_DATE_MS, MAX_DATE_MS, NOW));
    fc.assert(
      fc.property(sentence, now, (t, n) => valid(parseTimeQuery(t, n), t)),
      { numRuns: 3000 },
    );
  });

  it("a bad now gives null, not a throw", () => {
    for (const now of [Number.NaN, Infinity, -Infinity, 1e300]) expect(parseTimeQuery("last week", now)).toBeNull();
  });

  it("a 20,000-word query parses in linear time", () => {
    // Every other word can start a time expression, none completes one: the scanner's worst case.
    const words =
      "the quick fox may march into spring while April said it may fall on a Sunday roast with 2,000 users".split(" ");
    const query = (n: number) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
    const short = query(1_000);
    const long = query(20_000);
    /** Milliseconds per parse of `text`, over `runs` parses. */
    const time = (text: string, runs: number) => {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) parseTimeQuery(text, NOW);
      return (performance.now() - t0) / runs;
    };
    expect(parseTimeQuery(short, NOW)).toBeNull();
    // Warmed up (the parser compiled) on the short query, with a generous bound for a loaded CI
    // machine, checked first: a quadratic scan fails here rather than in a long wait below.
    let ms1k = Infinity;
    for (let batch = 0; batch < 5; batch++) ms1k = Math.min(ms1k, time(short, 40));
    expect(ms1k * 1000).toBeLessThan(20_000);
    // Then, in turn, 40 short parses and two long ones: batches of about the same length, so a
    // machine under load slows both alike (with 1,000 against 10,000 words in batches of 20, the
    // long batches alone were slowed once, 52× for 10× the words). The fastest of each is the
    // closest to the parser's own cost.
    let ms20k = Infinity;
    const deadline = performance.now() + 3_000;
    for (let round = 0; round < 15 && performance.now() < deadline; round++) {
      ms1k = Math.min(ms1k, time(short, 40));
      ms20k = Math.min(ms20k, time(long, 2));
    }
    const [us1k, us20k] = [ms1k * 1000, ms20k * 1000];
    console.log(`time-query: 1,000 words ${us1k.toFixed(0)} µs, 20,000 words ${us20k.toFixed(0)} µs`);
    // Twenty times the words: linear is about 20 times the cost, quadratic about 400 times.
    expect(us20k).toBeLessThan(us1k * 100);
    // Expressions that take expressions nest one level only, so this is linear too.
    const nested = parseTimeQuery("the week before ".repeat(2_000) + "May 2023", NOW);
    expect(nested?.matched).toBe("before the week before May 2023");
  });
});
