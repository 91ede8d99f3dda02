// The explorer: signs in (or opens straight away when the server runs without auth), then shows
// the tenant's memories, graph, sessions and status, with a live feed of memory events.
import { EdgememClient, EdgememError, EngramSocket, type EngramEvent, type Whoami } from "../../client/index.ts";
import type { App, EventOptions, View } from "./app.ts";
import { clip, h, memoryLink, problem, replace, when } from "./dom.ts";
import { graphView } from "./views/graph.ts";
import { memoriesView, memoryView } from "./views/memories.ts";
import { sessionsView, sessionView } from "./views/sessions.ts";
import { statusView } from "./views/status.ts";

const TOKEN_KEY = "edgemem.token";
const FEED_LIMIT = 50;

/** `#/<name>[/<arg>][?query]` → the page; the first is the default. */
const ROUTES: { name: string; label: string; list: View; item?: View }[] = [
  { name: "memories", label: "Memories", list: memoriesView, item: memoryView },
  { name: "graph", label: "Graph", list: graphView },
  { name: "sessions", label: "Sessions", list: sessionsView, item: sessionView },
  { name: "status", label: "Status", list: statusView },
];

const root = document.getElementById("root")!;
void boot();

async function boot(): Promise<void> {
  // Without auth the server answers whoami with no token; otherwise the token from this tab.
  const stored = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  const client = new EdgememClient({ baseUrl: location.origin, token: stored });
  let me: Whoami;
  try {
    me = await client.whoami();
  } catch (e) {
    // Only a refused token means signing in again: being offline or a 5xx says nothing about it.
    if (e instanceof EdgememError && e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn(stored ? "That token is no longer accepted." : null);
    } else unavailable(e, stored !== undefined);
    return;
  }
  start(client, me, stored);
}

/** Whoami failed for another reason than the token: says why, with Retry (and a way to another token). */
function unavailable(e: unknown, signedIn: boolean): void {
  let retrying = false;
  const retry = h(
    "button",
    {
      type: "button",
      // Not `disabled`: that would drop the focus, which the next page takes over (see start).
      onclick: () => {
        if (retrying) return;
        retrying = true;
        retry.setAttribute("aria-disabled", "true");
        void boot();
      },
    },
    "Retry",
  );
  replace(
    root,
    h(
      "main",
      { class: "signin-page" },
      h(
        "div",
        { class: "signin card" },
        h("h1", {}, "edgemem explorer"),
        h("p", { class: "error", role: "alert", id: "boot-error" }, `Could not open the explorer: ${problem(e)}`),
        h(
          "p",
          {},
          retry,
          signedIn
            ? [
                " ",
                h(
                  "button",
                  {
                    type: "button",
                    class: "link",
                    onclick: () => {
                      sessionStorage.removeItem(TOKEN_KEY);
                      signIn(null);
                    },
                  },
                  "Use another token",
                ),
              ]
            : null,
        ),
      ),
    ),
  );
  retry.focus();
}

function signIn(message: string | null): void {
  const error = h("p", { class: "error", role: "alert", id: "signin-error" }, message);
  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: 4,
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-help signin-error",
  });
  const form = h(
    "form",
    {
      class: "signin card",
      "aria-labelledby": "signin-title",
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        const token = input.value.trim();
        const client = new EdgememClient({ baseUrl: location.origin, token });
        try {
          const me = await client.whoami();
          sessionStorage.setItem(TOKEN_KEY, token);
          start(client, me, token);
        } catch (err) {
          replace(error, `Sign-in failed: ${problem(err)}`);
        }
      },
    },
    h("h1", { id: "signin-title" }, "edgemem explorer"),
    h("label", { for: "token" }, "Access token (JWT)"),
    input,
    h(
      "p",
      { id: "token-help", class: "hint" },
      "Kept in this tab only (session storage). A development token: ",
      h("code", {}, "npm run token -- --tenant acme"),
    ),
    h("button", { type: "submit" }, "Sign in"),
    error,
  );
  replace(root, h("main", { class: "signin-page" }, form));
  input.focus();
}

