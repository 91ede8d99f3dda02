// The tenant at a glance: counts (memories by type, graph, sessions, feedback, vector index), the
// last consolidation with a button to run one, and a think box that streams its answer.
import type { Citation, Relation, Status } from "../../../client/index.ts";
import type { App, View } from "../app.ts";
import { count, graphHref, h, memoryItem, memoryLink, problem, replace, styled, when, type Child } from "../dom.ts";

/** Reload the counts at most this often while memory events arrive. */
const DEBOUNCE_MS = 800;

/** A number the tests (and people) can find: `data-stat` names the field of the status it shows. */
const stat = (name: string, n: number) => h("span", { class: "stat", "data-stat": name }, count(n));

/** `#/status`. */
export const statusView: View = (app, root) => {
  let closed = false;
  // Ends a streaming answer when the page is left (it would otherwise run to its end).
  const leaving = new AbortController();
  const counts = h("div", { class: "status-grid" }, h("p", { class: "hint" }, "Loading…"));
  const think = thinkBox(app, leaving.signal);
  replace(root, h("section", { id: "status" }, h("h1", {}, "Status"), counts, think));

  let generation = 0;
  async function load(): Promise<void> {
    const mine = ++generation;
    try {
      const s = await app.client.status();
      if (!closed && mine === generation) replace(counts, render(s));
    } catch (e) {
      if (!closed && mine === generation)
        replace(counts, h("p", { class: "error", role: "alert", "data-ready": true }, problem(e)));
    }
    counts.setAttribute("data-ready", "");
  }

  function render(s: Status): Child[] {
    const types = Object.entries(s.memories.by_type).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const most = Math.max(1, ...types.map(([, n]) => n));
    const index = s.index.pending + s.index.sent + s.index.indexed;
    return [
      h(
        "section",
        { class: "card memories-card", "aria-labelledby": "st-memories" },
        h("h2", { id: "st-memories" }, "Memories ", stat("memories.total", s.memories.total)),
        types.length
          ? h(
              "table",
              { class: "by-type", "aria-label": "Memories by type" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, "Type"),
                  h("th", { scope: "col" }, "Count"),
                  h("th", { "aria-hidden": "true" }),
                ),
              ),
              h(
                "tbody",
                {},
                types.map(([type, n]) =>
                  h(
                    "tr",
                    { "data-type": type },
                    h("th", { scope: "row" }, type),
                    h("td", { class: "num" }, stat(`memories.by_type.${type}`, n)),
                    h(
                      "td",
                      { class: "bar", "aria-hidden": "true" },
                      styled(h("span"), { width: `${(n / most) * 100}%` }),
                    ),
                  ),
                ),
              ),
            )
          : h("p", { class: "hint" }, "No memories yet."),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "st-graph" },
        h("h2", { id: "st-graph" }, "Knowledge graph"),
        h(
          "dl",
          {},
          h("dt", {}, "Entities"),
          h("dd", {}, stat("entities", s.entities)),
          h("dt", {}, "Relations"),
          h(
            "dd",
            {},
            stat("relations.current", s.relations.current),
            " current of ",
            stat("relations.total", s.relations.total),
          ),
          h("dt", {}, "Sessions"),
          h("dd", {}, stat("sessions", s.sessions)),
          h("dt", {}, "Feedback"),
          h("dd", {}, stat("feedback", s.feedback)),
        ),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "st-index" },
        h("h2", { id: "st-index" }, "Vector index"),
        h(
          "div",
          { class: "stack", "aria-hidden": "true" },
          (["indexed", "sent", "pending"] as const).map((k) =>
            s.index[k] ? styled(h("span", { class: k }), { flexGrow: String(s.index[k]) }) : null,
          ),
        ),
        h(
          "dl",
          {},
          (["indexed", "sent", "pending"] as const).map((k) => [
            h("dt", {}, h("span", { class: `key ${k}`, "aria-hidden": "true" }), k),
            h("dd", {}, stat(`index.${k}`, s.index[k])),
          ]),
        ),
        index && s.index.pending + s.index.sent === 0
          ? h("p", { class: "hint" }, "Every memory is searchable by meaning.")
          : null,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "st-consolidation" },
        h("h2", { id: "st-consolidation" }, "Consolidation"),
        h(
          "p",
          {},
          "Last run: ",
          s.last_consolidation
            ? h("time", { id: "last-consolidation", datetime: s.last_consolidation }, when(s.last_consolidation))
            : "never",
        ),
        s.last_consolidation_result
          ? h(
              "dl",
              { id: "consolidation-result" },
              Object.entries(s.last_consolidation_result).map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
            )
          : null,
        app.me.can_write
          ? h(
              "button",
              {
                type: "button",
                "data-write": true,
                onclick: async (e: MouseEvent) => {
                  const button = e.currentTarget as HTMLButtonElement;
                  button.disabled = true;
                  button.textContent = "Consolidating…";
                  try {
                    const r = await app.client.consolidate();
                    app.notify(
                      `Consolidated: ${r.checked} checked, ${r.merged} merged, ${r.removed} removed, ${r.forgotten} forgotten.`,
                    );
                    await load();
                  } catch (err) {
                    app.notify(`Consolidation failed: ${problem(err)}`, "error");
                    button.disabled = false;
                    button.textContent = "Consolidate now";
                  }
                },
              },
              "Consolidate now",
            )
          : null,
      ),
    ];
  }

  app.onEvent(() => void load(), { debounceMs: DEBOUNCE_MS });
  void load();
  return () => {
    closed = true;
    leaving.abort();
  };
};

