/**
 * edgemem's TypeScript client: `EdgememClient` for the REST API and `EngramSocket` for push events
 * and commands over the engram WebSocket dialect. No dependencies; Node ≥ 22, browsers, Workers.
 */
export { EdgememClient, EdgememError, type ClientOptions, type TokenSource } from "./rest.ts";
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
} from "./engram-socket.ts";
export type * from "./types.ts";
