/** edgemem's version, as MCP's serverInfo and the OpenAPI document report it (package.json's). */
export const VERSION = "0.1.0";
