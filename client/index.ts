/**
 * edgemem's TypeScript client: `EdgememClient` for the REST API and `EngramSocket` for push events
 * and commands over the engram WebSocket dialect. No dependencies; browsers, Node ≥ 18, Workers, Deno
 * (Node 18–21 have no global WebSocket: give `EngramSocket` one in `options.WebSocket`).
 */
export {
  EdgememClient,
  EdgememError,
  type ClientOptions,
  type RequestOptions,
  type StreamOptions,
  type TokenSource,
} from "./rest.ts";
export { BookmarkStore, newerBookmark } from "./bookmarks.ts";
export {
  backoffDelay,
  EngramError,
  EngramSocket,
  type ConnectionState,
  type EngramCommand,
  type EngramCommands,
  type EngramEvent,
  type EngramEventName,
  type EngramGap,
  type EngramSocketOptions,
  type WebSocketFactory,
} from "./engram-socket.ts";
export type * from "./types.ts";
export { MEMORY_TYPES } from "./types.ts";
