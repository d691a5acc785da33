//! The two connection figures of 1.36's stats, kept so that opening or
//! closing a connection costs a few relaxed atomics and one short,
//! sharded lock, and a scrape costs a walk over 60 slots per shard:
//!
//! - [`Peak`]: `connection_connected`, the highest number of concurrent
//!   connections since the last report tick (1.36's `connectionsMax`);
//! - [`MinuteShard`]: `connection_minute`, one minute for each connection
//!   as it opens and one more for every full minute it stays (1.36 rounds
//!   up the same way). 1.36 adds a long connection's minutes only when it
//!   next refreshes it (every 90 s or so); here a scrape sees them as they
//!   pass.
//!
//! Times are whole seconds since the [`super::Metrics`] was made, from
//! tokio's clock. A connection's minutes are worked out from the same
//! whole seconds when it is live and when it closes, so the total never
//! goes down.

use std::sync::atomic::{AtomicU64, Ordering};

/// Marks the peak as stale: the next change restarts it from the current
/// count (1.36 keeps showing the previous window's peak until then).
const STALE: u64 = 1 << 63;

/// `connection_connected` over report windows.
#[derive(Debug)]
pub(super) struct Peak(AtomicU64);

impl Default for Peak {
    fn default() -> Self {
        Peak(AtomicU64::new(STALE))
    }
}

impl Peak {
    /// The number of connections changed to `count`.
    pub(super) fn changed(&self, count: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(if v & STALE != 0 { count } else { v.max(count) })
            });
    }

    /// A report tick, with `count` connections open: a window with no
    /// change reports the current count; either way the next change starts
    /// a new window.
    pub(super) fn report(&self, count: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(if v & STALE != 0 { count } else { v } | STALE)
            });
    }

    pub(super) fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed) & !STALE
    }
}

/// Minutes a connection open from second `start` to `now` has used.
pub(super) fn minutes_of(start: u64, now: u64) -> u64 {
    1 + now.saturating_sub(start) / 60
}

/// Live connections that started in the same second of the minute.
#[derive(Debug, Default, Clone, Copy)]
struct Phase {
    count: u64,
    /// Sum of their start times in whole minutes.
    start_minutes: u64,
}

/// One shard of the minute count: the minutes of closed connections, and
/// the live ones grouped by the second of the minute they started in.
/// Within such a group every connection gains its next minute at the same
/// second, so the group's minutes follow from its count and the sum of its
/// start minutes, without visiting each connection.
#[derive(Debug)]
pub(super) struct MinuteShard {
    closed: u64,
    live: [Phase; 60],
}

impl Default for MinuteShard {
    fn default() -> Self {
        MinuteShard {
            closed: 0,
            live: [Phase::default(); 60],
        }
    }
}

impl MinuteShard {
    pub(super) fn open(&mut self, start: u64) {
        let p = &mut self.live[(start % 60) as usize];
        p.count += 1;
        p.start_minutes += start / 60;
    }

    pub(super) fn close(&mut self, start: u64, now: u64) {
        let p = &mut self.live[(start % 60) as usize];
        p.count -= 1;
        p.start_minutes -= start / 60;
        self.closed += minutes_of(start, now);
    }

    /// Minutes of every connection, closed or live, at second `now`.
    pub(super) fn total(&self, now: u64) -> u64 {
        let (minute, second) = (now / 60, now % 60);
        let mut sum = self.closed;
        for (phase, p) in self.live.iter().enumerate() {
            if p.count == 0 {
                continue;
            }
            // a connection started at minute a, second `phase`, has used
            // 1 + (minute - a) minutes, one fewer until second `phase` comes
            let reached = minute - u64::from(second < phase as u64);
            sum += p.count + p.count * reached - p.start_minutes;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_follows_1_36_report_windows() {
        let p = Peak::default();
        assert_eq!(p.value(), 0);
        p.changed(1);
        p.changed(3);
        p.changed(2);
        assert_eq!(p.value(), 3);
        // the tick keeps the window's peak until the next change
        p.report(2);
        assert_eq!(p.value(), 3);
        p.changed(1);
        assert_eq!(p.value(), 1);
        p.changed(0);
        assert_eq!(p.value(), 1);
        // a window without changes reports the current count
        p.report(0);
        p.report(0);
        assert_eq!(p.value(), 0);
    }

    #[test]
    fn minutes_round_up_and_grow_each_full_minute() {
        assert_eq!(minutes_of(10, 10), 1);
        assert_eq!(minutes_of(10, 69), 1);
        assert_eq!(minutes_of(10, 70), 2);
        assert_eq!(minutes_of(10, 250), 5);
    }

    /// The grouped sum equals adding up each connection, at every second.
    #[test]
    fn shard_total_matches_each_connection_summed() {
        let starts = [0u64, 1, 59, 60, 61, 125, 179, 180, 3599, 3600];
        let mut s = MinuteShard::default();
        for &t in &starts {
            s.open(t);
        }
        for now in 3600..3800 {
            let want: u64 = starts.iter().map(|&t| minutes_of(t, now)).sum();
            assert_eq!(s.total(now), want, "at {now}");
        }
        // closing keeps the count where it was and stops its growth
        let before = s.total(3700);
        s.close(61, 3700);
        assert_eq!(s.total(3700), before);
        assert_eq!(
            s.total(3760) - before,
            starts.len() as u64 - 1,
            "every other connection gained a minute"
        );
    }

    #[test]
    fn an_empty_phase_ahead_of_the_clock_is_skipped() {
        let mut s = MinuteShard::default();
        s.open(5);
        s.close(5, 7);
        // minute 0, second 3: phase 5 is empty and must not underflow
        assert_eq!(s.total(3), 1);
    }
}
