//! Exports of the cached audit log to CSV or JSON, for the admin's records.
//!
//! The events are read newest first in pages and written as they come (a million events never
//! sit in memory); the file is written beside its final name and renamed into place, so a
//! failed export leaves no half file behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use setget_protocol::AuditEvent;

use crate::cache::{AuditFilter, Cache};
use crate::error::{CoreError, ErrorKind, Result};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// The name of an export of `workspace_slug`'s audit log made at `at`. The slug comes from
/// the server, so it is made safe for a file name as the cache's is.
pub fn file_name(
    workspace_slug: &str,
    at: chrono::DateTime<chrono::Utc>,
    format: ExportFormat,
) -> String {
    format!(
        "setget-audit-{}-{}.{}",
        crate::account::safe(workspace_slug),
        at.format("%Y%m%d-%H%M%S"),
        format.extension()
    )
}

/// A finished export: where it is and how many events it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Exported {
    pub path: PathBuf,
    #[ts(type = "number")]
    pub events: u64,
}

/// The CSV columns, in order.
const COLUMNS: [&str; 14] = [
    "seq",
    "at",
    "event",
    "member_email",
    "member_id",
    "session_id",
    "actor_email",
    "ip",
    "device",
    "city",
    "country_code",
    "reason",
    "user_agent",
    "details",
];

fn csv_row(e: &AuditEvent) -> [String; 14] {
    let loc = e.location.as_ref();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        e.seq.to_string(),
        e.at.to_rfc3339(),
        e.event.to_string(),
        text(&e.member_email),
        text(&e.member_id),
        text(&e.session_id),
        text(&e.actor_email),
        text(&e.ip),
        text(&e.device),
        loc.and_then(|l| l.city.clone()).unwrap_or_default(),
        loc.and_then(|l| l.country_code.clone()).unwrap_or_default(),
        e.reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        text(&e.user_agent),
        e.details
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    ]
}

/// Writes `value` as indented JSON, ending in a newline, to `path` (a proof, an alarm's
/// evidence).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        CoreError::new(
            ErrorKind::Internal,
            format!("encoding {}: {e}", path.display()),
        )
    })?;
    std::fs::write(path, format!("{text}\n")).map_err(|e| {
        CoreError::new(
            ErrorKind::Storage,
            format!("writing {}: {e}", path.display()),
        )
    })
}

fn failed(e: impl std::fmt::Display) -> CoreError {
    CoreError::new(
        ErrorKind::Storage,
        format!("the export could not be written: {e}"),
    )
}

/// Events per page read from the cache.
const PAGE: u32 = 5_000;

/// Writes the events matching `filter` (newest first; its paging fields are ignored) to
/// `path` in `format`. Returns how many were written.
pub fn export_audit(
    cache: &Cache,
    filter: &AuditFilter,
    format: ExportFormat,
    path: &Path,
) -> Result<u64> {
    let partial: PathBuf = path.with_extension(format!("{}.partial", format.extension()));
    let file = crate::private::create(&partial).map_err(failed)?;
    let written = write_events(cache, filter, format, std::io::BufWriter::new(file))
        .and_then(|n| std::fs::rename(&partial, path).map_err(failed).map(|()| n));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Where the rows go.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Json(std::io::BufWriter<std::fs::File>),
}

