//! The real `setget-server` binary over HTTP.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;
use setget_server::store::Database;
use setget_server::store::testing::{database_at, schema_version, set_schema_version};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    /// The folder of a PostgreSQL server's log key when the test named none.
    _key_dir: Option<tempfile::TempDir>,
}

/// Reads the child's stdout up to its `listening on` line, returns the URL, and keeps draining
/// the rest in the background so that later lines never meet a closed pipe.
pub(crate) fn listening_url(child: &mut Child) -> String {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no listening line"
        );
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    url
}

impl Server {
    /// A server on the test's database at `db`: that SQLite file, or its PostgreSQL
    /// counterpart when the suite runs on PostgreSQL (see `database_at`).
    pub(crate) fn start(db: &Path, dev: bool) -> Self {
        Self::start_on(db, dev, "127.0.0.1:0")
    }

    /// The same on another listening address (`[::]:0` for a dual-stack socket).
    pub(crate) fn start_on(db: &Path, dev: bool, listen: &str) -> Self {
        Self::start_with(db, dev, listen, &[])
    }

    /// The same with more arguments to `serve`.
    pub(crate) fn start_with(db: &Path, dev: bool, listen: &str, args: &[&str]) -> Self {
        Self::start_database(&database_at(db), dev, listen, args)
    }

    /// A server on exactly `db`. On PostgreSQL, which keeps no file to put the log key
    /// beside, a key of its own unless `args` name one.
    pub(crate) fn start_database(db: &Database, dev: bool, listen: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_setget-server"));
        cmd.args(["serve", "--listen", listen, "--db"])
            .arg(db.as_arg())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped());
        if dev {
            cmd.arg("--dev");
        }
        let key_dir = (matches!(db, Database::Postgres(_)) && !args.contains(&"--log-key"))
            .then(|| tempfile::tempdir().unwrap());
        if let Some(dir) = &key_dir {
            cmd.arg("--log-key").arg(dir.path().join("log-key"));
        }
        let mut child = cmd.spawn().unwrap();
        let url = listening_url(&mut child);
        Self {
            child,
            url,
            _key_dir: key_dir,
        }
    }
}

impl Server {
    /// A server the test started itself, once it listens at `url`.
    pub(crate) fn adopt(child: Child, url: String) -> Self {
        Self {
            child,
            url,
            _key_dir: None,
        }
    }

