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
fn admin(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(built_binary("setget-admin").unwrap())
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
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

fn text(bytes: &[u8]) -> String {
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
