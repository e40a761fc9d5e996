//! Cron matching on the UTC proleptic Gregorian calendar: the next tick of a
//! [`CronSpec`] and the ticks in a window, counted per day rather than walked.

use crate::reminders::time::{self, civil_from_days_wide as civil_from_days, days_from_civil_wide};

use super::super::{CYCLE_SECONDS, NANOS_PER_SECOND, SECONDS_PER_DAY};
use super::{CronSpec, STAR_BIT};
use crate::reminders::time::UnixNanos;

// ---------------------------------------------------------------------------
// Civil calendar (UTC, proleptic Gregorian)
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i128, m: u32, d: u32) -> i128 {
    days_from_civil_wide(y, i128::from(m), i128::from(d))
}

fn days_in_month(y: i128, m: u32) -> u32 {
    to_u32(time::days_in_month(i128::from(m), y))
}

/// Day of the week (0 = Sunday) of a day count since 1970-01-01 (a Thursday).
pub(in crate::scheduler::job) fn weekday(days: i128) -> u32 {
    u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0)
}

/// The year of an instant given in whole seconds.
fn year_of_seconds(secs: i128) -> i128 {
    civil_from_days(secs.div_euclid(SECONDS_PER_DAY)).0
}

// ---------------------------------------------------------------------------
// Cron matching
// ---------------------------------------------------------------------------

pub(in crate::scheduler::job) fn has(bits: u64, value: u32) -> bool {
    value < 63 && bits & (1 << value) != 0
}

/// Bits without the star marker.
fn values(bits: u64) -> u64 {
    bits & !STAR_BIT
}

impl CronSpec {
    /// kit's `dayMatches`: if either day field was `*`/`?`, both must match;
    /// if both are restricted, either may match.
    pub(in crate::scheduler::job) fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let dom = has(self.dom, day);
        let dow = has(self.dow, weekday);
        if self.dom & STAR_BIT != 0 || self.dow & STAR_BIT != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether the spec can never match (a field with no value, e.g. `,`).
    fn never_matches(&self) -> bool {
        let any_day = if self.dom & STAR_BIT != 0 || self.dow & STAR_BIT != 0 {
            values(self.dom) != 0 && values(self.dow) != 0
        } else {
            values(self.dom) != 0 || values(self.dow) != 0
        };
        values(self.second) == 0
            || values(self.minute) == 0
            || values(self.hour) == 0
            || values(self.month) == 0
            || !any_day
    }

    /// kit's `SpecSchedule.Next` in UTC: the first matching second strictly
    /// after `t`, searching until the end of the fifth year after it.
    pub(in crate::scheduler::job) fn next_after(&self, t: UnixNanos) -> Option<UnixNanos> {
        if self.never_matches() {
            return None;
        }
        let start = t.div_euclid(NANOS_PER_SECOND) + 1;
        let (mut y, mut mo, mut d) = civil_from_days(start.div_euclid(SECONDS_PER_DAY));
        let sod = start.rem_euclid(SECONDS_PER_DAY);
        let (mut h, mut mi, mut s) = (to_u32(sod / 3600), to_u32(sod / 60 % 60), to_u32(sod % 60));
        let year_limit = y + 5;
        let mut added = false;

        // Advances the date by one day.
        let next_day = |y: &mut i128, mo: &mut u32, d: &mut u32| {
            *d += 1;
            if *d > days_in_month(*y, *mo) {
                *d = 1;
                *mo += 1;
                if *mo > 12 {
                    *mo = 1;
                    *y += 1;
                }
            }
        };

        'wrap: loop {
            if y > year_limit {
                return None;
            }
            while !has(self.month, mo) {
                if !added {
                    added = true;
                    (d, h, mi, s) = (1, 0, 0, 0);
                }
                // Go's AddDate(0, 1, 0), normalising an out-of-range day.
                (y, mo) = if mo == 12 { (y + 1, 1) } else { (y, mo + 1) };
                if d > days_in_month(y, mo) {
                    (y, mo, d) = civil_from_days(days_from_civil(y, mo, 1) + i128::from(d) - 1);
                }
                if mo == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(d, weekday(days_from_civil(y, mo, d))) {
                if !added {
                    added = true;
                    (h, mi, s) = (0, 0, 0);
                }
                next_day(&mut y, &mut mo, &mut d);
                if d == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hour, h) {
                if !added {
                    added = true;
                    (mi, s) = (0, 0);
                }
                h += 1;
                if h == 24 {
                    h = 0;
                    next_day(&mut y, &mut mo, &mut d);
                    continue 'wrap;
                }
            }
            while !has(self.minute, mi) {
                if !added {
                    added = true;
                    s = 0;
                }
                mi += 1;
                if mi == 60 {
                    mi = 0;
                    h += 1;
                    if h == 24 {
                        h = 0;
                        next_day(&mut y, &mut mo, &mut d);
                    }
                    continue 'wrap;
                }
            }
            while !has(self.second, s) {
                added = true;
                s += 1;
                if s == 60 {
                    s = 0;
                    mi += 1;
                    if mi == 60 {
                        mi = 0;
                        h += 1;
                        if h == 24 {
                            h = 0;
                            next_day(&mut y, &mut mo, &mut d);
                        }
                    }
                    continue 'wrap;
                }
            }
            let secs = days_from_civil(y, mo, d) * SECONDS_PER_DAY
                + i128::from(h) * 3600
                + i128::from(mi) * 60
                + i128::from(s);
            return Some(secs * NANOS_PER_SECOND);
        }
    }

