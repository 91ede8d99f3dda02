// The Memories pages: the list (filters, search with its mode and explain, pages; its state in the
// hash query, so a reload or a link restores it; browsing pages by cursor, a ranked search by offset) and one memory (fields, history, edit, pin,
// feedback, delete). Both follow live memory events.
import {
  MEMORY_TYPES,
  type FeedbackResult,
  type HistoryEntry,
  type MemoryHit,
  type MemoryPatch,
  type MemoryRecord,
  type MemoryType,
  type ScoreDetails,
  type SearchMode,
  type SearchRequest,
} from "../../../client/index.ts";
import type { View } from "../app.ts";
import { clip, confirmInline, h, memoryLink, problem, replace, when, type Child } from "../dom.ts";
import { listKey, remember, trailOf } from "../pages.ts";

const MODES: SearchMode[] = ["hybrid", "semantic", "keyword"];
const PAGE_SIZES = [10, 20, 50, 100];
const LIVE_DEBOUNCE_MS = 300;
/** History entries a memory's page shows at first, and adds with each "Show older". */
const HISTORY_PAGE = 50;
/** The list's text filters: query parameter, label, hint, example. */
const TEXT_FILTERS = [
  ["namespace", "Namespace", "", ""],
  ["user", "User", "", ""],
  ["topics", "Topics", "any of", "food, drinks"],
  ["entities", "Entities", "any of", "Alice, Bob"],
] as const;

/** The list as last shown, so the detail's way back keeps its filters and page. */
let listHash = "#/memories";

const list = (s: string | null) =>
  (s ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
const num = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n.toFixed(3));
const time = (iso: string | null) => h("time", { datetime: iso ?? undefined }, when(iso));
/** The day only, the time in a tooltip: the list has many columns. */
const date = (iso: string) => h("time", { datetime: iso, title: when(iso) }, when(iso, "day"));
/** The instants the server accepts: 1000-01-01 to 9999-12-31 (UTC). */
const FIRST_MS = Date.UTC(1000, 0, 1);
const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/**
 * The local day `d` (yyyy-mm-dd, the `from`/`to` query parameter) plus `days`, as an instant,
 * within the server's window (a local day at either edge reaches past it in UTC). A hand-edited
 * address can hold anything: that is an error saying which parameter.
 */
const day = (name: string, d: string, days = 0) => {
  const t = new Date(`${d}T00:00`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || Number.isNaN(t.getTime()))
    throw new Error(`“${d}” in the address is not a date (${name}=yyyy-mm-dd)`);
  t.setDate(t.getDate() + days);
  return new Date(Math.min(LAST_MS, Math.max(FIRST_MS, t.getTime()))).toISOString();
};
const limitOf = (q: URLSearchParams) => Number(q.get("limit")) || 20;
const offsetOf = (q: URLSearchParams) => Math.max(0, Number(q.get("offset")) || 0);

/**
 * The search request a list query stands for; throws for a date that is not one. Browsing (no
 * text) pages by cursor, which costs the same on any page; a ranked search by offset (its depth is
 * bounded anyway). An offset in an old link still works for either.
 */
function searchOf(q: URLSearchParams): SearchRequest {
  const text = q.get("q")?.trim() || undefined;
  const cursor = text ? null : q.get("cursor");
  const req: SearchRequest = {
    text,
    limit: limitOf(q),
    ...(cursor ? { cursor } : { offset: offsetOf(q) }),
    search_mode: (q.get("mode") as SearchMode | null) ?? "hybrid",
    explain: Boolean(text && q.has("explain")),
  };
  const eq = (key: string) => (q.get(key) ? { eq: q.get(key)! } : undefined);
  const any = (key: string) => (list(q.get(key)).length ? { any: list(q.get(key)) } : undefined);
  req.namespace = eq("namespace");
  req.user_id = eq("user");
  req.memory_type = eq("type");
  req.topics = any("topics");
  req.entities = any("entities");
  const from = q.get("from");
  const to = q.get("to");
  if (from || to) req.created_at = { gte: from ? day("from", from) : undefined, lt: to ? day("to", to, 1) : undefined };
  return req;
}

function tagLinks(key: "topics" | "entities", values: string[]): Child {
  return values.map((v) => h("a", { class: "tag", href: `#/memories?${new URLSearchParams({ [key]: v })}` }, v));
}

