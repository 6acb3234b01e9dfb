//! The phone's local history of what was approved, denied or generated, kept as
//! a hash chain whose head is MACed with a key only the keystore can open.
//!
//! Each entry's hash is `SHA-256(previous hash ‖ canonical encoding of the
//! entry)` (the [`Encoder`] with purpose `history-entry`; the first entry's
//! previous hash is 32 zero bytes). The head — the number of entries and the last
//! hash — is MACed with HMAC-SHA256 under a random 32-byte key that is stored
//! only sealed by the platform keystore (alias [`HISTORY_KEY_ALIAS`]).
//!
//! What [`History::verify`] detects, for someone who has the database file but
//! not the keystore: a changed entry, a removed entry (first, middle or last),
//! reordered entries, an added entry, a rewritten head, a deleted head — even
//! when the attacker recomputes every hash, since the head's MAC needs the key.
//!
//! What it **cannot** detect:
//! - a rollback of the whole database to an older copy of itself (entries, head
//!   and sealed key together are consistent, so an older history verifies);
//! - the removal of the whole history at once — every entry, the head and its
//!   sealed key — which looks like a phone that never recorded anything;
//! - anything done by code that can use the keystore as the app does (malware
//!   running as the app, or a rooted phone), which can MAC any head it likes.
//!
//! Anchoring the head outside the phone (sending it to the server in a sync)
//! would close the first two; that is not done yet.
//!
//! Invariants: entries are appended in one transaction with the head;
//! [`History::append`] refuses to extend a chain whose head does not check
//! (so tampering is never laundered by a new MAC); MACs compare in constant time;
//! entries never hold secrets (no response, no `k_user`, no PIN).

use super::keystore::{KeystoreError, PlatformKeystore, SealedBlob};
use super::store::{AccountId, DeviceStore, DeviceStoreError};
use crate::protocol::codec::Encoder;
use crate::protocol::{EnrollmentId, RequestId};
use crate::secret::SecretBytes;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use rusqlite::{OptionalExtension, params};
use subtle::ConstantTimeEq;

/// The keystore alias of the history's MAC key.
pub const HISTORY_KEY_ALIAS: &str = "latchkey/history-mac";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HistoryEvent {
    /// A push login was approved.
    Approved,
    /// A push login was denied.
    Denied,
    /// A push login was denied and reported as fraud ("this wasn't me").
    ReportedFraud,
    /// A challenge/response code was generated.
    ResponseGenerated,
    /// An account was activated on this phone.
    AccountAdded,
    /// An account's secrets were wiped (replaced, revoked or removed).
    AccountWiped,
}

impl HistoryEvent {
    fn code(self) -> u8 {
        match self {
            HistoryEvent::Approved => 1,
            HistoryEvent::Denied => 2,
            HistoryEvent::ReportedFraud => 3,
            HistoryEvent::ResponseGenerated => 4,
            HistoryEvent::AccountAdded => 5,
            HistoryEvent::AccountWiped => 6,
        }
    }

    fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => HistoryEvent::Approved,
            2 => HistoryEvent::Denied,
            3 => HistoryEvent::ReportedFraud,
            4 => HistoryEvent::ResponseGenerated,
            5 => HistoryEvent::AccountAdded,
            6 => HistoryEvent::AccountWiped,
            _ => return None,
        })
    }
}

/// An entry to append; the history adds its position, time and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHistoryEntry {
    /// The account it concerns, if any.
    pub account_id: Option<AccountId>,
    /// The enrollment it concerns, if any (kept after the account is removed).
    pub enrollment_id: Option<EnrollmentId>,
    /// What happened.
    pub event: HistoryEvent,
    /// The push request it answered, if any.
    pub request_id: Option<RequestId>,
    /// What the user saw: which app, where from. Never a secret (no response,
    /// no PIN).
    pub summary: String,
}

