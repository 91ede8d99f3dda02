// What every view gets: the SDK client, who is signed in, the live event stream, navigation.
import type { EdgememClient, EngramEvent, Whoami } from "../../client/index.ts";

export interface EventOptions {
  /** Only the events this accepts reach the handler (and restart the debounce). */
  filter?: (e: EngramEvent) => boolean;
  /** Calls the handler once events have stopped for this long, with the last one (a burst, one reload). */
  debounceMs?: number;
}

export interface App {
  client: EdgememClient;
  me: Whoami;
  /**
   * Calls `handler` for live memory events; returns the unsubscribe function. Leaving the page
   * unsubscribes too (and drops a pending debounced call), so a view need not.
   */
  onEvent(handler: (e: EngramEvent) => void, options?: EventOptions): () => void;
  /** Goes to a hash route, e.g. `#/memories/abc`; `notice` goes to the status line once it is shown. */
  navigate(hash: string, notice?: string): void;
  /** A short message in the status line (announced to screen readers). */
  notify(message: string, kind?: "info" | "error"): void;
}

/**
 * A page: renders into `root` from the route's `arg` (the part after the view name, e.g. a
 * memory id) and query, its `h1` first (the router moves the focus there, see main.ts); may
 * return a cleanup function, called when the page is left.
 */
export type View = (
  app: App,
  root: HTMLElement,
  arg: string | undefined,
  query: URLSearchParams,
) => void | (() => void);
