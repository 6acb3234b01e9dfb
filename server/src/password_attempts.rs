//! Limits on password checks at the reference login (docs/PROTOCOL.md §7,
//! "Password attempts"): growing delays after consecutive wrong passwords, per
//! username and per client address, and a bound on password hashes computed at
//! once.
//!
//! Invariants:
//! - an attempt is **counted before** its password is hashed, under one lock
//!   together with the delay check and the hashing bound, so parallel attempts are
//!   counted exactly and no more are hashed than the sequential rules allow;
//! - an attempt refused (during a delay, or with every hashing slot taken) is
//!   neither hashed nor counted;
//! - a right password clears its username's failures and takes its own count back
//!   from its address (a success does not clear the address: an attacker's own
//!   account must not reset the count of its guesses at others);
//! - a key without a failure for its `forget_after_secs` starts again from zero,
//!   and each table holds at most `max_tracked` keys (the oldest is forgotten);
//! - unknown and known usernames are counted alike (the answer must not tell them
//!   apart); the state lives in memory and a restart forgets it.

use crate::config::{AttemptDelays, PasswordAttemptLimits};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Why a password check was refused before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRefusal {
    /// Too many wrong passwords for this username or from this address: try
    /// again at `retry_after` (Unix seconds, the server's clock).
    Delayed {
        /// When the next attempt is allowed.
        retry_after: u64,
    },
    /// Every hashing slot is taken: try again in a moment.
    Busy,
}

/// The address a client's attempts are counted under: an IPv4 address, or the
/// /64 network of an IPv6 one (one subscriber's usual allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `address` (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure_at: u64,
}

impl Record {
    fn is_fresh(&self, delays: &AttemptDelays, now: u64) -> bool {
        now < self
            .last_failure_at
            .saturating_add(delays.forget_after_secs)
    }

    /// Until when the next attempt waits (0: not delayed).
    fn blocked_until(&self, delays: &AttemptDelays) -> u64 {
        match delays.delay_secs(self.failures) {
            0 => 0,
            delay => self.last_failure_at.saturating_add(delay),
        }
    }
}

#[derive(Debug)]
struct Table<K> {
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Self {
            records: HashMap::new(),
        }
    }

    fn fresh(&self, key: &K, delays: &AttemptDelays, now: u64) -> Option<Record> {
        self.records
            .get(key)
            .copied()
            .filter(|record| record.is_fresh(delays, now))
    }

    fn blocked_until(&self, key: &K, delays: &AttemptDelays, now: u64) -> u64 {
        self.fresh(key, delays, now)
            .map_or(0, |record| record.blocked_until(delays))
    }

    fn count_failure(&mut self, key: &K, delays: &AttemptDelays, now: u64, max_tracked: usize) {
        let failures = self.fresh(key, delays, now).map_or(0, |r| r.failures);
        if !self.records.contains_key(key) && self.records.len() >= max_tracked {
            self.records
                .retain(|_, record| record.is_fresh(delays, now));
            if self.records.len() >= max_tracked {
                let oldest = self
                    .records
                    .iter()
                    .min_by_key(|(_, record)| record.last_failure_at)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    self.records.remove(&oldest);
                }
            }
        }
        self.records.insert(
            key.clone(),
            Record {
                failures: failures.saturating_add(1),
                last_failure_at: now,
            },
        );
    }

    fn take_back_one(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.failures = record.failures.saturating_sub(1);
            if record.failures == 0 {
                self.records.remove(key);
            }
        }
    }
}

#[derive(Debug)]
struct State {
    usernames: Table<String>,
    clients: Table<ClientKey>,
    hashing: u32,
}

/// The counters and the hashing bound, shared by every password check.
#[derive(Debug)]
pub struct PasswordAttempts {
    limits: PasswordAttemptLimits,
    state: Mutex<State>,
}

impl PasswordAttempts {
    /// Empty counters under `limits`.
    pub fn new(limits: PasswordAttemptLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                usernames: Table::new(),
                clients: Table::new(),
                hashing: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an attempt for `username` (lower case) from `client` at `now`:
    /// refused while either key is delayed or every hashing slot is taken;
    /// otherwise counted as a failure at once (until [`PasswordAttempt::succeeded`])
    /// and holding a hashing slot until the attempt is dropped.
    pub fn begin(
        &self,
        now: u64,
        username: &str,
        client: Option<ClientKey>,
    ) -> Result<PasswordAttempt<'_>, AttemptRefusal> {
        let limits = &self.limits;
        let mut state = self.state();
        let username = username.to_owned();
        let mut retry_after = state
            .usernames
            .blocked_until(&username, &limits.per_username, now);
        if let Some(client) = &client {
            retry_after =
                retry_after.max(state.clients.blocked_until(client, &limits.per_client, now));
        }
        if retry_after > now {
            return Err(AttemptRefusal::Delayed { retry_after });
        }
        if state.hashing >= limits.max_concurrent_checks {
            return Err(AttemptRefusal::Busy);
        }
        state.hashing += 1;
        state
            .usernames
            .count_failure(&username, &limits.per_username, now, limits.max_tracked);
        if let Some(client) = &client {
            state
                .clients
                .count_failure(client, &limits.per_client, now, limits.max_tracked);
        }
        Ok(PasswordAttempt {
            owner: self,
            username,
            client,
        })
    }

