import { createExecutionContext, evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { AppDeps } from "../../src/deps.ts";
import type { Principal } from "../../src/domain/principal.ts";
import worker from "../../src/index.ts";
import type { Frame, HubContext } from "../../src/realtime/dialect.ts";
import type { Api } from "./api.ts";

/** A real WebSocket to the Worker, with the frames it received and a way to wait for them. */
export interface Client {
  ws: WebSocket;
  frames: any[];
  send(frame: unknown): void;
  /** The first received frame (from `from` on) matching `pred`, waiting up to `ms` (4 s). */
  next(pred: (f: any) => boolean, from?: number, ms?: number): Promise<any>;
  /** Waits until `count` frames match `pred` (up to `ms`, 10 s); returns them. */
  collect(pred: (f: any) => boolean, count: number, ms?: number): Promise<any[]>;
}

export interface OpenInit {
  query?: string;
  headers?: Record<string, string>;
  /** The `?token=` (default: the tenant's); null: none. */
  token?: string | null;
  path?: string;
}

/** The upgrade request through the Worker (the response is a 101 with the socket, or an error). */
export async function open(api: Api, init: OpenInit = {}): Promise<Response> {
  const token = init.token === undefined ? api.token : init.token;
  const q = new URLSearchParams(init.query ?? "");
  if (token) q.set("token", token);
  const req = new Request(`https://edgemem.test${init.path ?? "/ws"}?${q}`, {
    headers: { upgrade: "websocket", ...init.headers },
  });
  return worker.fetch(req as never, api.env, createExecutionContext());
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a socket (expecting a 101) and records every frame it receives. */
export async function connect(api: Api, init: OpenInit = {}): Promise<Client> {
  const res = await open(api, init);
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: any[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  return {
    ws,
    frames,
    send: (f) => ws.send(typeof f === "string" || f instanceof ArrayBuffer ? f : JSON.stringify(f)),
    async next(pred, from = 0, ms = 4000) {
      for (const deadline = Date.now() + ms; Date.now() < deadline;) {
        const hit = frames.slice(from).find(pred);
        if (hit) return hit;
        await pause(5);
      }
      throw new Error(`no matching frame; got ${JSON.stringify(frames).slice(0, 2000)}`);
    },
    async collect(pred, count, ms = 10_000) {
      for (const deadline = Date.now() + ms; Date.now() < deadline;) {
        const hits = frames.filter(pred);
        if (hits.length >= count) return hits;
        await pause(10);
      }
      throw new Error(`expected ${count} matching frames, got ${frames.filter(pred).length}`);
    },
  };
}

/** Evicts the tenant's hub, keeping its sockets (hibernation); fails with a clear message instead of hanging. */
export async function hibernate(api: Api): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("evictDurableObject did not finish in 5 s")), 5000);
  });
  try {
    await Promise.race([evictDurableObject(env.TENANT_HUB.getByName(api.tenant), { webSockets: "hibernate" }), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms` so that frames which must not arrive would have (a negative check, not a timing assertion). */
export const settle = (ms = 100) => pause(ms);

/**
 * What the hub gives a frame, for running a dialect directly (with a configuration the hub's own
 * env does not have): `send` collects the replies; nothing else reaches other sockets.
 */
export function hubContext(app: AppDeps, principal: Principal, send: (f: Frame) => void): HubContext {
  return {
    app,
    principal,
    send,
    connectionId: "c1",
    startedAt: Date.now(),
    subscription: { events: [], minImportance: 0 },
    setSubscription: () => {},
    rooms: [],
    setRooms: () => {},
    broadcast: () => {},
    toRoom: () => 0,
  };
}
