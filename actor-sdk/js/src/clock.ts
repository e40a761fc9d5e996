/**
 * Time as the host sees it. (`Date.now()` also reads the host's wall clock,
 * through WASI `clocks`; these give nanoseconds.)
 */

import * as host from "wapr:actor/clock@0.2.1";

/** Wall-clock time in nanoseconds since the Unix epoch. */
export function nowUnixNanos(): bigint {
  return host.nowUnixNanos();
}

/** Wall-clock time as a `Date` (millisecond precision). */
export function now(): Date {
  return new Date(Number(host.nowUnixNanos() / 1_000_000n));
}

/** Monotonic time in nanoseconds from an arbitrary origin; use differences. */
export function monotonicNanos(): bigint {
  return host.monotonicNanos();
}

/** Wall-clock time as an RFC 3339 string in UTC (see {@link formatRfc3339}). */
export function nowRfc3339(): string {
  return formatRfc3339(host.nowUnixNanos());
}

function pad(n: bigint | number, width: number): string {
  return n.toString().padStart(width, "0");
}

/**
 * Formats nanoseconds since the Unix epoch as an RFC 3339 time in UTC, the
 * fraction of a second trimmed of trailing zeros (Go's `RFC3339Nano`), for
 * example `2024-05-01T12:00:00.25Z`. Dapr accepts it as a due time or ttl.
 */
export function formatRfc3339(unixNanos: bigint): string {
  const secs = unixNanos / 1_000_000_000n;
  const nanos = unixNanos % 1_000_000_000n;
  const [year, month, day] = civilFromDays(secs / 86_400n);
  const sod = secs % 86_400n;
  const fraction = nanos === 0n ? "" : "." + pad(nanos, 9).replace(/0+$/, "");
  return (
    `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T` +
    `${pad(sod / 3600n, 2)}:${pad((sod % 3600n) / 60n, 2)}:${pad(sod % 60n, 2)}${fraction}Z`
  );
}

/** The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`). */
function civilFromDays(days: bigint): [bigint, bigint, bigint] {
  const z = days + 719_468n;
  const era = z / 146_097n;
  const doe = z % 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  return [year, month, day];
}
