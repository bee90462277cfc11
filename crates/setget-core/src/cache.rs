//! The local cache: one SQLCipher-encrypted SQLite file per (server, workspace) holding the
//! workspace's members, every session, the audit log and the sync cursors.
//!
//! The file is encrypted with a random 256-bit key that lives in the OS keyring beside the
//! session token ([`CacheKey`]); without the keyring the file is noise. Every write that
//! carries data from the server also moves the matching cursor in the same transaction, so a
//! crash at any moment leaves data and cursor consistent: the next sync resumes exactly where
//! the last commit ended, and a replayed page changes nothing.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use rusqlite::Connection;
use serde::Serialize;
use setget_protocol::EndReason;

use crate::error::{CoreError, ErrorKind, Result};
use crate::secret::Sensitive;

mod detection;
mod moment;
mod open;
mod overview;
mod pivot;
mod query;
mod readers;
mod sealed;
mod travel;
mod trust;
mod write;

pub use moment::Moment;
pub use overview::{DayCount, MAX_PLACES, Overview, OverviewQuery, Place, TIMELINE_DAYS};
pub use pivot::{Indicator, PivotMember, PivotSummary, ip_key};
pub use readers::Readers;
pub use travel::{SignInPoint, TravelHistory, Trip, trips};
pub use write::Tree;

/// The key of one cache file: 32 random bytes, kept as 64 hex digits in the keyring.
#[derive(Debug, Clone)]
pub struct CacheKey(Sensitive<String>);

impl CacheKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(Sensitive::new(hex(&bytes)))
    }

    /// A key read back from the keyring; anything but 64 hex digits is refused.
    pub fn from_stored(stored: Sensitive<String>) -> Result<Self> {
        let s = stored.expose();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(stored))
        } else {
            Err(CoreError::new(
                ErrorKind::Keyring,
                "the cache key in the keyring is malformed; sign out and delete the cache",
            ))
        }
    }

    /// The key as stored in the keyring.
    pub fn secret(&self) -> &Sensitive<String> {
        &self.0
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sync cursors: everything at or below them is in the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Cursors {
    /// The highest audit `seq` applied; the log is complete from 1 to here.
    #[ts(type = "number")]
    pub audit_seq: i64,
    /// The highest session `change_seq` applied.
    #[ts(type = "number")]
    pub sessions_change_seq: i64,
}

/// Row counts of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Counts {
    #[ts(type = "number")]
    pub members: u64,
    #[ts(type = "number")]
    pub sessions: u64,
    #[ts(type = "number")]
    pub active_sessions: u64,
    #[ts(type = "number")]
    pub audit_events: u64,
}

/// What applying a page of audit events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditApplied {
    /// The events after the cursor were stored; the cursor is now `cursor`.
    Applied { inserted: u64, cursor: i64 },
    /// The page does not continue the log: `expected` is the next seq the cache needs, the
    /// page jumps to `found`. Nothing was stored; the caller refetches from the cursor.
    Gap { expected: i64, found: i64 },
}

/// Filters of the session list (all optional).
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub member_id: Option<String>,
    pub country_code: Option<String>,
    pub device: Option<String>,
    /// Active sessions, ended ones, or both.
    pub status: StatusFilter,
    /// Only sessions that ended for this reason (implies ended ones).
    pub end_reason: Option<EndReason>,
    /// Only sessions that ended at or after this instant (implies ended ones).
    pub ended_since: Option<DateTime<Utc>>,
    /// A text searched in the member's email, the IP, the device and the city, any case, by a
    /// scan of what the other filters leave (for active sessions, the entries of the list's
    /// covering index).
    pub text: Option<String>,
    /// Only sessions created at or before this instant (older than an age).
    pub created_before: Option<DateTime<Utc>>,
    pub sort: SessionSort,
    pub offset: u64,
    pub limit: u32,
}

/// The active sessions of a list, chosen to be revoked at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SessionSelection {
    /// The oldest of them, at most as many as one revocation may name (1,000).
    pub ids: Vec<String>,
    /// How many active sessions the list has.
    #[ts(type = "number")]
    pub sessions: u64,
    /// Of how many members.
    #[ts(type = "number")]
    pub members: u64,
}

/// Which sessions a list shows by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// Only active sessions.
    Active,
    /// Only sessions that ended (signed out, revoked, expired).
    Ended,
    /// Every session, whatever its status.
    #[default]
    All,
}

/// The order of a session list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionSort {
    /// Most recently active first.
    #[default]
    LastActive,
    /// Newest first.
    Created,
    /// By the member's email, then most recently active.
    Member,
    /// Most recently ended first (active sessions, which have not ended, last).
    Ended,
}

impl SessionSort {
    fn order_by(self) -> &'static str {
        match self {
            Self::LastActive => "last_active_at DESC, id",
            Self::Created => "created_at DESC, id",
            Self::Member => "member_email, last_active_at DESC, id",
            Self::Ended => "ended_at DESC NULLS LAST, id",
        }
    }
}

/// Filters of the audit log (all optional).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub event: Option<String>,
    pub member_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Events with a seq below this one (for paging newest first); `None` from the newest.
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// An open cache file.
#[derive(Debug)]
pub struct Cache {
    conn: Connection,
    path: PathBuf,
}