fn write_events(
    cache: &Cache,
    filter: &AuditFilter,
    format: ExportFormat,
    out: std::io::BufWriter<std::fs::File>,
) -> Result<u64> {
    let mut sink = match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS).map_err(failed)?;
            Sink::Csv(Box::new(w))
        }
        ExportFormat::Json => Sink::Json(out),
    };
    let mut page = AuditFilter {
        before_seq: None,
        limit: PAGE,
        ..filter.clone()
    };
    let mut count = 0u64;
    loop {
        let events = cache.audit_events(&page)?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        for e in &events {
            match &mut sink {
                Sink::Csv(w) => w.write_record(csv_row(e)).map_err(failed)?,
                Sink::Json(w) => {
                    w.write_all(if count == 0 { b"[\n" } else { b",\n" })
                        .map_err(failed)?;
                    serde_json::to_writer(&mut *w, e).map_err(failed)?;
                }
            }
            count += 1;
        }
        page.before_seq = Some(last);
    }
    let file = match sink {
        Sink::Csv(w) => w.into_inner().map_err(failed)?,
        Sink::Json(mut w) => {
            w.write_all(if count == 0 { b"[]\n" } else { b"\n]\n" })
                .map_err(failed)?;
            w
        }
    };
    file.into_inner()
        .map_err(failed)?
        .sync_all()
        .map_err(failed)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheKey;
    use crate::test_support::audit_event;

    /// Regression: the export's name took the workspace slug from the server as it came, so
    /// a slug with `/` or `..` in it named a file in another folder.
    #[test]
    fn the_file_name_keeps_a_hostile_slug_inside_the_folder() {
        let at = "2026-12-06T10:11:12Z".parse().unwrap();
        assert_eq!(
            file_name("acme", at, ExportFormat::Csv),
            "setget-audit-acme-20261206-101112.csv"
        );
        let name = file_name("../../.config/autostart/x", at, ExportFormat::Json);
        assert!(!name.contains('/'), "{name}");
        assert_eq!(Path::new(&name).components().count(), 1, "{name}");
        assert_eq!(
            name,
            "setget-audit-.._.._.config_autostart_x-20261206-101112.json"
        );
    }

    /// Regression: an export (emails, addresses and places in plain text) was created 0644.
    #[cfg(unix)]
    #[test]
    fn an_export_is_the_owners_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_with(tmp.path(), 3);
        let path = tmp.path().join("audit.csv");
        export_audit(&cache, &AuditFilter::default(), ExportFormat::Csv, &path).unwrap();
        assert_eq!(crate::cache::tests::mode(&path), 0o600);
    }

    fn event(seq: i64, name: &str) -> AuditEvent {
        AuditEvent {
            event: name.into(),
            reason: Some("quote \" and, comma".into()),
            ..audit_event(seq)
        }
    }

    fn cache_with(dir: &Path, n: i64) -> Cache {
        let mut cache = Cache::open(&dir.join("c.db"), &CacheKey::generate()).unwrap();
        let events: Vec<AuditEvent> = (1..=n)
            .map(|s| {
                let name = if s % 2 == 0 {
                    "session.signed_out"
                } else {
                    "session.signed_in"
                };
                event(s, name)
            })
            .collect();
        cache.apply_audit(&events).unwrap();
        cache
    }

    #[test]
    fn csv_has_a_header_and_one_quoted_row_per_event_newest_first_across_pages() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_with(tmp.path(), 12_001);
        let path = tmp.path().join("audit.csv");
        let n = export_audit(&cache, &AuditFilter::default(), ExportFormat::Csv, &path).unwrap();
        assert_eq!(n, 12_001);
        let mut reader = csv::Reader::from_path(&path).unwrap();
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            COLUMNS
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 12_001);
        assert_eq!(&rows[0][0], "12001");
        assert_eq!(&rows[12_000][0], "1");
        assert_eq!(&rows[0][11], "quote \" and, comma");
        assert!(!tmp.path().join("audit.csv.partial").exists());
    }

    #[test]
    fn csv_columns_hold_each_field_of_the_event() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache_with(tmp.path(), 0);
        let revoked = AuditEvent {
            event: "session.revoked".into(),
            actor_email: Some("owner@acme.test".into()),
            location: Some(setget_protocol::Location {
                city: Some("London".into()),
                region: Some("England".into()),
                country: Some("United Kingdom".into()),
                country_code: Some("GB".into()),
                latitude: Some(51.5),
                longitude: Some(-0.1),
            }),
            reason: Some("admin".into()),
            ..audit_event(1)
        };
        cache.apply_audit(std::slice::from_ref(&revoked)).unwrap();
        let path = tmp.path().join("audit.csv");
        export_audit(&cache, &AuditFilter::default(), ExportFormat::Csv, &path).unwrap();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let row = reader.records().next().unwrap().unwrap();
        let expected = [
            "1".to_owned(),
            revoked.at.to_rfc3339(),
            "session.revoked".into(),
            "ada@acme.test".into(),
            "m1".into(),
            "s1".into(),
            "owner@acme.test".into(),
            "81.2.69.160".into(),
            "Firefox on Windows".into(),
            "London".into(),
            "GB".into(),
            "admin".into(),
            "Mozilla/5.0".into(),
            r#"{"n":1}"#.into(),
        ];
        assert_eq!(row.iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn an_export_that_cannot_be_put_in_place_leaves_no_partial_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_with(tmp.path(), 3);
        // A folder where the file should go: the events are written, the rename fails.
        let path = tmp.path().join("audit.csv");
        std::fs::create_dir(&path).unwrap();
        let err =
            export_audit(&cache, &AuditFilter::default(), ExportFormat::Csv, &path).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(err.message.starts_with("the export could not be written"));
        assert!(!tmp.path().join("audit.csv.partial").exists());
        assert!(path.is_dir());
    }

    #[test]
    fn json_is_an_array_of_the_filtered_events() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_with(tmp.path(), 9);
        let path = tmp.path().join("audit.json");
        let filter = AuditFilter {
            event: Some("session.signed_in".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            export_audit(&cache, &filter, ExportFormat::Json, &path).unwrap(),
            5
        );
        let events: Vec<AuditEvent> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [9, 7, 5, 3, 1]);
        // Nothing matches: an empty array, still valid JSON.
        let none = AuditFilter {
            event: Some("auth.sign_in_failed".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            export_audit(&cache, &none, ExportFormat::Json, &path).unwrap(),
            0
        );
        let events: Vec<AuditEvent> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn a_failed_export_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_with(tmp.path(), 3);
        let missing = tmp.path().join("no such folder").join("audit.csv");
        let err =
            export_audit(&cache, &AuditFilter::default(), ExportFormat::Csv, &missing).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(!missing.exists());
    }
}