    /// The server process's id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident memory so far (`VmHWM`), in MiB.
    pub(crate) fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            / 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn healthz_answers_and_unknown_paths_are_json_404s() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("s.db"), false);
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let missing = client
        .get(format!("{}/nope/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn an_acknowledged_sign_in_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let client = reqwest::Client::new();
    let token = {
        let server = Server::start(&db, true);
        let created = client
            .post(format!("{}/api/_dev/workspaces/", server.url))
            .json(&json!({"slug": "durable", "name": "Durable", "members": [
                {"email": "o@durable.test", "password": "pw-durable", "role": "owner", "display_name": "O"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let signed = client
            .post(format!("{}/auth/sign-in/", server.url))
            .json(&json!({"email": "o@durable.test", "password": "pw-durable", "medium": "email"}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
        let token = cookie_token(signed.headers());
        // `Drop` kills with SIGKILL right after the answer: no graceful shutdown.
        token
    };
    let server = Server::start(&db, false);
    let me = client
        .get(format!("{}/api/users/me/", server.url))
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["workspace"]["slug"], "durable");
}

/// Signs the owner of the `seed-bench` workspace in at `url`; answers the session token.
pub(crate) async fn bench_owner_token(client: &reqwest::Client, url: &str) -> String {
    use setget_server::seed::{BENCH_OWNER, BENCH_PASSWORD};
    let signed = client
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": BENCH_OWNER, "password": BENCH_PASSWORD, "medium": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    cookie_token(signed.headers())
}

/// `GET url` with `token` as the session cookie, its JSON body.
pub(crate) async fn get_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> serde_json::Value {
    let answer = client
        .get(url)
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{url}: {}", answer.status());
    answer.json().await.unwrap()
}

/// Creates the dev workspace `slug` on the dev-mode server at `url`, with an owner and a
/// member, each `(email, password)`.
pub(crate) async fn owner_and_member(
    url: &str,
    slug: &str,
    (owner, owner_password): (&str, &str),
    (member, member_password): (&str, &str),
) {
    let created = reqwest::Client::new()
        .post(format!("{url}/api/_dev/workspaces/"))
        .json(&json!({"slug": slug, "name": slug, "members": [
            {"email": owner, "password": owner_password, "role": "owner", "display_name": "O"},
            {"email": member, "password": member_password, "role": "member", "display_name": "Ada"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

pub(crate) fn cookie_token(headers: &reqwest::header::HeaderMap) -> String {
    headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("setget_session=")
        .to_owned()
}

#[tokio::test]
async fn seed_bench_writes_a_consistent_workspace_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let status = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args([
            "seed-bench",
            "--members",
            "50",
            "--sessions",
            "2000",
            "--events",
            "3000",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // A second run refuses to overwrite it.
    let again = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["seed-bench", "--db"])
        .arg(&db)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!again.success());

    let server = Server::start_database(&Database::Sqlite(db.clone()), false, "127.0.0.1:0", &[]);
    let client = reqwest::Client::new();
    let token = bench_owner_token(&client, &server.url).await;
    let get = |path: &str| {
        client
            .get(format!("{}{path}", server.url))
            .header("cookie", format!("setget_session={token}"))
            .send()
    };
    let members: serde_json::Value = get("/api/workspaces/bench/members/?per_page=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["total"], 50);
    let log: serde_json::Value = get("/api/workspaces/bench/audit-logs/?after=2999")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The 3000 seeded events, then the owner's sign-in, with no gap.
    assert_eq!(log["results"][0]["seq"], 3000);
    assert_eq!(log["results"][1]["seq"], 3001);
    assert_eq!(log["results"][1]["event"], "session.signed_in");
    let feed: serde_json::Value =
        get("/api/workspaces/bench/sessions/?changed_after=0&per_page=1000")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(feed["total"], 2001);
    let active: serde_json::Value = get("/api/workspaces/bench/sessions/?status=active&per_page=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let active = active["total"].as_u64().unwrap();
    assert!((300..1500).contains(&active), "{active} active of 2001");
}

/// Writes a MaxMind DB with one /24 per record.
fn write_mmdb(path: &Path, database_type: &str, records: &[(&str, serde_json::Value)]) {
    use maxminddb_writer::Database;
    use maxminddb_writer::paths::IpAddrWithMask;
    let mut db = Database::default();
    db.metadata.binary_format_major_version = 2;
    db.metadata.database_type = database_type.into();
    for (network, record) in records {
        let data = db.insert_value(record.clone()).unwrap();
        db.insert_node(network.parse::<IpAddrWithMask>().unwrap(), data);
    }
    let file = std::fs::File::create(path).unwrap();
    db.write_to(file).unwrap();
}

/// A record of the flat layout, with 32-bit coordinates as the npm databases have them.
#[derive(serde::Serialize, Clone)]
struct FlatRecord {
    city: &'static str,
    state1: &'static str,
    country_code: &'static str,
    latitude: f32,
    longitude: f32,
}

/// Creates the dev workspace `slug` with its owner `o@<slug>.test` (password `pw-<slug>`).
async fn owner_of(url: &str, slug: &str) {
    let created = reqwest::Client::new()
        .post(format!("{url}/api/_dev/workspaces/"))
        .json(&json!({"slug": slug, "name": slug, "members": [
            {"email": format!("o@{slug}.test"), "password": format!("pw-{slug}"),
             "role": "owner", "display_name": "O"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// The session of the owner of `slug` (see [`owner_of`]) signed in from `ip`.
async fn session_from(url: &str, slug: &str, ip: &str) -> serde_json::Value {
    let signed: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/auth/sign-in/"))
        .header("x-forwarded-for", ip)
        .json(
            &json!({"email": format!("o@{slug}.test"), "password": format!("pw-{slug}"),
                      "medium": "email"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    signed["session"].clone()
}

#[tokio::test]
async fn geoip_files_of_both_layouts_and_the_bundled_table_locate_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let flat = dir.path().join("flat.mmdb");
    let city = serde_json::to_value(FlatRecord {
        city: "Lyon",
        state1: "Auvergne-Rhone-Alpes",
        country_code: "FR",
        latitude: 45.764,
        longitude: 4.8357,
    })
    .unwrap();
    write_mmdb(&flat, "DBIP-City-Lite", &[("192.0.2.0/24", city)]);
    let geoip2 = dir.path().join("geoip2.mmdb");
    write_mmdb(
        &geoip2,
        "GeoIP2-City",
        &[(
            "198.51.100.0/24",
            json!({
                "city": {"names": {"en": "Osaka"}},
                "subdivisions": [{"names": {"en": "Osaka"}}],
                "country": {"names": {"en": "Japan"}, "iso_code": "JP"},
                "location": {"latitude": 34.6937, "longitude": 135.5023}
            }),
        )],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("s.db"))
        .arg("--geoip")
        .arg(&flat)
        .arg("--geoip")
        .arg(&geoip2)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = listening_url(&mut child);
    let server = Server::adopt(child, url);
    owner_of(&server.url, "geo").await;
    let place = |ip: &'static str| {
        let url = server.url.clone();
        async move { session_from(&url, "geo", ip).await["location"].clone() }
    };
    let lyon = place("192.0.2.77").await;
    assert_eq!(lyon["city"], "Lyon");
    assert_eq!(lyon["region"], "Auvergne-Rhone-Alpes");
    assert_eq!(lyon["country_code"], "FR");
    assert_eq!(lyon["latitude"], 45.764);
    let osaka = place("198.51.100.9").await;
    assert_eq!(osaka["city"], "Osaka");
    assert_eq!(osaka["country"], "Japan");
    assert_eq!(osaka["country_code"], "JP");
    // Not in the files: the bundled DB-IP table answers.
    let london = place("81.2.69.142").await;
    assert_eq!(london["city"], "London");
    assert_eq!(london["country_code"], "GB");
    // Nowhere: no location.
    assert_eq!(place("10.1.2.3").await, serde_json::Value::Null);
}

#[test]
fn a_missing_or_broken_geoip_file_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.mmdb");
    std::fs::write(&broken, b"not a database").unwrap();
    for file in [dir.path().join("missing.mmdb"), broken] {
        let out = Command::new(env!("CARGO_BIN_EXE_setget-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.path().join("s.db"))
            .arg("--geoip")
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not a readable MaxMind DB file"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn the_demo_command_serves_the_seeded_workspace_with_the_documented_credentials() {
    // The database in a folder the test owns: the killed process cannot clean up its own.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--traffic-interval",
            "1h",
        ])
        .arg("--db")
        .arg(dir.path().join("demo.db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = listening_url(&mut child);
    let server = Server::adopt(child, url);
    let client = reqwest::Client::new();
    let signed = client
        .post(format!("{}/auth/sign-in/", server.url))
        .json(&json!({"email": "owner@acme.test", "password": "setget-demo", "medium": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let token = cookie_token(signed.headers());
    let members = get_json(
        &client,
        &format!("{}/api/workspaces/acme/members/?per_page=1", server.url),
        &token,
    )
    .await;
    assert_eq!(members["total"], 50);
    // Dev routes are on.
    let clock = client
        .get(format!("{}/api/_dev/clock/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(clock.status(), 200);
}

#[test]
fn migrate_brings_a_database_to_this_servers_schema_and_a_newer_one_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_at(&dir.path().join("s.db"));
    let server = || Command::new(env!("CARGO_BIN_EXE_setget-server"));
    let latest = db.schema_version_written();
    let named = match &db {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(_) => "the PostgreSQL database".to_owned(),
    };
    // A new database: brought to this server's schema; migrating again changes nothing. The
    // database is named by `--db` or by SETGET_DATABASE_URL.
    let out = server()
        .args(["migrate", "--db"])
        .arg(db.as_arg())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{named}: schema version 0 -> {latest}")
    );
    assert_eq!(schema_version(&db), latest);
    let out = server()
        .arg("migrate")
        .env("SETGET_DATABASE_URL", db.as_arg())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("schema version {latest} -> {latest}")),
        "{out:?}"
    );
    // An address of another kind is not a file name: refused, and no file made of it.
    let files = || std::fs::read_dir(dir.path()).unwrap().count();
    let before = files();
    for address in ["mysql://localhost/setget", "sqlite:s.db"] {
        let out = server()
            .args(["migrate", "--db", address])
            .current_dir(dir.path())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{address}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--db takes the path of a SQLite file or a postgres:// address"),
            "{stderr}"
        );
        assert_eq!(files(), before, "{address}");
    }
    // A database a later server wrote: neither migrate nor serve touch it.
    set_schema_version(&db, latest + 1);
    let snapshot = || match &db {
        Database::Sqlite(path) => std::fs::read(path).unwrap(),
        Database::Postgres(_) => Vec::new(),
    };
    let before = snapshot();
    let key = dir.path().join("log-key");
    let key = key.to_str().unwrap();
    for args in [
        &["migrate"][..],
        &["serve", "--listen", "127.0.0.1:0", "--log-key", key][..],
    ] {
        let out = server()
            .args(args)
            .arg("--db")
            .arg(db.as_arg())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "has schema version {}, newer than this setget-server's ({latest})",
                latest + 1
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(schema_version(&db), latest + 1);
        assert_eq!(snapshot(), before, "{args:?}");
    }
}

#[tokio::test]
async fn a_dev_clock_can_start_in_the_past_and_only_in_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let start = "2026-01-02T03:04:05Z";
    // Outside dev mode the flag is refused before anything starts.
    let out = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--dev-clock-start",
            start,
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--dev"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start_with(&db, true, "127.0.0.1:0", &["--dev-clock-start", start]);
    let clock: serde_json::Value = reqwest::get(format!("{}/api/_dev/clock/", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();
    let started: chrono::DateTime<chrono::Utc> = start.parse().unwrap();
    // It runs on from the start (a few seconds at most have passed).
    assert!(
        now >= started && now - started < chrono::Duration::seconds(60),
        "{clock}"
    );
}

#[tokio::test]
async fn asn_files_of_both_kinds_and_the_bundled_table_name_the_network_of_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let ranges = dir.path().join("asn-ipv4.csv");
    std::fs::write(
        &ranges,
        "192.0.2.0,192.0.2.255,64500,\"Example Carrier, Ltd.\"\n",
    )
    .unwrap();
    let mmdb = dir.path().join("GeoLite2-ASN.mmdb");
    write_mmdb(
        &mmdb,
        "GeoLite2-ASN",
        &[(
            "198.51.100.0/24",
            json!({"autonomous_system_number": 64501, "autonomous_system_organization": "Example Hosting"}),
        )],
    );
    // A file that is neither stops the server with a clear message.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "no ranges here\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("broken.db"))
        .arg("--asn")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "is neither a MaxMind DB (GeoLite2-ASN) nor an @ip-location-db/asn range file"
        ),
        "{stderr}"
    );

    let db = dir.path().join("s.db");
    let (ranges, mmdb) = (ranges.to_string_lossy(), mmdb.to_string_lossy());
    let server = Server::start_with(
        &db,
        true,
        "127.0.0.1:0",
        &["--asn", &ranges, "--asn", &mmdb],
    );
    owner_of(&server.url, "asn").await;
    let network = |ip: &'static str| {
        let url = server.url.clone();
        async move {
            let session = session_from(&url, "asn", ip).await;
            (session["asn"].clone(), session["as_org"].clone())
        }
    };
    assert_eq!(
        network("192.0.2.7").await,
        (json!(64500), json!("Example Carrier, Ltd."))
    );
    assert_eq!(
        network("198.51.100.7").await,
        (json!(64501), json!("Example Hosting"))
    );
    // Not in the files: the bundled table answers; nowhere: none.
    assert_eq!(network("1.1.1.1").await.0, json!(13335));
    assert_eq!(network("10.1.2.3").await, (json!(null), json!(null)));
}
