//! The sign-in limits: the lockout per email and the attempts per address.
//!
//! - **Lockout:** five failed password checks for one normalised email within 15 minutes lock
//!   it for 15 minutes from the fifth, whether or not the email has an account, so a locked
//!   account and an unknown email answer alike. A refusal while locked is counted (one audit
//!   event per member and minute) and never extends the lock.
//! - **Per address:** one client address (an IPv6 client's /64) gets [`ServerConfig::
//!   sign_ins_per_minute`] attempts a minute, whatever the emails; the rest are told to
//!   retry, with no password check and no audit event.
//!
//! [`ServerConfig::sign_ins_per_minute`]: crate::ServerConfig::sign_ins_per_minute

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use setget_protocol::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::store::{self, Attempt};

/// Failed password checks within this window lock an email out...
pub(crate) const WINDOW: Duration = Duration::minutes(15);
/// ...once there are this many.
pub(crate) const FAILURES: usize = 5;

/// Refuses an attempt while its email is locked out, even with the right password, and
/// counts the refusal.
pub(crate) fn check(store: &store::Store, attempt: &Attempt<'_>) -> ApiResult<()> {
    let now = attempt.at;
    let failures = store
        .lock()
        .failures_since(attempt.email, now - WINDOW - WINDOW)?;
    let Some(until) = locked_until(&failures, WINDOW).filter(|until| now < *until) else {
        return Ok(());
    };
    let retry_after = (until - now).num_seconds().max(1);
    store.lock().record_refusal(attempt)?;
    Err(ApiError::Client {
        code: ErrorCode::TooManyAttempts,
        message: format!(
            "too many failed sign-ins; try again in {} minutes",
            (retry_after + 59) / 60
        ),
        retry_after: u64::try_from(retry_after).ok(),
    })
}

/// When the latest lock ends: the most recent failure that was the fifth within `window`,
/// plus `window`. `failures` are newest first.
fn locked_until(failures: &[DateTime<Utc>], window: Duration) -> Option<DateTime<Utc>> {
    failures.iter().enumerate().find_map(|(i, at)| {
        let within = failures[i..]
            .iter()
            .take_while(|f| *at - **f < window)
            .count();
        (within >= FAILURES).then(|| *at + window)
    })
}

/// The window of the per-address limit.
const MINUTE: Duration = Duration::minutes(1);

/// How many addresses the per-address limit follows at once. Beyond that (a flood from more
/// addresses than this within a minute) an address it does not follow yet is let through
/// uncounted rather than refused — refusing would let such a flood lock everyone out — and the
/// lockout and the password pool still bound what it costs.
const MAX_ADDRESSES: usize = 100_000;

/// Sign-in attempts per client address and minute (fixed windows on the injected clock).
#[derive(Debug)]
pub(crate) struct PerAddress {
    per_minute: u32,
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_address: HashMap<IpAddr, (DateTime<Utc>, u32)>,
    /// When the ended windows were last dropped: at most once a minute.
    swept: Option<DateTime<Utc>>,
}

impl PerAddress {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// Admits one more attempt from `ip` at `now`, or says in how many seconds to retry.
    pub(crate) fn admit(&self, ip: IpAddr, now: DateTime<Utc>) -> ApiResult<()> {
        let key = address_key(ip);
        let mut guard = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let windows = &mut *guard;
        let current = |start: &DateTime<Utc>| *start <= now && now - *start < MINUTE;
        if windows.by_address.len() >= MAX_ADDRESSES && !windows.by_address.contains_key(&key) {
            if windows.swept.is_none_or(|at| !current(&at)) {
                windows.by_address.retain(|_, (start, _)| current(start));
                windows.swept = Some(now);
            }
            if windows.by_address.len() >= MAX_ADDRESSES {
                return Ok(());
            }
        }
        let (start, count) = windows.by_address.entry(key).or_insert((now, 0));
        if !current(start) {
            (*start, *count) = (now, 0);
        }
        if *count >= self.per_minute {
            let retry_after = (*start + MINUTE - now).num_seconds().max(1);
            return Err(too_many_from_here(retry_after));
        }
        *count += 1;
        Ok(())
    }
}

/// What the limit counts by: an IPv4 address, or an IPv6 address's /64 (one subscriber's
/// network, whose addresses are the subscriber's to pick).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

fn too_many_from_here(retry_after: i64) -> ApiError {
    ApiError::Client {
        code: ErrorCode::TooManyAttempts,
        message: format!("too many sign-ins from this address; try again in {retry_after} seconds"),
        retry_after: u64::try_from(retry_after).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn an_address_gets_its_attempts_per_minute_and_a_v6_network_shares_them() {
        let limit = PerAddress::new(3);
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        for _ in 0..2 {
            limit.admit(a, at(0)).unwrap();
        }
        limit.admit(mapped, at(10)).unwrap();
        let refused = limit.admit(a, at(20)).unwrap_err();
        assert!(matches!(
            refused,
            ApiError::Client {
                retry_after: Some(40),
                ..
            }
        ));
        limit
            .admit("198.51.100.8".parse().unwrap(), at(20))
            .unwrap();
        limit.admit(a, at(60)).unwrap();
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for host in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::1", "2001:db8:1:2::9"] {
            limit.admit(v6(host), at(0)).unwrap();
        }
        assert!(limit.admit(v6("2001:db8:1:2::77"), at(1)).is_err());
        limit.admit(v6("2001:db8:1:3::1"), at(1)).unwrap();
    }

    /// A flood from more addresses than the limit follows cannot lock everyone else out: a new
    /// address is let through uncounted until the ended windows can be dropped.
    #[test]
    fn more_addresses_than_it_follows_are_let_through_not_refused() {
        let limit = PerAddress::new(1);
        for n in 0..MAX_ADDRESSES {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n as u32));
            limit.admit(ip, at(0)).unwrap();
        }
        let newcomer: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..3 {
            limit.admit(newcomer, at(1)).unwrap();
        }
        // A minute on, the flood's windows are over and dropped: the newcomer is counted.
        limit.admit(newcomer, at(61)).unwrap();
        assert!(limit.admit(newcomer, at(62)).is_err());
    }

    #[test]
    fn five_failures_within_the_window_lock_until_the_fifth_plus_the_window() {
        let w = Duration::minutes(15);
        let newest_first = |secs: &[i64]| secs.iter().rev().map(|s| at(*s)).collect::<Vec<_>>();
        assert_eq!(
            locked_until(&newest_first(&[0, 60, 120, 180, 240]), w),
            Some(at(240) + w)
        );
        assert_eq!(locked_until(&newest_first(&[0, 60, 120, 180]), w), None);
        assert_eq!(
            locked_until(&newest_first(&[0, 225, 450, 675, 900]), w),
            None
        );
    }
}