    /// When the next attempt for `username` from `client` is allowed, if it is
    /// delayed now.
    pub fn retry_after(&self, now: u64, username: &str, client: Option<ClientKey>) -> Option<u64> {
        let state = self.state();
        let mut until =
            state
                .usernames
                .blocked_until(&username.to_owned(), &self.limits.per_username, now);
        if let Some(client) = &client {
            until = until.max(
                state
                    .clients
                    .blocked_until(client, &self.limits.per_client, now),
            );
        }
        (until > now).then_some(until)
    }
}

/// One counted password check holding a hashing slot. Dropped without
/// [`PasswordAttempt::succeeded`], it stays counted as a failure.
#[derive(Debug)]
pub struct PasswordAttempt<'a> {
    owner: &'a PasswordAttempts,
    username: String,
    client: Option<ClientKey>,
}

impl PasswordAttempt<'_> {
    /// The password was right: the username's failures are cleared and this
    /// attempt's count is taken back from its address.
    pub fn succeeded(self) {
        let mut state = self.owner.state();
        state.usernames.records.remove(&self.username);
        if let Some(client) = &self.client {
            state.clients.take_back_one(client);
        }
    }
}

impl Drop for PasswordAttempt<'_> {
    fn drop(&mut self) {
        let mut state = self.owner.state();
        state.hashing = state.hashing.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PasswordAttemptLimits {
        PasswordAttemptLimits::default()
    }

    fn client(text: &str) -> Option<ClientKey> {
        Some(ClientKey::of(text.parse().unwrap()))
    }

    #[test]
    fn five_wrong_passwords_are_free_then_each_waits_longer() {
        let attempts = PasswordAttempts::new(limits());
        let t0 = 1_000;
        for _ in 0..5 {
            drop(attempts.begin(t0, "alice", None).unwrap());
        }
        assert_eq!(
            attempts.begin(t0 + 29, "alice", None).unwrap_err(),
            AttemptRefusal::Delayed {
                retry_after: t0 + 30
            }
        );
        drop(attempts.begin(t0 + 30, "alice", None).unwrap());
        assert_eq!(
            attempts.begin(t0 + 31, "alice", None).unwrap_err(),
            AttemptRefusal::Delayed {
                retry_after: t0 + 90
            }
        );
        // Another username is not delayed; a right password clears alice.
        drop(attempts.begin(t0 + 31, "bob", None).unwrap());
        attempts.begin(t0 + 90, "alice", None).unwrap().succeeded();
        assert_eq!(attempts.retry_after(t0 + 90, "alice", None), None);
    }

    #[test]
    fn an_address_is_delayed_after_twenty_failures_across_usernames() {
        let attempts = PasswordAttempts::new(limits());
        for n in 0..20 {
            drop(
                attempts
                    .begin(5, &format!("user{n}"), client("203.0.113.9"))
                    .unwrap(),
            );
        }
        assert_eq!(
            attempts
                .begin(5, "someone", client("203.0.113.9"))
                .unwrap_err(),
            AttemptRefusal::Delayed { retry_after: 35 }
        );
        // Another address, and the same /64 of IPv6 counted as one.
        drop(
            attempts
                .begin(5, "someone", client("203.0.113.10"))
                .unwrap(),
        );
        for n in 0..20 {
            drop(
                attempts
                    .begin(5, &format!("v6user{n}"), client("2001:db8::1"))
                    .unwrap(),
            );
        }
        assert!(attempts.begin(5, "x", client("2001:db8::ffff:1")).is_err());
        assert!(attempts.begin(5, "x", client("2001:db8:0:1::1")).is_ok());
        // Forgotten after an hour without a failure.
        assert!(
            attempts
                .begin(5 + 3600, "someone", client("203.0.113.9"))
                .is_ok()
        );
    }

    #[test]
    fn hashing_slots_are_bounded_and_a_refusal_is_not_counted() {
        let attempts = PasswordAttempts::new(limits());
        let held: Vec<_> = (0..4)
            .map(|n| attempts.begin(0, &format!("u{n}"), None).unwrap())
            .collect();
        assert_eq!(
            attempts.begin(0, "carol", None).unwrap_err(),
            AttemptRefusal::Busy
        );
        drop(held);
        // carol's refused attempts were not counted: five more are free.
        for _ in 0..5 {
            drop(attempts.begin(0, "carol", None).unwrap());
        }
        assert!(attempts.begin(0, "carol", None).is_err());
    }

    #[test]
    fn the_tables_forget_the_oldest_key_when_full() {
        let mut limits = limits();
        limits.max_tracked = 2;
        let attempts = PasswordAttempts::new(limits);
        for (at, name) in [(1, "a"), (2, "b"), (3, "c")] {
            for _ in 0..5 {
                drop(attempts.begin(at, name, None).unwrap());
            }
        }
        assert_eq!(attempts.retry_after(3, "a", None), None);
        assert_eq!(attempts.retry_after(3, "b", None), Some(32));
        assert_eq!(attempts.retry_after(3, "c", None), Some(33));
    }
}
