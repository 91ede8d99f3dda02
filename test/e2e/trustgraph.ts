// TrustGraph's own TypeScript client (`@trustgraph/client`) pointed at a wrangler dev. Node only.
import { createTrustGraphSocket, type BaseApi, type ConnectionState } from "@trustgraph/client";
import { vi } from "vitest";

/**
 * The client logs every connection step and retry with console.log/error; a test that wants
 * its own output readable silences them (its assertions say what matters).
 */
export function quietClient(): void {
  vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation(() => {});
}

/**
 * A client on `/api/socket`, the path it opens by default. In a browser that path is relative to
 * the page (TrustGraph's apps proxy it to the gateway); Node has no page, so it gets the absolute
 * URL, as the client's `socketUrl` argument allows. Resolves once the socket is open: a request
 * made while it connects is sent again by a retry timer the client never cancels.
 */
export async function trustgraphClient(baseUrl: string, token?: string): Promise<BaseApi> {
  const api = createTrustGraphSocket("edgemem-e2e", token, `${baseUrl.replace(/^http/, "ws")}/api/socket`);
  await connectionState(api, (s) => s.status === "authenticated" || s.status === "unauthenticated");
  return api;
}

/** The first connection state matching `pred` (the current one included), within 10 s. */
export function connectionState(api: BaseApi, pred: (s: ConnectionState) => boolean): Promise<ConnectionState> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined;
    const timer = setTimeout(() => {
      stop?.();
      reject(new Error("no such connection state in 10 s"));
    }, 10_000);
    stop = api.onConnectionStateChange((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      queueMicrotask(() => stop?.());
      resolve(s);
    });
  });
}

/** One whole-message frame as @trustgraph/client ≥ 1.7 hands it to a multi-response receiver. */
export interface Frame {
  id: string;
  response?: Record<string, any>;
  error?: { type: string; message: string };
  complete?: boolean;
}