pub(super) fn storage(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::new(
        ErrorKind::Storage,
        format!("the cache could not {what}: {e}"),
    )
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

/// Removes a cache file and its WAL and shared-memory files.
pub fn delete_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage("be deleted", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use rusqlite::params;
    use setget_protocol::{
        AuditEvent, AuthMethod, EndReason, Location, Member, Role, Session, SessionStatus,
    };

    use super::open::MIGRATIONS;
    use super::query::session_where;
    use super::*;
    use crate::test_support::{at, audit_event as event};

    /// The permission bits of a file or folder.
    #[cfg(unix)]
    pub(crate) fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The frontier moves with the cursor, and a cache without one (written before the log
    /// was a tree) gets it from the events it holds, read back exactly as they came: with a
    /// location's coordinates, free-form details and a newer server's names.
    #[test]
    fn the_frontier_covers_every_cached_event_as_the_server_sent_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(&tmp.path().join("c.db"), &CacheKey::generate()).unwrap();
        let events: Vec<AuditEvent> = (1..=37)
            .map(|seq| {
                let mut e = event(seq);
                if seq % 3 == 0 {
                    e.location = Some(setget_protocol::Location {
                        city: Some("Zürich".into()),
                        region: None,
                        country: Some("Switzerland".into()),
                        country_code: Some("CH".into()),
                        latitude: Some(47.3769 + seq as f64 / 7.0),
                        longitude: Some(8.541_694_999_999_999),
                    });
                    e.details = Some(serde_json::json!({"z": [1, "two", {"y": null}], "a": seq}));
                    e.event = setget_protocol::EventKind::parse("session.something_newer");
                }
                // The autonomous system, when the server knows it, is in the leaf too.
                if seq % 4 == 0 {
                    e.asn = Some(13335);
                    e.as_org = Some("Cloudflare, Inc.".into());
                }
                // So is the browser's device id, with or without an autonomous system.
                if seq % 5 == 0 {
                    e.device_id = Some(format!("dev_{seq:032x}"));
                }
                e
            })
            .collect();
        let mut wire = setget_tlog::Frontier::new();
        for e in &events {
            wire.push(setget_tlog::leaf::event_leaf(e));
        }
        cache.apply_audit(&events[..20]).unwrap();
        cache
            .apply_audit_with_tree(&events[20..30], Tree::Skip)
            .unwrap();
        let leaves: Vec<_> = events[28..]
            .iter()
            .map(setget_tlog::leaf::event_leaf)
            .collect();
        // A page overlapping what is stored: its replayed events' leaves are not added twice.
        cache
            .apply_audit_with_tree(&events[28..], Tree::Leaves(&leaves))
            .unwrap();
        assert_eq!(cache.log_frontier().unwrap(), wire);
        cache
            .conn
            .execute("UPDATE log_trust SET frontier = NULL", [])
            .unwrap();
        assert_eq!(cache.log_frontier().unwrap(), wire);

        // Regression: a page whose replayed event came after the new one had the replay's
        // leaf folded in for the new event.
        let next = event(38);
        let out_of_order = [next.clone(), events[36].clone()];
        let leaves: Vec<_> = out_of_order
            .iter()
            .map(setget_tlog::leaf::event_leaf)
            .collect();
        cache
            .apply_audit_with_tree(&out_of_order, Tree::Leaves(&leaves))
            .unwrap();
        wire.push(setget_tlog::leaf::event_leaf(&next));
        assert_eq!(cache.log_frontier().unwrap(), wire);
    }

    /// An index build sorts through sealed temporary files rather than in memory, where the
    /// sort of a big table's keys grew with the table (about 80 MB per million events): with
    /// a small page cache, rebuilding the audit log's indexes spills, and what it builds is
    /// whole.
    #[test]
    fn an_index_build_spills_its_sort_to_sealed_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(&tmp.path().join("c.db"), &CacheKey::generate()).unwrap();
        cache.drop_indexes("audit_events").unwrap();
        let events: Vec<AuditEvent> = (1..=40_000)
            .map(|seq| {
                let mut e = event(seq);
                e.member_id = Some(format!("member-{:05}", seq % 9_973));
                e.ip = Some(format!("81.2.{}.{}", seq % 251, seq % 241));
                e
            })
            .collect();
        cache.apply_audit(&events).unwrap();
        // 64 KiB: each run of the sort is then SQLite's least, 1 MB.
        cache.conn.pragma_update(None, "cache_size", -64).unwrap();
        let before = sealed::opened();
        cache.ensure_indexes().unwrap();
        assert!(sealed::opened() > before, "the sort did not spill");
        // Outside index builds, temporary data stays in memory (SQLCipher's default).
        let temp_store: i64 = cache
            .conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(temp_store, 2);
        assert!(cache.integrity_ok().unwrap());
        let by_member: i64 = cache
            .conn
            .query_row(
                "SELECT count(*) FROM audit_events INDEXED BY audit_by_member
                 WHERE member_id = 'member-00042'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(by_member, 5);
    }

    /// Regression: the cache (a copy of every member's sessions and sign-ins, encrypted) was
    /// created 0644 in folders of 0755; now only its owner can read it, its WAL included.
    #[cfg(unix)]
    #[test]
    fn the_cache_and_its_folder_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("caches");
        let key = CacheKey::generate();
        let mut cache = Cache::open(&folder.join("c.db"), &key).unwrap();
        cache.apply_audit(&[event(1)]).unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("c.db")), 0o600);
        assert_eq!(mode(&folder.join("c.db-wal")), 0o600);
        drop(cache);
        // A cache made before, readable by others, is closed to them when next opened.
        std::fs::set_permissions(folder.join("c.db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        Cache::open(&folder.join("c.db"), &key).unwrap();
        assert_eq!(mode(&folder.join("c.db")), 0o600);
    }

    pub(super) fn session(id: &str, change_seq: i64, status: SessionStatus) -> Session {
        Session {
            as_org: None,
            device_id: None,
            asn: None,
            id: id.into(),
            member_id: "m1".into(),
            member_email: "ada@acme.test".into(),
            device: "Firefox on Windows".into(),
            browser: "Firefox".into(),
            os: "Windows".into(),
            user_agent: "Mozilla/5.0".into(),
            ip: "81.2.69.160".into(),
            last_ip: "81.2.69.161".into(),
            location: Some(Location {
                city: Some("London".into()),
                region: Some("England".into()),
                country: Some("United Kingdom".into()),
                country_code: Some("GB".into()),
                latitude: Some(51.5),
                longitude: Some(-0.12),
            }),
            auth_method: AuthMethod::Password,
            created_at: at(0),
            last_active_at: at(change_seq as u32),
            expires_at: at(59),
            inactivity_timeout: setget_protocol::Timeout::D7,
            absolute_timeout: setget_protocol::Timeout::D30,
            status,
            ended_at: (status != SessionStatus::Active).then(|| at(30)),
            end_reason: (status != SessionStatus::Active).then_some(EndReason::RevokedAdmin),
            change_seq,
            current: None,
        }
    }

    pub(super) fn open(dir: &Path) -> (Cache, CacheKey) {
        let key = CacheKey::generate();
        (Cache::open(&dir.join("c.db"), &key).unwrap(), key)
    }

    /// A reader is a second connection: it sees what the writer committed, also after it was
    /// opened, writes nothing, and the writer commits while a read on it is open.
    #[test]
    fn a_reader_reads_beside_the_writer_and_cannot_write() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, key) = open(tmp.path());
        writer.apply_audit(&[event(1)]).unwrap();
        let reader = Cache::open_reader(&tmp.path().join("c.db"), &key).unwrap();
        let seqs = |c: &Cache| {
            c.audit_events(&AuditFilter {
                limit: 100,
                ..AuditFilter::default()
            })
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>()
        };
        assert_eq!(seqs(&reader), [1]);
        // A read held open on the reader does not stop the writer.
        reader
            .conn
            .execute_batch("BEGIN; SELECT count(*) FROM audit_events;")
            .unwrap();
        writer.apply_audit(&[event(2)]).unwrap();
        reader.conn.execute_batch("COMMIT").unwrap();
        assert_eq!(seqs(&reader), [2, 1]);
        assert!(reader.conn.execute("DELETE FROM audit_events", []).is_err());
        assert_eq!(seqs(&writer), [2, 1]);
        // Another key reads nothing.
        assert!(Cache::open_reader(&tmp.path().join("c.db"), &CacheKey::generate()).is_err());
    }

    /// A stored value the protocol does not know is an error, never quietly another value: an
    /// auth method other than a password, a timeout or status outside the contract, a location
    /// that is not JSON. The server's store reads its rows the same way.
    #[test]
    fn rows_with_values_outside_the_contract_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        cache.apply_audit(&[event(1)]).unwrap();
        let sessions = |c: &Cache| c.all_sessions();
        let audit = |c: &Cache| c.audit_range(1, 10);
        assert_eq!(sessions(&cache).unwrap().len(), 1);
        assert_eq!(audit(&cache).unwrap().len(), 1);
        for (sql, what) in [
            ("UPDATE sessions SET auth_method = 'sso'", "auth method"),
            (
                "UPDATE sessions SET inactivity_timeout = '2h'",
                "inactivity timeout",
            ),
            ("UPDATE sessions SET status = 'paused'", "session status"),
        ] {
            cache.conn.execute_batch("SAVEPOINT bad").unwrap();
            cache.conn.execute(sql, []).unwrap();
            let err = sessions(&cache).unwrap_err();
            assert!(err.message.contains(what), "{sql}: {}", err.message);
            cache
                .conn
                .execute_batch("ROLLBACK TO bad; RELEASE bad")
                .unwrap();
        }
        for (sql, what) in [
            ("UPDATE audit_events SET auth_method = 'sso'", "auth method"),
            ("UPDATE audit_events SET location = '{\"city\": '", "EOF"),
        ] {
            cache.conn.execute_batch("SAVEPOINT bad").unwrap();
            cache.conn.execute(sql, []).unwrap();
            let err = audit(&cache).unwrap_err();
            assert!(err.message.contains(what), "{sql}: {}", err.message);
            cache
                .conn
                .execute_batch("ROLLBACK TO bad; RELEASE bad")
                .unwrap();
        }
        // A newer server's event kind and reason are kept as they were sent.
        let mut newer = event(2);
        newer.event = "session.mfa_verified".into();
        newer.reason = Some("hardware_key".into());
        cache.apply_audit(&[newer.clone()]).unwrap();
        assert_eq!(audit(&cache).unwrap()[1], newer);
    }

    /// The window's reads go through [`Readers`]: a read finishes while the writer is in the
    /// middle of a transaction (and sees only what was committed), two reads at once each get
    /// a connection, and idle connections are kept for the next read.
    #[test]
    fn readers_read_while_the_writer_is_mid_transaction() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, key) = open(tmp.path());
        writer.apply_audit(&[event(1)]).unwrap();
        let readers = Readers::new(&tmp.path().join("c.db"), key);
        writer
            .conn
            .execute_batch("BEGIN IMMEDIATE; DELETE FROM audit_events;")
            .unwrap();
        let count = |c: &Cache| -> Result<i64> {
            c.conn
                .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
                .map_err(|e| storage("be read", e))
        };
        assert_eq!(readers.read(count).unwrap(), 1);
        let nested = readers
            .read(|outer| {
                let inner = readers.read(count)?;
                Ok((count(outer)?, inner))
            })
            .unwrap();
        assert_eq!(nested, (1, 1));
        assert_eq!(readers.idle(), 2);
        writer.conn.execute_batch("COMMIT").unwrap();
        assert_eq!(readers.read(count).unwrap(), 0);
        assert_eq!(readers.idle(), 2);
        // Closed when the window is gone; the next read opens one again.
        readers.close_idle();
        assert_eq!(readers.idle(), 0);
        assert_eq!(readers.read(count).unwrap(), 0);
        assert_eq!(readers.idle(), 1);
        // A reader cannot write.
        assert!(
            readers
                .read(|c| c
                    .conn
                    .execute("DELETE FROM members", [])
                    .map_err(|e| storage("be written", e)))
                .is_err()
        );
    }

    /// A cache written before events had a weight gets it from the events' details on the
    /// upgrade, and its Overview index back with the weight in it.
    #[test]
    fn an_older_cache_weighs_its_counted_refusals_after_the_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 6).unwrap();
            for (seq, reason, details) in [
                (1, "locked", Some(r#"{"count":40,"first_at":"x"}"#)),
                (2, "wrong_password", None),
                (3, "locked", Some(r#"{"count":"many"}"#)),
                (4, "locked", None),
            ] {
                conn.execute(
                    "INSERT INTO audit_events (seq, id, event, at, reason, details)
                     VALUES (?1, ?2, 'auth.sign_in_failed', ?3, ?4, ?5)",
                    params![seq, format!("e{seq}"), ms(at(seq)), reason, details],
                )
                .unwrap();
            }
        }
        let cache = Cache::open_unencrypted_for_benchmark(&path).unwrap();
        let weights: Vec<i64> = cache
            .conn
            .prepare("SELECT weight FROM audit_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(weights, [40, 1, 1, 1]);
        assert_eq!(cache.indexes_missing().unwrap(), 0);
    }

    #[test]
    fn sessions_filter_by_age_and_sort_by_activity_creation_or_member() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let mut rows = Vec::new();
        for (id, email, created, active) in [
            ("a", "zoe@acme.test", 1, 50),
            ("b", "ada@acme.test", 20, 30),
            ("c", "ada@acme.test", 10, 40),
        ] {
            let mut s = session(id, 1, SessionStatus::Active);
            s.member_email = email.into();
            s.created_at = at(created);
            s.last_active_at = at(active);
            rows.push(s);
        }
        cache.apply_sessions(&rows).unwrap();
        let ids = |f: SessionFilter| -> Vec<String> {
            cache
                .sessions(&SessionFilter { limit: 10, ..f })
                .unwrap()
                .0
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(ids(SessionFilter::default()), ["a", "c", "b"]);
        let by = |sort| SessionFilter {
            sort,
            ..SessionFilter::default()
        };
        assert_eq!(ids(by(SessionSort::Created)), ["b", "c", "a"]);
        assert_eq!(ids(by(SessionSort::Member)), ["c", "b", "a"]);
        let old = SessionFilter {
            created_before: Some(at(10)),
            ..SessionFilter::default()
        };
        assert_eq!(ids(old), ["a", "c"]);
        let (countries, devices) = cache.session_facets().unwrap();
        assert_eq!(countries, ["GB"]);
        assert_eq!(devices, ["Firefox on Windows"]);
    }

    #[test]
    fn sessions_round_trip_and_a_replayed_older_row_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let active = session("s1", 3, SessionStatus::Active);
        cache.apply_sessions(std::slice::from_ref(&active)).unwrap();
        assert_eq!(cache.all_sessions().unwrap(), vec![active.clone()]);
        let revoked = session("s1", 5, SessionStatus::Revoked);
        cache
            .apply_sessions(std::slice::from_ref(&revoked))
            .unwrap();
        // A replay of the older row (a page fetched again after a crash) is ignored.
        cache.apply_sessions(&[active]).unwrap();
        assert_eq!(cache.all_sessions().unwrap(), vec![revoked]);
        assert_eq!(cache.cursors().unwrap().sessions_change_seq, 5);
        let mut no_place = session("s2", 6, SessionStatus::Active);
        no_place.location = None;
        cache
            .apply_sessions(std::slice::from_ref(&no_place))
            .unwrap();
        assert_eq!(cache.all_sessions().unwrap()[1], no_place);
    }

    #[test]
    fn audit_pages_apply_once_skip_replays_and_refuse_gaps() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let page: Vec<_> = (1..=3).map(event).collect();
        assert_eq!(
            cache.apply_audit(&page).unwrap(),
            AuditApplied::Applied {
                inserted: 3,
                cursor: 3
            }
        );
        // The same page again, and an overlapping one: only the new event goes in.
        assert_eq!(
            cache.apply_audit(&page).unwrap(),
            AuditApplied::Applied {
                inserted: 0,
                cursor: 3
            }
        );
        let overlap: Vec<_> = (2..=4).map(event).collect();
        assert_eq!(
            cache.apply_audit(&overlap).unwrap(),
            AuditApplied::Applied {
                inserted: 1,
                cursor: 4
            }
        );
        // A hole (5 is missing) stores nothing.
        let holed = vec![event(6), event(7)];
        assert_eq!(
            cache.apply_audit(&holed).unwrap(),
            AuditApplied::Gap {
                expected: 5,
                found: 6
            }
        );
        let inner_hole = vec![event(5), event(7)];
        assert_eq!(
            cache.apply_audit(&inner_hole).unwrap(),
            AuditApplied::Gap {
                expected: 6,
                found: 7
            }
        );
        assert_eq!(cache.cursors().unwrap().audit_seq, 4);
        assert_eq!(
            cache.audit_range(1, 100).unwrap(),
            (1..=4).map(event).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_file_is_encrypted_and_another_key_cannot_open_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.db");
        let key = CacheKey::generate();
        {
            let mut cache = Cache::open(&path, &key).unwrap();
            assert!(cache.cipher_version().is_some());
            cache
                .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
                .unwrap();
            cache.apply_audit(&[event(1)]).unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
        for plain in ["SQLite format 3", "ada@acme.test", "81.2.69.160", "London"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{plain} is readable in the file"
            );
        }
        let err = Cache::open(&path, &CacheKey::generate()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(err.message.contains("another key"), "{}", err.message);
        assert!(!err.message.contains(key.secret().expose().as_str()));
        let cache = Cache::open(&path, &key).unwrap();
        assert_eq!(cache.counts().unwrap().sessions, 1);
        drop(cache);
        // With a lost key, the file is replaced by an empty cache; with the right one, kept.
        let kept = Cache::open_or_replace(&path, &key).unwrap();
        assert_eq!(kept.counts().unwrap().sessions, 1);
        drop(kept);
        let other = CacheKey::generate();
        let fresh = Cache::open_or_replace(&path, &other).unwrap();
        assert_eq!(fresh.counts().unwrap(), Counts::default());
    }

    /// A raw SQLCipher connection to `path` with `key`, the HMAC given or SQLCipher's default.
    fn raw_cipher(path: &Path, key: &CacheKey, hmac: Option<&str>) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "key", format!("x'{}'", key.secret().expose()))
            .unwrap();
        if let Some(hmac) = hmac {
            conn.pragma_update(None, "cipher_hmac_algorithm", hmac)
                .unwrap();
        }
        conn
    }

    fn hmac_of(cache: &Cache) -> String {
        cache
            .conn
            .query_row("PRAGMA cipher_hmac_algorithm", [], |r| r.get(0))
            .unwrap()
    }

    fn readable(conn: &Connection) -> bool {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_ok()
    }

    /// A new cache authenticates its pages with HMAC-SHA256: SQLCipher's default settings
    /// (HMAC-SHA512) do not read it, the same key with SHA-256 does.
    #[test]
    fn a_new_cache_authenticates_its_pages_with_hmac_sha256() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, key) = open(tmp.path());
        cache.apply_audit(&[event(1)]).unwrap();
        assert_eq!(hmac_of(&cache), "HMAC_SHA256");
        let reader = Cache::open_reader(&tmp.path().join("c.db"), &key).unwrap();
        assert_eq!(hmac_of(&reader), "HMAC_SHA256");
        drop((cache, reader));
        let path = tmp.path().join("c.db");
        assert!(!readable(&raw_cipher(&path, &key, None)));
        assert!(readable(&raw_cipher(&path, &key, Some("HMAC_SHA256"))));
    }

    /// A cache written before, with SQLCipher's default HMAC-SHA512, opens with its rows, for
    /// the writer and for readers, also while another connection holds its last writes in the
    /// WAL; it stays in its format, and another key still reads neither format.
    #[test]
    fn a_cache_written_with_hmac_sha512_opens_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.db");
        let key = CacheKey::generate();
        let legacy = raw_cipher(&path, &key, None);
        legacy
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE written_before (x INTEGER); INSERT INTO written_before VALUES (7);",
            )
            .unwrap();
        let kept = |cache: &Cache| -> i64 {
            cache
                .conn
                .query_row("SELECT x FROM written_before", [], |r| r.get(0))
                .unwrap()
        };
        {
            let mut cache = Cache::open(&path, &key).unwrap();
            assert_eq!(hmac_of(&cache), "HMAC_SHA512");
            assert_eq!(kept(&cache), 7);
            cache.apply_audit(&[event(1)]).unwrap();
            let reader = Cache::open_reader(&path, &key).unwrap();
            assert_eq!(kept(&reader), 7);
            assert_eq!(reader.audit_range(1, 10).unwrap(), [event(1)]);
        }
        drop(legacy);
        let cache = Cache::open(&path, &key).unwrap();
        assert_eq!(hmac_of(&cache), "HMAC_SHA512");
        assert_eq!(cache.audit_range(1, 10).unwrap(), [event(1)]);
        drop(cache);
        assert!(readable(&raw_cipher(&path, &key, None)));
        let err = Cache::open(&path, &CacheKey::generate()).unwrap_err();
        assert!(err.message.contains("another key"), "{}", err.message);
        assert!(Cache::open_reader(&path, &CacheKey::generate()).is_err());
        assert_eq!(kept(&Cache::open(&path, &key).unwrap()), 7);
    }

    #[test]
    fn indexes_dropped_for_a_bulk_load_come_back_and_queries_use_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, key) = open(tmp.path());
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        cache.drop_indexes("audit_events").unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 8);
        cache
            .apply_audit(&(1..=3).map(event).collect::<Vec<_>>())
            .unwrap();
        cache.ensure_indexes().unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        // A bulk load cut short by a crash: the next open rebuilds what is missing.
        cache.drop_indexes("sessions").unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 10);
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        drop(cache);
        let cache = Cache::open(&tmp.path().join("c.db"), &key).unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        let (found, _) = cache
            .sessions(&SessionFilter {
                text: Some("ada@".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
        let plan: String = cache
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE member_id = 'm1'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("audit_by_member"), "{plan}");
        // The generated session queries reach their indexes too.
        for (filter, index) in [
            (
                SessionFilter {
                    status: StatusFilter::Active,
                    ..Default::default()
                },
                "sessions_listed",
            ),
            (
                SessionFilter {
                    member_id: Some("m1".into()),
                    ..Default::default()
                },
                "sessions_by_member",
            ),
            (
                SessionFilter {
                    country_code: Some("GB".into()),
                    ..Default::default()
                },
                "sessions_by_country",
            ),
        ] {
            let (where_sql, args) = session_where(&filter);
            let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let plan: Vec<String> = cache
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE {where_sql}"
                ))
                .unwrap()
                .query_map(params.as_slice(), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(plan.iter().any(|p| p.contains(index)), "{index}: {plan:?}");
        }
    }

    /// The Sessions list's searches, short and long, and its sorts are counted and paged from
    /// `sessions_listed` alone: only the page's rows are read from the table (a one-letter
    /// search read every active row, 159 ms on 15,229 active sessions in `bench ui`).
    #[test]
    fn the_sessions_list_is_counted_searched_and_paged_from_its_index() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        for sort in [
            SessionSort::LastActive,
            SessionSort::Created,
            SessionSort::Member,
        ] {
            for text in [
                None,
                Some("e"),
                Some("81"),
                Some("fox on win"),
                Some("ada@acme"),
            ] {
                let filter = SessionFilter {
                    text: text.map(Into::into),
                    status: StatusFilter::Active,
                    sort,
                    limit: 200,
                    ..Default::default()
                };
                let [count, page] = cache.sessions_plans(&filter).unwrap();
                let listed = "COVERING INDEX sessions_listed";
                // Counted from an index alone: the list's, or without a text the map's
                // (narrower).
                assert!(
                    count.iter().any(|p| p.contains(listed)
                        || (text.is_none() && p.contains("COVERING INDEX sessions_placed"))),
                    "{sort:?} {text:?}: {count:?}"
                );
                // The page: its rows chosen from the index, then read by rowid.
                assert!(
                    page.iter().any(|p| p.contains(listed))
                        && page.iter().any(|p| p.contains("INTEGER PRIMARY KEY")),
                    "{sort:?} {text:?}: {page:?}"
                );
                assert!(
                    !page
                        .iter()
                        .chain(&count)
                        .any(|p| p.starts_with("SCAN sessions")),
                    "{sort:?} {text:?}: {page:?}"
                );
            }
        }
    }

    /// Pages of the list, ties included, are the slices of the whole list in its order: the
    /// page's rows are chosen in a subquery and read outside it, and both sort alike.
    #[test]
    fn pages_with_ties_are_slices_of_the_whole_sorted_list() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let sessions: Vec<Session> = (0..30)
            .map(|i| {
                let mut s = session(&format!("s{:02}", (i * 7) % 30), 1, SessionStatus::Active);
                // Few distinct instants and emails: many ties on each sort key.
                s.last_active_at = at(i % 3);
                s.created_at = at(i % 4);
                s.member_email = format!("m{}@acme.test", i % 5);
                s.change_seq = i64::from(i) + 1;
                s
            })
            .collect();
        cache.apply_sessions(&sessions).unwrap();
        for sort in [
            SessionSort::LastActive,
            SessionSort::Created,
            SessionSort::Member,
            SessionSort::Ended,
        ] {
            let mut expected = sessions.clone();
            expected.sort_by(|a, b| match sort {
                SessionSort::LastActive => b
                    .last_active_at
                    .cmp(&a.last_active_at)
                    .then(a.id.cmp(&b.id)),
                SessionSort::Created => b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)),
                SessionSort::Member => a
                    .member_email
                    .cmp(&b.member_email)
                    .then(b.last_active_at.cmp(&a.last_active_at))
                    .then(a.id.cmp(&b.id)),
                // `None` (not ended) sorts below every instant: last, as NULLS LAST has it.
                SessionSort::Ended => b.ended_at.cmp(&a.ended_at).then(a.id.cmp(&b.id)),
            });
            let expected: Vec<&str> = expected.iter().map(|s| s.id.as_str()).collect();
            for (offset, limit) in [(0, 30), (0, 7), (7, 7), (25, 10), (30, 5), (40, 5)] {
                let (page, total) = cache
                    .sessions(&SessionFilter {
                        status: StatusFilter::Active,
                        sort,
                        offset,
                        limit,
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(total, 30);
                let ids: Vec<&str> = page.iter().map(|s| s.id.as_str()).collect();
                let from = (offset as usize).min(30);
                let to = (from + limit as usize).min(30);
                assert_eq!(ids, expected[from..to], "{sort:?} at {offset}+{limit}");
            }
        }
    }

    #[test]
    fn malformed_stored_keys_are_refused() {
        assert!(CacheKey::from_stored(Sensitive::new("abc".into())).is_err());
        assert!(CacheKey::from_stored(Sensitive::new("g".repeat(64))).is_err());
        let key = CacheKey::generate();
        assert_eq!(key.secret().expose().len(), 64);
        assert!(CacheKey::from_stored(key.secret().clone()).is_ok());
    }

    #[test]
    fn ended_sessions_are_listed_by_status_reason_and_when_they_ended() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let ended = |id: &str, seq: i64, status, reason, minute| Session {
            ended_at: Some(at(minute)),
            end_reason: Some(reason),
            ..session(id, seq, status)
        };
        cache
            .apply_sessions(&[
                session("live", 1, SessionStatus::Active),
                ended("idle", 2, SessionStatus::Expired, EndReason::Inactivity, 10),
                ended(
                    "kicked",
                    3,
                    SessionStatus::Revoked,
                    EndReason::RevokedAdmin,
                    20,
                ),
                ended("left", 4, SessionStatus::SignedOut, EndReason::SignOut, 30),
                ended("old", 5, SessionStatus::Expired, EndReason::Absolute, 40),
            ])
            .unwrap();
        let ids = |f: SessionFilter| {
            let (rows, total) = cache
                .sessions(&SessionFilter {
                    limit: 50,
                    sort: SessionSort::Ended,
                    ..f
                })
                .unwrap();
            let ids: Vec<String> = rows.into_iter().map(|s| s.id).collect();
            assert_eq!(ids.len() as u64, total);
            ids
        };
        // Most recently ended first; the active session last in "all".
        assert_eq!(
            ids(SessionFilter {
                status: StatusFilter::Ended,
                ..Default::default()
            }),
            ["old", "left", "kicked", "idle"]
        );
        assert_eq!(
            ids(SessionFilter::default()),
            ["old", "left", "kicked", "idle", "live"]
        );
        assert_eq!(
            ids(SessionFilter {
                status: StatusFilter::Active,
                ..Default::default()
            }),
            ["live"]
        );
        // A reason or an end time means ended sessions, whatever the status asked.
        assert_eq!(
            ids(SessionFilter {
                end_reason: Some(EndReason::Inactivity),
                ..Default::default()
            }),
            ["idle"]
        );
        assert_eq!(
            ids(SessionFilter {
                ended_since: Some(at(20)),
                ..Default::default()
            }),
            ["old", "left", "kicked"]
        );
        assert_eq!(
            ids(SessionFilter {
                status: StatusFilter::Active,
                end_reason: Some(EndReason::Inactivity),
                ..Default::default()
            }),
            Vec::<String>::new()
        );
        // Only the active ones of a list can be chosen to revoke.
        let chosen = cache
            .session_selection(&SessionFilter {
                status: StatusFilter::All,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            (chosen.ids, chosen.sessions, chosen.members),
            (vec!["live".to_owned()], 1, 1)
        );
        let none = cache
            .session_selection(&SessionFilter {
                end_reason: Some(EndReason::Inactivity),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((none.sessions, none.members), (0, 0));
        assert!(none.ids.is_empty());
        // Each keeps when and why it ended.
        let (rows, _) = cache
            .sessions(&SessionFilter {
                end_reason: Some(EndReason::Absolute),
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(rows[0].ended_at, Some(at(40)));
        assert_eq!(rows[0].status, SessionStatus::Expired);
    }

    #[test]
    fn filters_find_sessions_and_events() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let mut other = session("s2", 2, SessionStatus::Active);
        other.member_id = "m2".into();
        other.member_email = "bob@acme.test".into();
        other.location = None;
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                other,
                session("s3", 3, SessionStatus::Revoked),
            ])
            .unwrap();
        let query = |f: SessionFilter| {
            let (rows, total) = cache.sessions(&SessionFilter { limit: 50, ..f }).unwrap();
            (rows.into_iter().map(|s| s.id).collect::<Vec<_>>(), total)
        };
        assert_eq!(
            query(SessionFilter {
                status: StatusFilter::Active,
                ..Default::default()
            }),
            (vec!["s2".to_owned(), "s1".to_owned()], 2)
        );
        assert_eq!(
            query(SessionFilter {
                country_code: Some("GB".into()),
                ..Default::default()
            }),
            (vec!["s3".to_owned(), "s1".to_owned()], 2)
        );
        assert_eq!(
            query(SessionFilter {
                text: Some("bob".into()),
                status: StatusFilter::Active,
                ..Default::default()
            }),
            (vec!["s2".to_owned()], 1)
        );
        assert_eq!(
            query(SessionFilter {
                text: Some("%".into()),
                status: StatusFilter::Active,
                ..Default::default()
            }),
            (vec![], 0)
        );
        // Substrings anywhere, any case, of any length.
        let text = |t: &str| {
            query(SessionFilter {
                text: Some(t.into()),
                status: StatusFilter::Active,
                ..Default::default()
            })
            .0
        };
        // Among the active sessions only: the revoked s3 is never found.
        assert_eq!(text("LONDON"), ["s1"]);
        assert_eq!(text("2.69.16"), ["s2", "s1"]);
        assert_eq!(text("fox on win"), ["s2", "s1"]);
        assert_eq!(text("bo"), ["s2"]);
        assert_eq!(text("ad"), ["s1"]);
        assert_eq!(text("\"quoted\""), Vec::<String>::new());
        // Ended sessions are searched too when asked for, by a scan.
        let ended_text = |t: &str| {
            query(SessionFilter {
                text: Some(t.into()),
                status: StatusFilter::Ended,
                ..Default::default()
            })
            .0
        };
        assert_eq!(ended_text("LONDON"), ["s3"]);
        assert_eq!(ended_text("bob"), Vec::<String>::new());

        cache
            .apply_audit(&(1..=5).map(event).collect::<Vec<_>>())
            .unwrap();
        let newest = cache
            .audit_events(&AuditFilter {
                limit: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 4]);
        let older = cache
            .audit_events(&AuditFilter {
                limit: 2,
                before_seq: Some(4),
                since: Some(at(2)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);

        // `until` includes its own instant; `member_id` keeps that member's events only.
        let bobs = AuditEvent {
            member_id: Some("m2".into()),
            member_email: Some("bob@acme.test".into()),
            ..event(6)
        };
        cache.apply_audit(&[bobs]).unwrap();
        let seqs = |f: AuditFilter| -> Vec<i64> {
            let rows = cache.audit_events(&AuditFilter { limit: 50, ..f }).unwrap();
            rows.iter().map(|e| e.seq).collect()
        };
        assert_eq!(
            seqs(AuditFilter {
                since: Some(at(2)),
                until: Some(at(4)),
                ..Default::default()
            }),
            [4, 3, 2]
        );
        assert_eq!(
            seqs(AuditFilter {
                member_id: Some("m2".into()),
                ..Default::default()
            }),
            [6]
        );
        assert_eq!(
            seqs(AuditFilter {
                member_id: Some("m1".into()),
                until: Some(at(5)),
                ..Default::default()
            }),
            [5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn the_text_search_finds_the_active_sessions_and_follows_their_end() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let found = |cache: &Cache, text: &str| -> Vec<String> {
            let (rows, total) = cache
                .sessions(&SessionFilter {
                    text: Some(text.into()),
                    status: StatusFilter::Active,
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(total, rows.len() as u64);
            rows.into_iter().map(|s| s.id).collect()
        };
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                session("s2", 2, SessionStatus::Revoked),
            ])
            .unwrap();
        assert_eq!(found(&cache, "london"), ["s1"]);
        // s1 ends: it is found no more; an ended row that changes stays out.
        cache
            .apply_sessions(&[session("s1", 3, SessionStatus::Expired)])
            .unwrap();
        assert!(found(&cache, "london").is_empty());
        let mut moved = session("s2", 4, SessionStatus::Revoked);
        moved.ip = "203.0.113.9".into();
        cache.apply_sessions(&[moved]).unwrap();
        assert!(found(&cache, "203.0.113").is_empty());
        // A new active one is found, and so are those loaded without the indexes.
        cache
            .apply_sessions(&[session("s3", 5, SessionStatus::Active)])
            .unwrap();
        assert_eq!(found(&cache, "LONDON"), ["s3"]);
        cache.drop_indexes("sessions").unwrap();
        cache
            .apply_sessions(&[session("s4", 6, SessionStatus::Active)])
            .unwrap();
        cache.ensure_indexes().unwrap();
        assert_eq!(found(&cache, "london").len(), 2);
    }

    /// A cache from before the text filter scanned the list's index: its trigram index and
    /// the triggers that fed it are gone after the upgrade, and its sessions still change
    /// and are found.
    #[test]
    fn an_older_cache_loses_its_trigram_index_and_its_sessions_still_change() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 11).unwrap();
            // The triggers the code created with the indexes then.
            conn.execute_batch(
                "CREATE TRIGGER sessions_search_active_insert AFTER INSERT ON sessions
                 WHEN new.status = 'active' BEGIN
                     INSERT INTO sessions_search (rowid, member_email, ip, device, city)
                     VALUES (new.rowid, new.member_email, new.ip, new.device, new.city);
                 END;
                 CREATE TRIGGER sessions_search_active_update
                 AFTER UPDATE OF member_email, ip, device, city, status ON sessions BEGIN
                     INSERT INTO sessions_search (rowid, member_email, ip, device, city)
                     SELECT new.rowid, new.member_email, new.ip, new.device, new.city
                     WHERE new.status = 'active';
                 END;",
            )
            .unwrap();
        }
        let mut cache = Cache::open_unencrypted_for_benchmark(&path).unwrap();
        for (kind, name) in [
            ("table", "sessions_search"),
            ("trigger", "sessions_search_active_insert"),
            ("trigger", "sessions_search_active_update"),
        ] {
            assert!(!cache.schema_has(kind, name).unwrap(), "{name}");
        }
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        let mut moved = session("s1", 2, SessionStatus::Active);
        moved.ip = "203.0.113.7".into();
        cache.apply_sessions(&[moved]).unwrap();
        let (rows, total) = cache
            .sessions(&SessionFilter {
                text: Some("203.0.113".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((rows.len(), total), (1, 1));
        assert_eq!(cache.indexes_missing().unwrap(), 0);
    }

    #[test]
    fn the_text_search_follows_updates() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        let mut moved = session("s1", 9, SessionStatus::Active);
        moved.ip = "203.0.113.7".into();
        cache.apply_sessions(&[moved]).unwrap();
        let find = |t: &str| {
            cache
                .sessions(&SessionFilter {
                    text: Some(t.into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .1
        };
        assert_eq!(find("203.0.113"), 1);
        assert_eq!(find("81.2.69.160"), 0);
    }

    #[test]
    fn members_carry_counts_from_the_cached_sessions() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let ada = Member {
            id: "m1".into(),
            email: "ada@acme.test".into(),
            display_name: "Ada".into(),
            role: Role::Admin,
            active_sessions: 0,
            last_active_at: None,
        };
        cache
            .replace_members(std::slice::from_ref(&ada), at(0))
            .unwrap();
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                session("s2", 7, SessionStatus::Revoked),
            ])
            .unwrap();
        let members = cache.members().unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].active_sessions, 1);
        assert_eq!(members[0].last_active_at, Some(at(7)));
        assert!(cache.has_member("m1").unwrap());
        assert!(!cache.has_member("m9").unwrap());
        assert_eq!(cache.members_synced_at().unwrap(), Some(at(0)));
    }
}
