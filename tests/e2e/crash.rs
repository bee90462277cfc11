//! A sync killed with SIGKILL at random moments, again and again: after each restart the
//! cache ends equal to the server, with no hole and no duplicate in the audit log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::Rng as _;
use setget_core::cache::{Cache, CacheKey};
use setget_core::secret::{KeyringStore, SecretStore as _};
use setget_e2e::{Browser, ServerProcess, built_binary, snapshot};

const OWNER: &str = "owner@bench.test";
const PASSWORD: &str = "setget-bench";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

fn spawnable(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(built_binary("setget-admin").unwrap());
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_twenty_times_at_random_moments_ends_equal_to_the_server() {
    let server = ServerProcess::start_seeded(100, 1_000, 40_000).unwrap();
    let checker = Browser::new(
        server
            .browser_sign_in(OWNER, PASSWORD, FIREFOX, "81.2.69.142")
            .await
            .unwrap(),
        FIREFOX,
        "81.2.69.142",
    );
    let home = tempfile::tempdir().unwrap();
    let out = crate::cli::sign_in_cli(home.path(), &server.url, OWNER, PASSWORD);
    assert!(out.status.success());
    let key_name = format!("cache-key|{}|bench", server.url);

    let mut rng = rand::rng();
    let mut killed_mid_first_sync = 0;
    for round in 0..20 {
        // Time passes on the server between runs: sessions expire, so every run has changes
        // to catch up on besides the sign-ins below, and every run starts by rotating the
        // token — so kills also land between a rotation and its keyring write, which must
        // not cost the session (the server rotates again from the old token as long as the
        // new one was never used).
        server.advance_clock(3600).await.unwrap();
        // The comparison below reads as the checker: its activity after an hour is a change
        // of its session, made here, before the sync runs, rather than during the check.
        let _: serde_json::Value = checker.get(&server.url, "/api/users/me/").await.unwrap();
        let mut sync = spawnable(home.path(), &["sync"]).spawn().unwrap();
        // Traffic while it runs: new sign-ins (sessions and audit events).
        for _ in 0..rng.random_range(0..3) {
            let ip = format!("89.160.20.{}", rng.random_range(1..250));
            server
                .browser_sign_in(OWNER, PASSWORD, FIREFOX, &ip)
                .await
                .unwrap();
        }
        // The first run has 40,000 events to fetch: kill it in the middle of that.
        let moment = if round == 0 { 100..500 } else { 0..700 };
        tokio::time::sleep(Duration::from_millis(rng.random_range(moment))).await;
        sync.kill().unwrap(); // SIGKILL
        let status = sync.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the sync had already stopped"
        );

        let before = cached_events(home.path(), &key_name);
        if before.is_some_and(|n| n < 40_000) {
            killed_mid_first_sync += 1;
        }
        let out = spawnable(home.path(), &["sync", "--once"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = snapshot(&server.url, "bench", &checker).await.unwrap();
        let cache = open_cache(home.path(), &key_name).unwrap();
        assert!(cache.integrity_ok().unwrap(), "round {round}");
        let cursors = cache.cursors().unwrap();
        let events = cache.audit_range(1, i64::MAX).unwrap();
        assert_eq!(events.len() as i64, cursors.audit_seq, "round {round}");
        same(&events, &expected.audit, round);
        same(&cache.all_sessions().unwrap(), &expected.sessions, round);
    }
    // The first kill did hit the first sync, not an idle follower.
    assert_eq!(killed_mid_first_sync, 1);
}

/// Asserts equality, printing only the first difference (the lists are long).
fn same<T: PartialEq + std::fmt::Debug>(cache: &[T], server: &[T], round: usize) {
    if let Some(i) = (0..cache.len().max(server.len())).find(|&i| cache.get(i) != server.get(i)) {
        panic!(
            "round {round}: cache and server differ at {i} of {} / {}:\ncache:  {:?}\nserver: {:?}",
            cache.len(),
            server.len(),
            cache.get(i),
            server.get(i)
        );
    }
}

fn cache_file(home: &Path) -> Option<std::path::PathBuf> {
    let dir = home.join("data/dev.setget.admin/caches");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
}

fn open_cache(home: &Path, key_name: &str) -> Option<Cache> {
    let key = KeyringStore.load(key_name).ok()??;
    Cache::open(&cache_file(home)?, &CacheKey::from_stored(key).ok()?).ok()
}

fn cached_events(home: &Path, key_name: &str) -> Option<u64> {
    open_cache(home, key_name).and_then(|c| c.counts().ok().map(|c| c.audit_events))
}
