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

/** A short local date and time ("2026-12-02 10:20"), or "—". */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
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
