// The knowledge graph around a term: a picture (entities as nodes coloured by type, relations as
// labelled arrows) and, below it, the same facts as a table with the memories that state them.
import type { Entity, GraphResult, Relation } from "../../../client/index.ts";
import type { View } from "../app.ts";
import { clip, graphHref, h, memoryItem, memoryLink, problem, replace, styled, when } from "../dom.ts";
import { EDGE_LENGTH, labelSpot, layout, type Box, type Point } from "./graph-layout.ts";

const SVG_NS = "http://www.w3.org/2000/svg";
/** Re-query at most this often while memory events arrive. */
const DEBOUNCE_MS = 600;
const NODE_R = 11;
const CENTRE_R = 16;
/** Average glyph widths at the picture's font sizes (13px names, 12px relations). */
const NAME_CHAR = 7.4;
const LABEL_CHAR = 6.8;
const MAX_NAME = 26;
/** "until 2026-12-02", under an ended relation's name. */
const UNTIL_CHARS = 16;
/** Room for a node's name under its circle. */
const LABEL_H = 20;

/** Set when a node re-centres the graph, so the new page puts keyboard focus on the new centre. */
let focusCentre = false;

/** An SVG element; attributes as in `h`, without listeners. */
function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

/** `#/graph?q=<term>&history=1`. */
export const graphView: View = (app, root, _arg, query) => {
  const term = query.get("q")?.trim() ?? "";
  const history = query.get("history") === "1";
  const go = (q: string, withHistory = history) => app.navigate(graphHref(q, withHistory));

  const input = h("input", { id: "graph-q", name: "q", type: "search", value: term, required: true });
  const toggle = h("input", {
    id: "graph-history",
    type: "checkbox",
    checked: history,
    onchange: () => term && go(term, toggle.checked),
  });
  const form = h(
    "form",
    {
      class: "graph-search",
      role: "search",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        go(input.value.trim(), toggle.checked);
      },
    },
    h("label", { for: "graph-q" }, "Entity or term"),
    input,
    h("button", { type: "submit" }, "Show"),
    h("label", { class: "check" }, toggle, " Show history (ended relations)"),
  );
  const results = h("div", { class: "graph-results" });
  replace(root, h("section", { id: "graph" }, h("h1", {}, "Graph"), form, results));
  if (!term) {
    replace(
      results,
      h(
        "p",
        { class: "hint", "data-ready": true },
        "Name a person, place, organisation or topic to see what is known about it.",
      ),
    );
    return;
  }

  let closed = false;
  let generation = 0;
  async function load(): Promise<void> {
    const mine = ++generation;
    try {
      const g = await app.client.queryGraph({ query: term, include_history: history });
      if (closed || mine !== generation) return;
      // A live reload keeps keyboard focus on the node it was on.
      const focused = (document.activeElement as Element | null)?.closest?.(".node")?.getAttribute("data-id");
      replace(results, render(g));
      const selector = focused ? `.node[data-id="${CSS.escape(focused)}"]` : focusCentre ? ".node.centre" : null;
      if (selector) results.querySelector<SVGGElement>(selector)?.focus();
      focusCentre = false;
    } catch (e) {
      if (!closed && mine === generation)
        replace(results, h("p", { class: "error", role: "alert", "data-ready": true }, problem(e)));
    }
  }

  function render(g: GraphResult) {
    if (!g.entities.length) return h("p", { class: "empty", "data-ready": true }, `Nothing is known about “${term}”.`);
    const facts = mergeFacts(g.relations);
    return h(
      "div",
      { "data-ready": true },
      picture(g, facts, (name) => {
        focusCentre = true;
        go(name);
      }),
      h("h2", { id: "facts-title" }, "Facts"),
      facts.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "facts", "aria-labelledby": "facts-title" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Subject", "Relation", "Object", "Valid", "Stated in"].map((c) => h("th", { scope: "col" }, c)),
                ),
              ),
              h(
                "tbody",
                {},
                facts.map((f) => factRow(f)),
              ),
            ),
          )
        : h("p", { class: "hint" }, "No relations."),
      g.memories.length
        ? [
            h("h2", {}, "Memories that name it"),
            h(
              "ul",
              { class: "graph-memories" },
              g.memories.map((m) => memoryItem(m)),
            ),
          ]
        : null,
    );
  }

  function factRow(f: Fact) {
    const entity = (e: Entity) => h("a", { href: graphHref(e.name, history) }, e.name);
    return h(
      "tr",
      { class: f.current ? null : "ended" },
      h("td", {}, entity(f.subject)),
      h("td", {}, relationName(f.predicate)),
      h("td", {}, entity(f.object)),
      h(
        "td",
        {},
        f.current
          ? `since ${when(f.valid_from)}`
          : [`${when(f.valid_from)} – ${when(f.valid_to)} `, h("span", { class: "badge" }, "ended")],
      ),
      h(
        "td",
        {},
        f.memories.map((id, i) => [
          i ? ", " : null,
          memoryLink(id, `memory …${id.slice(-6)}`, { title: id, "aria-label": `memory ${id}` }),
        ]),
      ),
    );
  }

  // Any memory event may add or end a relation around the term.
  app.onEvent(() => void load(), { debounceMs: DEBOUNCE_MS });
  void load();
  return () => {
    closed = true;
  };
};

