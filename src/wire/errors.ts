import * as z from "zod";
import { ERROR_CODES } from "../domain/errors.ts";

/** Every error body. */
export const errorOut = z
  .object({
    error: z.enum(ERROR_CODES),
    message: z.string(),
    detail: z.string().meta({ description: "The message again, where FastAPI clients (AMS's) read it." }),
    issues: z
      .array(
        z.object({ field: z.string().meta({ description: "Dotted path, e.g. memories.0.text" }), message: z.string() }),
      )
      .optional()
      .meta({ description: "Each invalid field (validation_error)." }),
  })
  .meta({ id: "Error" });