/** Why a hit ranked where it did: each part of its score that applies, labelled. */
function explain(d: ScoreDetails, type: SearchMode): HTMLElement {
  const rank = (r: number | null) => (r === null ? "" : ` (rank ${r})`);
  const parts: [string, string | null][] = [
    ["Vector (cosine)", d.vector === null ? null : num(d.vector) + rank(d.vector_rank)],
    ["Keyword (BM25)", d.keyword === null ? null : num(d.keyword) + rank(d.keyword_rank)],
    ["Keyword match", d.keyword_match === null ? null : num(d.keyword_match)],
    ["Vector weight (α)", d.vector_weight === null ? null : num(d.vector_weight)],
    ["Rerank", d.rerank === null ? null : num(d.rerank)],
    ["Time fit", d.time === null ? null : num(d.time)],
    ["Relevance", num(d.relevance)],
    ["Recency", d.recency === null ? null : num(d.recency)],
    ["Final", num(d.final)],
  ];
  return h(
    "details",
    { class: "why" },
    h("summary", {}, "Why this score"),
    h(
      "dl",
      {},
      h("dt", {}, "Scored by"),
      h("dd", {}, type),
      parts.filter(([, v]) => v !== null).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
  );
}

export const memoriesView: View = (app, root, _arg, query) => {
  let q = query;
  let seq = 0;
  const field = (id: string, label: string, control: HTMLElement, hint = "") =>
    h(
      "div",
      { class: "field" },
      h("label", { for: id }, label, hint && h("span", { class: "hint" }, ` (${hint})`)),
      control,
    );
  const input = (name: string, attrs: Record<string, string> = {}) =>
    h("input", { id: `f-${name}`, name, value: q.get(name) ?? "", ...attrs });
  const select = (name: string, options: readonly string[], empty: string | null, value: string | null) =>
    h(
      "select",
      { id: `f-${name}`, name, onchange: () => form.requestSubmit() },
      empty === null ? null : h("option", { value: "" }, empty),
      options.map((o) => h("option", { value: o, selected: o === value }, o)),
    );

  const form: HTMLFormElement = h(
    "form",
    {
      class: "filters",
      role: "search",
      "aria-label": "Search and filter memories",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        const next = new URLSearchParams();
        for (const [k, v] of new FormData(form)) if (typeof v === "string" && v.trim()) next.set(k, v.trim());
        if (next.get("mode") === "hybrid") next.delete("mode");
        if (next.get("limit") === "20") next.delete("limit");
        show(next, true);
      },
    },
    h(
      "div",
      { class: "search-row" },
      field("f-q", "Search", input("q", { type: "search", placeholder: "e.g. what does Alice drink?" })),
      field("f-mode", "Mode", select("mode", MODES, null, q.get("mode") ?? "hybrid")),
      h(
        "div",
        { class: "field check" },
        h("input", {
          type: "checkbox",
          id: "f-explain",
          name: "explain",
          value: "1",
          checked: q.has("explain"),
          onchange: () => form.requestSubmit(),
        }),
        h("label", { for: "f-explain" }, "Explain scores"),
      ),
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "secondary", onclick: () => show(new URLSearchParams(), true) }, "Clear"),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Filters"),
      field("f-type", "Type", select("type", MEMORY_TYPES, "any", q.get("type"))),
      TEXT_FILTERS.map(([name, label, hint, example]) =>
        field(`f-${name}`, label, input(name, { placeholder: example }), hint),
      ),
      field("f-from", "Created from", input("from", { type: "date" })),
      field("f-to", "Created until", input("to", { type: "date" })),
      field("f-limit", "Per page", select("limit", PAGE_SIZES.map(String), null, q.get("limit") ?? "20")),
    ),
  );
  const count = h("p", { id: "count", class: "count", role: "status", "aria-live": "polite" });
  const results = h("div", { class: "results" });
  const prev = h("button", { type: "button", class: "secondary", onclick: () => page(-1) }, "Previous");
  const next = h("button", { type: "button", class: "secondary", onclick: () => page(1) }, "Next");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, next);
  const section = h(
    "section",
    { class: "memories", "aria-labelledby": "memories-title" },
    h("h1", { id: "memories-title" }, "Memories"),
    form,
    count,
    results,
    pager,
  );
  replace(root, section);

  /** Shows the list for `next` (new history entry when `push`: Back returns to the previous one). */
  function show(nextQuery: URLSearchParams, push: boolean): void {
    q = nextQuery;
    const hash = `#/memories${q.size ? `?${q}` : ""}`;
    listHash = hash;
    if (push && location.hash !== hash) history.pushState(null, "", hash);
    for (const el of form.elements) {
      const c = el as HTMLInputElement;
      if (c.type === "checkbox") c.checked = q.has(c.name);
      else if (c.name) c.value = q.get(c.name) ?? (c.name === "mode" ? "hybrid" : c.name === "limit" ? "20" : "");
    }
    void load();
  }
  /** The next page's cursor when browsing (null on the last page, or when searching). */
  let nextCursor: string | null = null;
  function page(dir: 1 | -1): void {
    const p = new URLSearchParams(q);
    const cursor = q.get("cursor");
    if (q.get("q")?.trim() || (dir === -1 && !cursor)) {
      const offset = Math.max(0, offsetOf(q) + dir * limitOf(q));
      if (offset) p.set("offset", String(offset));
      else p.delete("offset");
    } else {
      p.delete("offset");
      // Back: the page this one was reached from (unknown, from a pasted link: the first page).
      const to = dir === 1 ? nextCursor : trailOf(listKey("memories", q), cursor!)?.prev;
      if (to) p.set("cursor", to);
      else p.delete("cursor");
    }
    show(p, true);
  }

  async function load(): Promise<void> {
    const mine = ++seq;
    results.setAttribute("aria-busy", "true");
    try {
      const req = searchOf(q);
      const res = await app.client.searchLongTermMemory(req);
      if (mine !== seq) return;
      nextCursor = res.next_cursor;
      render(req, res.memories, res.total, res.next_offset, res.warnings ?? []);
    } catch (e) {
      if (mine !== seq) return;
      replace(count, "");
      replace(results, h("p", { class: "error", role: "alert" }, `Could not load memories: ${problem(e)}`));
      prev.disabled = next.disabled = true;
    }
    results.removeAttribute("aria-busy");
    section.dataset.ready = "";
  }

  function render(req: SearchRequest, hits: MemoryHit[], total: number, nextOffset: number | null, warnings: string[]) {
    const searching = Boolean(req.text);
    const key = listKey("memories", q);
    // Where this page starts: the offset, or for a cursor where this tab followed it (null: unknown).
    const offset = req.cursor ? (trailOf(key, req.cursor)?.at ?? null) : (req.offset ?? 0);
    if (nextCursor)
      remember(key, nextCursor, { prev: req.cursor ?? null, at: offset === null ? null : offset + hits.length });
    const later = Boolean(req.cursor || offset);
    const filtered = [...q.keys()].some((k) => !["offset", "cursor", "limit", "mode", "explain"].includes(k));
    replace(
      count,
      hits.length
        ? offset === null
          ? `Showing ${hits.length} of ${total}`
          : `Showing ${offset + 1}–${offset + hits.length} of ${total}${searching ? " ranked" : ""}`
        : filtered || later
          ? "No matches."
          : "No memories yet.",
    );
    const hadFocus = pager.contains(document.activeElement);
    prev.disabled = !later;
    next.disabled = nextOffset === null && nextCursor === null;
    // A pager button that just got disabled would drop the focus onto the page.
    if (hadFocus && (document.activeElement as HTMLButtonElement).disabled) (prev.disabled ? next : prev).focus();
    pager.hidden = prev.disabled && next.disabled;
    if (!hits.length) {
      replace(
        results,
        h(
          "p",
          { class: "empty" },
          filtered || later
            ? "No memories match these filters."
            : "No memories yet: they appear here as agents write them.",
        ),
      );
      return;
    }
    replace(
      results,
      warnings.map((w) => h("p", { class: "hint warning" }, w)),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "memories" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              [
                "Memory",
                searching && "Score",
                "Type",
                "Topics",
                "Entities",
                "Namespace / user",
                "Created",
                "Updated",
              ].map((c) => c && h("th", { scope: "col" }, c)),
            ),
          ),
          h(
            "tbody",
            {},
            hits.map((m) =>
              h(
                "tr",
                { "data-id": m.id },
                h(
                  "td",
                  { class: "text" },
                  m.pinned ? h("span", { class: "badge pinned", title: "Pinned: never forgotten" }, "pinned") : null,
                  " ",
                  memoryLink(m.id, clip(m.text, 140)),
                  m.score_details ? explain(m.score_details, m.score_type) : null,
                ),
                searching ? h("td", { class: "score" }, num(m.score)) : null,
                h("td", {}, m.memory_type),
                h("td", { class: "tags" }, tagLinks("topics", m.topics)),
                h("td", { class: "tags" }, tagLinks("entities", m.entities)),
                h("td", {}, m.namespace ?? "—", h("br", {}), h("span", { class: "hint" }, m.user_id ?? "—")),
                h("td", { class: "date" }, date(m.created_at)),
                h("td", { class: "date" }, date(m.updated_at)),
              ),
            ),
          ),
        ),
      ),
    );
  }

  show(q, false);
  app.onEvent(() => void load(), { debounceMs: LIVE_DEBOUNCE_MS, filter: (e) => e.event !== "feedback_recorded" });
  return () => {
    seq++;
  };
};

