// Cursor pages have no number: to go back a page, and to say "21–40 of 734", the explorer keeps,
// for each next cursor a list handed it, the cursor of the page before and the row that page
// starts at. In session storage, so a reload (or Back) keeps them; a cursor from a pasted link has
// neither, and Previous goes to the first page.

const KEY = "edgemem.pages";
/** Enough for a long walk; the oldest entries go first. */
const MAX = 500;

/** Where a cursor's page sits: the cursor of the page before (null: the first) and its first row (0-based; null: unknown). */
export interface Trail {
  prev: string | null;
  at: number | null;
}

type Trails = Record<string, Trail>;

function read(): Trails {
  try {
    return (JSON.parse(sessionStorage.getItem(KEY) ?? "{}") as Trails) ?? {};
  } catch {
    return {};
  }
}

/**
 * The list a cursor belongs to: the view and its query without the paging parameters, so one
 * cursor followed under other filters is another page.
 */
export function listKey(view: string, query: URLSearchParams): string {
  const q = new URLSearchParams([...query].filter(([k]) => k !== "cursor" && k !== "offset"));
  q.sort();
  return `${view}?${q}`;
}

/** Remembers where the page that `cursor` opens sits in `list`. */
export function remember(list: string, cursor: string, trail: Trail): void {
  const all = read();
  const key = `${list}#${cursor}`;
  delete all[key];
  all[key] = trail;
  const keys = Object.keys(all);
  for (const k of keys.slice(0, Math.max(0, keys.length - MAX))) delete all[k];
  try {
    sessionStorage.setItem(KEY, JSON.stringify(all));
  } catch {
    // Storage full or off: paging still works, Previous then goes to the first page.
  }
}

/** Where the page `cursor` opens sits in `list`, if this tab followed it there. */
export function trailOf(list: string, cursor: string): Trail | null {
  return read()[`${list}#${cursor}`] ?? null;
}
