/**
 * Structured logging into the host's log, tagged by the host with the
 * actor's address. (`console.log` and `console.error` go to the component's
 * stdout and stderr, which the host may or may not keep: prefer these.)
 */

import { log as hostLog } from "wapr:actor/log@0.2.1";

/** Log severity. */
export type Level = "trace" | "debug" | "info" | "warn" | "error";

/** Writes one log line at `level`. */
export function log(level: Level, message: string): void {
  hostLog(level, message);
}

/** Writes one log line at trace level. */
export function trace(message: string): void {
  hostLog("trace", message);
}

/** Writes one log line at debug level. */
export function debug(message: string): void {
  hostLog("debug", message);
}

/** Writes one log line at info level. */
export function info(message: string): void {
  hostLog("info", message);
}

/** Writes one log line at warn level. */
export function warn(message: string): void {
  hostLog("warn", message);
}

/** Writes one log line at error level. */
export function error(message: string): void {
  hostLog("error", message);
}
