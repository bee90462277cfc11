//! The headless `setget-admin` commands against the real server and the real keyring.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use setget_core::account::credential_name;
use setget_e2e::{ServerProcess, built_binary, files_containing, secret_tool_lookup};
use setget_protocol::Role;

const OWNER: &str = "owner@cli.test";
const PASSWORD: &str = "cli-test-password-7";

/// Runs `setget-admin ARGS` with its files under `home` and `stdin` as standard input.
pub(crate) fn admin(home: &Path, args: &[&str], stdin: &str) -> Output {
    output_with(&mut admin_command(home, args), stdin)
}

/// The command `setget-admin ARGS` with its files under `home`.
fn admin_command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(built_binary("setget-admin").unwrap());
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    cmd
}

/// Runs `cmd` with `stdin` as standard input, capturing its output.
fn output_with(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `setget-admin sign-in` with the password on standard input.
pub(crate) fn sign_in_cli(home: &Path, url: &str, email: &str, password: &str) -> Output {
    admin(
        home,
        &[
            "sign-in",
            "--server",
            url,
            "--email",
            email,
            "--password-stdin",
        ],
        &format!("{password}\n"),
    )
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn sign_in_and_sign_out_from_the_command_line() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("cli", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let sign_in = |password: &str, url: &str| {
        admin(
            home.path(),
            &[
                "sign-in",
                "--server",
                url,
                "--email",
                OWNER,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    };

    // Wrong password: exit 2, the server's sentence, nothing stored.
    let out = sign_in("wrong", &server.url);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the email or password is incorrect"));
    let name = credential_name(&server.url, OWNER);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);

    // Plain http to another host: exit 2 before anything is sent.
    let out = sign_in(PASSWORD, "http://setget.example");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("https://setget.example"));

    // Nobody listening: exit 4.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = sign_in(PASSWORD, &dead);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    // The right password: exit 0, token in the keyring only.
    let out = sign_in(PASSWORD, &server.url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("signed in to Workspace cli (cli) as owner@cli.test"));
    let token = secret_tool_lookup(&name)
        .unwrap()
        .expect("token in the keyring");
    assert!(
        home.path()
            .join("config/dev.setget.admin/account.json")
            .exists()
    );
    assert!(files_containing(home.path(), token.as_bytes()).is_empty());
    assert!(files_containing(home.path(), PASSWORD.as_bytes()).is_empty());
    assert!(!text(&out.stdout).contains(&token) && !text(&out.stderr).contains(&token));
    assert_eq!(
        server
            .status_with_token("/api/users/me/", &token)
            .await
            .unwrap(),
        200
    );

    // Sign out: exit 0, keyring emptied, token dead at the server; again: nothing to do.
    let out = admin(home.path(), &["sign-out"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert_eq!(
        server
            .status_with_token("/api/users/me/", &token)
            .await
            .unwrap(),
        401
    );
    let out = admin(home.path(), &["sign-out"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("not signed in"));
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

#[tokio::test]
async fn sync_and_status_from_the_command_line_with_their_exit_codes() {
    let mut server = ServerProcess::start().unwrap();
    server
        .create_workspace("cli", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    server
        .browser_sign_in(OWNER, PASSWORD, "curl/8", "81.2.69.160")
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();

    // Nothing signed in: status and sync say so (exit 3).
    for args in [&["status"][..], &["sync", "--once"]] {
        let out = admin(home.path(), args, "");
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(text(&out.stderr).contains("not signed in"), "{args:?}");
    }

    let out = sign_in_cli(home.path(), &server.url, OWNER, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = admin(home.path(), &["sync", "--once"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("synced in "),
        "{}",
        text(&out.stdout)
    );

    let out = admin(home.path(), &["status", "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = json(&out);
    let mut keys: Vec<&str> = status
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cache_bytes",
            "cache_path",
            "counts",
            "cursors",
            "email",
            "last_sync",
            "server",
            "state",
            "workspace"
        ]
    );
    assert_eq!(status["email"], OWNER);
    assert_eq!(status["workspace"], "cli");
    assert_eq!(status["counts"]["members"], 1);
    assert_eq!(status["counts"]["sessions"], 2);
    // Two sign-ins: the browser's and the app's.
    assert_eq!(status["counts"]["audit_events"], 2);
    assert_eq!(status["cursors"]["audit_seq"], 2);
    assert!(status["cursors"]["sessions_change_seq"].as_i64().unwrap() >= 2);
    assert!(status["last_sync"].is_string());
    assert_eq!(status["state"], "idle");
    let cache = Path::new(status["cache_path"].as_str().unwrap());
    assert!(cache.starts_with(home.path().join("data/dev.setget.admin")));
    assert!(status["cache_bytes"].as_u64().unwrap() >= std::fs::metadata(cache).unwrap().len());
    let out = admin(home.path(), &["status"], "");
    assert!(
        text(&out.stdout).contains("rows       1 members, 2 sessions (2 active), 2 audit events")
    );

    // The server is down: exit 4, and the cache stays.
    server.kill();
    let out = admin(home.path(), &["sync", "--once"], "");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot reach"));
    assert!(cache.exists());

    // The session is ended behind the app's back: exit 3 with the server's reason, and the
    // status says signed out. (The restarted server listens on a new port: sign in there.)
    server.restart().unwrap();
    let out = sign_in_cli(home.path(), &server.url, OWNER, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    end_session_behind_the_apps_back(&server, &server.url).await;
    let out = admin(home.path(), &["sync", "--once"], "");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("signed out"),
        "{}",
        text(&out.stderr)
    );
    let status = json(&admin(home.path(), &["status", "--json"], ""));
    assert_eq!(status["state"], "signed_out");
    assert_eq!(status["code"], "session_invalid");
}

/// Reads lines from a running `setget-admin sync` until one starts with `prefix`.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, prefix: &str, seen: &mut Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.starts_with(prefix);
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line starting with {prefix:?}; saw {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_follows_live_prints_each_change_of_state_and_exits_3_when_signed_out() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("follow", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let proxy = setget_e2e::FaultProxy::start(&server.url).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = sign_in_cli(home.path(), &proxy.url, OWNER, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let mut child = Command::new(built_binary("setget-admin").unwrap())
        .arg("sync")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for_line(&lines, "live", &mut seen);
    // Another process asks: the running sync's state is in the cache.
    let status = json(&admin(home.path(), &["status", "--json"], ""));
    assert_eq!(status["state"], "live", "{status}");
    // The network fails: the process stays up and says so; it comes back by itself.
    proxy.set(setget_e2e::Fault::Reset);
    wait_for_line(&lines, "offline: since ", &mut seen);
    let status = json(&admin(home.path(), &["status", "--json"], ""));
    assert_eq!(status["state"], "offline", "{status}");
    assert!(
        status["since"].is_string() && status["reason"].is_string(),
        "{status}"
    );
    proxy.set(setget_e2e::Fault::None);
    wait_for_line(&lines, "live", &mut seen);

    // The session is ended behind its back: it prints why and exits 3.
    let token = end_session_behind_the_apps_back(&server, &proxy.url).await;
    wait_for_line(&lines, "signed out: ", &mut seen);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{seen:?}");
    assert!(seen.iter().all(|l| !l.contains(&token)));
}

/// Signs the app's session (saved for `url`) out at the server, as another device could;
/// returns its token.
async fn end_session_behind_the_apps_back(server: &ServerProcess, url: &str) -> String {
    let token = secret_tool_lookup(&credential_name(&format!("{url}/"), OWNER))
        .unwrap()
        .expect("token");
    let ended = server
        .as_app(reqwest::Method::POST, "/auth/sign-out/", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    token
}

fn signed_in(seq: i64, at: &str, ip: &str, city: &str, cc: &str, lat: f64, lon: f64) -> String {
    serde_json::json!({
        "seq": seq, "id": format!("e{seq}"), "event": "session.signed_in", "at": at,
        "member_id": "m1", "member_email": "ada@acme.test", "session_id": format!("s{seq}"),
        "actor_id": null, "actor_email": null, "ip": ip, "user_agent": "Mozilla/5.0",
        "device": "Firefox on Windows",
        "location": {"city": city, "region": null, "country": null, "country_code": cc,
                     "latitude": lat, "longitude": lon},
        "auth_method": "password", "reason": null, "details": null
    })
    .to_string()
}

#[test]
fn detect_replays_a_log_without_server_keyring_or_display() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let lines = [
        signed_in(
            1,
            "2026-03-01T09:00:00Z",
            "81.2.69.10",
            "London",
            "GB",
            51.5085,
            -0.1257,
        ),
        String::new(),
        signed_in(
            2,
            "2026-03-01T10:00:00Z",
            "66.0.0.1",
            "New York",
            "US",
            40.7143,
            -74.006,
        ),
    ];
    std::fs::write(&log, lines.join("\n")).unwrap();
    let detect = |args: &[&str]| {
        Command::new(built_binary("setget-admin").unwrap())
            .arg("detect")
            .arg("--replay")
            .arg(&log)
            .args(args)
            .env("HOME", dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .output()
            .unwrap()
    };
    let out = detect(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let alerts: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["event_id"], "e2");
    assert_eq!(alerts[0]["seq"], 2);
    assert_eq!(alerts[0]["member_id"], "m1");
    assert_eq!(alerts[0]["severity"], "high");
    assert_eq!(alerts[0]["reasons"][0]["kind"], "impossible_travel");
    assert_eq!(alerts[0]["reasons"][0]["from"], "London, GB");

    // The workspace trusts the network New York's sign-in came from: no alert.
    let out = detect(&["--trusted-network", "66.0.0.0/16"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // Bad input: exit 2 and a sentence that names the problem, never a panic.
    let out = detect(&["--trusted-network", "66.0.0.0/99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a network"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&log, format!("{}\n{{\"seq\": \"two\"}}\n", lines[0])).unwrap();
    let out = detect(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 2: not an audit event"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(built_binary("setget-admin").unwrap())
        .args(["detect", "--replay"])
        .arg(dir.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
}

/// Without a session bus the keyring cannot be reached: the sign-in fails with exit 1 and a
/// sentence that says what is missing, not the library's connection error, and keeps nothing.
#[tokio::test]
async fn sign_in_without_a_session_bus_says_the_keyring_needs_one() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("nobus", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let runtime_dir = tempfile::tempdir().unwrap();
    let out = output_with(
        admin_command(
            home.path(),
            &["sign-in", "--server", &server.url, "--email", OWNER],
        )
        .arg("--password-stdin")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", runtime_dir.path()),
        &format!("{PASSWORD}\n"),
    );
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("there is no D-Bus session bus, which desktop notifications and the keyring"),
        "{said}"
    );
    assert!(!said.contains(PASSWORD), "{said}");
    assert!(files_containing(home.path(), PASSWORD.as_bytes()).is_empty());
    assert!(
        !home
            .path()
            .join("config/dev.setget.admin/account.json")
            .exists()
    );
}

/// `audit verify` proves the cache against the server's signed log (exit 0), `audit proof`
/// writes an event with its proof, and `audit check` verifies that file with no server,
/// keyring or cache (exit 5 once the file is altered). An old event edited in the server's
/// database makes `audit verify` exit 5, and `audit evidence` writes what it found.
#[tokio::test]
async fn audit_verify_proof_and_check_from_the_command_line() {
    let mut server = ServerProcess::start().unwrap();
    server
        .create_workspace("cli", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    for ip in ["81.2.69.160", "81.2.69.161"] {
        server
            .browser_sign_in(OWNER, PASSWORD, "curl/8", ip)
            .await
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let out = sign_in_cli(home.path(), &server.url, OWNER, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = admin(home.path(), &["audit", "verify"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.starts_with("verified up to #3 · checkpoint signed by "),
        "{said}"
    );
    assert!(
        said.contains("(3 events downloaded again and compared)"),
        "{said}"
    );
    let out = admin(home.path(), &["audit", "verify", "--json"], "");
    let report = json(&out);
    let fingerprint = report["trust"]["fingerprint"].as_str().unwrap().to_owned();
    assert!(said.contains(&fingerprint));

    let proof = home.path().join("event-2.json");
    let out = admin(
        home.path(),
        &["audit", "proof", "2", "--out", proof.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = admin(
        home.path(),
        &["audit", "proof", "9", "--out", "/dev/null"],
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an event beyond the verified log"
    );

    // An old event edited in the server's database, its tree left alone: only downloading
    // the log again finds it.
    setget_server::store::Database::Sqlite(server.sqlite_db().unwrap())
        .test_execute("UPDATE audit_events SET ip = '203.0.113.50' WHERE seq = 2");
    let out = admin(home.path(), &["sync", "--once"], "");
    assert_eq!(out.status.code(), Some(0), "the regular sync cannot see it");
    let out = admin(home.path(), &["audit", "verify"], "");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(
            "NOT VERIFIED: Audit history was rewritten: the server now sends event #2 differently"
        ),
        "{}",
        text(&out.stdout)
    );
    let evidence = home.path().join("evidence.json");
    let out = admin(
        home.path(),
        &["audit", "evidence", "--out", evidence.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(5));
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&evidence).unwrap()).unwrap();
    assert_eq!(kept["kind"], "rewritten");
    assert!(
        kept["evidence"]["trusted_checkpoint"]
            .as_str()
            .unwrap()
            .starts_with("setget/cli\n3\n")
    );

    // Checked with nothing but the file: another home, no server.
    server.kill();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = admin(
        elsewhere.path(),
        &["audit", "check", proof.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!(
            "valid: event #2 is in the audit log setget/cli of 3 events, signed by the key {fingerprint}"
        )
    );
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    bundle["event"]["ip"] = "203.0.113.7".into();
    let altered = elsewhere.path().join("altered.json");
    std::fs::write(&altered, bundle.to_string()).unwrap();
    let out = admin(
        elsewhere.path(),
        &["audit", "check", altered.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stdout).starts_with("NOT VALID: event #2 is not in the signed log"));
}
