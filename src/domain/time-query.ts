import { MAX_DATE_MS, MIN_DATE_MS } from "./input-limits.ts";

/**
 * Time expressions in search queries ("in May 2023", "last week", "around Christmas 2024") parsed
 * into a date range, and a boost for memories whose date falls in or near it.
 *
 * Own code rather than chrono-node: chrono costs only ~14 KiB gzip, but it has no years on their
 * own, seasons, holidays, ranges or "early/mid/late"; it reads "they march" and "April said" as
 * dates, resolves a year-less "in May" forward, and reads "8/5/2023" the US way. Wrapping it
 * would have meant writing most of this anyway.
 *
 * Conventions:
 * - Everything is UTC: a query has no time zone, and a day boundary off by a few hours is absorbed
 *   by the boost's smooth decay.
 * - Weeks start on Monday (ISO). Seasons are meteorological and northern: spring Mar–May, summer
 *   Jun–Aug, autumn/fall Sep–Nov, winter Dec–Feb, and "winter 2024" is Dec 2023–Feb 2024 (the
 *   winter whose January is in 2024).
 * - A month, season, holiday or day named without a year is the most recent one that has started
 *   on or before `now` ("in May" asked in December 2026 is May 2026, asked in March 2026 May 2025);
 *   "last May" is the most recent May that has ended; "this May" is the current year's; "next May"
 *   the first that starts after `now`.
 * - Holidays get a five-day window centred on the day (Christmas 2024: 23–27 December).
 * - Words that are also ordinary English need a time cue: "may"/"march"/"april"/"june"/"august"
 *   and month abbreviations only count after in/during/since/before/after/of/last/this/early/…,
 *   or followed by a day or a year ("May I ask", "they march", "April said" are not dates).
 *   Seasons always need a cue or a year ("a spring in the mattress", "leaves fall" are not),
 *   weekdays a cue ("on Sunday" is a date, a "Sunday roast" is not); "summer of love" and "the
 *   fall of Rome" are not seasons. Years are 1000–2999 as tokens of their own after a cue or a
 *   month ("in 2023", not "2,000 users", "version 2023.1", "$2000" or "in 1500 ms").
 * - Numeric day/month dates other than year-first ones are skipped: "8/5/2023" is 8 May in most
 *   of the world and 5 August in the US. "2023-05-08" and "2023/05/08" are read.
 * - Events ("before the trip", "after I moved") cannot be resolved by parsing: they need the
 *   memories themselves, so they give null (a caller could look the event up and use its date).
 */

/** How fine the named time is; "open" for before/after/since/until ranges. */
export type TimePrecision = "day" | "week" | "month" | "season" | "year" | "open";

/** A time named in a query, as a half-open range of epoch milliseconds. */
export interface TimeQuery {
  /** Start, inclusive, ≥ MIN_DATE_MS. */
  from: number;
  /** End, exclusive, ≤ MAX_DATE_MS + 1; always > from. */
  to: number;
  /** The phrase as written in the query. */
  matched: string;
  /** Where `matched` starts in the query text (UTF-16 offset). */
  index: number;
  precision: TimePrecision;
  /**
   * The width of the named period in ms (for an open range, of the period it is open from:
   * a month for "before June 2024"); `timeBoost` decays over it outside the range.
   */
  scale: number;
}

const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** The storable window as a half-open range. */
const WINDOW_END = MAX_DATE_MS + 1;

interface Period {
  from: number;
  to: number;
  precision: Exclude<TimePrecision, "open">;
}

/** How a period that recurs (every year, every week) is picked relative to a reference time. */
type Mode = "started" | "ended" | "this" | "next" | "onOrAfter";

/**
 * A time expression before it is pinned to a year. Explicit ones (a year was given, or the
 * expression is relative to now) ignore the arguments; the others pick an occurrence, which lets
 * "between March and May 2024" take March's year from May.
 */
interface Spec {
  explicit: boolean;
  /**
   * Which expression wins when a query names several: 3 a year or full date was given,
   * 2 relative to now ("last week", "two weeks ago", "last May"), 1 year-less ("in May") or today.
   */
  strength: 1 | 2 | 3;
  resolve(ref: number, mode: Mode): Period | null;
}

function fixed(p: Period | null, strength: Spec["strength"] = 2): Spec {
  return { explicit: true, strength, resolve: () => p };
}

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic (UTC)

/** Midnight UTC of year/month(0-based)/day; setUTCFullYear because Date.UTC maps years 0–99 to 1900s. */
function utc(y: number, m: number, d = 1): number {
  const t = new Date(0);
  t.setUTCFullYear(y, m, d);
  return t.getTime();
}
const dayStart = (t: number) => Math.floor(t / DAY) * DAY;
/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
const weekday = (t: number) => (((Math.floor(t / DAY) + 4) % 7) + 7) % 7;
/** Monday-based week number since the epoch; week 0 starts on Monday 1969-12-29. */
const weekIndex = (t: number) => Math.floor((t + 3 * DAY) / WEEK);
const weekStart = (k: number) => k * WEEK - 3 * DAY;
const yearOf = (t: number) => new Date(t).getUTCFullYear();
const monthIndexOf = (t: number) => {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};
const monthStart = (k: number) => utc(Math.floor(k / 12), ((k % 12) + 12) % 12);
function daysInMonth(y: number | null, m: number): number {
  // Without a year, 29 February is a valid day (it recurs, in leap years).
  return new Date(utc(y ?? 2000, m + 1, 0)).getUTCDate();
}

