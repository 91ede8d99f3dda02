// Working-memory sessions: the list (filtered by namespace and user, a page at a time) and one
// session: its messages, summary, memories, and how much of a model's context window it fills.
import { EdgememError, type WorkingMemory } from "../../../client/index.ts";
import type { App, View } from "../app.ts";
import { append, clip, confirmInline, count, h, memoryItem, problem, replace, when } from "../dom.ts";
import { listKey, remember, trailOf } from "../pages.ts";

const PAGE = 20;
/**
 * Models for the token meter, with their context windows (as the server knows them). The model
 * picks the tokenizer; the window is sent as context_window_max, so any window can be tried.
 */
const MODELS: [name: string, window: number][] = [
  ["gpt-4o", 128_000],
  ["gpt-4.1", 1_047_576],
  ["gpt-5", 400_000],
  ["o3", 200_000],
  ["gpt-4", 8_192],
  ["gpt-3.5-turbo", 16_385],
  ["claude-sonnet-4", 200_000],
  ["gemini-2.5-pro", 1_048_576],
  ["llama-3.1-8b-instruct", 128_000],
  ["mistral-large", 32_768],
];

const sessionLink = (id: string) => `#/sessions/${encodeURIComponent(id)}`;

/** `#/sessions[?namespace=&user_id=&cursor=]`: pages by cursor, so a late page costs what the first does. */
export const sessionsView: View = (app, root, _arg, query) => {
  const namespace = query.get("namespace") || undefined;
  const userId = query.get("user_id") || undefined;
  const cursor = query.get("cursor") || undefined;
  const key = listKey("sessions", query);
  /** Where this page starts, if this tab followed the cursor here (null: from a link, unknown). */
  const at = cursor ? (trailOf(key, cursor)?.at ?? null) : 0;
  const hash = (page: string | null | undefined, ns = namespace, user = userId) => {
    const q = new URLSearchParams();
    if (ns) q.set("namespace", ns);
    if (user) q.set("user_id", user);
    if (page) q.set("cursor", page);
    return `#/sessions${q.size ? `?${q}` : ""}`;
  };

  const nsInput = h("input", { id: "sessions-namespace", name: "namespace", value: namespace });
  const userInput = h("input", { id: "sessions-user", name: "user_id", value: userId });
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Filter sessions",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        app.navigate(hash(null, nsInput.value.trim(), userInput.value.trim()));
      },
    },
    h("label", { for: "sessions-namespace" }, "Namespace"),
    nsInput,
    h("label", { for: "sessions-user" }, "User"),
    userInput,
    h("button", { type: "submit" }, "Filter"),
    namespace || userId ? h("a", { href: "#/sessions" }, "Clear") : null,
  );
  const body = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  replace(root, h("section", { id: "sessions" }, h("h1", {}, "Sessions"), form, body));

  let closed = false;
  void (async () => {
    try {
      const list = await app.client.listSessions({ limit: PAGE, cursor, namespace, user_id: userId });
      // The list has ids only: each row reads its session's newest message for the rest.
      const rows = await Promise.all(
        list.sessions.map((id) => app.client.getWorkingMemory(id, { recent_messages_limit: 1 }).catch(() => null)),
      );
      if (closed) return;
      if (!list.sessions.length) {
        replace(body, h("p", { class: "empty", "data-ready": true }, cursor ? "No more sessions." : "No sessions."));
        return;
      }
      const next = list.next_cursor;
      if (next) remember(key, next, { prev: cursor ?? null, at: at === null ? null : at + list.sessions.length });
      // Back: the page this one was reached from (from a link: the first page).
      const prev = cursor ? (trailOf(key, cursor)?.prev ?? null) : undefined;
      replace(
        body,
        h(
          "div",
          { class: "table-wrap", "data-ready": true },
          h(
            "table",
            { id: "session-list" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Session", "Namespace", "User", "Last message", "Updated"].map((c) => h("th", { scope: "col" }, c)),
              ),
            ),
            h(
              "tbody",
              {},
              list.sessions.map((id, i) => {
                const s = rows[i];
                const m = s?.messages.at(-1);
                return h(
                  "tr",
                  { "data-id": id },
                  h("td", {}, h("a", { href: sessionLink(id) }, id)),
                  h("td", {}, s?.namespace ?? "—"),
                  h("td", {}, s?.user_id ?? "—"),
                  h(
                    "td",
                    { class: "preview" },
                    m ? [h("span", { class: "badge" }, m.role), " ", clip(m.content, 120)] : "—",
                  ),
                  h("td", {}, h("time", { datetime: s?.updated_at }, when(s?.updated_at))),
                );
              }),
            ),
          ),
        ),
        h(
          "nav",
          { class: "pager", "aria-label": "Pages" },
          prev !== undefined ? h("a", { href: hash(prev), rel: "prev" }, "Previous") : null,
          h(
            "span",
            {},
            !cursor && !next
              ? `${count(list.total)} session${list.total === 1 ? "" : "s"}`
              : at === null
                ? `${count(list.sessions.length)} of ${count(list.total)}`
                : `${count(at + 1)}–${count(at + list.sessions.length)} of ${count(list.total)}`,
          ),
          next ? h("a", { href: hash(next), rel: "next" }, "Next") : null,
        ),
      );
    } catch (e) {
      if (!closed) replace(body, h("p", { class: "error", role: "alert", "data-ready": true }, problem(e)));
    }
  })();
  return () => {
    closed = true;
  };
};

