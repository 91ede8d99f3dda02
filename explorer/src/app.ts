// What every view gets: the SDK client, who is signed in, the live event stream, navigation.
import type { EdgememClient, EngramEvent, Whoami } from "../../client/index.ts";

export interface App {
  client: EdgememClient;
  me: Whoami;
  /** Calls `handler` for every live memory event; returns the unsubscribe function. */
  onEvent(handler: (e: EngramEvent) => void): () => void;
  /** Goes to a hash route, e.g. `#/memories/abc`. */
  navigate(hash: string): void;
  /** A short message in the status line (announced to screen readers). */
  notify(message: string, kind?: "info" | "error"): void;
}

/**
 * A page: renders into `root` from the route's `arg` (the part after the view name, e.g. a
 * memory id) and query; may return a cleanup function, called when the page is left.
 */
export type View = (
  app: App,
  root: HTMLElement,
  arg: string | undefined,
  query: URLSearchParams,
) => void | (() => void);
