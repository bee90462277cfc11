//! Generated from `commands.rs` by `cargo xtask codegen`; do not edit.
//!
//! Every command of the window's, run in the app process: its arguments read from the
//! call's object by camelCase key, its answer or error as JSON.

use serde_json::{Map, Value};
use tauri::{AppHandle, Manager as _};

use super::{answer, answer_result, arg, unknown_command};
use crate::commands;
use crate::shell::Shell;

/// Runs `command` with `args`; `Err` carries what the page's call rejects with.
pub(super) async fn call(
    app: &AppHandle,
    command: &str,
    args: &Map<String, Value>,
) -> Result<Value, Value> {
    match command {
        "app_info" => answer(commands::app_info(app.state::<Shell>())),
        "remember_screen" => answer_result(commands::remember_screen(
            app.state::<Shell>(),
            arg(args, "screen")?,
        )),
        "sign_in" => answer_result(
            commands::sign_in(
                app.state::<Shell>(),
                arg(args, "server")?,
                arg(args, "email")?,
                arg(args, "password")?,
            )
            .await,
        ),
        "open_demo" => answer_result(commands::open_demo()),
        "my_sessions" => answer_result(commands::my_sessions(app.state::<Shell>()).await),
        "sign_out" => {
            answer_result(commands::sign_out(app.state::<Shell>(), arg(args, "deleteCache")?).await)
        }
        "sync_status" => answer(commands::sync_status(app.state::<Shell>())),
        "alerts" => {
            answer_result(commands::alerts(app.state::<Shell>(), arg(args, "filter")?).await)
        }
        "set_alert_status" => answer_result(
            commands::set_alert_status(
                app.clone(),
                app.state::<Shell>(),
                arg(args, "id")?,
                arg(args, "status")?,
            )
            .await,
        ),
        "revoke_alert_session" => answer_result(
            commands::revoke_alert_session(app.clone(), app.state::<Shell>(), arg(args, "id")?)
                .await,
        ),
        "usual_places" => {
            answer_result(commands::usual_places(app.state::<Shell>(), arg(args, "id")?).await)
        }
        "trusted" => answer_result(commands::trusted(app.state::<Shell>()).await),
        "set_trusted" => {
            answer_result(commands::set_trusted(app.state::<Shell>(), arg(args, "trusted")?).await)
        }
        "notify_settings" => answer(commands::notify_settings(app.state::<Shell>())),
        "set_notify_settings" => answer_result(
            commands::set_notify_settings(
                app.clone(),
                app.state::<Shell>(),
                arg(args, "settings")?,
            )
            .await,
        ),
        "pause_notifications" => answer_result(
            commands::pause_notifications(app.clone(), app.state::<Shell>(), arg(args, "pause")?)
                .await,
        ),
        "launch_at_login" => answer_result(commands::launch_at_login(app.clone()).await),
        "set_launch_at_login" => {
            answer_result(commands::set_launch_at_login(app.clone(), arg(args, "enabled")?).await)
        }
        "overview" => {
            answer_result(commands::overview(app.state::<Shell>(), arg(args, "query")?).await)
        }
        "policy" => answer_result(commands::policy(app.state::<Shell>()).await),
        "update_policy" => answer_result(
            commands::update_policy(
                app.state::<Shell>(),
                arg(args, "inactivityTimeout")?,
                arg(args, "absoluteTimeout")?,
                arg(args, "maxConcurrentSessions")?,
            )
            .await,
        ),
        "revoke_workspace_sessions" => answer_result(
            commands::revoke_workspace_sessions(app.state::<Shell>(), arg(args, "password")?).await,
        ),
        "members" => answer_result(commands::members(app.state::<Shell>()).await),
        "member_sessions" => answer_result(
            commands::member_sessions(app.state::<Shell>(), arg(args, "memberId")?).await,
        ),
        "revoke_member_session" => answer_result(
            commands::revoke_member_session(
                app.state::<Shell>(),
                arg(args, "memberId")?,
                arg(args, "sessionId")?,
            )
            .await,
        ),
        "revoke_member_sessions" => answer_result(
            commands::revoke_member_sessions(app.state::<Shell>(), arg(args, "memberId")?).await,
        ),
        "revoke_my_session" => answer_result(
            commands::revoke_my_session(app.state::<Shell>(), arg(args, "sessionId")?).await,
        ),
        "revoke_my_other_sessions" => {
            answer_result(commands::revoke_my_other_sessions(app.state::<Shell>()).await)
        }
        "audit_events" => answer_result(
            commands::audit_events(
                app.state::<Shell>(),
                arg(args, "query")?,
                arg(args, "beforeSeq")?,
                arg(args, "limit")?,
            )
            .await,
        ),
        "export_audit" => answer_result(
            commands::export_audit(
                app.state::<Shell>(),
                arg(args, "query")?,
                arg(args, "format")?,
            )
            .await,
        ),
        "log_trust" => answer_result(commands::log_trust(app.state::<Shell>()).await),
        "export_event_proof" => answer_result(
            commands::export_event_proof(app.state::<Shell>(), arg(args, "seq")?).await,
        ),
        "export_log_evidence" => {
            answer_result(commands::export_log_evidence(app.state::<Shell>()).await)
        }
        "resume_log" => {
            answer_result(commands::resume_log(app.state::<Shell>(), arg(args, "repin")?).await)
        }
        "sessions_page" => answer_result(
            commands::sessions_page(
                app.state::<Shell>(),
                arg(args, "query")?,
                arg(args, "offset")?,
                arg(args, "limit")?,
            )
            .await,
        ),
        "session_selection" => answer_result(
            commands::session_selection(app.state::<Shell>(), arg(args, "query")?).await,
        ),
        "revoke_sessions" => answer_result(
            commands::revoke_sessions(app.state::<Shell>(), arg(args, "sessionIds")?).await,
        ),
        "parse_indicator" => answer_result(commands::parse_indicator(arg(args, "text")?)),
        "network_of" => answer_result(commands::network_of(arg(args, "ip")?)),
        "pivot_summary" => answer_result(
            commands::pivot_summary(app.state::<Shell>(), arg(args, "indicator")?).await,
        ),
        "pivot_events" => answer_result(
            commands::pivot_events(
                app.state::<Shell>(),
                arg(args, "indicator")?,
                arg(args, "offset")?,
                arg(args, "limit")?,
            )
            .await,
        ),
        "pivot_sessions" => answer_result(
            commands::pivot_sessions(
                app.state::<Shell>(),
                arg(args, "indicator")?,
                arg(args, "offset")?,
                arg(args, "limit")?,
            )
            .await,
        ),
        "moment" => answer_result(
            commands::moment(app.state::<Shell>(), arg(args, "at")?, arg(args, "limit")?).await,
        ),
        "travel_history" => answer_result(
            commands::travel_history(app.state::<Shell>(), arg(args, "memberId")?).await,
        ),
        "simulate_policy" => answer_result(
            commands::simulate_policy(
                app.state::<Shell>(),
                arg(args, "trial")?,
                arg(args, "days")?,
            )
            .await,
        ),
        "session_facets" => answer_result(commands::session_facets(app.state::<Shell>()).await),
        _ => Err(unknown_command(command)),
    }
}