function start(client: EdgememClient, me: Whoami, token: string | undefined): void {
  const handlers = new Set<(e: EngramEvent) => void>();
  const status = h("p", { class: "status-line", role: "status", "aria-live": "polite" });
  const view = h("main", { id: "view", tabindex: -1 });
  const nav = h(
    "nav",
    { "aria-label": "Views" },
    h(
      "ul",
      {},
      ROUTES.map((r) => h("li", {}, h("a", { href: `#/${r.name}`, "data-route": r.name }, r.label))),
    ),
  );
  /** Said once the next page is shown: a route change clears the status line. */
  let notice = "";
  const app: App = {
    client,
    me,
    onEvent: subscribe,
    navigate(hash, next = "") {
      notice = next;
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    notify(message, kind = "info") {
      status.className = `status-line ${kind}`;
      replace(status, message);
    },
  };

  function subscribe(handler: (e: EngramEvent) => void, { filter, debounceMs = 0 }: EventOptions = {}) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const listener = (e: EngramEvent) => {
      if (filter && !filter(e)) return;
      if (!debounceMs) return handler(e);
      clearTimeout(timer);
      timer = setTimeout(() => handler(e), debounceMs);
    };
    handlers.add(listener);
    return () => {
      handlers.delete(listener);
      clearTimeout(timer);
    };
  }

  const feed = liveFeed(
    client,
    me,
    token,
    (e) => handlers.forEach((f) => f(e)),
    () => route({ reload: true }),
  );
  const header = h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "#/memories" }, "edgemem"),
    nav,
    h(
      "p",
      { class: "who", id: "who" },
      h("span", { class: "tenant" }, me.tenant),
      me.can_write ? null : h("span", { class: "badge", id: "read-only" }, "read-only"),
      me.auth_mode === "jwt" ? h("button", { type: "button", class: "link", onclick: signOut }, "Sign out") : null,
    ),
  );

  /** Stops this app (its page, the router, the socket) before the sign-in replaces it. */
  function signOut(): void {
    leave();
    window.onhashchange = null;
    feed.close();
    sessionStorage.removeItem(TOKEN_KEY);
    history.replaceState(null, "", location.pathname + location.search);
    signIn(null);
  }

  /** Leaves the current page: its cleanup, its event subscriptions. */
  let leave = () => {};
  /**
   * Shows the page the hash names, the keyboard focus on its heading. A `reload` (after missed
   * events) re-renders in place: the status line and the focused control (by id) stay.
   */
  function route({ reload = false, focus = true } = {}): void {
    const focused = reload ? document.activeElement?.id : undefined;
    leave();
    const [path = "", search = ""] = location.hash.replace(/^#\/?/, "").split("?");
    const [name, ...rest] = path.split("/");
    const r = ROUTES.find((x) => x.name === name) ?? ROUTES[0]!;
    for (const a of nav.querySelectorAll("a"))
      a.toggleAttribute("aria-current", a.getAttribute("data-route") === r.name);
    if (!reload) app.notify(notice);
    notice = "";
    view.replaceChildren();
    let arg: string | undefined;
    try {
      arg = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
    } catch {
      // A hand-edited address such as #/memories/%E0.
      view.dataset.route = r.name;
      replace(view, invalidAddress(r.name, r.label));
      if (focus && !reload) focusHeading();
      return;
    }
    // Which page #view holds (tests wait for it, with its data-ready, after a navigation).
    view.dataset.route = arg !== undefined && r.item ? `${r.name}/${arg}` : r.name;
    // The page's own app: what it subscribes to ends with it, even a subscription made late.
    const subscriptions = new Set<() => void>();
    let left = false;
    const page: App = {
      ...app,
      onEvent(handler, options) {
        if (left) return () => {};
        const off = subscribe(handler, options);
        subscriptions.add(off);
        return off;
      },
    };
    const cleanup = (arg !== undefined && r.item ? r.item : r.list)(page, view, arg, new URLSearchParams(search));
    leave = () => {
      left = true;
      subscriptions.forEach((off) => off());
      if (typeof cleanup === "function") cleanup();
      leave = () => {};
    };
    if (focused) document.getElementById(focused)?.focus();
    else if (focus && !reload) focusHeading();
  }

  /**
   * Moves the keyboard focus to the new page's heading, so a screen reader starts there and Tab
   * continues from it; a view that put the focus somewhere itself (an empty search box) keeps it.
   */
  function focusHeading(): void {
    if (view.contains(document.activeElement)) return;
    const heading = view.querySelector("h1");
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus();
  }

  // The first page takes the focus only from what it replaces (the sign-in form, Retry): on a
  // plain page load the browser's starting point is left alone.
  const replacing = document.activeElement !== document.body && root.contains(document.activeElement);
  replace(root, header, h("div", { class: "layout" }, view, feed.element), status);
  window.onhashchange = () => route();
  route({ focus: replacing });
}

/** The page for an address that cannot be decoded. */
function invalidAddress(name: string, label: string): HTMLElement {
  return h(
    "section",
    { "data-ready": true },
    h("h1", {}, "Not found"),
    h("p", { class: "error", role: "alert" }, "This address is not valid: it may have been cut or mistyped."),
    h("p", {}, h("a", { href: `#/${name}` }, label)),
  );
}

/**
 * The live event feed: the engram socket, resuming after the last event this tab saw (`?since=`),
 * so events written while the page was reloading still arrive, once. It shares the REST client's
 * bookmarks, so whatever either reads comes after what either wrote.
 */
function liveFeed(
  client: EdgememClient,
  me: Whoami,
  token: string | undefined,
  deliver: (e: EngramEvent) => void,
  reload: () => void,
) {
  const seqKey = `edgemem.seq.${me.tenant}`;
  const since = Number(sessionStorage.getItem(seqKey)) || undefined;
  const socket = new EngramSocket({ url: location.origin, token, since, bookmarks: client.bookmarks ?? false });
  const list = h("ol", { class: "feed", id: "feed" });
  const state = h("span", { class: "conn", id: "conn" }, "connecting");
  socket.onState((s) => {
    state.textContent = s;
    state.dataset.state = s;
  });
  socket.on("*", (e) => {
    sessionStorage.setItem(seqKey, String(e.seq));
    const label = e.event.replace("memory_", "").replace("_recorded", "");
    list.prepend(
      h(
        "li",
        { "data-event": e.event },
        h("span", { class: `tag ${label}` }, label),
        " ",
        memoryLink(e.data.memory_id, clip(e.data.content, 80) || e.data.memory_id),
        h("time", { datetime: e.data.updated_at }, when(e.data.updated_at)),
      ),
    );
    while (list.children.length > FEED_LIMIT) list.lastElementChild!.remove();
    deliver(e);
  });
  socket.on("gap", (g) => {
    // Where the socket carries on from: a reload before the next event must not see the gap again.
    sessionStorage.setItem(seqKey, String(g.data.resume_after));
    list.prepend(h("li", { class: "gap" }, "Some events were missed; views reload."));
    reload();
  });
  void socket.connect();
  const element = h(
    "aside",
    { class: "live", "aria-labelledby": "live-title" },
    h("h2", { id: "live-title" }, "Live ", state),
    list,
  );
  return { element, close: () => socket.close() };
}
