//! A private PostgreSQL cluster for a run of the tests (or a demo): `initdb` into a folder of
//! its own, the server listening only on a Unix socket in that folder (no TCP port, so runs
//! side by side never meet), stopped and the folder removed on drop. None of the machine's
//! own clusters is used. As root (CI), the cluster runs as the `postgres` user that Debian's
//! package creates, since PostgreSQL refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The Debian package that brings the server and its tools.
pub const PACKAGE: &str = "postgresql";
/// The database, and the role owning it, the cluster is created with.
pub const DATABASE: &str = "setget";
/// The port number, which names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: &str = "5432";

/// A running private cluster; stopped, and its folder removed, on drop.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    /// The postmaster, once started.
    server: Option<Child>,
    /// Stops the cluster and removes its folder if this process dies without doing so
    /// (killed, or interrupted before its `Drop`).
    guard: Option<Child>,
}

impl Cluster {
    /// Creates and starts a cluster in a new folder under the system's temporary folder, and
    /// waits until it accepts connections (at most 30 s).
    pub fn start() -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let user = run_as()?;
        // Removed on drop from here on, whatever fails next.
        let mut cluster = Self {
            dir: cluster_dir(user.is_some())?,
            bin,
            user,
            server: None,
            guard: None,
        };
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid)).with_context(|| {
                format!("handing {} to the postgres user", cluster.dir.display())
            })?;
        }
        let data = cluster.dir.join("data");
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", DATABASE, "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        cluster.run_server()?;
        cluster.guard = Some(cluster.spawn_guard()?);
        let out = cluster
            .command("createdb")
            .arg("-h")
            .arg(&cluster.dir)
            .args(["-p", PORT, "-U", DATABASE, DATABASE])
            .output()
            .context("running createdb")?;
        if !out.status.success() {
            bail!("createdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(cluster)
    }

    /// Starts the postmaster on the cluster's data and waits until it accepts connections
    /// (at most 30 s).
    fn run_server(&mut self) -> anyhow::Result<()> {
        let log_path = self.dir.join("postgres.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(&log_path, Some(uid), Some(gid))?;
        }
        let server = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-k")
            .arg(&self.dir)
            .args(["-p", PORT, "-c", "listen_addresses="])
            // Every test makes a database and each server under test keeps a pool.
            .args(["-c", "max_connections=400"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let exited = match self.server.as_mut() {
                Some(server) => server.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                bail!(
                    "postgres exited at start ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            let ready = self
                .command("pg_isready")
                .arg("-h")
                .arg(&self.dir)
                .args(["-p", PORT, "-U", DATABASE, "-d", "postgres", "-q"])
                .status()?;
            if ready.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("postgres did not accept connections within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A process of the cluster's user that waits for this one to end and then stops the
    /// cluster and removes its folder: a test run or a demo that is killed leaves nothing
    /// running behind.
    fn spawn_guard(&self) -> anyhow::Result<Child> {
        const GUARD: &str = r#"
            owner=$1 pg_ctl=$2 data=$3 dir=$4
            while [ -e "/proc/$owner" ]; do sleep 1; done
            "$pg_ctl" -D "$data" stop -m fast -w >/dev/null 2>&1
            rm -rf "$dir"
        "#;
        let mut cmd = self.as_cluster_user(Command::new("sh"));
        cmd.args(["-c", GUARD, "setget-postgres-guard"])
            .arg(std::process::id().to_string())
            .arg(self.bin.join("pg_ctl"))
            .arg(self.dir.join("data"))
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Not in this process's folder: it removes it.
        cmd.current_dir("/");
        cmd.spawn().context("starting the cluster's guard")
    }

    /// Stops the server (a fast shutdown: sessions are cut, the data is written); the data
    /// stays for [`Cluster::start_again`].
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["stop", "-m", "fast", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = server.kill();
        }
        server.wait()?;
        Ok(())
    }

    /// Starts a stopped server again on the same data and socket.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        self.run_server()
    }

    /// The folder holding the socket (libpq's `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A connection URL for the cluster's database, through its socket only: no host in the
    /// authority, since a client keeps one there (`localhost`) beside `?host=` and tries it
    /// first over TCP.
    pub fn url(&self) -> String {
        format!(
            "postgresql:///{DATABASE}?user={DATABASE}&host={}&port={PORT}",
            self.dir.display()
        )
    }

    /// `psql` on the cluster's database, running `sql` and answering its unaligned output.
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                PORT,
                "-U",
                DATABASE,
                "-d",
                DATABASE,
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-tAc", sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// One of the cluster's programs, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let mut cmd = self.as_cluster_user(Command::new(self.bin.join(program)));
        cmd.current_dir(&self.dir);
        cmd
    }

    /// `cmd`, to run as the cluster's user.
    fn as_cluster_user(&self, mut cmd: Command) -> Command {
        if let Some((uid, gid)) = self.user {
            use std::os::unix::process::CommandExt as _;
            cmd.uid(uid).gid(gid);
        }
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
        if let Some(mut guard) = self.guard.take() {
            let _ = guard.kill();
            let _ = guard.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's programs (`/usr/lib/postgresql/<major>/bin`).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let base = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(base)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    match newest {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL server under {} (`cargo xtask test` installs the `{PACKAGE}` package)",
            base.display()
        ),
    }
}

/// The user and group to run the cluster as: the `postgres` user when this process is root,
/// else this process's own (None).
fn run_as() -> anyhow::Result<Option<(u32, u32)>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .context("no effective uid in /proc/self/status")?;
    if euid != "0" {
        return Ok(None);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        if !out.status.success() {
            bail!("as root, the cluster runs as the `postgres` user, which does not exist");
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// A new folder of this process's under the temporary folder, for the cluster alone: `/tmp`
/// when the cluster runs as another user (root's `TMPDIR` may be closed to it), and short
/// enough for the socket's path (at most 107 bytes).
fn cluster_dir(other_user: bool) -> anyhow::Result<PathBuf> {
    let base = if other_user {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    if base.as_os_str().len() > 60 {
        bail!(
            "the temporary folder {} is too long a path for PostgreSQL's socket",
            base.display()
        );
    }
    fresh_dir(&base, "setget-postgres-")
}

/// A new folder of this process's under `base`, named `<prefix><pid>-<n>` and open to its
/// owner alone.
pub fn fresh_dir(base: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    for i in 0..1000u32 {
        let dir = base.join(format!("{prefix}{}-{i}", std::process::id()));
        if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
            return Ok(dir);
        }
    }
    bail!("could not create a temporary folder in {}", base.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster of its own: it answers on its socket as the owner of its database, two run
    /// side by side, and nothing of it is left after it stops.
    #[test]
    fn a_private_cluster_answers_on_its_own_socket_and_leaves_nothing_behind() {
        let (a, b) = (Cluster::start().unwrap(), Cluster::start().unwrap());
        assert_ne!(a.socket_dir(), b.socket_dir());
        for cluster in [&a, &b] {
            assert_eq!(
                cluster
                    .psql("SELECT current_user || ' ' || current_database()")
                    .unwrap(),
                format!("{DATABASE} {DATABASE}")
            );
            assert!(
                cluster
                    .socket_dir()
                    .join(format!(".s.PGSQL.{PORT}"))
                    .exists()
            );
            // No TCP listener.
            assert_eq!(cluster.psql("SHOW listen_addresses").unwrap(), "");
            // The URL reaches the same database, through the socket alone.
            let out = Command::new(cluster.bin.join("psql"))
                .arg(cluster.url())
                .args([
                    "-tAc",
                    "SELECT current_database(), inet_server_addr() IS NULL",
                ])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                format!("{DATABASE}|t"),
                "{out:?}"
            );
            assert!(!cluster.url().contains("localhost"));
        }
        a.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
            .unwrap();
        assert!(b.psql("SELECT n FROM t").is_err());
        let dir = a.socket_dir().to_owned();
        drop(a);
        assert!(!dir.exists());
    }

    /// A process killed with its cluster running leaves nothing: its guard stops the cluster
    /// and removes the folder. (The test runs itself again as that process.)
    #[test]
    fn a_killed_owner_leaves_no_cluster_behind() {
        const CHILD: &str = "SETGET_PG_CLUSTER_TEST_CHILD";
        if let Some(report) = std::env::var_os(CHILD) {
            let cluster = Cluster::start().unwrap();
            std::fs::write(report, cluster.socket_dir().as_os_str().as_encoded_bytes()).unwrap();
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        let scratch = tempfile_dir();
        let report = scratch.join("cluster");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::a_killed_owner_leaves_no_cluster_behind"])
            .env(CHILD, &report)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let dir = loop {
            if let Ok(text) = std::fs::read_to_string(&report)
                && !text.is_empty()
            {
                break PathBuf::from(text);
            }
            assert!(Instant::now() < deadline, "the child started no cluster");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(dir.join("data").exists());
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while dir.exists() {
            assert!(
                Instant::now() < deadline,
                "{} is still there",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir_all(scratch);
    }

    /// A folder of this test's own.
    fn tempfile_dir() -> PathBuf {
        fresh_dir(&std::env::temp_dir(), "setget-pg-cluster-test-").unwrap()
    }
}
