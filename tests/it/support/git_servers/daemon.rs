//! [`GitDaemon`]: `git daemon` serving a root over `git://`, pushes enabled.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{BareRepo, clean_env, git_exec_path, path_under};
use crate::support::server::{Server, connect};

/// `git daemon --listen=127.0.0.1 --port=P --base-path=<root> --export-all
/// --enable=receive-pack --reuseaddr --max-connections=0 --informative-errors
/// --verbose <root>`, run as `<git --exec-path>/git-daemon` so that the pid
/// is the daemon's own (not a `git` wrapper's).
///
/// `--max-connections=0`: the default (32) makes git daemon kill a live
/// connection from the same address when a 33rd arrives, which would break
/// the 32-way race. `--verbose` logs "Ready to rumble" once the port is
/// bound: the readiness marker.
pub struct GitDaemon {
    // Field order: the server dies before its temp dir goes.
    server: Server,
    root: PathBuf,
    tmp: TempDir,
}

impl GitDaemon {
    /// Starts a daemon serving every repository under `root` (normally
    /// `repo.root()`), waiting until it accepts connections.
    pub fn start(root: &Path) -> GitDaemon {
        let tmp = tempfile::Builder::new()
            .prefix("git-daemon-")
            .tempdir()
            .expect("temp dir");
        let root = root.canonicalize().expect("served root exists");
        let home = tmp.path().to_owned();
        let served = root.clone();
        let launch = move |port: u16| {
            let mut cmd = Command::new(git_exec_path().join("git-daemon"));
            clean_env(&mut cmd, &home);
            cmd.arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", served.display()))
                .args([
                    "--export-all",
                    "--enable=receive-pack",
                    "--reuseaddr",
                    "--max-connections=0",
                    "--informative-errors",
                    "--verbose",
                ])
                .arg(&served);
            cmd
        };
        let probe =
            |port: u16, log: &str| log.contains("Ready to rumble") && connect(port).is_some();
        let server = Server::start(
            "git daemon",
            tmp.path().join("daemon.log"),
            Box::new(launch),
            Box::new(probe),
        );
        GitDaemon { server, root, tmp }
    }

    /// `git://127.0.0.1:P/<name>.git`; panics if `repo` is not under the
    /// served root.
    pub fn url(&self, repo: &BareRepo) -> String {
        let rel = path_under(&self.root, repo, "git daemon");
        format!("git://127.0.0.1:{}/{rel}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The daemon's log (one line per connection and request).
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// "Server down": SIGKILL the daemon and its children (cutting any
    /// transfer in flight). Connections to the port are refused from then on,
    /// until [`GitDaemon::restart`]. Idempotent; callable from any thread.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Starts the daemon again on the same port (after [`GitDaemon::kill`]).
    pub fn restart(&self) {
        self.server.restart();
    }

    /// SIGTERM, then SIGKILL whatever is left after a grace period; the temp
    /// dir goes too. Dropping does the same without the SIGTERM.
    pub fn stop(self) {
        self.server.stop();
    }

    /// The daemon's scratch dir (its `HOME` and log).
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }
}
