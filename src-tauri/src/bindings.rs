//! The IPC's generated sides, from the Rust definitions: the types into
//! `ui/src/lib/bindings.ts`, the commands and events into `ui/src/lib/ipc.ts`, and the app
//! process's dispatch of the window's commands into `src-tauri/src/window/dispatch.rs`
//! (`ipc`). A test fails when a file is stale; `cargo xtask codegen` rewrites them.

#[cfg(test)]
mod ipc;

#[cfg(test)]
mod tests {
    use setget_core::account::SignedOutNote;
    use setget_core::alerts::{Alert, AlertFilter, AlertStatus, Trusted, UsualPlace};
    use setget_core::cache::{Counts, Cursors, DayCount, Overview, OverviewQuery, Place};
    use setget_core::engine::WorkspaceRevoked;
    use setget_core::export::{ExportFormat, Exported};
    use setget_core::logtrust::{
        AlarmKind, Evidence, LogAlarm, LogTrust, ProofEvidence, WitnessEvidence,
    };
    use setget_core::notify::NotifySettings;
    use setget_core::sync::{CatchUp, SyncState, SyncStatus};
    use setget_core::{AccountView, AtServer, CoreError, ErrorKind, SignOut, StatusReport};
    use setget_detect::{Reason, Severity};
    use setget_protocol::{
        AuditEvent, AuthMethod, BulkRevoked, CONCURRENT_SESSIONS, EndReason, ErrorCode, EventKind,
        EventReason, Location, Member, Revoked, Role, Session, SessionPolicy, SessionStatus,
        Timeout,
    };
    use ts_rs::{Config, TS};

    use setget_core::cache::{
        Indicator, Moment, PivotMember, PivotSummary, SessionSelection, SessionSort, SignInPoint,
        StatusFilter, TravelHistory, Trip,
    };
    use setget_core::simulate::{MemberEffect, PolicyTrial, Rule, Simulation};

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
            decl::<Timeout>(&cfg),
            decl::<Revoked>(&cfg),
            decl::<WorkspaceRevoked>(&cfg),
            decl::<Member>(&cfg),
            decl::<AuditEvent>(&cfg),
            decl::<AuditQuery>(&cfg),
            decl::<ExportFormat>(&cfg),
            decl::<Exported>(&cfg),
            decl::<SessionQuery>(&cfg),
            decl::<SessionSort>(&cfg),
            decl::<StatusFilter>(&cfg),
            decl::<SessionSelection>(&cfg),
            decl::<BulkRevoked>(&cfg),
            decl::<Indicator>(&cfg),
            decl::<PivotSummary>(&cfg),
            decl::<PivotMember>(&cfg),
            decl::<Moment>(&cfg),
            decl::<TravelHistory>(&cfg),
            decl::<SignInPoint>(&cfg),
            decl::<Trip>(&cfg),
            decl::<PolicyTrial>(&cfg),
            decl::<Simulation>(&cfg),
            decl::<MemberEffect>(&cfg),
            decl::<Rule>(&cfg),
            decl::<SessionPage>(&cfg),
            decl::<SessionFacets>(&cfg),
            decl::<OverviewQuery>(&cfg),
            decl::<Overview>(&cfg),
            decl::<Place>(&cfg),
            decl::<DayCount>(&cfg),
            decl::<LogTrust>(&cfg),
            decl::<LogAlarm>(&cfg),
            decl::<AlarmKind>(&cfg),
            decl::<Evidence>(&cfg),
            decl::<ProofEvidence>(&cfg),
            decl::<WitnessEvidence>(&cfg),
        ] {
            out.push_str(&d);
        }
        out.push_str(&vocabulary());
        out
    }

    /// A list of wire names as a TypeScript array literal.
    fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
        let quoted: Vec<String> = names.into_iter().map(|n| format!("{n:?}")).collect();
        format!("[{}]", quoted.join(", "))
    }

    /// The open vocabularies (a newer server may send names this version does not know, kept
    /// as strings) and the policy's choices, as constant lists and the types they make.
    fn vocabulary() -> String {
        let open = |name: &str, doc: &str, known: String| {
            let upper = name
                .chars()
                .flat_map(|c| {
                    let sep = c.is_uppercase().then_some('_');
                    sep.into_iter()
                        .chain(std::iter::once(c.to_ascii_uppercase()))
                })
                .collect::<String>();
            let upper = upper.trim_start_matches('_');
            format!(
                "/**\n * {doc}\n */\nexport const {upper}S = {known} as const;\n\
                 export type Known{name} = (typeof {upper}S)[number];\n\
                 /** A known name, or one a newer server sent. */\n\
                 export type {name} = Known{name} | (string & {{}});\n"
            )
        };
        let mut out = open(
            "EventKind",
            "What an audit event records, in the order the window lists them.",
            names(EventKind::KNOWN.iter().map(EventKind::as_str)),
        );
        out.push_str(&open(
            "EventReason",
            "Why an audit event happened.",
            names(EventReason::KNOWN.iter().map(EventReason::as_str)),
        ));
        out.push_str(&format!(
            "/** The inactivity timeouts a policy may choose. */\n\
             export const INACTIVITY_TIMEOUTS = {} as const satisfies readonly Timeout[];\n\
             /** The absolute timeouts a policy may choose. */\n\
             export const ABSOLUTE_TIMEOUTS = {} as const satisfies readonly Timeout[];\n\
             /** The concurrent-session limits a policy may set (null: no limit). */\n\
             export const CONCURRENT_SESSIONS = {{ min: {}, max: {} }} as const;\n",
            names(Timeout::INACTIVITY.iter().map(|t| t.as_str())),
            names(Timeout::ABSOLUTE.iter().map(|t| t.as_str())),
            CONCURRENT_SESSIONS.start(),
            CONCURRENT_SESSIONS.end()
        ));
        out
    }

    /// Compares `fresh` with the file at `path` under the crate (or writes it, with
    /// `UPDATE_BINDINGS`).
    fn check(path: &str, fresh: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, fresh).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is stale: run `cargo xtask codegen`",
            path.display()
        );
    }

    #[test]
    fn typescript_bindings_are_fresh() {
        check("../ui/src/lib/bindings.ts", &render());
    }

    #[test]
    fn typescript_commands_and_events_are_fresh() {
        let cfg = Config::new().with_large_int("number");
        check("../ui/src/lib/ipc.ts", &super::ipc::render(&cfg));
    }

    #[test]
    fn the_app_side_dispatch_is_fresh() {
        check("src/window/dispatch.rs", &super::ipc::render_dispatch());
    }
}