/// An entry of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its position, from 1.
    pub seq: u64,
    /// When it was recorded (Unix seconds, this phone's clock).
    pub at: u64,
    /// The account it concerns, if any.
    pub account_id: Option<AccountId>,
    /// The enrollment it concerns, if any.
    pub enrollment_id: Option<EnrollmentId>,
    /// What happened.
    pub event: HistoryEvent,
    /// The push request it answered, if any.
    pub request_id: Option<RequestId>,
    /// What the user saw.
    pub summary: String,
    /// Its chain hash.
    pub hash: [u8; 32],
}

/// A history that verified: how long it is and where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedHistory {
    /// The number of entries.
    pub count: u64,
    /// The last entry's hash (32 zero bytes for an empty history).
    pub head: [u8; 32],
}

/// Why the history could not be read, extended or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The chain breaks at this position: the entry there was changed, or an
    /// entry at or before it was removed, added or moved.
    #[error("the history was changed: the chain breaks at entry {seq}")]
    BrokenChain {
        /// The first position where the chain does not hold.
        seq: u64,
    },
    /// The chain is intact but does not end where the MACed head says: entries
    /// were removed from (or added to) the end, or the whole chain was rewritten.
    #[error("the history was changed: it does not end where its sealed head says")]
    HeadMismatch,
    /// The head's MAC does not verify: the head was rewritten without the key.
    #[error("the history's head was rewritten")]
    BadHeadMac,
    /// Entries exist but their head is gone.
    #[error("the history's head is missing")]
    HeadMissing,
    /// A stored entry has a value that does not parse.
    #[error("history entry {seq} is malformed")]
    BadEntry {
        /// Its position.
        seq: u64,
    },
    /// The keystore could not seal or open the MAC key.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] DeviceStoreError),
}

impl From<rusqlite::Error> for HistoryError {
    fn from(error: rusqlite::Error) -> Self {
        HistoryError::Store(error.into())
    }
}

/// The stored head.
struct Head {
    key_alias: String,
    sealed_key: SealedBlob,
    count: u64,
    hash: [u8; 32],
    mac: Vec<u8>,
}

/// The local history, over the store's tables and the keystore.
pub struct History<'a> {
    store: &'a DeviceStore,
    keystore: &'a dyn PlatformKeystore,
}

impl std::fmt::Debug for History<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("store", self.store)
            .finish_non_exhaustive()
    }
}

/// The hash of an entry given the previous hash.
fn entry_hash(previous: &[u8; 32], seq: u64, at: u64, entry: &NewHistoryEntry) -> [u8; 32] {
    let account = entry.account_id.map(|id| id.get().to_be_bytes());
    let encoded = Encoder::new("history-entry")
        .u64(seq)
        .u64(at)
        .opt_bytes(account.as_ref().map(|bytes| bytes.as_slice()))
        .opt_bytes(
            entry
                .enrollment_id
                .as_ref()
                .map(|id| id.as_bytes().as_slice()),
        )
        .u8(entry.event.code())
        .opt_bytes(entry.request_id.as_ref().map(|id| id.as_bytes().as_slice()))
        .str(&entry.summary)
        .finish();
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(previous);
    context.update(&encoded);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The MAC of a head.
fn head_mac(key: &SecretBytes, alias: &str, count: u64, hash: &[u8; 32]) -> Vec<u8> {
    // Why exposed: it keys the HMAC.
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret());
    let message = Encoder::new("history-head")
        .str(alias)
        .u64(count)
        .bytes(hash)
        .finish();
    hmac::sign(&key, &message).as_ref().to_vec()
}

fn to_i64(value: u64) -> Result<i64, HistoryError> {
    i64::try_from(value).map_err(|_| HistoryError::Store(DeviceStoreError::OutOfRange("history")))
}

impl<'a> History<'a> {
    /// The history of `store`, whose head key `keystore` seals.
    pub fn new(store: &'a DeviceStore, keystore: &'a dyn PlatformKeystore) -> Self {
        Self { store, keystore }
    }

