import type { TenantDb } from "./databases.ts";
import type { CachedProfile } from "../domain/profile.ts";
import { parseStoredJson } from "../domain/stored-values.ts";

type Row = Record<string, unknown>;

/** D1 repository for the per-user profile cache (`user_profiles`, migration 0013). */
export class ProfileRepo {
  constructor(private readonly dbs: TenantDb) {}

  /** The cached summary of a user's profile (namespace null: across namespaces), if any. */
  async get(tenant: string, userId: string, namespace: string | null): Promise<CachedProfile | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare("SELECT * FROM user_profiles WHERE tenant = ? AND user_id = ? AND namespace = ?")
      .bind(tenant, userId, namespace ?? "")
      .first<Row>();
    if (!row) return null;
    const sections = parseStoredJson(row.profile, null, "user_profiles.profile") as CachedProfile["sections"] | null;
    if (!sections || !Array.isArray(sections.stable) || !Array.isArray(sections.recent)) return null;
    return {
      user_id: String(row.user_id),
      namespace: row.namespace === "" ? null : String(row.namespace),
      fingerprint: String(row.fingerprint),
      provider: String(row.provider),
      sections,
      generated_at: Number(row.generated_at),
    };
  }

  /** Replaces the cached summary of a user's profile. */
  async put(tenant: string, p: CachedProfile): Promise<void> {
    const db = await this.dbs.of(tenant);
    // At most PROFILE_LIMITS' lines of bounded text: far below D1's 2 MB row.
    const profile = JSON.stringify(p.sections);
    await db
      .prepare(
        `INSERT INTO user_profiles (tenant, user_id, namespace, fingerprint, provider, profile, generated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, user_id, namespace) DO UPDATE SET fingerprint = excluded.fingerprint,
           provider = excluded.provider, profile = excluded.profile, generated_at = excluded.generated_at`,
      )
      .bind(tenant, p.user_id, p.namespace ?? "", p.fingerprint, p.provider, profile, p.generated_at)
      .run();
  }
}
