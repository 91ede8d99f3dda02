const encoder = new TextEncoder();
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Longest id accepted anywhere: the Vectorize vector-id limit. */
export const MAX_ID_BYTES = 64;

export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/** A ULID: 26 characters, sortable by creation time, 80 random bits. */
export function newId(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rand = "";
  for (const b of random) rand += CROCKFORD[b % 32];
  return time + rand;
}

/** Hex SHA-256 of a string. */
export async function sha256Hex(s: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(s));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
