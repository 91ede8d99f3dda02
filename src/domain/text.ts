/** Text helpers shared by keyword search and the offline embedder. */

export const STOPWORDS = new Set(
  (
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in into " +
    "is it its me my no not of on or our she so than that the their them then there these they this those to " +
    "us was we were what when where which who whom why will with would you your about after also any just over " +
    "should some such very"
  ).split(" "),
);

/** Lower-cased word tokens (letters and digits, Unicode-aware), in order. */
export function words(text: string): string[] {
  return text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * An FTS5 MATCH expression for free text: the distinct non-stopword terms, each quoted (so no
 * user text is ever parsed as FTS syntax), OR-ed together; BM25 then ranks documents that match
 * more and rarer terms higher. Returns null when the text has no searchable term.
 */
export function ftsQuery(text: string, maxTerms = 32): string | null {
  const all = [...new Set(words(text))];
  const content = all.filter((w) => !STOPWORDS.has(w));
  const terms = (content.length ? content : all).slice(0, maxTerms);
  if (!terms.length) return null;
  return terms.map((t) => `"${t}"`).join(" OR ");
}

/** Escapes LIKE wildcards for use with `ESCAPE '\'`. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
