import { SignJWT } from "jose";

/** Helpers shared by the Node-side drivers of a real `wrangler dev`: the e2e tests, the bench and the soak. */

/** An HS256 token for `tenant` (subject `sub`, optional `scope`), valid for `expires` (default 1 h). */
export function signToken(
  secret: string,
  tenant: string,
  opts: { scope?: string; sub?: string; expires?: string } = {},
): Promise<string> {
  return new SignJWT({
    tenant_id: tenant,
    sub: opts.sub ?? `user-of-${tenant}`,
    ...(opts.scope ? { scope: opts.scope } : {}),
  })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(opts.expires ?? "1h")
    .sign(new TextEncoder().encode(secret));
}

/** A small deterministic generator (an LCG): the same seed gives the same run. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed;
  }
  next(): number {
    this.s = (this.s * 1103515245 + 12345) & 0x7fffffff;
    return this.s / 0x7fffffff;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// The vocabulary of the bench's and the soak's synthetic memories: agents' facts, decisions, preferences, events.
export const PEOPLE = [
  "Alice",
  "Bob",
  "Chen",
  "Dana",
  "Emeka",
  "Farah",
  "Goran",
  "Hiro",
  "Ines",
  "Jonas",
  "Kemi",
  "Lena",
];
export const TECH = [
  "Redis",
  "PostgreSQL",
  "Kafka",
  "SQLite",
  "Vectorize",
  "Workers",
  "Terraform",
  "Kubernetes",
  "GraphQL",
  "Rust",
  "Python",
  "TypeScript",
  "S3",
  "ClickHouse",
];
export const PURPOSE = [
  "caching",
  "billing",
  "search",
  "analytics",
  "authentication",
  "notifications",
  "the data pipeline",
  "session storage",
  "rate limiting",
  "feature flags",
];
export const PROJECT = ["Apollo", "Borealis", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Helix"];
export const DAY = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "the end of the month", "Q3"];
