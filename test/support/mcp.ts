import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index.ts";
import type { Api } from "./api.ts";

/** The real MCP SDK client over streamable HTTP, its requests served by the Worker's fetch handler. */
export async function mcpClient(
  api: Api,
  token: string | null = api.token,
  era: "2025" | "2026-07-28" = "2025",
): Promise<Client> {
  const fetchViaWorker = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(url, init);
    const headers = new Headers(req.headers);
    headers.set("host", new URL(req.url).host);
    if (token) headers.set("authorization", `Bearer ${token}`);
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(req, { headers }) as never, api.env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  // The client's default is the 2025 protocol (what agent hosts speak today); 2026-07-28 is opt-in.
  const client = new Client(
    { name: "edgemem-test", version: "1.0.0" },
    era === "2025" ? {} : { versionNegotiation: { mode: { pin: era } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL("https://edgemem.test/mcp"), { fetch: fetchViaWorker }),
  );
  return client;
}
