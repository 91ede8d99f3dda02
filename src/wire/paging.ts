import * as z from "zod";
import { decodeCursor, encodeCursor, type CursorKind } from "../domain/cursor.ts";
import { AppError } from "../domain/errors.ts";

/** Keyset paging on the wire: the `cursor` a list takes and the `next_cursor` it answers. */

const NOT_A_CURSOR = "not a cursor of this list: pass back the next_cursor of its previous page unchanged";

/** The `cursor` parameter of a list paged by `kind`: decoded to its key, or a 422 naming `cursor`. */
export function cursorParam<K extends CursorKind>(kind: K) {
  return z
    .string()
    .transform((raw, ctx) => {
      const key = decodeCursor(kind, raw);
      if (key === null) {
        ctx.addIssue({ code: "custom", message: NOT_A_CURSOR });
        return z.NEVER;
      }
      return key;
    })
    .meta({
      description:
        "The previous page's `next_cursor`: this page starts right after it. Costs O(page) however deep, where `offset` reads and skips every row before the page (O(offset)); rows written meanwhile shift no page.",
    });
}

export const nextCursorOut = z
  .string()
  .nullable()
  .meta({ description: "Pass it as `cursor` for the next page; null on the last page." });

/** The `next_cursor` of a page whose next key (null: the last page) is `key`. */
export function nextCursor<K extends CursorKind>(
  kind: K,
  key: Parameters<typeof encodeCursor<K>>[1] | null,
): string | null {
  return key === null ? null : encodeCursor(kind, key);
}

/** A page starts after a cursor or after `offset` rows, not both: a 422 naming `cursor` otherwise. */
export function cursorOrOffset(cursor: unknown, offset: number | null | undefined): void {
  if (cursor != null && offset) {
    const message = "give cursor or offset, not both";
    throw AppError.validation([{ field: "cursor", message }]);
  }
}
