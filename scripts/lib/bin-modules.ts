/**
 * Lets Node import `*.bin` modules as the Workers runtime does (an ArrayBuffer), so scripts can load
 * src modules that import the word table. Import this first, then the src modules dynamically:
 * static imports are all loaded before any module body runs.
 */
import { register } from "node:module";

register("./bin-hooks.ts", import.meta.url);