    fn read_head(&self) -> Result<Option<Head>, HistoryError> {
        let row = self
            .store
            .connection()
            .query_row(
                "SELECT key_alias, sealed_mac_key, entry_count, head_hash, mac FROM history_head WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((key_alias, sealed_key, count, hash, mac)) = row else {
            return Ok(None);
        };
        let bad = || {
            HistoryError::Store(DeviceStoreError::BadValue {
                column: "history_head",
            })
        };
        Ok(Some(Head {
            key_alias,
            sealed_key: SealedBlob::new(sealed_key),
            count: u64::try_from(count).map_err(|_| bad())?,
            hash: <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| bad())?,
            mac,
        }))
    }

    /// Opens the head's key and checks its MAC, in constant time.
    fn check_head(&self, head: &Head) -> Result<SecretBytes, HistoryError> {
        let key = self.keystore.open(&head.key_alias, &head.sealed_key)?;
        let expected = head_mac(&key, &head.key_alias, head.count, &head.hash);
        if !bool::from(expected.as_slice().ct_eq(head.mac.as_slice())) {
            return Err(HistoryError::BadHeadMac);
        }
        Ok(key)
    }

    /// Every entry, oldest first, as stored: not verified (call
    /// [`History::verify`] to know whether to trust them).
    pub fn entries(&self) -> Result<Vec<HistoryEntry>, HistoryError> {
        let mut statement = self.store.connection().prepare(
            "SELECT seq, at, account_id, enrollment_id, event, request_id, summary, hash \
             FROM history_entry ORDER BY seq",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                    row.get::<_, Option<Vec<u8>>>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<Vec<u8>>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, Vec<u8>>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(seq, at, account, enrollment, event, request, summary, hash)| {
                    let seq = u64::try_from(seq).map_err(|_| HistoryError::BadEntry { seq: 0 })?;
                    let bad = || HistoryError::BadEntry { seq };
                    Ok(HistoryEntry {
                        seq,
                        at: u64::try_from(at).map_err(|_| bad())?,
                        account_id: account.map(AccountId::from_raw),
                        enrollment_id: enrollment
                            .map(|bytes| EnrollmentId::from_slice(&bytes))
                            .transpose()
                            .map_err(|_| bad())?,
                        event: HistoryEvent::from_code(event).ok_or_else(bad)?,
                        request_id: request
                            .map(|bytes| RequestId::from_slice(&bytes))
                            .transpose()
                            .map_err(|_| bad())?,
                        summary,
                        hash: <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| bad())?,
                    })
                },
            )
            .collect()
    }

    /// Appends an entry stamped with the store's clock, and moves the MACed head
    /// to it, in one transaction. The first append creates the MAC key and seals
    /// it with the keystore. Refuses (with the error [`History::verify`] would
    /// give) when the current head does not check or the last entry is not the
    /// one the head names.
    pub fn append(&self, entry: NewHistoryEntry) -> Result<HistoryEntry, HistoryError> {
        let transaction = self.store.connection();
        crate::device::store::atomic(transaction, || self.append_in(transaction, entry))
    }

    fn append_in(
        &self,
        transaction: &rusqlite::Connection,
        entry: NewHistoryEntry,
    ) -> Result<HistoryEntry, HistoryError> {
        let (alias, sealed_key, key, count, previous) = match self.read_head()? {
            Some(head) => {
                let key = self.check_head(&head)?;
                let last: Option<(i64, Vec<u8>)> = transaction
                    .query_row(
                        "SELECT seq, hash FROM history_entry ORDER BY seq DESC LIMIT 1",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let intact = match &last {
                    None => head.count == 0,
                    Some((seq, hash)) => {
                        u64::try_from(*seq).ok() == Some(head.count)
                            && hash.as_slice() == head.hash.as_slice()
                    }
                };
                if !intact {
                    return Err(HistoryError::HeadMismatch);
                }
                (head.key_alias, head.sealed_key, key, head.count, head.hash)
            }
            None => {
                let any: Option<i64> = transaction
                    .query_row("SELECT seq FROM history_entry LIMIT 1", [], |row| {
                        row.get(0)
                    })
                    .optional()?;
                if any.is_some() {
                    return Err(HistoryError::HeadMissing);
                }
                let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
                SystemRandom::new()
                    .fill(bytes.as_mut())
                    .map_err(|_| KeystoreError::Crypto)?;
                let key = SecretBytes::from_slice(bytes.as_ref());
                let sealed = self.keystore.seal(HISTORY_KEY_ALIAS, &key)?;
                (HISTORY_KEY_ALIAS.to_owned(), sealed, key, 0, [0u8; 32])
            }
        };

        let seq = count.saturating_add(1);
        let at = self.store.now();
        let hash = entry_hash(&previous, seq, at, &entry);
        let mac = head_mac(&key, &alias, seq, &hash);
        transaction.execute(
            "INSERT INTO history_entry (seq, at, account_id, enrollment_id, event, request_id, summary, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                to_i64(seq)?,
                to_i64(at)?,
                entry.account_id.map(AccountId::get),
                entry.enrollment_id.as_ref().map(|id| id.as_bytes().as_slice()),
                i64::from(entry.event.code()),
                entry.request_id.as_ref().map(|id| id.as_bytes().as_slice()),
                entry.summary,
                hash.as_slice(),
            ],
        )?;
        transaction.execute(
            "INSERT INTO history_head (id, key_alias, sealed_mac_key, entry_count, head_hash, mac) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET entry_count = excluded.entry_count, \
             head_hash = excluded.head_hash, mac = excluded.mac",
            params![
                alias,
                sealed_key.as_bytes(),
                to_i64(seq)?,
                hash.as_slice(),
                mac
            ],
        )?;
        Ok(HistoryEntry {
            seq,
            at,
            account_id: entry.account_id,
            enrollment_id: entry.enrollment_id,
            event: entry.event,
            request_id: entry.request_id,
            summary: entry.summary,
            hash,
        })
    }

    /// Checks the whole history: every entry against the chain, and the chain's
    /// end against the MACed head. An empty history with no head verifies (see
    /// the module documentation for what that cannot tell apart).
    pub fn verify(&self) -> Result<VerifiedHistory, HistoryError> {
        let entries = self.entries()?;
        let Some(head) = self.read_head()? else {
            if entries.is_empty() {
                return Ok(VerifiedHistory {
                    count: 0,
                    head: [0u8; 32],
                });
            }
            return Err(HistoryError::HeadMissing);
        };
        self.check_head(&head)?;
        let mut previous = [0u8; 32];
        for (expected_seq, entry) in (1u64..).zip(&entries) {
            if entry.seq != expected_seq {
                return Err(HistoryError::BrokenChain { seq: expected_seq });
            }
            let content = NewHistoryEntry {
                account_id: entry.account_id,
                enrollment_id: entry.enrollment_id,
                event: entry.event,
                request_id: entry.request_id,
                summary: entry.summary.clone(),
            };
            let hash = entry_hash(&previous, entry.seq, entry.at, &content);
            if !bool::from(hash.ct_eq(&entry.hash)) {
                return Err(HistoryError::BrokenChain { seq: entry.seq });
            }
            previous = hash;
        }
        let count = u64::try_from(entries.len()).unwrap_or(u64::MAX);
        if count != head.count || !bool::from(previous.ct_eq(&head.hash)) {
            return Err(HistoryError::HeadMismatch);
        }
        Ok(VerifiedHistory {
            count,
            head: previous,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::device::software_keystore::{SimulatedBiometrics, SoftwareKeystore};
    use std::sync::Arc;

    const T0: u64 = 1_800_000_000;

    struct Fixture {
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        store: DeviceStore,
        keystore: SoftwareKeystore,
    }

    impl Fixture {
        fn history(&self) -> History<'_> {
            History::new(&self.store, &self.keystore)
        }

        fn sql(&self, sql: &str) {
            self.store.connection().execute_batch(sql).unwrap();
        }
    }

    fn entry(event: HistoryEvent, summary: &str) -> NewHistoryEntry {
        NewHistoryEntry {
            account_id: Some(AccountId::from_raw(1)),
            enrollment_id: Some(EnrollmentId::from_bytes([1; 16])),
            event,
            request_id: None,
            summary: summary.to_owned(),
        }
    }

    /// A store with a history of four entries.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store = DeviceStore::open(&dir.path().join("device.db"), clock.clone()).unwrap();
        let keystore =
            SoftwareKeystore::open(&dir.path().join("keys"), SimulatedBiometrics::new()).unwrap();
        let f = Fixture {
            dir,
            clock,
            store,
            keystore,
        };
        let history = f.history();
        for (event, summary) in [
            (HistoryEvent::AccountAdded, "alice @ Example"),
            (HistoryEvent::Approved, "Web portal, Zurich"),
            (HistoryEvent::Denied, "Trading desktop, Lagos"),
            (HistoryEvent::ResponseGenerated, "challenge 418205"),
        ] {
            f.clock.advance(60);
            history.append(entry(event, summary)).unwrap();
        }
        f
    }

    /// Recomputes every stored hash from the stored content, as an attacker
    /// without the key can.
    fn rehash_everything(f: &Fixture) {
        let entries = f.history().entries().unwrap();
        let mut previous = [0u8; 32];
        for (index, e) in entries.iter().enumerate() {
            let seq = index as u64 + 1;
            let content = NewHistoryEntry {
                account_id: e.account_id,
                enrollment_id: e.enrollment_id,
                event: e.event,
                request_id: e.request_id,
                summary: e.summary.clone(),
            };
            let hash = entry_hash(&previous, seq, e.at, &content);
            f.store
                .connection()
                .execute(
                    "UPDATE history_entry SET seq = ?1, hash = ?2 WHERE seq = ?3",
                    params![seq as i64, hash.as_slice(), e.seq as i64],
                )
                .unwrap();
            previous = hash;
        }
    }

    #[test]
    fn an_untouched_history_verifies_and_reads_back() {
        let f = fixture();
        let verified = f.history().verify().unwrap();
        assert_eq!(verified.count, 4);
        let entries = f.history().entries().unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].event, HistoryEvent::Approved);
        assert_eq!(entries[1].summary, "Web portal, Zurich");
        assert_eq!(entries[1].at, T0 + 120);
        assert_eq!(entries[3].hash, verified.head);
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn an_empty_history_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            DeviceStore::open(&dir.path().join("d.db"), Arc::new(ManualClock::new(T0))).unwrap();
        let keystore =
            SoftwareKeystore::open(&dir.path().join("k"), SimulatedBiometrics::new()).unwrap();
        let verified = History::new(&store, &keystore).verify().unwrap();
        assert_eq!(verified.count, 0);
    }

    #[test]
    fn an_entry_hash_covers_the_previous_hash_and_every_field() {
        let base = entry(HistoryEvent::Approved, "x");
        let hash = entry_hash(&[0; 32], 1, T0, &base);
        assert_ne!(entry_hash(&[1; 32], 1, T0, &base), hash);
        assert_ne!(entry_hash(&[0; 32], 2, T0, &base), hash);
        assert_ne!(entry_hash(&[0; 32], 1, T0 + 1, &base), hash);
        for changed in [
            NewHistoryEntry {
                account_id: None,
                ..base.clone()
            },
            NewHistoryEntry {
                enrollment_id: None,
                ..base.clone()
            },
            NewHistoryEntry {
                event: HistoryEvent::Denied,
                ..base.clone()
            },
            NewHistoryEntry {
                request_id: Some(RequestId::from_bytes([2; 16])),
                ..base.clone()
            },
            NewHistoryEntry {
                summary: "y".to_owned(),
                ..base.clone()
            },
        ] {
            assert_ne!(entry_hash(&[0; 32], 1, T0, &changed), hash, "{changed:?}");
        }
    }

    #[test]
    fn a_changed_entry_is_detected() {
        let f = fixture();
        f.sql("UPDATE history_entry SET event = 1 WHERE seq = 3");
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::BrokenChain { seq: 3 })
        ));
    }

    #[test]
    fn a_changed_entry_is_detected_even_with_every_hash_recomputed() {
        let f = fixture();
        f.sql("UPDATE history_entry SET summary = 'nothing happened' WHERE seq = 3");
        rehash_everything(&f);
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::HeadMismatch)
        ));
    }

    #[test]
    fn a_removed_middle_entry_is_detected() {
        let f = fixture();
        f.sql("DELETE FROM history_entry WHERE seq = 2");
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::BrokenChain { seq: 2 })
        ));
        // Renumbering and rehashing the rest does not help.
        rehash_everything(&f);
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::HeadMismatch)
        ));
    }

    #[test]
    fn reordered_entries_are_detected() {
        let f = fixture();
        // Swap entries 2 and 3, each keeping its own stored hash.
        f.sql(
            "UPDATE history_entry SET seq = 100 WHERE seq = 2;
             UPDATE history_entry SET seq = 2 WHERE seq = 3;
             UPDATE history_entry SET seq = 3 WHERE seq = 100;",
        );
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::BrokenChain { seq: 2 })
        ));
    }

    #[test]
    fn a_removed_last_entry_is_detected_by_the_head() {
        let f = fixture();
        f.sql("DELETE FROM history_entry WHERE seq = 4");
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::HeadMismatch)
        ));
        // And the history refuses to grow over the gap.
        assert!(matches!(
            f.history().append(entry(HistoryEvent::Approved, "later")),
            Err(HistoryError::HeadMismatch)
        ));
    }

    #[test]
    fn a_head_rewritten_without_the_key_is_detected() {
        let f = fixture();
        f.sql("DELETE FROM history_entry WHERE seq = 4");
        let third = f.history().entries().unwrap()[2].hash;
        // The attacker points the head at entry 3 but cannot MAC it.
        f.store
            .connection()
            .execute(
                "UPDATE history_head SET entry_count = 3, head_hash = ?1",
                [third.as_slice()],
            )
            .unwrap();
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::BadHeadMac)
        ));
        assert!(matches!(
            f.history().append(entry(HistoryEvent::Approved, "later")),
            Err(HistoryError::BadHeadMac)
        ));
    }

    #[test]
    fn a_deleted_head_is_detected() {
        let f = fixture();
        f.sql("DELETE FROM history_head");
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::HeadMissing)
        ));
        assert!(matches!(
            f.history().append(entry(HistoryEvent::Approved, "later")),
            Err(HistoryError::HeadMissing)
        ));
    }

    #[test]
    fn an_added_entry_is_detected() {
        let f = fixture();
        let last = f.history().entries().unwrap()[3].clone();
        let forged = NewHistoryEntry {
            account_id: None,
            enrollment_id: None,
            event: HistoryEvent::Approved,
            request_id: None,
            summary: "forged".to_owned(),
        };
        let hash = entry_hash(&last.hash, 5, T0 + 999, &forged);
        f.store
            .connection()
            .execute(
                "INSERT INTO history_entry (seq, at, event, summary, hash) VALUES (5, ?1, 1, 'forged', ?2)",
                params![(T0 + 999) as i64, hash.as_slice()],
            )
            .unwrap();
        assert!(matches!(
            f.history().verify(),
            Err(HistoryError::HeadMismatch)
        ));
    }

    #[test]
    fn without_the_keystore_the_history_cannot_be_verified() {
        let f = fixture();
        let other = SoftwareKeystore::open(&f.dir.path().join("other"), SimulatedBiometrics::new())
            .unwrap();
        assert!(matches!(
            History::new(&f.store, &other).verify(),
            Err(HistoryError::Keystore(KeystoreError::KeyNotFound))
        ));
    }

    /// The documented limit: an older copy of the whole file verifies.
    #[test]
    fn a_rollback_of_the_whole_file_is_not_detected() {
        let f = fixture();
        let path = f.dir.path().join("device.db");
        let older = f.dir.path().join("older.db");
        f.sql(&format!("VACUUM INTO '{}'", older.display()));
        f.history()
            .append(entry(HistoryEvent::Approved, "after the copy"))
            .unwrap();
        assert_eq!(f.history().verify().unwrap().count, 5);
        drop(f.store);
        std::fs::copy(&older, &path).unwrap();
        let _ = std::fs::remove_file(f.dir.path().join("device.db-wal"));
        let store = DeviceStore::open(&path, f.clock.clone()).unwrap();
        assert_eq!(
            History::new(&store, &f.keystore).verify().unwrap().count,
            4,
            "the rolled-back history still verifies: a known, documented limit"
        );
    }
}
