// A few DOM helpers: the explorer builds its pages with these instead of a framework.

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

/**
 * An element: `on…` attributes become listeners, `true`/`false` set or leave out a boolean
 * attribute, null/undefined are skipped; children may be nested arrays, strings or nodes.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2).toLowerCase(), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/**
 * Sets style properties through the CSSOM: the CSP (explorer/_headers) has no 'unsafe-inline',
 * which blocks a `style` attribute but not `el.style`.
 */
export function styled<E extends HTMLElement | SVGElement>(el: E, style: Partial<CSSStyleDeclaration>): E {
  Object.assign(el.style, style);
  return el;
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A short local date and time ("2026-12-02 10:20"), or the day only ("2026-12-02"), or "—". */
export function when(iso: string | null | undefined, precision: "minute" | "day" = "minute"): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return precision === "day" ? day : `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The error's message for a person (the server's message, with the invalid fields). */
export function problem(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) {
    const issues = (e as { issues?: { field: string; message: string }[] }).issues ?? [];
    const detail = issues.map((i) => `${i.field}: ${i.message}`).join("; ");
    return detail ? `${(e as Error).message} (${detail})` : (e as Error).message;
  }
  return String(e);
}

/** A number as the explorer shows counts: "12,345". */
export const count = (n: number) => n.toLocaleString("en-US");

/** `s` cut to at most `n` characters, an ellipsis marking the cut. */
export const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The route of one memory's page. */
export const memoryHref = (id: string) => `#/memories/${encodeURIComponent(id)}`;

/** The route of the graph around `term`, with ended relations when `history`. */
export const graphHref = (term: string, history = false) =>
  `#/graph?q=${encodeURIComponent(term)}${history ? "&history=1" : ""}`;

/** A link to a memory's page. */
export function memoryLink(id: string, text: Child, attrs: Attrs = {}): HTMLAnchorElement {
  return h("a", { ...attrs, href: memoryHref(id) }, text);
}

/** An item of a list of memories: its text as a link to it, its type, then `more`. */
export function memoryItem(m: { id: string; text: string; memory_type: string }, ...more: Child[]): HTMLLIElement {
  return h("li", {}, memoryLink(m.id, m.text), " ", h("span", { class: "badge" }, m.memory_type), more);
}

/**
 * An inline confirmation for a destructive action: `trigger` opens, in the element returned (for
 * the view to place), a panel that asks `question` with the focus on its cancel button; cancel
 * closes it, the focus back on the trigger. Confirming runs `run` with the buttons disabled; `run`
 * reports its own failure, after which the panel closes. The panel's ids start with `id`, so a
 * re-render that restores the focus by id finds them.
 */
export function confirmInline(
  trigger: HTMLButtonElement,
  opts: { id: string; question: string; confirm: string; cancel: string; run: () => Promise<void> },
): HTMLElement {
  // Empty while closed: a closed panel is not in the page at all (nor in its text).
  const slot = h("div", { id: `${opts.id}-slot` });
  const close = () => {
    slot.replaceChildren();
    trigger.setAttribute("aria-expanded", "false");
    trigger.focus();
  };
  const cancel = h(
    "button",
    { type: "button", id: `${opts.id}-cancel`, class: "secondary", onclick: close },
    opts.cancel,
  );
  const confirm = h(
    "button",
    {
      type: "button",
      id: `${opts.id}-confirm`,
      class: "danger",
      "data-write": true,
      onclick: async () => {
        confirm.disabled = cancel.disabled = true;
        try {
          await opts.run();
        } finally {
          confirm.disabled = cancel.disabled = false;
          // Still on the page (a success usually leaves it): close, as after a failure.
          if (slot.isConnected) close();
        }
      },
    },
    opts.confirm,
  );
  const panel = h(
    "div",
    { class: "confirm card", role: "group", "aria-labelledby": `${opts.id}-question` },
    h("p", { id: `${opts.id}-question` }, opts.question),
    confirm,
    cancel,
  );
  trigger.setAttribute("aria-expanded", "false");
  trigger.setAttribute("aria-controls", slot.id);
  trigger.addEventListener("click", () => {
    replace(slot, panel);
    trigger.setAttribute("aria-expanded", "true");
    cancel.focus();
  });
  return slot;
}
