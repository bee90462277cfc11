//! The Node.js provision, end to end: with a system Node.js too old for the UI's toolchain,
//! `cargo xtask node` fetches the provided one from the npm registry into the user's cache
//! and runs it; the next call finds it there.

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn xtask_node(path: &str, cache: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["node", "--", "--version"])
        .env("PATH", path)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
}

#[test]
fn an_old_system_node_gets_the_provided_one_in_the_users_cache() {
    let real_node = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v node"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let real_node = real_node.trim();
    assert!(!real_node.is_empty(), "this test needs some node and npm");
    // A Node.js that says it is Debian 12's 18.19 (and otherwise works, so that the system's
    // npm runs on it as it would on Node 18).
    let fake = tempfile_dir("fake-node");
    let script = fake.join("node");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo v18.19.0; exit 0; fi\nexec {real_node} \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    let cache = tempfile_dir("cache");

    let first = xtask_node(&path, &cache);
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(said.contains("this machine has v18.19.0"), "{said}");
    assert!(
        said.trim_end()
            .ends_with(&format!("v{}", xtask::node::PROVIDED)),
        "{said}"
    );
    let dir = cache.join(format!("setget-admin/node-{}", xtask::node::PROVIDED));
    assert!(dir.join("node_modules/npm/bin/npm-cli.js").exists());
    assert!(
        !dir.with_file_name(format!("node-{}.partial", xtask::node::PROVIDED))
            .exists()
    );

    // Found in the cache the next time, without fetching.
    let second = xtask_node(&path, &cache);
    let said = String::from_utf8_lossy(&second.stdout);
    assert_eq!(said.trim(), format!("v{}", xtask::node::PROVIDED));
    let _ = std::fs::remove_dir_all(&fake);
    let _ = std::fs::remove_dir_all(&cache);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