    /// Matching times of day (seconds since midnight) at or before `sod`.
    fn count_upto(&self, sod: i128) -> u128 {
        if sod < 0 {
            return 0;
        }
        let (h, m, s) = (to_u32(sod / 3600), to_u32(sod / 60 % 60), to_u32(sod % 60));
        let (hours, minutes, seconds) =
            (values(self.hour), values(self.minute), values(self.second));
        let per_minute = u128::from(seconds.count_ones());
        let per_hour = u128::from(minutes.count_ones()) * per_minute;
        let below = |bits: u64, v: u32| u128::from((bits & ((1u64 << v) - 1)).count_ones());
        let mut n = below(hours, h) * per_hour;
        if has(hours, h) {
            n += below(minutes, m) * per_minute;
            if has(minutes, m) {
                n += below(seconds, s + 1);
            }
        }
        n
    }

    /// The `index`-th (0-based) matching time of day, if the day has that many.
    fn nth_in_day(&self, mut index: u128) -> Option<i128> {
        let (hours, minutes, seconds) =
            (values(self.hour), values(self.minute), values(self.second));
        let per_minute = u128::from(seconds.count_ones());
        let per_hour = u128::from(minutes.count_ones()) * per_minute;
        for h in (0..24).filter(|&h| has(hours, h)) {
            if index >= per_hour {
                index -= per_hour;
                continue;
            }
            for m in (0..60).filter(|&m| has(minutes, m)) {
                if index >= per_minute {
                    index -= per_minute;
                    continue;
                }
                let s = (0..60)
                    .filter(|&s| has(seconds, s))
                    .nth(usize::try_from(index).ok()?)?;
                return Some(i128::from(h) * 3600 + i128::from(m) * 60 + i128::from(s));
            }
        }
        None
    }

    /// Walks the matching days from `from` to `to` (whole seconds, inclusive),
    /// calling `visit(day_start, lo_sod, hi_sod, count)` for each day with
    /// at least one tick in range, until `visit` returns false.
    fn scan_days(
        &self,
        from: i128,
        to: i128,
        mut visit: impl FnMut(i128, i128, i128, u128) -> bool,
    ) {
        let first_day = from.div_euclid(SECONDS_PER_DAY);
        let last_day = to.div_euclid(SECONDS_PER_DAY);
        let (mut y, mut mo, mut d) = civil_from_days(first_day);
        let mut wd = weekday(first_day);
        let mut day = first_day;
        while day <= last_day {
            if has(self.month, mo) && self.day_matches(d, wd) {
                let lo = if day == first_day {
                    from.rem_euclid(SECONDS_PER_DAY)
                } else {
                    0
                };
                let hi = if day == last_day {
                    to.rem_euclid(SECONDS_PER_DAY)
                } else {
                    SECONDS_PER_DAY - 1
                };
                let count = self.count_upto(hi) - self.count_upto(lo - 1);
                if count > 0 && !visit(day * SECONDS_PER_DAY, lo, hi, count) {
                    return;
                }
                day += 1;
                wd = (wd + 1) % 7;
                d += 1;
                if d > days_in_month(y, mo) {
                    d = 1;
                    mo += 1;
                    if mo > 12 {
                        mo = 1;
                        y += 1;
                    }
                }
            } else if !has(self.month, mo) {
                // Skip the rest of a month that never matches.
                let left = i128::from(days_in_month(y, mo) - d + 1);
                day += left;
                wd = u32::try_from((i128::from(wd) + left).rem_euclid(7)).unwrap_or(0);
                d = 1;
                mo += 1;
                if mo > 12 {
                    mo = 1;
                    y += 1;
                }
            } else {
                day += 1;
                wd = (wd + 1) % 7;
                d += 1;
                if d > days_in_month(y, mo) {
                    d = 1;
                    mo += 1;
                    if mo > 12 {
                        mo = 1;
                        y += 1;
                    }
                }
            }
        }
    }