/** Fields a history entry's diff leaves out: derived on every write, they say nothing new. */
const DERIVED = new Set(["updated_at", "last_accessed", "memory_hash", "persisted_at"]);

function shown(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === "object") return Object.keys(v).length ? JSON.stringify(v) : "—";
  return String(v);
}

/** What an entry changed, field by field: the text of a create, the fields an update changed. */
function changes(e: HistoryEntry): [string, string, string][] {
  const before = (e.before ?? {}) as unknown as Record<string, unknown>;
  const after = (e.after ?? {}) as unknown as Record<string, unknown>;
  if (e.op !== "update") return e.op === "create" ? [["text", "—", shown(after.text)]] : [];
  return Object.keys({ ...before, ...after })
    .filter((k) => !DERIVED.has(k))
    .map((k): [string, string, string] => [k, shown(before[k]), shown(after[k])])
    .filter(([, b, a]) => b !== a);
}

function historyTable(entries: HistoryEntry[]): HTMLElement {
  const op = { create: "created", update: "updated", delete: "deleted" };
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id: "history", tabindex: -1 },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["When", "Who", "Change"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        // Newest first, as the server pages them.
        entries.map((e) =>
          h(
            "tr",
            { "data-op": e.op },
            h("td", { class: "date" }, time(e.at)),
            h("td", {}, e.actor),
            h(
              "td",
              {},
              h("span", { class: `tag ${op[e.op]}` }, op[e.op]),
              e.reason ? h("span", { class: "hint" }, ` ${e.reason}`) : null,
              h(
                "ul",
                { class: "diff" },
                changes(e).map(([k, b, a]) =>
                  h(
                    "li",
                    {},
                    h("span", { class: "field-name" }, k),
                    e.op === "update"
                      ? [
                          h("del", {}, h("span", { class: "sr-only" }, "before: "), b),
                          h("span", { "aria-hidden": "true" }, " → "),
                        ]
                      : null,
                    h("ins", {}, h("span", { class: "sr-only" }, "after: "), a),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

export const memoryView: View = (app, root, arg) => {
  const id = arg ?? "";
  let memory: MemoryRecord | null = null;
  /** The history shown, newest first, and the cursor of the entries older than it (null: none). */
  let history: HistoryEntry[] = [];
  let older: string | null = null;
  let state: "view" | "edit" | "gone" = "view";
  /** A message above the memory: why it is gone, or could not be read. */
  let note: Child = null;
  /** Feedback's answer, under the buttons. */
  let result: Child = null;
  let left = false;
  /** The latest load (or change): an older answer arriving after it is dropped. */
  let seq = 0;
  const top = h("div");
  const past = h("div");
  const editNote = h("p", { class: "hint edit-note", role: "status" });
  const section = h(
    "section",
    { class: "memory", "aria-labelledby": "memory-title" },
    h("p", {}, h("a", { href: listHash }, "← Memories")),
    h("h1", { id: "memory-title" }, "Memory"),
    top,
    past,
  );
  replace(root, section);

  /** The newest entries: a page more than are shown, so a reload keeps what "Show older" added, and what came since. */
  const newestHistory = () =>
    app.client.memoryHistory(id, { order: "desc", limit: Math.min(1000, history.length + HISTORY_PAGE) });

  async function load(): Promise<void> {
    const mine = ++seq;
    const [m, hist] = await Promise.allSettled([app.client.getLongTermMemory(id), newestHistory()]);
    if (left || mine !== seq) return;
    [history, older] = hist.status === "fulfilled" ? [hist.value.history, hist.value.next_cursor] : [[], null];
    if (m.status === "rejected") {
      const missing = (m.reason as { status?: number }).status === 404;
      if (state !== "gone" || !missing)
        note = !missing
          ? h("p", { class: "error", role: "alert" }, `Could not load the memory: ${problem(m.reason)}`)
          : h(
              "p",
              { class: "gone", role: "status" },
              `Memory ${id} not found${history.length ? ": it was deleted." : "."}`,
            );
      state = "gone";
      memory = null;
    } else {
      memory = m.value;
      // Back (an id can be written again): shown as it is now.
      if (state === "gone") [state, note] = ["view", null];
    }
    // An edit in progress is kept (Save sends only the fields changed in it); what is behind it refreshes.
    if (state === "edit") {
      if (m.status === "fulfilled")
        editNote.textContent = "This memory changed meanwhile; Save sends only your changes.";
      showHistory();
    } else render();
    section.dataset.ready = "";
  }

  function showHistory(): void {
    const more =
      older &&
      h(
        "p",
        {},
        h("button", { type: "button", id: "history-older", class: "secondary", onclick: showOlder }, "Show older"),
      );
    replace(past, history.length ? [h("h2", {}, "History"), historyTable(history), more] : null);
  }

  /** The next page of older entries, under those shown. */
  async function showOlder(): Promise<void> {
    const cursor = older;
    if (!cursor) return;
    try {
      const page = await app.client.memoryHistory(id, { order: "desc", limit: HISTORY_PAGE, cursor });
      if (left || older !== cursor) return;
      history = [...history, ...page.history];
      older = page.next_cursor;
    } catch (e) {
      app.notify(`Could not load older history: ${problem(e)}`, "error");
      return;
    }
    showHistory();
    // The button is gone after the last page: the focus goes to the table rather than the page.
    (document.getElementById("history-older") ?? document.getElementById("history"))?.focus();
  }

  /** Re-renders, keeping the focus on the control that had it (ids are stable), or moving it to `focus`. */
  function render(focus?: string): void {
    const active = focus ?? document.activeElement?.id;
    replace(top, note, memory && state !== "gone" ? details(memory) : null);
    showHistory();
    if (active) document.getElementById(active)?.focus();
  }

  /** A handler that moves to `next` (editing, confirming a delete…) with the focus on `focus`. */
  const to = (next: typeof state, focus: string) => () => {
    state = next;
    render(focus);
  };

  /**
   * Runs a change; the memory and its history are then shown as they are. A failed save leaves
   * the edit form as it was, with what was typed in it.
   */
  async function act(run: () => Promise<MemoryRecord>, done: string, focus?: string): Promise<void> {
    try {
      memory = await run();
    } catch (e) {
      app.notify(problem(e), "error");
      if (!left && state !== "edit") render(focus);
      return;
    }
    // A load started before the change would show the memory as it was.
    seq++;
    state = "view";
    note = result = null;
    app.notify(await refreshHistory(done));
    if (!left) render(focus);
  }

  /** Reloads the history after a change that succeeded; `done` says so, whatever the history does. */
  async function refreshHistory(done: string): Promise<string> {
    try {
      ({ history, next_cursor: older } = await newestHistory());
      return done;
    } catch (e) {
      return `${done} (The history could not be reloaded: ${problem(e)})`;
    }
  }

  function details(m: MemoryRecord): Child {
    const button = (id: string, label: string, onclick: () => void, cls = "secondary") =>
      h("button", { type: "button", id, class: cls, "data-write": true, onclick }, label);
    const rows: [string, Child][] = [
      ["Type", m.memory_type],
      ["Topics", tagLinks("topics", m.topics)],
      ["Entities", tagLinks("entities", m.entities)],
      ["Namespace", m.namespace ?? "—"],
      ["User", m.user_id ?? "—"],
      ["Session", m.session_id ?? "—"],
      ["Created", time(m.created_at)],
      ["Updated", time(m.updated_at)],
      ["Last accessed", time(m.last_accessed)],
      ["Event date", time(m.event_date)],
      ["Expires", time(m.expires_at)],
      ["Confidence", num(m.confidence)],
      ["Priority", m.priority],
      ["Pinned", m.pinned ? "yes (never forgotten)" : "no"],
      ["Agent / scope / key", m.agent_id || m.key ? `${m.agent_id ?? "—"} / ${m.scope} / ${m.key ?? "—"}` : null],
      ["ID", h("code", {}, m.id)],
    ];
    const fields = h(
      "dl",
      { class: "fields" },
      rows.filter(([, v]) => v !== null).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
    if (state === "edit") return [editForm(m), fields];
    const actions =
      app.me.can_write &&
      h(
        "div",
        { class: "actions" },
        button("edit", "Edit", to("edit", "edit-text"), ""),
        button("pin", m.pinned ? "Unpin" : "Pin", () =>
          act(() => app.client.editLongTermMemory(id, { pinned: !m.pinned }), m.pinned ? "Unpinned." : "Pinned."),
        ),
        button("helpful", "Helpful", () => feedback(true)),
        button("not-helpful", "Not helpful", () => feedback(false)),
        deleteButton,
      );
    return [
      h("blockquote", { class: "memory-text", id: "memory-text" }, m.text),
      actions,
      result,
      app.me.can_write && deleteConfirm,
      fields,
    ];
  }

  async function feedback(helpful: boolean): Promise<void> {
    const said = helpful ? "Marked helpful" : "Marked not helpful";
    const before = memory!;
    let r: FeedbackResult;
    try {
      r = await app.client.feedback({ memory_id: id, rating: helpful ? "positive" : "negative" });
    } catch (e) {
      app.notify(`Feedback failed: ${problem(e)}`, "error");
      return;
    }
    seq++;
    const message = r.deleted
      ? `${said}: the memory was deleted (repeated negative feedback).`
      : `${said}: confidence ${num(before.confidence)} → ${num(r.memory.confidence)}, priority ${before.priority} → ${r.memory.priority}.`;
    const line = h("p", { id: "feedback-result", class: "ok" }, message);
    if (r.deleted) {
      state = "gone";
      memory = null;
      note = line;
    } else {
      memory = r.memory;
      result = line;
    }
    app.notify(await refreshHistory(r.deleted ? message : "Feedback recorded."));
    if (!left) render();
  }

  // Made once, not on each render: a live re-render keeps an open confirmation open.
  const deleteButton = h("button", { type: "button", id: "delete", class: "danger", "data-write": true }, "Delete");
  const deleteConfirm = confirmInline(deleteButton, {
    id: "delete",
    question: "Delete this memory? This cannot be undone.",
    confirm: "Delete",
    cancel: "Keep",
    run: remove,
  });

  async function remove(): Promise<void> {
    try {
      await app.client.deleteLongTermMemories([id]);
      left = true;
      app.navigate(listHash, "Memory deleted.");
    } catch (e) {
      app.notify(`Delete failed: ${problem(e)}`, "error");
    }
  }

  function editForm(m: MemoryRecord): HTMLElement {
    const text = h("textarea", { id: "edit-text", name: "text", rows: 4, required: true }, m.text);
    const type = h(
      "select",
      { id: "edit-type", name: "memory_type" },
      MEMORY_TYPES.map((t) => h("option", { value: t, selected: t === m.memory_type }, t)),
    );
    const topics = h("input", { id: "edit-topics", name: "topics", value: m.topics.join(", ") });
    const entities = h("input", { id: "edit-entities", name: "entities", value: m.entities.join(", ") });
    const priority = h("input", { id: "edit-priority", type: "number", min: 1, max: 10, value: m.priority });
    const row = (el: HTMLElement, label: string, hint = "") =>
      h(
        "div",
        { class: "field" },
        h("label", { for: el.id }, label, hint && h("span", { class: "hint" }, ` (${hint})`)),
        el,
      );
    editNote.textContent = "";
    return h(
      "form",
      {
        class: "edit card",
        "aria-label": "Edit memory",
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          const patch: MemoryPatch = {};
          if (text.value.trim() !== m.text) patch.text = text.value.trim();
          if (type.value !== m.memory_type) patch.memory_type = type.value as MemoryType;
          if (list(topics.value).join() !== m.topics.join()) patch.topics = list(topics.value);
          if (list(entities.value).join() !== m.entities.join()) patch.entities = list(entities.value);
          if (Number(priority.value) !== m.priority) patch.priority = Number(priority.value);
          if (Object.keys(patch).length) void act(() => app.client.editLongTermMemory(id, patch), "Saved.", "edit");
          else to("view", "edit")();
        },
      },
      row(text, "Text"),
      row(type, "Type"),
      row(topics, "Topics", "comma-separated"),
      row(entities, "Entities", "comma-separated"),
      row(priority, "Priority", "1–10"),
      editNote,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", "data-write": true }, "Save"),
        h("button", { type: "button", class: "secondary", onclick: to("view", "edit") }, "Cancel"),
      ),
    );
  }

  void load();
  app.onEvent(
    (e) => {
      if (e.event === "memory_deleted") {
        state = "gone";
        note = h("p", { class: "gone", role: "status" }, `This memory was deleted by ${e.data.actor}.`);
      }
      void load();
    },
    { debounceMs: LIVE_DEBOUNCE_MS, filter: (e) => e.data.memory_id === id && e.event !== "feedback_recorded" },
  );
  return () => {
    left = true;
  };
};
