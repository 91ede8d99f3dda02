import { profileOut, profileQuery, profileResponse } from "../wire/profile.ts";
import { route, type AppRouter } from "./handler.ts";

/** The per-user profile (`/v1/profile`). */
export function profileRoutes(r: AppRouter): void {
  route(
    r,
    {
      method: "get",
      path: "/v1/profile",
      operationId: "getUserProfile",
      tag: "Knowledge (edgemem)",
      summary: "What edgemem knows about a user",
      description:
        "A user's profile from their current memories and the graph facts about them: stable lines (name, location, work, role, preferences, tools, facts) and recent ones (active topics, open tasks, recent decisions and events), each citing its memory ids. Offline it is built by rules; with an LLM, summarized and cached until the user's memories change (an LLM failure returns the rule profile with a warning). A user edgemem knows nothing about gets an empty profile, not a 404.",
      auth: "read",
      query: profileQuery,
      response: profileOut,
    },
    async (c, { query }) =>
      profileResponse(
        await c.app.profiles.get(c.principal, { userId: query.user_id, namespace: query.namespace ?? null }),
      ),
  );
}
