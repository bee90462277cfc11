//! The TypeScript types of the IPC, generated from the Rust definitions into
//! `ui/src/lib/bindings.ts`. A test fails when that file is stale; `cargo xtask codegen`
//! rewrites it.

#[cfg(test)]
mod tests {
    use setget_core::account::SignedOutNote;
    use setget_core::alerts::{Alert, AlertFilter, AlertStatus, Trusted, UsualPlace};
    use setget_core::cache::{Counts, Cursors, DayCount, Overview, OverviewQuery, Place};
    use setget_core::engine::WorkspaceRevoked;
    use setget_core::export::{ExportFormat, Exported};
    use setget_core::notify::NotifySettings;
    use setget_core::sync::{CatchUp, SyncState, SyncStatus};
    use setget_core::{AccountView, AtServer, CoreError, ErrorKind, SignOut, StatusReport};
    use setget_detect::{Reason, Severity};
    use setget_protocol::{
        AuditEvent, AuthMethod, EndReason, ErrorCode, Location, Member, Revoked, Role, Session,
        SessionPolicy, SessionStatus,
    };
    use ts_rs::{Config, TS};

    use setget_core::cache::SessionSort;

    use crate::commands::{AppInfo, AuditQuery, SessionFacets, SessionPage, SessionQuery};

    fn decl<T: TS>(cfg: &Config) -> String {
        format!("export {}\n", T::decl(cfg))
    }

    fn render() -> String {
        let cfg = Config::new().with_large_int("number");
        let mut out = String::from(
            "// Generated from the Rust definitions by `cargo xtask codegen`; do not edit.\n\n",
        );
        for d in [
            decl::<AppInfo>(&cfg),
            decl::<AccountView>(&cfg),
            decl::<SignedOutNote>(&cfg),
            decl::<SignOut>(&cfg),
            decl::<AtServer>(&cfg),
            decl::<SyncState>(&cfg),
            decl::<SyncStatus>(&cfg),
            decl::<CatchUp>(&cfg),
            decl::<StatusReport>(&cfg),
            decl::<Cursors>(&cfg),
            decl::<Counts>(&cfg),
            decl::<CoreError>(&cfg),
            decl::<ErrorKind>(&cfg),
            decl::<ErrorCode>(&cfg),
            decl::<Session>(&cfg),
            decl::<Location>(&cfg),
            decl::<AuthMethod>(&cfg),
            decl::<SessionStatus>(&cfg),
            decl::<EndReason>(&cfg),
            decl::<Role>(&cfg),
            decl::<Alert>(&cfg),
            decl::<AlertStatus>(&cfg),
            decl::<AlertFilter>(&cfg),
            decl::<Reason>(&cfg),
            decl::<Severity>(&cfg),
            decl::<Trusted>(&cfg),
            decl::<UsualPlace>(&cfg),
            decl::<NotifySettings>(&cfg),
            decl::<SessionPolicy>(&cfg),
            decl::<Revoked>(&cfg),
            decl::<WorkspaceRevoked>(&cfg),
            decl::<Member>(&cfg),
            decl::<AuditEvent>(&cfg),
            decl::<AuditQuery>(&cfg),
            decl::<ExportFormat>(&cfg),
            decl::<Exported>(&cfg),
            decl::<SessionQuery>(&cfg),
            decl::<SessionSort>(&cfg),
            decl::<SessionPage>(&cfg),
            decl::<SessionFacets>(&cfg),
            decl::<OverviewQuery>(&cfg),
            decl::<Overview>(&cfg),
            decl::<Place>(&cfg),
            decl::<DayCount>(&cfg),
        ] {
            out.push_str(&d);
        }
        out
    }

    #[test]
    fn typescript_bindings_are_fresh() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
        let fresh = render();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is stale: run `cargo xtask codegen`",
            path.display()
        );
    }
}
