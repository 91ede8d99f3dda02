import * as z from "zod";
import { PROFILE_KINDS, type Profile, type ProfileLine } from "../domain/profile.ts";
import { formatIso } from "../domain/stored-values.ts";
import { isoDate, label } from "./ams.ts";

/** Wire schemas of the per-user profile (`GET /v1/profile`, MCP `get_user_profile`). */

export const profileQuery = z.object({
  user_id: label.meta({ description: "Whose profile (required)." }),
  namespace: label.optional().meta({ description: "Only this namespace's memories (default: all of the user's)." }),
});

const profileLineOut = z
  .object({
    kind: z.enum(PROFILE_KINDS),
    text: z.string(),
    memory_ids: z.array(z.string()).min(1).meta({ description: "The memories the line rests on." }),
  })
  .meta({ id: "ProfileLine" });

export const profileOut = z
  .object({
    user_id: z.string(),
    namespace: z.string().nullable(),
    stable: z.array(profileLineOut).meta({
      description: "Who the user is and what lasts: name, location, work, role, preferences, tools, facts.",
    }),
    recent: z.array(profileLineOut).meta({
      description: "What is going on: active topics, open tasks, recent decisions and events.",
    }),
    generated_by: z.enum(["rules", "llm"]).meta({
      description: "`rules` offline (or when the LLM failed: see warnings); `llm` when an LLM summarized it.",
    }),
    generated_at: isoDate.meta({ description: "When the profile (or the cached LLM summary) was made." }),
    fingerprint: z.string().meta({
      description: "Of the memories and facts it was built from: unchanged while they are.",
    }),
    memories_read: z.number().int().min(0),
    warnings: z.array(z.string()).optional(),
  })
  .meta({ id: "UserProfile" });

const line = (l: ProfileLine): z.input<typeof profileLineOut> => ({
  kind: l.kind,
  text: l.text,
  memory_ids: l.memory_ids,
});

/** A profile as every transport answers it. */
export function profileResponse(p: Profile): z.input<typeof profileOut> {
  return {
    user_id: p.user_id,
    namespace: p.namespace,
    stable: p.stable.map(line),
    recent: p.recent.map(line),
    generated_by: p.generated_by,
    generated_at: formatIso(p.generated_at),
    fingerprint: p.fingerprint,
    memories_read: p.memories_read,
    ...(p.warnings.length ? { warnings: p.warnings } : {}),
  };
}
