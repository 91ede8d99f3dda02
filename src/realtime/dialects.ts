import type { Dialect, DialectName, Frame, HubContext } from "./dialect.ts";
import { engram } from "./engram.ts";
import { symindx } from "./symindx.ts";
import { trustgraph, trustgraphError } from "./trustgraph.ts";

/** Every dialect by name (a socket's attachment names its own). */
export const DIALECTS: { readonly [N in DialectName]: Dialect<unknown, HubContext> } = {
  engram,
  symindx,
  trustgraph,
};

/** A WebSocket endpoint: the dialect a new socket on it speaks, and how it is told its upgrade was refused. */
interface Endpoint {
  dialect(protocol: string | null): DialectName;
  /** The one frame a browser gets before the close when its token is refused (it cannot read a failed upgrade). */
  unauthorized(message: string): Frame;
}

/**
 * The subprotocol with which a client says it speaks SYMindX from the start, so it is greeted
 * (`connection_established`) on connect. Without it a `/ws` socket stays silent until its first
 * frame: engram clients read the first frame after a command as its reply.
 */
const SYMINDX_PROTOCOL = "symindx";

const ws: Endpoint = {
  dialect: (protocol) => (protocol?.toLowerCase() === SYMINDX_PROTOCOL ? "symindx" : "engram"),
  // engram reads status/error, SYMindX type/data: one frame for both.
  unauthorized(message) {
    const error = { code: "UNAUTHORIZED", message };
    return {
      type: "error",
      status: "error",
      data: { ...error, details: null },
      error,
      timestamp: new Date().toISOString(),
    };
  },
};

const trustgraphGateway: Endpoint = {
  dialect: () => "trustgraph",
  unauthorized: (message) => trustgraphError(null, "unauthorized", message),
};

/**
 * The WebSocket endpoints: engram and SYMindX on `/ws`, TrustGraph on `/api/v1/socket` and on
 * `/api/socket`, the relative path `@trustgraph/client` opens (TrustGraph's apps proxy it to the gateway).
 */
export const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ["/ws", ws],
  ["/api/v1/socket", trustgraphGateway],
  ["/api/socket", trustgraphGateway],
]);