/** `#/sessions/<id>`. */
export const sessionView: View = (app, root, id = "") => {
  let closed = false;
  const section = h("section", { id: "session" }, h("h1", {}, "Session ", h("code", {}, id)));
  replace(root, section);
  void (async () => {
    let s: WorkingMemory;
    try {
      s = await app.client.getWorkingMemory(id);
    } catch (e) {
      if (closed) return;
      const missing = e instanceof EdgememError && e.status === 404;
      section.append(
        h(
          "p",
          { class: missing ? "empty" : "error", role: "alert", "data-ready": true },
          missing ? "Session not found." : problem(e),
        ),
        h("p", {}, h("a", { href: "#/sessions" }, "All sessions")),
      );
      return;
    }
    if (closed) return;
    append(section, [
      h(
        "dl",
        { class: "session-meta" },
        [
          ["Namespace", s.namespace ?? "—"],
          ["User", s.user_id ?? "—"],
          ["Created", when(s.created_at)],
          ["Updated", when(s.updated_at)],
          ["Expires", s.expires_at ? when(s.expires_at) : "never"],
        ].map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
      ),
      usage(app, s),
      h("h2", {}, "Summary"),
      s.context
        ? h("p", { id: "session-context", class: "card" }, s.context)
        : h(
            "p",
            { class: "hint" },
            "No summary yet: the older messages are summarized here once the session outgrows its window.",
          ),
      h("h2", {}, `Messages (${count(s.messages.length)})`),
      s.messages.length
        ? h(
            "ol",
            { id: "messages", class: "messages" },
            s.messages.map((m) =>
              h(
                "li",
                { "data-role": m.role },
                h(
                  "p",
                  { class: "meta" },
                  h("span", { class: "badge role" }, m.role),
                  h("time", { datetime: m.created_at }, when(m.created_at)),
                ),
                h("p", { class: "content" }, m.content),
              ),
            ),
          )
        : h("p", { class: "hint" }, "No messages."),
      s.memories.length
        ? [
            h("h2", {}, `Memories (${count(s.memories.length)})`),
            h(
              "ul",
              { id: "session-memories" },
              s.memories.map((m) =>
                memoryItem(m, m.persisted_at ? null : h("span", { class: "hint" }, " (not yet in long-term memory)")),
              ),
            ),
          ]
        : null,
      s.data && Object.keys(s.data).length
        ? h("details", {}, h("summary", {}, "Data"), h("pre", {}, JSON.stringify(s.data, null, 2)))
        : null,
      app.me.can_write ? deleteControl(app, id) : null,
    ]);
    section.setAttribute("data-ready", "");
  })();
  return () => {
    closed = true;
  };
};