/** A relation as the view shows it: the same statement from several memories (or owners) is one fact. */
interface Fact extends Relation {
  memories: string[];
}

function mergeFacts(relations: Relation[]): Fact[] {
  const byKey = new Map<string, Fact>();
  for (const r of relations) {
    const key = [r.subject.id, r.predicate, r.object.id, r.current ? "now" : r.valid_to].join("\n");
    const fact = byKey.get(key) ?? { ...r, memories: [] };
    if (r.source_memory_id && !fact.memories.includes(r.source_memory_id)) fact.memories.push(r.source_memory_id);
    if (r.valid_from < fact.valid_from) fact.valid_from = r.valid_from;
    byKey.set(key, fact);
  }
  // Current facts first; otherwise in the server's order.
  return [...byKey.values()].sort((a, b) => Number(b.current) - Number(a.current));
}

const relationName = (predicate: string) => predicate.replace(/_/g, " ");
const shortName = (name: string) => clip(name, MAX_NAME);

/**
 * The picture: nodes placed by the force layout, centre (the entities the term names) larger;
 * relations as arrows from subject to object, several between the same two nodes bent apart.
 * Nodes are buttons that re-centre the graph on themselves.
 */
function picture(g: GraphResult, facts: Fact[], recentre: (name: string) => void): Element {
  const entities = new Map<string, Entity>();
  for (const e of [...g.entities, ...g.neighbours]) entities.set(e.id, e);
  for (const e of facts.flatMap((f) => [f.subject, f.object])) entities.set(e.id, e);
  const centre = new Set(g.entities.map((e) => e.id));
  const hops = distances(centre, facts);
  const far = Math.max(0, ...hops.values()) + 1;
  const radius = (id: string) => (centre.has(id) ? CENTRE_R : NODE_R);
  // A node's box is its circle with the name under it (LABEL_H); the layout places boxes.
  const nodes = [...entities.values()].map((e) => ({
    id: e.id,
    w: Math.max(2 * radius(e.id), shortName(e.name).length * NAME_CHAR),
    h: 2 * radius(e.id) + LABEL_H,
    ring: hops.get(e.id) ?? far,
  }));
  // An edge is as long as its label (the widest, for several between two nodes) needs.
  const pairKey = (f: Fact) => [f.subject.id, f.object.id].sort().join("\n");
  const labelW = (f: Fact) => Math.max(relationName(f.predicate).length, f.current ? 0 : UNTIL_CHARS) * LABEL_CHAR + 6;
  const pairWidth = new Map<string, number>();
  for (const f of facts) pairWidth.set(pairKey(f), Math.max(pairWidth.get(pairKey(f)) ?? 0, labelW(f)));
  const quarter = new Map(nodes.map((n) => [n.id, n.w / 4]));
  const boxes = layout(
    nodes,
    facts.map((f) => ({
      source: f.subject.id,
      target: f.object.id,
      length: Math.max(
        EDGE_LENGTH,
        pairWidth.get(pairKey(f))! + quarter.get(f.subject.id)! + quarter.get(f.object.id)! + 30,
      ),
    })),
  );
  const pos = new Map([...boxes].map(([id, p]) => [id, { x: p.x, y: p.y - LABEL_H / 2 }]));

  const nameWidth = new Map([...entities.values()].map((e) => [e.id, shortName(e.name).length * NAME_CHAR]));
  /** How far from node `id` at `p` a line towards `q` clears its circle and the name under it. */
  const clearance = (id: string, p: Point, q: Point): number => {
    const r = radius(id);
    const d = Math.hypot(q.x - p.x, q.y - p.y) || 1;
    const [ux, uy] = [(q.x - p.x) / d, (q.y - p.y) / d];
    if (uy <= 0) return r;
    const side = Math.abs(ux) > 1e-6 ? nameWidth.get(id)! / 2 / Math.abs(ux) : Infinity;
    // The line passes beside the name, or leaves through its side or bottom.
    return r / uy >= side ? r : Math.max(r, Math.min((r + LABEL_H) / uy, side));
  };

  // Node boxes first, so relation labels are placed where no node or other label is.
  const taken: Box[] = nodes.map((n) => ({ ...boxes.get(n.id)!, w: n.w, h: n.h }));
  const pairs = new Map<string, number>();
  const edges = facts.map((f) => {
    const pair = pairKey(f);
    const nth = pairs.get(pair) ?? 0;
    pairs.set(pair, nth + 1);
    return { f, nth };
  });
  const edgeEls = edges.map(({ f, nth }) => {
    const a = pos.get(f.subject.id)!;
    const b = pos.get(f.object.id)!;
    const count = pairs.get(pairKey(f))!;
    // Several relations between two nodes: bend them apart, symmetric around the straight line,
    // far enough that their labels (at the curves' middles, half the bend out) stack clear.
    const bend = (nth - (count - 1) / 2) * 80 * (f.subject.id < f.object.id ? 1 : -1);
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const c = { x: (a.x + b.x) / 2 + (-(b.y - a.y) / len) * bend, y: (a.y + b.y) / 2 + ((b.x - a.x) / len) * bend };
    const from = towards(a, c, clearance(f.subject.id, a, c) + 2);
    const to = towards(b, c, clearance(f.object.id, b, c) + 4);
    const at = (t: number): Point => ({
      x: (1 - t) ** 2 * from.x + 2 * (1 - t) * t * c.x + t * t * to.x,
      y: (1 - t) ** 2 * from.y + 2 * (1 - t) * t * c.y + t * t * to.y,
    });
    const name = relationName(f.predicate);
    const until = f.current ? null : `until ${when(f.valid_to, "day")}`;
    const width = labelW(f);
    const spot = labelSpot(at, width, until ? 32 : 18, taken);
    taken.push(spot);
    const text = svg("text", { x: spot.x, y: spot.y + (until ? -3 : 4), "text-anchor": "middle" }, name);
    if (until) text.append(svg("tspan", { x: spot.x, dy: 14, class: "until" }, until));
    return svg(
      "g",
      { class: f.current ? "edge" : "edge ended", "data-predicate": f.predicate },
      svg(
        "title",
        {},
        `${f.subject.name} ${name} ${f.object.name}${until ? ` (${when(f.valid_from)} – ${when(f.valid_to)})` : ""}`,
      ),
      svg("path", {
        d: `M${from.x},${from.y} Q${c.x},${c.y} ${to.x},${to.y}`,
        "marker-end": "url(#arrow)",
      }),
      text,
    );
  });

  const nodeEls = [...entities.values()].map((e) => {
    const p = pos.get(e.id)!;
    const r = radius(e.id);
    const go = () => recentre(e.name);
    const el = svg(
      "g",
      {
        class: `node t-${e.type}${centre.has(e.id) ? " centre" : ""}`,
        "data-id": e.id,
        "data-name": e.name,
        tabindex: 0,
        role: "button",
        "aria-label": `${e.name} (${e.type})${centre.has(e.id) ? ", the centre" : ": show its graph"}`,
        transform: `translate(${p.x},${p.y})`,
      },
      svg("title", {}, `${e.name} (${e.type})`),
      svg("circle", { r }),
      svg("text", { y: r + LABEL_H - 6, "text-anchor": "middle" }, shortName(e.name)),
    );
    // As a native button: Enter acts on keydown, Space on keyup (its keydown would scroll).
    el.addEventListener("click", go);
    el.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") ev.preventDefault();
      if (ev.key === "Enter" && !ev.repeat) go();
    });
    el.addEventListener("keyup", (ev) => {
      if (ev.key === " ") go();
    });
    return el;
  });

  // The viewBox holds every node and label with a margin; the picture is drawn at 1:1 and only
  // shrinks (never grows, and not below 60%) to fit a narrow window.
  const pad = 12;
  const x0 = Math.min(...taken.map((b) => b.x - b.w / 2)) - pad;
  const x1 = Math.max(...taken.map((b) => b.x + b.w / 2)) + pad;
  const y0 = Math.min(...taken.map((b) => b.y - b.h / 2)) - pad;
  const y1 = Math.max(...taken.map((b) => b.y + b.h / 2)) + pad;
  const width = Math.max(x1 - x0, EDGE_LENGTH * 2);
  const left = (x0 + x1) / 2 - width / 2;
  const arrow = svg(
    "marker",
    {
      id: "arrow",
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    },
    svg("path", { d: "M0,0 L10,5 L0,10 z" }),
  );
  const types = [...new Set([...entities.values()].map((e) => e.type))].sort();
  const title = `Graph of ${g.entities.map((e) => e.name).join(", ")}: ${entities.size} entities, ${facts.length} relations`;
  return h(
    "figure",
    { class: "graph-figure" },
    styled(
      svg(
        "svg",
        {
          viewBox: `${left} ${y0} ${width} ${y1 - y0}`,
          width: Math.round(width),
          role: "group",
          "aria-label": title,
        },
        svg("defs", {}, arrow),
        svg("g", { class: "edges", "aria-hidden": "true" }, ...edgeEls),
        svg("g", { class: "nodes" }, ...nodeEls),
      ),
      // A large graph scrolls inside its frame rather than shrinking its labels past reading.
      { minWidth: `${Math.round(Math.min(width, Math.max(width * 0.6, 320)))}px` },
    ),
    h(
      "figcaption",
      {},
      h("span", {}, `${entities.size} entities, ${facts.length} relations. `),
      h(
        "ul",
        { class: "legend", "aria-label": "Entity types" },
        types.map((t) => h("li", { class: `t-${t}` }, h("span", { class: "swatch", "aria-hidden": "true" }), t)),
      ),
      h("span", { class: "hint" }, "Select an entity to centre the graph on it."),
    ),
  );
}

/** Hops from the centre along relations, either direction. */
function distances(centre: Set<string>, facts: Fact[]): Map<string, number> {
  const hops = new Map([...centre].map((id) => [id, 0]));
  let frontier = [...centre];
  for (let d = 1; frontier.length; d++) {
    const next: string[] = [];
    for (const f of facts) {
      for (const [a, b] of [
        [f.subject.id, f.object.id],
        [f.object.id, f.subject.id],
      ] as const) {
        if (frontier.includes(a) && !hops.has(b)) {
          hops.set(b, d);
          next.push(b);
        }
      }
    }
    frontier = next;
  }
  return hops;
}

/** The point `by` away from `p` in the direction of `q`. */
function towards(p: Point, q: Point, by: number): Point {
  const d = Math.hypot(q.x - p.x, q.y - p.y) || 1;
  return { x: p.x + ((q.x - p.x) / d) * by, y: p.y + ((q.y - p.y) / d) * by };
}