/**
 * Picks an occurrence of something that recurs: `occ(k)` is occurrence k (a year, a week index),
 * `k0` the index around the reference time. Occurrences are shorter than the recurrence, so the
 * answer is always within two of k0.
 */
function pick(occ: (k: number) => Period | null, k0: number, ref: number, mode: Mode): Period | null {
  const all: Period[] = [];
  for (let k = k0 - 2; k <= k0 + 2; k++) {
    const p = occ(k);
    if (p) all.push(p);
  }
  let best: Period | null = null;
  for (const p of all) {
    const take =
      mode === "started"
        ? p.from <= ref && (!best || p.from > best.from)
        : mode === "ended"
          ? p.to <= ref && (!best || p.from > best.from)
          : mode === "next"
            ? p.from > ref && (!best || p.from < best.from)
            : mode === "onOrAfter"
              ? p.from >= ref && (!best || p.from < best.from)
              : p.from <= ref && ref < p.to;
    if (take) best = p;
  }
  // "this": the occurrence holding ref, else the one indexed k0 (this year's May, this week's Friday).
  if (mode === "this" && !best) best = occ(k0);
  return best;
}

function yearly(occ: (y: number) => Period | null, year: number | null): Spec {
  if (year !== null) return fixed(occ(year), 3);
  return { explicit: false, strength: 1, resolve: (ref, mode) => pick(occ, yearOf(ref), ref, mode) };
}

function weekly(occ: (k: number) => Period | null): Spec {
  return { explicit: false, strength: 1, resolve: (ref, mode) => pick(occ, weekIndex(ref), ref, mode) };
}

