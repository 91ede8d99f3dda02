/** Who is acting: the tenant comes from a verified token, never from a request body. */
export interface Principal {
  tenant: string;
  /** The acting user (`sub`), recorded in history. */
  subject: string;
  /** Token scopes, or null when the token carries none (then everything is allowed). */
  scopes: string[] | null;
}

/** The tenant names a Vectorize namespace: at most 64 bytes. */
export const MAX_TENANT_BYTES = 64;
