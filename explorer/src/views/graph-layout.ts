// The graph view's layout: a small force-directed one, deterministic (the same graph always gets
// the same picture) and without a library. Pure, so test/unit/graph-layout.test.ts checks it.

/** A node to place: `w`×`h` is the box its circle and label need; `ring` its hops from the centre. */
export interface LayoutNode {
  id: string;
  w: number;
  h: number;
  ring: number;
}
export interface LayoutEdge {
  source: string;
  target: string;
  /** The length it should settle near (default EDGE_LENGTH): room for its label. */
  length?: number;
}
export interface Point {
  x: number;
  y: number;
}
/** An axis-aligned box by its centre and size. */
export interface Box extends Point {
  w: number;
  h: number;
}

/** The length an edge settles near, in the picture's pixels. */
export const EDGE_LENGTH = 140;
const ITERATIONS = 300;
/** Repulsion: `REPEL × reach² / distance` (a fifth of Fruchterman–Reingold's, with springs). */
const REPEL = 0.2;
/** Spring force per pixel an edge is longer or shorter than its length. */
const SPRING = 2;
/** The pull towards the middle, per pixel away: weak, or it would squeeze short graphs. */
const GRAVITY = 0.08;
/** Space kept between label boxes. */
const GAP = 10;

/**
 * Positions for `nodes`, centred on (0, 0). Starts from rings by hops from the centre, each node
 * near the one that links it inward (so the start is the same every time and already untangled),
 * then a few hundred rounds of forces: every pair repels (more when their labels are wide), each
 * linked pair is a spring, a weak pull to the middle keeps parts together, and moves shrink as the
 * layout cools. Last, boxes that still overlap are pushed apart.
 */
export function layout(nodes: LayoutNode[], edges: LayoutEdge[]): Map<string, Point> {
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  // One spring per pair of nodes, as long as the longest edge between them wants.
  const springs = new Map<string, [number, number, number]>();
  for (const e of edges) {
    const [a, b] = [index.get(e.source), index.get(e.target)];
    if (a === undefined || b === undefined || a === b) continue;
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    springs.set(key, [a, b, Math.max(e.length ?? EDGE_LENGTH, springs.get(key)?.[2] ?? 0)]);
  }
  const pos = start(nodes, [...springs.values()]);
  // A single centre stays in the middle: re-centring on a node moves the rest around it.
  const centre = nodes.filter((node) => node.ring === 0);
  const pinned = centre.length === 1 ? index.get(centre[0]!.id)! : -1;
  // Past a dozen nodes each repels less, or their sum would blow a big graph far apart.
  const repel = REPEL * Math.min(1, Math.sqrt(12 / n));
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  for (let it = 0; it < ITERATIONS; it++) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const [ux, uy, d] = apart(pos[i]!, pos[j]!, i, j);
        const reach = EDGE_LENGTH + (nodes[i]!.w + nodes[j]!.w) / 4;
        const f = (repel * reach * reach) / d;
        dx[i]! += ux * f;
        dy[i]! += uy * f;
        dx[j]! -= ux * f;
        dy[j]! -= uy * f;
      }
    }
    for (const [a, b, length] of springs.values()) {
      const [ux, uy, d] = apart(pos[a]!, pos[b]!, a, b);
      const f = SPRING * (d - length);
      dx[a]! -= ux * f;
      dy[a]! -= uy * f;
      dx[b]! += ux * f;
      dy[b]! += uy * f;
    }
    const limit = 60 * (1 - it / ITERATIONS) + 1;
    for (let i = 0; i < n; i++) {
      if (i === pinned) continue;
      const p = pos[i]!;
      // A stronger pull up and down than sideways: the picture comes out wider than tall, as pages are.
      const gx = dx[i]! - p.x * GRAVITY;
      const gy = dy[i]! - p.y * GRAVITY * 2.5;
      const len = Math.hypot(gx, gy);
      if (len > 0) {
        const step = Math.min(len, limit);
        p.x += (gx / len) * step;
        p.y += (gy / len) * step;
      }
    }
  }
  separate(
    nodes.map((node, i) => ({ ...pos[i]!, w: node.w, h: node.h })),
    pos,
  );
  return new Map(nodes.map((node, i) => [node.id, pos[i]!]));
}

/**
 * The first positions: the centre (ring 0) in the middle, each further ring on a wider circle,
 * its nodes in the order of the angles of the inner nodes they link to.
 */
function start(nodes: LayoutNode[], springs: [number, number, number][]): Point[] {
  const pos: Point[] = nodes.map(() => ({ x: 0, y: 0 }));
  const angle = new Map<number, number>();
  const rings = [...new Set(nodes.map((node) => node.ring))].sort((a, b) => a - b);
  for (const ring of rings) {
    const members = nodes.flatMap((node, i) => (node.ring === ring ? [i] : []));
    const inward = (i: number) => {
      for (const [a, b] of springs) {
        const other = a === i ? b : b === i ? a : -1;
        if (other >= 0 && nodes[other]!.ring < ring && angle.has(other)) return angle.get(other)!;
      }
      return Infinity;
    };
    const order = members.map((i) => [i, inward(i)] as const).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const radius = ring === rings[0] && members.length === 1 ? 0 : (ring + 0.5) * EDGE_LENGTH;
    order.forEach(([i], m) => {
      const a = (2 * Math.PI * m) / members.length + ring * 0.7;
      angle.set(i, a % (2 * Math.PI));
      pos[i] = { x: radius * Math.cos(a), y: radius * Math.sin(a) };
    });
  }
  return pos;
}

/** The unit vector from b to a and their distance; nodes on the same spot part in a fixed direction. */
function apart(a: Point, b: Point, i: number, j: number): [number, number, number] {
  const x = a.x - b.x;
  const y = a.y - b.y;
  const d = Math.hypot(x, y);
  if (d < 0.01) {
    const angle = i * 2.4 + j;
    return [Math.cos(angle), Math.sin(angle), 0.01];
  }
  return [x / d, y / d, d];
}

/** Pushes overlapping boxes apart (each half the overlap, along the axis that needs less). */
function separate(boxes: Box[], pos: Point[]): void {
  for (let round = 0; round < 100; round++) {
    let moved = false;
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const ox = (a.w + b.w) / 2 + GAP - Math.abs(a.x - b.x);
        const oy = (a.h + b.h) / 2 + GAP - Math.abs(a.y - b.y);
        if (ox <= 0 || oy <= 0) continue;
        moved = true;
        if (ox < oy) {
          const s = (a.x < b.x || (a.x === b.x && i < j) ? -ox : ox) / 2;
          a.x += s;
          b.x -= s;
        } else {
          const s = (a.y < b.y || (a.y === b.y && i < j) ? -oy : oy) / 2;
          a.y += s;
          b.y -= s;
        }
      }
    }
    if (!moved) break;
  }
  boxes.forEach((b, i) => (pos[i] = { x: b.x, y: b.y }));
}

/** Whether two boxes overlap. */
export function overlaps(a: Box, b: Box): boolean {
  return Math.abs(a.x - b.x) < (a.w + b.w) / 2 && Math.abs(a.y - b.y) < (a.h + b.h) / 2;
}

/**
 * Where along a path (`at(t)`, t from 0 to 1) a label of `w`×`h` goes: the middle if it is free,
 * else the free spot nearest to it, else the middle anyway.
 */
export function labelSpot(at: (t: number) => Point, w: number, h: number, taken: Box[]): Box {
  for (const t of [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73]) {
    const box = { ...at(t), w, h };
    if (!taken.some((b) => overlaps(b, box))) return box;
  }
  return { ...at(0.5), w, h };
}