/** A deferred spec pinned now: "last May", "next Friday". */
function relativeTo(spec: Spec, now: number, mode: Mode): Spec {
  return fixed(spec.resolve(now, mode), 2);
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const MONTHS = new Map<string, number>(
  Object.entries({
    january: 0,
    jan: 0,
    february: 1,
    feb: 1,
    march: 2,
    mar: 2,
    april: 3,
    apr: 3,
    may: 4,
    june: 5,
    jun: 5,
    july: 6,
    jul: 6,
    august: 7,
    aug: 7,
    september: 8,
    sep: 8,
    sept: 8,
    october: 9,
    oct: 9,
    november: 10,
    nov: 10,
    december: 11,
    dec: 11,
  }),
);
/** Month words that are also a modal, a verb, a name or an adjective, and all abbreviations. */
const AMBIGUOUS_MONTHS = new Set([
  "may",
  "march",
  "april",
  "june",
  "august",
  "jan",
  "feb",
  "mar",
  "apr",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
]);
/** Ambiguous only as names: after last/this/next they are months in any case. */
const NAME_MONTHS = new Set(["april", "june", "august"]);
/** Season → first month. */
const SEASONS = new Map<string, number>([
  ["spring", 2],
  ["summer", 5],
  ["autumn", 8],
  ["fall", 8],
  ["winter", 11],
]);
/** Nouns after a season word that make it a thing, not a time ("in spring water"). */
const SEASON_NOUNS = new Set([
  "water",
  "roll",
  "rolls",
  "onion",
  "onions",
  "mattress",
  "mattresses",
  "chicken",
  "squash",
]);
const WEEKDAYS = new Map<string, number>(
  Object.entries({ sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6 }),
);
const NUMBER_WORDS = new Map<string, number>(
  Object.entries({
    one: 1,
    two: 2,
    three: 3,
    four: 4,
    five: 5,
    six: 6,
    seven: 7,
    eight: 8,
    nine: 9,
    ten: 10,
    eleven: 11,
    twelve: 12,
    fifteen: 15,
    twenty: 20,
    thirty: 30,
  }),
);
type Unit = "day" | "week" | "month" | "year";
const UNITS = new Map<string, Unit>(
  Object.entries({
    day: "day",
    days: "day",
    week: "week",
    weeks: "week",
    month: "month",
    months: "month",
    year: "year",
    years: "year",
  }),
);
/** Words after a number that make it a quantity, not a year ("in 1500 ms", "in 2000 users"). */
const QUANTITY_NOUNS = new Set(
  (
    "ms s sec secs second seconds min mins minute minutes hour hours hrs km m mi miles meters metres feet ft " +
    "kg g lbs pounds kb mb gb tb bytes words tokens users people items rows lines times steps points dollars " +
    "euros usd eur calories kcal rpm px pixels"
  ).split(" "),
);

// Time cues: which words before an ambiguous word make it a time. "*" stands for the operand of
// a range or an open bound, where any time word is meant as one.
/** Cues of a period's bounds, shared by months, seasons and years. */
const BOUND_CUES = "since until till before after of throughout around from between by through".split(" ");
const MONTH_CUES = new Set(["in", "during", "on", ...BOUND_CUES]);
const SEASON_CUES = new Set(["in", "during", "over", ...BOUND_CUES]);
const YEAR_CUES = new Set(["in", "during", ...BOUND_CUES]);
const WEEKDAY_CUES = new Set(["on", "since", "until", "till", "before", "after", "from", "between", "by", "through"]);
const WEEKEND_CUES = new Set("on at over during since until till before after from between by".split(" "));
/** Every cue word: the scanner tries a time right after one. */
const CUES = new Set([...MONTH_CUES, ...SEASON_CUES, ...YEAR_CUES, ...WEEKDAY_CUES, ...WEEKEND_CUES]);
type Cue = string | null;
const cued = (set: Set<string>, cue: Cue) => cue === "*" || (cue !== null && set.has(cue));

// ---------------------------------------------------------------------------------------------
// Tokens

interface Tok {
  /** Lower case, typographic apostrophe folded. */
  w: string;
  raw: string;
  start: number;
  end: number;
  /** Whether it continues the phrase of the token before (only spaces, commas or dashes between). */
  joined: boolean;
}

interface Ctx {
  text: string;
  toks: Tok[];
  now: number;
}

// Year-first numeric dates are one token; otherwise runs of letters/digits with inner apostrophes.
const TOKEN =
  /\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:T[\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?|\d{4}-\d{2}(?![\d-])|[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
const PHRASE_GAP = /[\s,\-–—]/;

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let prevEnd = -1;
  for (const m of text.matchAll(TOKEN)) {
    const start = m.index;
    const raw = m[0];
    let joined = prevEnd >= 0;
    for (let c = prevEnd; joined && c < start; c++) joined = PHRASE_GAP.test(text[c]!);
    const lower = raw.toLowerCase();
    toks.push({
      w: lower.includes("’") ? lower.replace(/’/g, "'") : lower,
      raw,
      start,
      end: start + raw.length,
      joined,
    });
    prevEnd = start + raw.length;
  }
  return toks;
}

/** Token j if it exists and continues the phrase. */
function at(ctx: Ctx, j: number): Tok | undefined {
  const t = ctx.toks[j];
  return t && t.joined ? t : undefined;
}
const is = (ctx: Ctx, j: number, ...words: string[]) => {
  const t = at(ctx, j);
  return t !== undefined && words.includes(t.w);
};

/** A day of the month, "8" or "8th", with whether it had the ordinal suffix. */
function dayAt(t: Tok | undefined): { day: number; suffixed: boolean } | null {
  const m = t && /^(\d{1,2})(st|nd|rd|th)?$/.exec(t.w);
  if (!m) return null;
  const day = Number(m[1]);
  return day >= 1 && day <= 31 ? { day, suffixed: m[2] !== undefined } : null;
}

/** A standalone year 1000–2999: not part of a number, version, price or quantity. */
function yearAt(ctx: Ctx, j: number): number | null {
  const t = at(ctx, j);
  if (!t || !/^[12]\d{3}$/.test(t.w)) return null;
  const before = ctx.text[t.start - 1] ?? "";
  const after = ctx.text.slice(t.end, t.end + 2);
  if (/[\d.,/:$€£#]/.test(before) || /^[.,/:]\d/.test(after)) return null;
  const next = at(ctx, j + 1);
  if (next && QUANTITY_NOUNS.has(next.w)) return null;
  return Number(t.w);
}

// ---------------------------------------------------------------------------------------------
// Periods

function monthPeriod(y: number, m: number): Period {
  return { from: utc(y, m), to: utc(y, m + 1), precision: "month" };
}
function dayPeriod(y: number, m: number, d: number): Period | null {
  if (d > daysInMonth(y, m)) return null;
  const from = utc(y, m, d);
  return { from, to: from + DAY, precision: "day" };
}
/** Season occurrence indexed by the year it starts in (winter k: Dec k – Feb k+1). */
function seasonPeriod(k: number, first: number): Period {
  return { from: utc(k, first), to: utc(k, first + 3), precision: "season" };
}
function yearPeriod(y: number): Period {
  return { from: utc(y, 0), to: utc(y + 1, 0), precision: "year" };
}

function holidayWindow(day: number): Period {
  return { from: day - 2 * DAY, to: day + 3 * DAY, precision: "day" };
}
function easter(y: number): number {
  // Anonymous Gregorian algorithm.
  const a = y % 19,
    b = Math.floor(y / 100),
    c = y % 100,
    d = Math.floor(b / 4),
    e = b % 4;
  const f = Math.floor((b + 8) / 25),
    g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30,
    i = Math.floor(c / 4),
    k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7,
    m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31),
    day = ((h + l - 7 * m + 114) % 31) + 1;
  return utc(y, month - 1, day);
}
function thanksgiving(y: number): number {
  // Fourth Thursday of November (the US holiday).
  const first = utc(y, 10, 1);
  return first + (((4 - weekday(first) + 7) % 7) + 21) * DAY;
}

/**
 * A holiday name starting at token j: the day it falls on in a year, and its last token.
 * Lunar holidays (Ramadan, Diwali, Chinese New Year) would need tables and are not read.
 */
function holidayAt(ctx: Ctx, j: number, first: Tok): { day: (y: number) => number; end: number } | null {
  const w = first.w;
  const date = (m: number, d: number) => (y: number) => utc(y, m, d);
  if (w === "christmas" || w === "xmas") {
    if (is(ctx, j + 1, "eve")) return { day: date(11, 24), end: j + 1 };
    return { day: date(11, 25), end: is(ctx, j + 1, "day") ? j + 1 : j };
  }
  if (w === "boxing" && is(ctx, j + 1, "day")) return { day: date(11, 26), end: j + 1 };
  if (w === "new" && is(ctx, j + 1, "year's", "years", "year")) {
    if (is(ctx, j + 2, "eve")) return { day: date(11, 31), end: j + 2 };
    return { day: date(0, 1), end: is(ctx, j + 2, "day") ? j + 2 : j + 1 };
  }
  if (w === "valentine's" || w === "valentines") return { day: date(1, 14), end: is(ctx, j + 1, "day") ? j + 1 : j };
  if (w === "halloween") return { day: date(9, 31), end: j };
  if (w === "thanksgiving") return { day: thanksgiving, end: is(ctx, j + 1, "day") ? j + 1 : j };
  if (w === "easter") {
    // An Easter egg (the hidden kind) or Easter Island is not the holiday.
    if (is(ctx, j + 1, "egg", "eggs", "island")) return null;
    return { day: easter, end: is(ctx, j + 1, "sunday", "day") ? j + 1 : j };
  }
  if ((w === "st" || w === "saint") && is(ctx, j + 1, "patrick's", "patricks") && is(ctx, j + 2, "day")) {
    return { day: date(2, 17), end: j + 2 };
  }
  if (w === "independence" && is(ctx, j + 1, "day")) return { day: date(6, 4), end: j + 1 };
  if ((w === "fourth" || w === "4th") && is(ctx, j + 1, "of") && is(ctx, j + 2, "july"))
    return { day: date(6, 4), end: j + 2 };
  return null;
}

/** A count before a unit: digits, number words, "a", "a couple of", "a few", "several". */
function countAt(ctx: Ctx, j: number, first: Tok): { lo: number; hi: number; end: number } | null {
  const w = first.w;
  if (/^\d{1,4}$/.test(w)) return { lo: Number(w), hi: Number(w), end: j };
  const n = NUMBER_WORDS.get(w);
  if (n !== undefined) return { lo: n, hi: n, end: j };
  let k = j;
  if (w === "a" || w === "an") {
    if (!at(ctx, k + 1)) return { lo: 1, hi: 1, end: j };
    k++;
  }
  const t = k === j ? first : at(ctx, k);
  if (t?.w === "couple") return { lo: 2, hi: 2, end: is(ctx, k + 1, "of") ? k + 1 : k };
  // Vague counts span a few units; the boost's decay does the rest.
  if (t?.w === "few") return { lo: 2, hi: 4, end: k };
  if (t?.w === "several" && k === j) return { lo: 3, hi: 6, end: k };
  return k > j ? { lo: 1, hi: 1, end: j } : null;
}

/** The unit containing now shifted back by lo..hi units, as one period. */
function unitsAgo(now: number, unit: Unit, lo: number, hi: number): Period {
  switch (unit) {
    case "day": {
      const d = dayStart(now);
      return { from: d - hi * DAY, to: d - lo * DAY + DAY, precision: "day" };
    }
    case "week": {
      const k = weekIndex(now);
      return { from: weekStart(k - hi), to: weekStart(k - lo + 1), precision: "week" };
    }
    case "month": {
      const k = monthIndexOf(now);
      return { from: monthStart(k - hi), to: monthStart(k - lo + 1), precision: "month" };
    }
    case "year": {
      const y = yearOf(now);
      return { from: utc(y - hi, 0), to: utc(y - lo + 1, 0), precision: "year" };
    }
  }
}

/** The last n units up to the end of today: "the past week", "the last 3 days". */
function rolling(now: number, unit: Unit, n: number): Period {
  const d = dayStart(now);
  const day = new Date(d);
  const from =
    unit === "day"
      ? d - n * DAY
      : unit === "week"
        ? d - n * WEEK
        : unit === "month"
          ? utc(day.getUTCFullYear(), day.getUTCMonth() - n, day.getUTCDate())
          : utc(day.getUTCFullYear() - n, day.getUTCMonth(), day.getUTCDate());
  return { from, to: d + DAY, precision: unit };
}

/** The calendar week/month/year of now shifted by `shift` units: "last week", "this month". */
function calendar(now: number, unit: Exclude<Unit, "day">, shift: number): Period {
  return unitsAgo(now, unit, -shift, -shift);
}

const SMALLER: Record<Period["precision"], Period["precision"] | null> = {
  year: "season",
  season: "month",
  month: "week",
  week: null,
  day: null,
};

/** Early/mid/late: the first, middle or last third of a year, season or month. */
function third(p: Period, part: 0 | 1 | 2): Period | null {
  const precision = SMALLER[p.precision];
  if (!precision) return null;
  if (p.precision === "month") {
    const y = yearOf(p.from),
      m = new Date(p.from).getUTCMonth();
    const from = part === 0 ? p.from : utc(y, m, part === 1 ? 11 : 21);
    const to = part === 2 ? p.to : utc(y, m, part === 0 ? 11 : 21);
    return { from, to, precision };
  }
  const k0 = monthIndexOf(p.from),
    months = monthIndexOf(p.to) - k0;
  if (months % 3 === 0) {
    const n = months / 3;
    return { from: monthStart(k0 + part * n), to: monthStart(k0 + (part + 1) * n), precision };
  }
  const w = (p.to - p.from) / 3;
  return { from: dayStart(p.from + part * w), to: part === 2 ? p.to : dayStart(p.from + (part + 1) * w), precision };
}

function thirdOf(spec: Spec, part: 0 | 1 | 2): Spec {
  return {
    explicit: spec.explicit,
    strength: spec.strength,
    resolve: (ref, mode) => {
      const p = spec.resolve(ref, mode);
      return p && third(p, part);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Grammar

const QUALIFIERS: Record<string, 0 | 1 | 2 | undefined> = { early: 0, mid: 1, late: 2 };
const OF_QUALIFIERS: Record<string, 0 | 1 | 2 | undefined> = { beginning: 0, start: 0, middle: 1, end: 2 };
/** Words a count can start with ("two weeks ago", "a couple of days before"); digits aside. */
const COUNT_WORDS = new Set(["a", "an", "couple", "few", "several", ...NUMBER_WORDS.keys()]);
/** Words a single expression (after any cue and "the") can start with; digits aside. */
const CORE_STARTERS = new Set([
  "a",
  "an",
  "last",
  "this",
  "next",
  "past",
  "early",
  "mid",
  "late",
  "beginning",
  "start",
  "middle",
  "end",
  "yesterday",
  "today",
  "tonight",
  "tomorrow",
  "weekend",
  "couple",
  "few",
  "several",
  "year",
  ...MONTHS.keys(),
  ...SEASONS.keys(),
  ...WEEKDAYS.keys(),
  ...NUMBER_WORDS.keys(),
  ...UNITS.keys(),
  "christmas",
  "xmas",
  "boxing",
  "new",
  "valentine's",
  "valentines",
  "halloween",
  "thanksgiving",
  "easter",
  "st",
  "saint",
  "independence",
  "fourth",
]);

interface Hit {
  spec: Spec;
  /** Index of the last token used. */
  end: number;
}

/**
 * One time expression starting at token j (operators and ranges are handled by the caller).
 * `cue` is the word just before it (or "*" inside a range or bound); `nested` forbids the
 * constructions that take another expression, which keeps every parse a bounded number of tokens.
 */
function core(ctx: Ctx, j: number, cue: Cue, nested: boolean): Hit | null {
  // The caller has checked that token j continues the phrase of its cue.
  if (ctx.toks[j]?.w === "the") {
    const h = coreAfterThe(ctx, j + 1, cue, nested, true);
    if (h) return h;
  }
  return coreAfterThe(ctx, j, cue, nested, false);
}

function coreAfterThe(ctx: Ctx, j: number, cue: Cue, nested: boolean, hadThe: boolean): Hit | null {
  const t = hadThe ? at(ctx, j) : ctx.toks[j];
  if (!t) return null;
  const w = t.w;
  const c = w.charCodeAt(0);
  const digit = c >= 48 && c <= 57;
  if (!digit && !CORE_STARTERS.has(w)) return null;
  const now = ctx.now;
  const countable = digit || COUNT_WORDS.has(w);

  // Days relative to today. "Today" is often only the moment of asking ("what should I cook
  // today?"): the weakest.
  const day = (k: number): Spec => {
    const today = dayStart(now);
    return fixed({ from: today + k * DAY, to: today + (k + 1) * DAY, precision: "day" }, k === 0 ? 1 : 2);
  };
  if (!hadThe) {
    if (w === "today" || w === "tonight") return { spec: day(0), end: j };
    if (w === "yesterday") return { spec: day(-1), end: j };
    if (w === "tomorrow") return { spec: day(1), end: j };
    if (w === "this" && is(ctx, j + 1, "morning", "afternoon", "evening")) return { spec: day(0), end: j + 1 };
    if (w === "last" && is(ctx, j + 1, "night")) return { spec: day(-1), end: j + 1 };
  }

  // "the week before 9 June 2023", "a week after Christmas", "the Friday before last".
  if (!nested && (hadThe ? UNITS.has(w) || WEEKDAYS.has(w) || w === "weekend" : countable)) {
    const h = beforeAfter(ctx, j, hadThe);
    if (h) return h;
  }

  // last/this/next/past …
  if (w === "last" || w === "this" || w === "next" || w === "past") {
    let k = j + 1;
    let mode: Mode = w === "last" || w === "past" ? "ended" : w === "this" ? "this" : "next";
    let isRolling = hadThe || w === "past";
    if (w === "this" && is(ctx, k, "past")) {
      mode = "ended";
      isRolling = true;
      k++;
    }
    const h = relative(ctx, k, mode, isRolling && mode === "ended");
    if (h) return h;
  }

  // N units ago.
  const count = countable ? countAt(ctx, j, t) : null;
  if (count) {
    const unit = UNITS.get(at(ctx, count.end + 1)?.w ?? "");
    if (unit && is(ctx, count.end + 2, "ago")) {
      return { spec: fixed(unitsAgo(now, unit, count.lo, count.hi)), end: count.end + 2 };
    }
  }

  // early/mid/late X, the beginning/middle/end of X.
  if (!nested) {
    const withOf = OF_QUALIFIERS[w] !== undefined && is(ctx, j + 1, "of");
    const part = withOf ? OF_QUALIFIERS[w] : QUALIFIERS[w];
    const k = withOf ? j + 2 : j + 1;
    if (part !== undefined && at(ctx, k)) {
      const inner = core(ctx, k, "*", true);
      if (inner) return { spec: thirdOf(inner.spec, part), end: inner.end };
    }
  }

  // Year-first numeric dates: 2023-05-08, 2023/05/08, 2023-05.
  const iso = digit ? /^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?/.exec(w) : null;
  if (iso) {
    const y = Number(iso[1]),
      m = Number(iso[2]) - 1;
    if (m < 0 || m > 11) return null;
    if (iso[3] === undefined) return { spec: fixed(monthPeriod(y, m), 3), end: j };
    const d = Number(iso[3]);
    return d >= 1 ? { spec: fixed(dayPeriod(y, m, d), 3), end: j } : null;
  }

  // 8 May 2023, 8th of May, the 8th of May.
  const d0 = digit ? dayAt(t) : null;
  if (d0) {
    const hasOf = is(ctx, j + 1, "of");
    const k = hasOf ? j + 2 : j + 1;
    const mt = at(ctx, k);
    const m = MONTHS.get(mt?.w ?? "");
    if (mt && m !== undefined) {
      const y = yearAt(ctx, k + 1);
      const sure = !AMBIGUOUS_MONTHS.has(mt.w) || d0.suffixed || hasOf || y !== null || isCapitalized(mt);
      if (sure && d0.day <= daysInMonth(y, m)) return dayOfMonth(m, d0.day, y, y === null ? k : k + 1);
    }
  }

  // May, May 8th, May 8 2023, May 2023, May of 2023.
  const month = MONTHS.get(w);
  if (month !== undefined) {
    const ambiguous = AMBIGUOUS_MONTHS.has(w);
    const dd = dayAt(at(ctx, j + 1));
    if (dd) {
      const y = yearAt(ctx, j + 2);
      // "they march 10 miles": a bare number after an ambiguous word needs a cue or a capital.
      const sure = !ambiguous || dd.suffixed || y !== null || cued(MONTH_CUES, cue) || isCapitalized(t);
      if (sure && dd.day <= daysInMonth(y, month)) return dayOfMonth(month, dd.day, y, y === null ? j + 1 : j + 2);
    }
    const ofYear = is(ctx, j + 1, "of") ? j + 2 : j + 1;
    const y = yearAt(ctx, ofYear);
    if (y !== null) return { spec: fixed(monthPeriod(y, month), 3), end: ofYear };
    if (!ambiguous || cued(MONTH_CUES, cue)) {
      return { spec: yearly((yy) => monthPeriod(yy, month), null), end: j };
    }
    return null;
  }

  // summer 2024, the summer of 2024, in the spring.
  const season = SEASONS.get(w);
  if (season !== undefined) {
    const hasOf = is(ctx, j + 1, "of");
    const y = yearAt(ctx, hasOf ? j + 2 : j + 1);
    const occ = (k: number) => seasonPeriod(k, season);
    // "winter 2024" is the winter whose January is in 2024.
    if (y !== null) return { spec: fixed(occ(season === 11 ? y - 1 : y), 3), end: hasOf ? j + 2 : j + 1 };
    // "the summer of love", "the fall of Rome", "a spring in the mattress", "leaves fall".
    if (hasOf || !cued(SEASON_CUES, cue) || SEASON_NOUNS.has(at(ctx, j + 1)?.w ?? "")) return null;
    return { spec: yearly(occ, null), end: j };
  }

  // Christmas 2024, New Year's Eve, Thanksgiving.
  const holiday = holidayAt(ctx, j, t);
  if (holiday) {
    const ofYear = is(ctx, holiday.end + 1, "of") ? holiday.end + 2 : holiday.end + 1;
    const y = yearAt(ctx, ofYear);
    const occ = (yy: number) => holidayWindow(holiday.day(yy));
    return { spec: yearly(occ, y), end: y !== null ? ofYear : holiday.end };
  }

  // in 2023, in the year 2023, in the 1990s.
  if (cued(YEAR_CUES, cue)) {
    const k = hadThe && w === "year" ? j + 1 : j;
    const y = yearAt(ctx, k);
    if (y !== null) return { spec: fixed(yearPeriod(y), 3), end: k };
    const decade = /^([12]\d{2}0)s$/.exec(w);
    if (decade) {
      const y0 = Number(decade[1]);
      return { spec: fixed({ from: utc(y0, 0), to: utc(y0 + 10, 0), precision: "year" }, 3), end: j };
    }
  }

  // on Friday; over the weekend.
  const wd = WEEKDAYS.get(w);
  if (wd !== undefined && cued(WEEKDAY_CUES, cue)) return { spec: weekdaySpec(wd), end: j };
  if (w === "weekend" && cued(WEEKEND_CUES, cue)) return { spec: weekendSpec(), end: j };
  return null;
}

function isCapitalized(t: Tok): boolean {
  const c = t.raw[0] ?? "";
  return c !== c.toLowerCase();
}

function dayOfMonth(m: number, d: number, y: number | null, end: number): Hit {
  return { spec: yearly((yy) => dayPeriod(yy, m, d), y), end };
}

function weekdaySpec(wd: number): Spec {
  return weekly((k) => {
    const from = weekStart(k) + ((wd + 6) % 7) * DAY;
    return { from, to: from + DAY, precision: "day" };
  });
}
function weekendSpec(): Spec {
  return weekly((k) => ({ from: weekStart(k) + 5 * DAY, to: weekStart(k) + 7 * DAY, precision: "day" }));
}

/** After last/this/next/past: a unit, a weekday, the weekend, a month, a season, a holiday, or "N units". */
function relative(ctx: Ctx, k: number, mode: Mode, isRolling: boolean): Hit | null {
  const t = at(ctx, k);
  if (!t) return null;
  const now = ctx.now;
  const unit = UNITS.get(t.w);
  if (unit) {
    // "the past week", "the last month": the days up to now; "last week": the calendar week before.
    if (isRolling || unit === "day") return unit === "day" ? null : { spec: fixed(rolling(now, unit, 1)), end: k };
    const shift = mode === "ended" ? -1 : mode === "next" ? 1 : 0;
    return { spec: fixed(calendar(now, unit, shift)), end: k };
  }
  if (mode === "ended") {
    // "the last 3 days", "past two weeks", "last few months".
    const count = countAt(ctx, k, t);
    const u = count && UNITS.get(at(ctx, count.end + 1)?.w ?? "");
    if (count && u) return { spec: fixed(rolling(now, u, count.hi)), end: count.end + 1 };
  }
  const wd = WEEKDAYS.get(t.w);
  const month = MONTHS.get(t.w);
  const season = SEASONS.get(t.w);
  // "this may take long", "the last march": the modal and the verb only count capitalized here.
  const monthWord = month !== undefined && (!AMBIGUOUS_MONTHS.has(t.w) || NAME_MONTHS.has(t.w) || isCapitalized(t));
  const spec =
    wd !== undefined
      ? weekdaySpec(wd)
      : t.w === "weekend"
        ? weekendSpec()
        : month !== undefined && monthWord
          ? yearly((y) => monthPeriod(y, month), null)
          : season !== undefined
            ? yearly((y) => seasonPeriod(y, season), null)
            : null;
  if (spec) return { spec: relativeTo(spec, now, mode), end: k };
  const holiday = holidayAt(ctx, k, t);
  if (holiday)
    return {
      spec: relativeTo(
        yearly((y) => holidayWindow(holiday.day(y)), null),
        now,
        mode,
      ),
      end: holiday.end,
    };
  return null;
}

/**
 * "the week before X", "a week after Christmas", "the Friday before 9 June 2023", "two days
 * before X"; and "the week of X", "the weekend of X": the calendar week (weekend) holding X.
 */
function beforeAfter(ctx: Ctx, j: number, hadThe: boolean): Hit | null {
  const t = hadThe ? at(ctx, j) : ctx.toks[j];
  if (!t) return null;
  let n = 1;
  let k = j;
  if (!hadThe) {
    const count = countAt(ctx, j, t);
    if (!count) return null;
    n = count.hi;
    k = count.end + 1;
  }
  const u = at(ctx, k);
  if (!u) return null;
  const unit = UNITS.get(u.w);
  const wd = WEEKDAYS.get(u.w);
  const weekend = u.w === "weekend";
  if (!unit && wd === undefined && !weekend) return null;
  const op = at(ctx, k + 1);
  const of = op?.w === "of" && hadThe && (unit === "week" || weekend);
  if (!op || (op.w !== "before" && op.w !== "after" && !of) || !at(ctx, k + 2)) return null;
  const inner = core(ctx, k + 2, "*", true);
  if (!inner) return null;
  const after = op.w === "after";
  const spec: Spec = {
    explicit: inner.spec.explicit,
    strength: inner.spec.strength,
    resolve: (ref, mode) => {
      const p = inner.spec.resolve(ref, mode);
      if (!p) return null;
      if (of) {
        if (weekend) return weekendSpec().resolve(p.from, "this");
        const w0 = weekStart(weekIndex(p.from));
        return { from: w0, to: w0 + WEEK, precision: "week" };
      }
      if (unit) {
        const span = unitsSpan(after ? p.to : p.from, unit, after ? n : -n);
        return after ? { from: p.to, to: span, precision: unit } : { from: span, to: p.from, precision: unit };
      }
      const s = wd !== undefined ? weekdaySpec(wd) : weekendSpec();
      return after ? s.resolve(p.to, "onOrAfter") : s.resolve(p.from, "ended");
    },
  };
  return { spec, end: inner.end };
}

/** t moved by n units (n may be negative), by calendar for months and years. */
function unitsSpan(t: number, unit: Unit, n: number): number {
  if (unit === "day") return t + n * DAY;
  if (unit === "week") return t + n * WEEK;
  const d = new Date(t);
  const months = unit === "month" ? n : 12 * n;
  return utc(d.getUTCFullYear(), d.getUTCMonth() + months, d.getUTCDate()) + (t - dayStart(t));
}

// ---------------------------------------------------------------------------------------------
// Ranges, bounds and the scan

interface Found {
  period: Period | { from: number; to: number; precision: "open"; scale: number };
  strength: number;
  start: number;
  end: number;
}

const RANGE_OPENERS: Record<string, string[]> = {
  between: ["and"],
  from: ["to", "until", "till", "through", "thru", "and"],
};

function range(ctx: Ctx, i: number): Found | null {
  const connectors = RANGE_OPENERS[ctx.toks[i]!.w];
  if (!connectors || !at(ctx, i + 1)) return null;
  const a = core(ctx, i + 1, "*", false);
  if (!a) return null;
  const c = at(ctx, a.end + 1);
  if (!c || !connectors.includes(c.w) || !at(ctx, a.end + 2)) return null;
  const b = core(ctx, a.end + 2, "*", false);
  if (!b) return null;
  // A side without a year takes it from the other: "between March and May 2024",
  // "from November to February 2024" (November 2023), "from May 2023 to August".
  let pa: Period | null, pb: Period | null;
  if (a.spec.explicit) {
    pa = a.spec.resolve(ctx.now, "started");
    pb = pa && b.spec.resolve(pa.from, "onOrAfter");
  } else {
    pb = b.spec.resolve(ctx.now, "started");
    pa = pb && a.spec.resolve(pb.from, "started");
  }
  if (!pa || !pb) return null;
  const order = ["day", "week", "month", "season", "year"];
  const precision = order.indexOf(pa.precision) >= order.indexOf(pb.precision) ? pa.precision : pb.precision;
  return {
    period: { from: Math.min(pa.from, pb.from), to: Math.max(pa.to, pb.to), precision },
    strength: Math.max(a.spec.strength, b.spec.strength),
    start: i,
    end: b.end,
  };
}

/** before/after/since/until X: a range open on one side to the storable window's edge. */
function bound(ctx: Ctx, i: number): Found | null {
  const w = ctx.toks[i]!.w;
  let k = i + 1;
  if (w === "prior" || w === "up") {
    if (!is(ctx, k, "to")) return null;
    k++;
  } else if (!["before", "after", "since", "until", "till"].includes(w)) return null;
  if (!at(ctx, k)) return null;
  const h = core(ctx, k, "*", false);
  if (!h) return null;
  const p = h.spec.resolve(ctx.now, "started");
  if (!p) return null;
  const scale = p.to - p.from;
  const [from, to] =
    w === "before" || w === "prior"
      ? [MIN_DATE_MS, p.from]
      : w === "after"
        ? [p.to, WINDOW_END]
        : w === "since"
          ? [p.from, WINDOW_END]
          : [MIN_DATE_MS, p.to];
  return { period: { from, to, precision: "open", scale }, strength: h.spec.strength, start: i, end: h.end };
}

/** Words an expression can start with; digits aside. Most words of a query are not, and are skipped at once. */
const STARTERS = new Set([
  ...CUES,
  ...Object.keys(RANGE_OPENERS),
  "before",
  "after",
  "since",
  "until",
  "till",
  "prior",
  "up",
  "the",
  ...CORE_STARTERS,
]);

function matchAt(ctx: Ctx, i: number): Found | null {
  const w = ctx.toks[i]!.w;
  const c = w.charCodeAt(0);
  if (!(c >= 48 && c <= 57) && !STARTERS.has(w)) return null;
  const r = range(ctx, i) ?? bound(ctx, i);
  if (r) return r;
  const single = (j: number, cue: Cue, start: number): Found | null => {
    const h = core(ctx, j, cue, false);
    const p = h?.spec.resolve(ctx.now, "started");
    return h && p ? { period: p, strength: h.spec.strength, start, end: h.end } : null;
  };
  if (CUES.has(w) && at(ctx, i + 1)) {
    const f = single(i + 1, w, i);
    if (f) return f;
  }
  return single(i, null, i);
}

/** Clamps a found range into the storable window; null if nothing of it is left. */
function finish(ctx: Ctx, f: Found): TimeQuery | null {
  const from = Math.max(f.period.from, MIN_DATE_MS);
  const to = Math.min(f.period.to, WINDOW_END);
  if (!(from < to)) return null;
  const first = ctx.toks[f.start]!,
    last = ctx.toks[f.end]!;
  const scale = f.period.precision === "open" ? f.period.scale : f.period.to - f.period.from;
  return {
    from,
    to,
    matched: ctx.text.slice(first.start, last.end),
    index: first.start,
    precision: f.period.precision,
    scale: Number.isFinite(scale) && scale > 0 ? scale : DAY,
  };
}

/**
 * The time named in a search query, or null. When a query names several, the first of the
 * strongest wins: one with a year or a full date, else one relative to now ("last week", "two
 * weeks ago", "last May"), else a year-less one ("in May") or "today".
 *
 * `now` is epoch ms; year-less and relative expressions are resolved against it. The result is
 * always a non-empty half-open range inside [MIN_DATE_MS, MAX_DATE_MS + 1). Linear in the text.
 */
export function parseTimeQuery(text: string, now: number): TimeQuery | null {
  if (!Number.isFinite(now) || typeof text !== "string") return null;
  const ctx: Ctx = { text, toks: tokenize(text), now };
  let best: TimeQuery | null = null;
  let bestStrength = 0;
  for (let i = 0; i < ctx.toks.length; i++) {
    const f = matchAt(ctx, i);
    if (!f) continue;
    const q = finish(ctx, f);
    if (q && f.strength > bestStrength) {
      if (f.strength === 3) return q;
      best = q;
      bestStrength = f.strength;
    }
    i = f.end;
  }
  return best;
}

/**
 * How well a memory's date fits the queried time, in [0, 1]: 1 inside [from, to), falling off
 * smoothly outside over half the period's width (at least half a day): a memory a tenth of a
 * period outside still scores ~0.96, one a period outside 0.2, ten periods 0.0025. So "May 2023"
 * still prefers 3 June (0.96) over December (0.006). 0 when the memory has no date.
 *
 * Search weighs relevance by it (`boostInTime` in ranking.ts) and adds the memories dated in
 * [from, to) to its candidates; it keeps the query's words (see MemorySearch.search).
 */
export function timeBoost(date: number | null | undefined, q: TimeQuery): number {
  if (date === null || date === undefined || !Number.isFinite(date)) return 0;
  if (date >= q.from && date < q.to) return 1;
  const distance = date < q.from ? q.from - date : date - q.to;
  const x = distance / Math.max(q.scale / 2, DAY / 2);
  return 1 / (1 + x * x);
}