/**
 * How much of a context window the session's messages fill, for a model and window the user
 * picks: the server counts with the model's tokenizer and reports the share.
 */
function usage(app: App, s: WorkingMemory): HTMLElement {
  const select = h(
    "select",
    { id: "usage-model" },
    MODELS.map(([name, window]) => h("option", { value: name }, `${name} (${count(window)})`)),
  );
  const windowInput = h("input", {
    id: "usage-window",
    type: "number",
    min: 1,
    step: 1,
    value: MODELS[0]![1],
    required: true,
  });
  const meter = h("meter", {
    id: "usage-meter",
    min: 0,
    max: 1,
    value: 0,
    "aria-labelledby": "usage-title",
    "aria-describedby": "usage-text",
  });
  const text = h("p", { id: "usage-text", "aria-live": "polite" }, "Counting…");
  let generation = 0;
  const measure = async () => {
    const mine = ++generation;
    const window = Number(windowInput.value);
    if (!Number.isInteger(window) || window < 1) return;
    try {
      const u = await app.client.getWorkingMemory(s.session_id, {
        model_name: select.value,
        context_window_max: window,
      });
      if (mine !== generation) return;
      const pct = u.context_percentage_total_used ?? (u.tokens / window) * 100;
      meter.max = window;
      meter.value = u.tokens;
      // The meter turns to its warning colour past the point where the server summarizes.
      const until = u.context_percentage_until_summarization;
      if (until && until < 100) meter.high = u.tokens / (until / 100);
      else meter.removeAttribute("high");
      const shown = pct > 0 && pct < 1 ? "<1" : String(Math.round(pct));
      replace(
        text,
        `${count(u.tokens)} of ${count(window)} tokens (${shown}%)`,
        until !== null ? `; ${Math.round(until)}% of the way to summarization` : null,
        u.messages.length < s.messages.length
          ? h(
              "span",
              { class: "warn" },
              ` — only the newest ${count(u.messages.length)} of ${count(s.messages.length)} messages fit.`,
            )
          : null,
      );
    } catch (e) {
      if (mine === generation) replace(text, h("span", { class: "error" }, problem(e)));
    }
  };
  select.addEventListener("change", () => {
    windowInput.value = String(MODELS.find(([name]) => name === select.value)![1]);
    void measure();
  });
  windowInput.addEventListener("change", () => void measure());
  void measure();
  return h(
    "section",
    { class: "usage card", "aria-labelledby": "usage-title" },
    h("h2", { id: "usage-title" }, "Token usage of the messages"),
    h(
      "div",
      { class: "usage-controls" },
      h("label", { for: "usage-model" }, "Model"),
      select,
      h("label", { for: "usage-window" }, "Context window (tokens)"),
      windowInput,
    ),
    meter,
    text,
  );
}

/** Delete, with an inline confirmation. */
function deleteControl(app: App, id: string): HTMLElement {
  const trigger = h("button", { type: "button", class: "danger", "data-write": true }, "Delete session…");
  const confirm = confirmInline(trigger, {
    id: "delete-session",
    question: "Delete this session: its messages, summary and data? This cannot be undone.",
    confirm: "Delete session",
    cancel: "Cancel",
    run: async () => {
      try {
        await app.client.deleteWorkingMemory(id);
        app.navigate("#/sessions", `Session ${id} deleted.`);
      } catch (err) {
        app.notify(`Could not delete: ${problem(err)}`, "error");
      }
    },
  });
  return h("div", { class: "danger-zone" }, trigger, confirm);
}