/**
 * Think: a question, and the answer streamed into a live region as its tokens arrive (announced
 * once complete: `aria-busy` while it streams), then the memories it cites and the facts it used.
 */
function thinkBox(app: App, signal: AbortSignal): HTMLElement {
  const question = h("textarea", { id: "think-q", name: "question", rows: 3, required: true });
  const ask = h("button", { type: "submit" }, "Ask");
  const answer = h("div", { id: "think-answer", class: "answer", "aria-live": "polite", "aria-busy": "false" });
  const sources = h("div", { id: "think-sources" });
  const form = h(
    "form",
    {
      "aria-labelledby": "think-title",
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        const q = question.value.trim();
        if (!q) return;
        ask.disabled = true;
        replace(answer);
        replace(sources);
        answer.setAttribute("aria-busy", "true");
        answer.dataset.tokens = "0";
        answer.removeAttribute("data-done");
        let text = "";
        let ended = false;
        try {
          for await (const ev of app.client.thinkStream({ question: q }, { signal })) {
            if ("token" in ev) {
              text += ev.token;
              answer.append(ev.token);
              answer.dataset.tokens = String(Number(answer.dataset.tokens) + 1);
              continue;
            }
            ended = true;
            if ("error" in ev) sources.append(failure(`${ev.error.message} (${ev.error.code})`));
            else {
              replace(answer, cited(text, ev.citations));
              replace(sources, sourcesOf(ev.citations, ev.facts, ev.provider));
            }
          }
          if (!ended) sources.append(failure("the answer stopped before it was complete"));
        } catch (err) {
          if (!signal.aborted) sources.append(failure(problem(err)));
        } finally {
          // Done: the live region is read out now, and the tests know the answer is complete.
          answer.setAttribute("aria-busy", "false");
          answer.setAttribute("data-done", "");
          ask.disabled = false;
        }
      },
    },
    h("label", { for: "think-q" }, "Question"),
    question,
    h("div", {}, ask),
  );
  return h(
    "section",
    { class: "think card", "aria-labelledby": "think-title" },
    h("h2", { id: "think-title" }, "Ask your memory"),
    h("p", { class: "hint" }, "Answers come from this tenant's memories and facts, citing them."),
    form,
    answer,
    sources,
  );
}

const failure = (message: string) => h("p", { class: "error", role: "alert" }, `Think failed: ${message}`);

/** The answer with its `[memory id]` markers as numbered links to the cited memories. */
function cited(text: string, citations: Citation[]): Child[] {
  const number = new Map(citations.map((c, i) => [c.memory_id, i + 1]));
  return text.split(/\[([^\]\s]+)\]/).map((part, i) => {
    if (i % 2 === 0) return part;
    const n = number.get(part);
    return n ? memoryLink(part, `[${n}]`, { class: "cite", "aria-label": `source ${n}` }) : `[${part}]`;
  });
}

function sourcesOf(citations: Citation[], facts: Relation[], provider: string): Child[] {
  return [
    citations.length
      ? [
          h("h3", {}, "Sources"),
          h(
            "ol",
            { id: "citations" },
            citations.map((c) =>
              memoryItem({ ...c, id: c.memory_id }, h("span", { class: "hint" }, ` score ${c.score.toFixed(2)}`)),
            ),
          ),
        ]
      : null,
    facts.length
      ? [
          h("h3", {}, "Facts"),
          h(
            "ul",
            { id: "think-facts" },
            facts.map((f) =>
              h(
                "li",
                {},
                h("a", { href: graphHref(f.subject.name) }, f.subject.name),
                ` ${f.predicate.replace(/_/g, " ")} `,
                h("a", { href: graphHref(f.object.name) }, f.object.name),
              ),
            ),
          ),
        ]
      : null,
    h("p", { class: "hint" }, `Answered by ${provider}.`),
  ];
}