    /// The chain of ticks from `first` (a tick, whole seconds) to `limit`
    /// (inclusive): how many there are, and the last one. The chain stops
    /// early where robfig's five-year search would find no next tick.
    pub(in crate::scheduler::job) fn count_window(&self, first: i128, limit: i128) -> (u128, i128) {
        if limit - first < 2 * CYCLE_SECONDS {
            return self.scan_window(first, limit).0;
        }
        // One 400-year cycle, then whole cycles by multiplication: ticks,
        // gaps and robfig's five-year horizon all repeat with the calendar.
        let ((per_cycle, last), broke) = self.scan_window(first, first + CYCLE_SECONDS - 1);
        if broke {
            return (per_cycle, last);
        }
        // The step from one cycle into the next (`first + CYCLE_SECONDS`,
        // itself a tick) must exist too.
        if self.next_after(last * NANOS_PER_SECOND)
            != Some((first + CYCLE_SECONDS) * NANOS_PER_SECOND)
        {
            return (per_cycle, last);
        }
        let cycles = (limit - first) / CYCLE_SECONDS;
        let rest_start = first + cycles * CYCLE_SECONDS;
        let ((rest, last), _) = self.scan_window(rest_start, limit);
        let cycles = u128::try_from(cycles).unwrap_or(u128::MAX);
        (cycles.saturating_mul(per_cycle).saturating_add(rest), last)
    }

    /// [`CronSpec::count_window`] by scanning every day; also says whether
    /// the chain broke.
    fn scan_window(&self, first: i128, limit: i128) -> ((u128, i128), bool) {
        let mut count: u128 = 0;
        let mut last: Option<i128> = None;
        let mut broke = false;
        self.scan_days(first, limit, |day_start, lo, hi, n| {
            if let Some(prev) = last {
                let first_here = day_start + self.first_at_or_after(lo);
                // Next(prev) searches up to the end of year(prev + 1s) + 5.
                if first_here - prev > 4 * 365 * SECONDS_PER_DAY
                    && year_of_seconds(first_here) > year_of_seconds(prev + 1) + 5
                {
                    broke = true;
                    return false;
                }
            }
            count += n;
            last = Some(day_start + self.last_at_or_before(hi));
            true
        });
        ((count, last.unwrap_or(first)), broke)
    }

    /// The `index`-th (0-based) tick from `first` (a tick, whole seconds) on,
    /// at or before `limit`.
    pub(in crate::scheduler::job) fn locate(
        &self,
        first: i128,
        limit: i128,
        index: u128,
    ) -> Option<i128> {
        let mut start = first;
        let mut left = index;
        if limit - first >= 2 * CYCLE_SECONDS {
            let ((per_cycle, _), _) = self.scan_window(first, first + CYCLE_SECONDS - 1);
            let cycles = i128::try_from(left / per_cycle.max(1)).ok()?;
            start = first + cycles * CYCLE_SECONDS;
            left -= u128::try_from(cycles).ok()? * per_cycle;
        }
        let mut found = None;
        self.scan_days(start, limit, |day_start, lo, _hi, n| {
            if left < n {
                found = self
                    .nth_in_day(self.count_upto(lo - 1) + left)
                    .map(|sod| day_start + sod);
                return false;
            }
            left -= n;
            true
        });
        found
    }

    fn first_at_or_after(&self, sod: i128) -> i128 {
        self.nth_in_day(self.count_upto(sod - 1)).unwrap_or(0)
    }

    fn last_at_or_before(&self, sod: i128) -> i128 {
        self.count_upto(sod)
            .checked_sub(1)
            .and_then(|i| self.nth_in_day(i))
            .unwrap_or(0)
    }
}

fn to_u32(v: i128) -> u32 {
    u32::try_from(v).unwrap_or(0)
}
