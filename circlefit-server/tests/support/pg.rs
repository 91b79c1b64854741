//! A throwaway PostgreSQL cluster: `initdb` and `pg_ctl` from Debian's `postgresql` package,
//! run as the `postgres` user when the tests run as root, in a temporary directory, on a
//! free loopback port. Nothing is mocked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian puts the server programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running cluster; stopped when dropped (or, for the shared one, when the test process
/// exits).
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
    /// `listen_addresses`.
    listen: String,
}

/// Whether PostgreSQL's programs are here; when not, the tests that need them are skipped
/// unless `CIRCLEFIT_REQUIRE_POSTGRES` is set (CI sets it), which makes them fail instead.
pub fn available() -> bool {
    let here = Path::new(BIN).join("initdb").exists();
    if !here && std::env::var_os("CIRCLEFIT_REQUIRE_POSTGRES").is_some() {
        panic!(
            "CIRCLEFIT_REQUIRE_POSTGRES is set but {BIN}/initdb is missing (apt-get install postgresql)"
        );
    }
    if !here {
        eprintln!(
            "SKIPPED: PostgreSQL is not installed ({BIN}/initdb); apt-get install postgresql to run this test"
        );
    }
    here
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().nth(1))
            == Some("0")
    })
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Creates and starts a cluster of its own (`None`: PostgreSQL is not installed).
    pub fn start() -> Option<Cluster> {
        Self::start_on(&[])
    }

    /// [`start`](Cluster::start), also listening on `addresses` (a test network's).
    pub fn start_on(addresses: &[&str]) -> Option<Cluster> {
        if !available() {
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "circlefit-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = Cluster {
            dir,
            port: free_port(),
            as_postgres: is_root(),
            listen: std::iter::once("127.0.0.1")
                .chain(addresses.iter().copied())
                .collect::<Vec<_>>()
                .join(","),
        };
        if cluster.as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown");
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        // Test networks (network namespaces on 10.77.0.0/16) may connect too.
        let hba = data.join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).unwrap();
        rules.push_str("host all all 10.77.0.0/16 trust\n");
        std::fs::write(&hba, rules).unwrap();
        cluster.pg_ctl("start");
        Some(cluster)
    }

    /// Runs a server program (as `postgres` when we are root), asserting it succeeds.
    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `pg_ctl start` or `stop` (fast), waiting until it is done.
    pub fn pg_ctl(&self, action: &str) {
        let data = self.dir.join("data");
        let options = format!(
            "-p {} -c listen_addresses={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.listen,
            self.dir.display()
        );
        let log = self.dir.join("log");
        match action {
            "start" => self.run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &options,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "start",
                ],
            ),
            _ => self.run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-m", "fast", "-w", action],
            ),
        }
    }

    /// The URL of a new, empty database `name`.
    pub fn database(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let port = self.port.to_string();
        let host = "127.0.0.1";
        let status = Command::new(Path::new(BIN).join("createdb"))
            .args(["-h", host, "-p", &port, "-U", "postgres", &name])
            .status()
            .unwrap();
        assert!(status.success(), "createdb {name}");
        format!("postgres://postgres@{host}:{port}/{name}")
    }

    /// The URL of database `name` through `address` (a test network's side of the host).
    pub fn url_via(&self, address: &str, name: &str) -> String {
        format!("postgres://postgres@{address}:{}/{name}", self.port)
    }

    /// Starts a shell that waits for this test process to end, then stops the cluster.
    fn stop_after_exit(&self) {
        let data = self.dir.join("data");
        let user = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {user}{BIN}/pg_ctl -D '{data}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = data.display(),
            dir = self.dir.display(),
        );
        // Outlives this process on purpose: it is the one that stops the cluster.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    }

    /// Runs `sql` on database `db` with psql (as the `postgres` role).
    pub fn sql(&self, db: &str, sql: &str) {
        let output = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn stop_now(&self) {
        let data = self.dir.join("data");
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A server program, run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let path = Path::new(BIN).join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.current_dir(&self.dir);
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_now();
    }
}

static SHARED: OnceLock<Option<Cluster>> = OnceLock::new();

/// One cluster for the whole test process (each test makes its own database), stopped by
/// a watchdog shell once the process has exited (statics are never dropped).
pub fn shared() -> Option<&'static Cluster> {
    SHARED
        .get_or_init(|| {
            let cluster = Cluster::start()?;
            cluster.stop_after_exit();
            Some(cluster)
        })
        .as_ref()
}
