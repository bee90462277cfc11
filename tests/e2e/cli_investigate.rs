//! `setget-admin pivot`, `at` and `simulate-policy` against the real server's history, read
//! from the real cache.

use chrono::{DateTime, Utc};
use setget_e2e::{Morning, agents};

use crate::cli::{admin, json, sign_in_cli, text};

const OWNER: &str = "owner@investigate-cli.test";
const PASSWORD: &str = "cli-investigate-password-3";

#[tokio::test]
async fn pivot_at_and_simulate_policy_from_the_command_line() {
    // Two hours ago (`Morning`): ada in London; ten minutes later in Paris, and bob from
    // Sydney; at 1 h 30 ada's Paris session is used.
    let (ada, bob) = ("ada@investigate-cli.test", "bob@investigate-cli.test");
    let Morning {
        server, t0, sydney, ..
    } = Morning::replay("icli", (OWNER, PASSWORD), ada, bob)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    assert_eq!(
        sign_in_cli(home, &server.url, OWNER, PASSWORD)
            .status
            .code(),
        Some(0)
    );
    let run = |args: &[&str]| admin(home, args, "");
    assert_eq!(run(&["sync", "--once"]).status.code(), Some(0));

    // Pivot: bob's address, as JSON; Paris widened to its network, as text.
    let out = run(&["pivot", "1.1.1.1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = json(&out);
    assert_eq!(got["summary"]["label"], "1.1.1.1");
    assert_eq!(got["summary"]["events"], 1);
    assert_eq!(got["summary"]["active_sessions"], 1);
    assert_eq!(got["summary"]["members"][0]["member_email"], bob);
    assert_eq!(got["sessions"][0]["ip"], "1.1.1.1");
    let out = run(&["pivot", "1.178.90.7", "--network"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("1.178.90.0/24: 1 sign-in event, 1 session (1 active) of 1 member"),
        "{shown}"
    );
    assert!(shown.contains(ada), "{shown}");
    // By the address's autonomous system (the bundled table knows 1.1.1.1's).
    let got = json(&run(&["pivot", "AS13335", "--json"]));
    assert_eq!(got["summary"]["label"], "AS13335");
    assert_eq!(got["summary"]["events"], 1);
    assert_eq!(got["sessions"][0]["as_org"], "Cloudflare, Inc.");
    for (args, says) in [
        (&["pivot", "81.2.69"][..], "is not an indicator"),
        (&["pivot", "ab"][..], "is not an indicator"),
        (
            &["pivot", "country:GB", "--network"][..],
            "widens an IP address",
        ),
        (
            &["pivot", "1.1.1.1", "--revoke"][..],
            "needs --yes; nothing was revoked",
        ),
        (&["at", "yesterday"][..], "is not an instant"),
        (
            &[
                "simulate-policy",
                "--inactivity",
                "30d",
                "--absolute",
                "24h",
            ][..],
            "cannot be longer than the absolute timeout",
        ),
        (
            &[
                "simulate-policy",
                "--inactivity",
                "1h",
                "--absolute",
                "24h",
                "--days",
                "0",
            ][..],
            "1 to 365 days",
        ),
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let bob_works = || {
        server.as_browser(
            reqwest::Method::GET,
            "/api/users/me/",
            &sydney,
            agents::CHROME_MAC,
            "1.1.1.1",
        )
    };
    assert_eq!(bob_works().await.unwrap(), 200, "revoked without --yes");

    // Any moment: five minutes in, only ada's London session; at 0:10 three of two members.
    let five = (t0 + chrono::Duration::minutes(5)).to_rfc3339();
    let out = run(&["at", &five, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let moment = json(&out);
    assert_eq!(
        (moment["total"].as_u64(), moment["members"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(moment["sessions"][0]["ip"], "81.2.69.142");
    assert_eq!(
        moment["previous"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(t0)
    );
    let ten = (t0 + chrono::Duration::minutes(10))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let out = run(&["at", &ten]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": 3 sessions of 2 members signed in"),
        "{}",
        text(&out.stdout)
    );

    // The simulator, as in the window: bob's idle session (inactivity) and ada's London one
    // (concurrency) of the four begun (the command line's own included), for two members.
    let out = run(&[
        "simulate-policy",
        "--inactivity",
        "1h",
        "--absolute",
        "24h",
        "--max-sessions",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sim = json(&out);
    assert_eq!(sim["sessions"], 4);
    assert_eq!(
        (&sim["inactivity"], &sim["absolute"], &sim["concurrency"]),
        (&1.into(), &0.into(), &1.into())
    );
    assert_eq!(sim["members"], 2);
    assert_eq!(sim["most_affected"][0]["member_email"], ada);
    // Without the limit, ada's London session, idle since it began, goes by inactivity too.
    let out = run(&["simulate-policy", "--inactivity", "1h", "--absolute", "24h"]);
    assert!(
        text(&out.stdout).contains(
            "2 would have ended earlier (inactivity 2, absolute 0, concurrency 0), of 2 members"
        ),
        "{}",
        text(&out.stdout)
    );

    // Revoking what shares bob's address, confirmed: the server ends his session.
    let out = run(&["pivot", "1.1.1.1", "--revoke", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("revoked 1 session of 1 member\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(bob_works().await.unwrap(), 401);
    let out = run(&["pivot", "1.1.1.1", "--revoke", "--yes"]);
    assert!(text(&out.stdout).ends_with("no active session to revoke\n"));
}
