import type { Dialect, DialectName, Frame } from "./dialect.ts";
import { engram } from "./engram.ts";
import { symindx } from "./symindx.ts";
import { trustgraph, trustgraphError } from "./trustgraph.ts";

/** Every dialect by name (a socket's attachment names its own). */
export const DIALECTS: { readonly [N in DialectName]: Dialect } = { engram, symindx, trustgraph };

/** A SYMindX frame names its `type`; an engram frame its `command` (the two share `/ws`). */
function isSymindxFrame(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && "type" in raw && !("command" in raw);
}

/**
 * The dialect that runs a frame sent on a socket speaking `current`, and the dialect the socket
 * speaks from then on. On `/ws` the frame's shape decides: a SYMindX frame runs as SYMindX and
 * makes the socket SYMindX for good (its pushes, its heartbeat); an engram frame runs as engram
 * and leaves the socket as it was. A socket of any other endpoint runs every frame in its own dialect.
 */
export function frameDialect(current: DialectName, raw: unknown): { run: Dialect; speaks: DialectName } {
  if (current !== "engram" && current !== "symindx") return { run: DIALECTS[current], speaks: current };
  return isSymindxFrame(raw) ? { run: symindx, speaks: symindx.name } : { run: engram, speaks: current };
}

/** The heartbeats of the dialects that have one: a pong to any of them is recorded on any socket. */
export const HEARTBEATS = Object.values(DIALECTS).flatMap((d) => (d.heartbeat ? [d.heartbeat] : []));

/**
 * The frame any socket may send to have the runtime answer it without waking the hub (one pair per
 * object): SYMindX's ping and pong.
 */
export const AUTO_RESPONSE = { request: symindx.heartbeat!.ping, response: symindx.heartbeat!.pong };

/**
 * A WebSocket endpoint: its canonical path (what the Worker forwards to the hub), the dialect a new
 * socket on it speaks, and how it is told its upgrade was refused.
 */
interface Endpoint {
  path: string;
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
  path: "/ws",
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
  path: "/api/v1/socket",
  dialect: () => "trustgraph",
  unauthorized: (message) => trustgraphError(null, "unauthorized", message),
};

/**
 * The WebSocket endpoints by path: engram and SYMindX on `/ws`, TrustGraph on `/api/v1/socket` and
 * on `/api/socket`, the relative path `@trustgraph/client` opens (TrustGraph's apps proxy it to the gateway).
 */
export const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ["/ws", ws],
  ["/api/v1/socket", trustgraphGateway],
  ["/api/socket", trustgraphGateway],
]);
