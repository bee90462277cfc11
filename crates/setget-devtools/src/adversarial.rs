//! `adversarial --st PATH`: schemathesis against the OpenAPI document of a dev server, as an
//! owner, an admin, a member and with no session. Every run checks everything schemathesis
//! checks (no 5xx, responses, statuses, headers and event-stream events as documented,
//! schema-valid input accepted and invalid input refused, authentication honoured) in every
//! phase, stateful links included, bounded in time. One line per role:
//! `adversarial <role>: ok` or `… FAILED`.
//!
//! Left out, so that the run keeps its session: signing out and every revocation (a
//! generated request would end the session the run uses, and every later case would be a
//! 401), and the dev-only routes, which are test scaffolding rather than the contract. Those
//! have tests of their own.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use setget_e2e::ServerProcess;
use setget_protocol::Role;

/// How long each role's run may take, in seconds.
const SECONDS_PER_ROLE: u32 = 15;
/// The seed of every run (so that a failure repeats), unless `SETGET_ST_SEED` says another.
const SEED: u64 = 20_261_206;

const PASSWORD: &str = "adversarial-pw-1";

/// The roles the suite runs as: a name, the email signed in with (none: no session) and the
/// address it comes from (the dev server believes loopback's `X-Forwarded-For`).
const ROLES: [(&str, Option<&str>, &str); 4] = [
    ("owner", Some("owner@fuzz.test"), "198.51.100.11"),
    ("admin", Some("admin@fuzz.test"), "198.51.100.12"),
    ("member", Some("member@fuzz.test"), "198.51.100.13"),
    ("no-session", None, "198.51.100.14"),
];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let st = match args {
        [flag, path] if flag == "--st" => PathBuf::from(path),
        _ => bail!("usage: setget-devtools adversarial --st PATH-TO-ST"),
    };
    let seed = std::env::var("SETGET_ST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let runtime = tokio::runtime::Runtime::new()?;
    let server = ServerProcess::start()?;
    runtime.block_on(server.create_workspace(
        "fuzz",
        &[
            ("owner@fuzz.test", PASSWORD, Role::Owner),
            ("admin@fuzz.test", PASSWORD, Role::Admin),
            ("member@fuzz.test", PASSWORD, Role::Member),
        ],
    ))?;
    let scratch = tempfile::tempdir()?;
    // Every session first: a run's password checks may still be queued when it ends.
    let mut tokens = Vec::new();
    for (role, email, ip) in ROLES {
        let user_agent = format!("setget-adversarial/{role}");
        let token = match email {
            Some(email) => {
                Some(runtime.block_on(server.browser_sign_in(email, PASSWORD, &user_agent, ip))?)
            }
            None => None,
        };
        tokens.push((role, ip, user_agent, token));
    }
    let mut failed = Vec::new();
    for (role, ip, user_agent, token) in tokens {
        let config = scratch.path().join(format!("{role}.toml"));
        std::fs::write(&config, config_text(&user_agent, ip, token.is_some()))?;
        let ok = schemathesis(
            &st,
            &config,
            &server.url,
            token.as_deref(),
            seed,
            scratch.path(),
        )?;
        println!("adversarial {role}: {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(role);
        }
    }
    if !failed.is_empty() {
        bail!(
            "schemathesis found failures as {} (seed {seed}; its report is above)",
            failed.join(", ")
        );
    }
    Ok(())
}

/// The schemathesis configuration of one role: every request with the user agent and the
/// address the session was signed in with (the server binds sessions to both), the session
/// through the document's `session` security scheme (so that the checks which leave it out
/// really leave it out), and the workspace's slug.
fn config_text(user_agent: &str, ip: &str, signed_in: bool) -> String {
    let mut text = format!(
        "headers = {{ User-Agent = \"{user_agent}\", X-Forwarded-For = \"{ip}\" }}\n\
         request-timeout = 10.0\n\
         max-stream-events = 1\n\
         checks.enabled = true\n\
         \n\
         [parameters]\n\
         slug = \"fuzz\"\n"
    );
    if signed_in {
        text.push_str("\n[auth.openapi.session]\napi_key = \"${SETGET_ST_SESSION}\"\n");
    }
    // Rules between fields that a schema cannot state: the inactivity timeout is no longer
    // than the absolute one, `since` is not after `until`, and `changed_after` takes no
    // `status` or `offset`. Schema-valid input that breaks them is refused with a 400 that
    // says so, which is right; the other checks stay on.
    for (path, method) in [
        ("/api/workspaces/{slug}/session-policy/", "PATCH"),
        ("/api/workspaces/{slug}/audit-logs/", "GET"),
        ("/api/workspaces/{slug}/sessions/", "GET"),
        // Sizes and seqs beyond the log, and keys, checkpoints and co-signatures that do
        // not verify, are refused though the document's types allow them.
        ("/api/workspaces/{slug}/audit-log/proof/consistency/", "GET"),
        ("/api/workspaces/{slug}/audit-log/proof/inclusion/", "GET"),
        ("/api/workspaces/{slug}/audit-log/witness/", "POST"),
    ] {
        text.push_str(&format!(
            "\n[[operations]]\ninclude-path = \"{path}\"\ninclude-method = \"{method}\"\n\
             checks.positive_data_acceptance.enabled = false\n"
        ));
    }
    // A stream with no event to replay stays open until it times out: a few cases of it are
    // enough, or they take the whole run's time.
    text.push_str(
        "\n[[operations]]\ninclude-path = \"/api/workspaces/{slug}/events/\"\n\
         generation.max-examples = 5\n",
    );
    text
}

/// Runs schemathesis once; whether it found nothing.
fn schemathesis(
    st: &Path,
    config: &Path,
    url: &str,
    token: Option<&str>,
    seed: u64,
    scratch: &Path,
) -> anyhow::Result<bool> {
    let mut cmd = Command::new(st);
    cmd.arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{url}/api/openapi.json"))
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-time", &SECONDS_PER_ROLE.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "1"])
        .args(["--exclude-path-regex", "^/api/_dev/|/sign-out/|revoke"])
        .args(["--exclude-method", "DELETE"])
        .args(["--output-truncate", "false"])
        .env("NO_COLOR", "1")
        .current_dir(scratch);
    match token {
        Some(t) => cmd.env("SETGET_ST_SESSION", t),
        None => cmd.env_remove("SETGET_ST_SESSION"),
    };
    let status = cmd
        .status()
        .with_context(|| format!("running {}", st.display()))?;
    Ok(status.success())
}
