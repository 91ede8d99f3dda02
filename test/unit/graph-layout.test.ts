// The explorer's graph layout (explorer/src/views/graph-layout.ts): the same graph always gets the
// same picture, names never overlap, connected nodes stay near each other, labels avoid what is drawn.
import { describe, expect, it } from "vitest";
import { EDGE_LENGTH, labelSpot, layout, overlaps, type LayoutNode } from "../../explorer/src/views/graph-layout.ts";

/** A node box as the graph view sizes it: ~7.4 px a character, circle and name stacked. */
const node = (id: string, ring: number): LayoutNode => ({ id, w: Math.max(32, id.length * 7.4), h: 42, ring });

function overlapping(nodes: LayoutNode[], pos: Map<string, { x: number; y: number }>): string[] {
  const out: string[] = [];
  nodes.forEach((a, i) =>
    nodes.slice(i + 1).forEach((b) => {
      if (overlaps({ ...pos.get(a.id)!, w: a.w, h: a.h }, { ...pos.get(b.id)!, w: b.w, h: b.h }))
        out.push(`${a.id}/${b.id}`);
    }),
  );
  return out;
}

// Alice's graph in the browser tests, with a few more names around it.
const names: [string, number][] = [
  ["Alice", 0],
  ["Globex Labs", 1],
  ["Lisbon", 1],
  ["Acme Corp", 1],
  ["green tea", 1],
  ["Bob", 2],
  ["Dana", 2],
  ["Berlin", 3],
  ["Carol Diaz", 3],
  ["the billing service", 4],
  ["Memcached", 3],
  ["caching", 4],
  ["Redis", 5],
  ["Q3 migration plan", 2],
];
const nodes = names.map(([id, ring]) => node(id, ring));
const edges = [
  ["Alice", "Globex Labs"],
  ["Alice", "Lisbon"],
  ["Alice", "Acme Corp"],
  ["Alice", "green tea"],
  ["Bob", "Globex Labs"],
  ["Dana", "Lisbon"],
  ["Bob", "Berlin"],
  ["Carol Diaz", "Bob"],
  ["Carol Diaz", "the billing service"],
  ["Bob", "Memcached"],
  ["caching", "Memcached"],
  ["caching", "Redis"],
  ["Alice", "Q3 migration plan"],
].map(([source, target]) => ({ source: source!, target: target! }));

describe("graph layout", () => {
  it("is deterministic and keeps every name clear of the others, for 2 to 14 nodes", () => {
    for (let n = 2; n <= nodes.length; n++) {
      const some = nodes.slice(0, n);
      const ids = new Set(some.map((x) => x.id));
      const links = edges.filter((e) => ids.has(e.source) && ids.has(e.target));
      const pos = layout(some, links);
      expect(layout(some, links)).toEqual(pos);
      expect(overlapping(some, pos)).toEqual([]);
      for (const e of links) {
        const a = pos.get(e.source)!;
        const b = pos.get(e.target)!;
        expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeLessThan(3 * EDGE_LENGTH);
      }
    }
  });

  it("keeps a single centre in the middle, and lays out 100 nodes without overlaps", () => {
    const pos = layout(nodes, edges);
    const xs = [...pos.values()].map((p) => p.x);
    expect(Math.abs(pos.get("Alice")!.x)).toBeLessThan((Math.max(...xs) - Math.min(...xs)) / 4);
    const many = Array.from({ length: 100 }, (_, i) => node(`entity ${i}`, i === 0 ? 0 : i < 10 ? 1 : 2));
    const links = many.slice(1).map((m, i) => ({ source: i < 9 ? "entity 0" : `entity ${1 + (i % 9)}`, target: m.id }));
    expect(overlapping(many, layout(many, links))).toEqual([]);
  });

  it("puts a relation's label mid-way, or at the nearest free spot along its line", () => {
    const along = (t: number) => ({ x: t * 200, y: 0 });
    expect(labelSpot(along, 40, 16, [])).toMatchObject({ x: 100, y: 0 });
    const spot = labelSpot(along, 40, 16, [{ x: 100, y: 0, w: 50, h: 40 }]);
    expect(overlaps(spot, { x: 100, y: 0, w: 50, h: 40 })).toBe(false);
    expect(spot.x).toBeCloseTo(54);
  });
});
