//! [`Sshd`]: a throwaway OpenSSH server for `ssh://` git URLs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{BareRepo, current_user, is_root, random_token};
use crate::support::server::{Server, connect};

/// sshd must be started by absolute path (it re-executes itself).
const SSHD: &str = "/usr/sbin/sshd";
/// sshd's privilege-separation dir (Debian's build), needed when run as root.
const PRIVSEP_DIR: &str = "/run/sshd";

/// `/usr/sbin/sshd -D -e -f <tmp>/sshd_config`, listening on
/// `127.0.0.1:P`, with its own ed25519 host key and a config that only
/// reads files in its temp dir:
///
/// ```text
/// ListenAddress 127.0.0.1:P          HostKey <tmp>/host_ed25519
/// PidFile <tmp>/sshd.pid             AuthorizedKeysFile <tmp>/authorized_keys
/// StrictModes no                     UsePAM no
/// PasswordAuthentication no          KbdInteractiveAuthentication no
/// PubkeyAuthentication yes           PermitRootLogin prohibit-password
/// AllowUsers <current user>          VersionAddendum assay-test-<token>
/// SetEnv HOME=<tmp>/home GIT_CONFIG_NOSYSTEM=1
/// MaxStartups 256                    UseDNS no, PrintMotd no, LogLevel INFO
/// ```
///
/// The one authorized key is the client key below. `SetEnv HOME=` keeps the
/// session (the user's login shell running `git-upload-pack` /
/// `git-receive-pack`) away from the real home's `.bashrc` and `.gitconfig`.
/// `MaxStartups` is raised from 10 so 32 parallel pushes are not dropped.
/// Ready when the log says "Server listening on 127.0.0.1 port P." and the
/// port sends a banner `SSH-2.0-...` carrying this instance's token.
pub struct Sshd {
    server: Server,
    user: String,
    tmp: TempDir,
}

impl Sshd {
    /// Generates the keys (host, client, and an unrelated "wrong" host key)
    /// and starts sshd; as root, creates `/run/sshd` first.
    pub fn start() -> Sshd {
        let tmp = tempfile::Builder::new()
            .prefix("sshd-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().to_owned();
        fs::create_dir(dir.join("home")).expect("create home");
        if is_root() {
            fs::create_dir_all(PRIVSEP_DIR).expect("create /run/sshd");
        }
        keygen(
            &dir,
            &["host_ed25519", "client_ed25519", "wrong_host_ed25519"],
        );
        fs::copy(dir.join("client_ed25519.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");

        let user = current_user();
        let token = format!("assay-test-{}", &random_token()[..16]);
        let launch = {
            let (dir, user, token) = (dir.clone(), user.clone(), token.clone());
            move |port: u16| {
                write_config(&dir, port, &user, &token);
                let mut cmd = Command::new(SSHD);
                cmd.env_clear()
                    .arg("-D")
                    .arg("-e")
                    .arg("-f")
                    .arg(dir.join("sshd_config"));
                cmd
            }
        };
        let probe = move |port: u16, log: &str| {
            log.contains(&format!("Server listening on 127.0.0.1 port {port}."))
                && banner_ok(port, &token)
        };
        let server = Server::start(
            "sshd",
            dir.join("sshd.log"),
            Box::new(launch),
            Box::new(probe),
        );
        Sshd { server, user, tmp }
    }

    /// `ssh://<user>@127.0.0.1:P<absolute path of the repo>`.
    pub fn url(&self, repo: &BareRepo) -> String {
        let path = repo.path().canonicalize().expect("repo exists");
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port(),
            path.display()
        )
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The user sshd lets in: whoever runs the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client's private key (ed25519, OpenSSH format, no passphrase).
    pub fn client_private_key(&self) -> String {
        self.read("client_ed25519")
    }

    /// Its public half (`ssh-ed25519 AAAA... client`), the one authorized key.
    pub fn client_public_key(&self) -> String {
        self.read("client_ed25519.pub")
    }

    /// Path of [`Sshd::client_private_key`] (mode 0600, as ssh wants).
    pub fn client_private_key_path(&self) -> PathBuf {
        self.tmp.path().join("client_ed25519")
    }

    /// `[127.0.0.1]:P ssh-ed25519 AAAA...\n`: this server's host key.
    pub fn known_hosts(&self) -> String {
        self.read("known_hosts")
    }

    /// A file holding [`Sshd::known_hosts`].
    pub fn known_hosts_path(&self) -> PathBuf {
        self.tmp.path().join("known_hosts")
    }

    /// A valid known_hosts line for `[127.0.0.1]:P` with a *different*
    /// ed25519 key: a client trusting only this must refuse the server.
    pub fn wrong_known_hosts(&self) -> String {
        self.read("wrong_known_hosts")
    }

    /// A file holding [`Sshd::wrong_known_hosts`].
    pub fn wrong_known_hosts_path(&self) -> PathBuf {
        self.tmp.path().join("wrong_known_hosts")
    }

    /// A `GIT_SSH_COMMAND` for the git CLI: the client key only, host keys
    /// only from `known_hosts` (strict), no user or system ssh config, never
    /// a prompt.
    pub fn ssh_command(&self, known_hosts: &Path) -> String {
        format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} \
             -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes",
            self.client_private_key_path().display(),
            known_hosts.display()
        )
    }

    /// sshd's log (`-e`: one line per connection, auth result, disconnect).
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// sshd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// "Server down": SIGKILL sshd and every session it started.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Starts sshd again on the same port, with the same keys.
    pub fn restart(&self) {
        self.server.restart();
    }

    /// SIGTERM, then SIGKILL whatever is left; the temp dir goes too.
    pub fn stop(self) {
        self.server.stop();
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.tmp.path().join(file)).expect("read sshd file")
    }
}

/// `ssh-keygen -t ed25519 -N ''` for each name in `dir`, in parallel.
fn keygen(dir: &Path, names: &[&str]) {
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(dir.join(name))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run ssh-keygen (openssh-client)")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("ssh-keygen");
        assert!(
            out.status.success(),
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn write_config(dir: &Path, port: u16, user: &str, token: &str) {
    let d = dir.display();
    let config = format!(
        "ListenAddress 127.0.0.1:{port}\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers {user}\n\
         VersionAddendum {token}\n\
         SetEnv HOME={d}/home GIT_CONFIG_NOSYSTEM=1\n\
         MaxStartups 256\n\
         UseDNS no\n\
         PrintMotd no\n\
         LogLevel INFO\n"
    );
    fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
    let host_line = |key: &str| {
        let public = fs::read_to_string(dir.join(format!("{key}.pub"))).expect("read host key");
        let mut fields = public.split_whitespace();
        let (kind, blob) = (
            fields.next().expect("key type"),
            fields.next().expect("key"),
        );
        format!("[127.0.0.1]:{port} {kind} {blob}\n")
    };
    fs::write(dir.join("known_hosts"), host_line("host_ed25519")).expect("write known_hosts");
    fs::write(
        dir.join("wrong_known_hosts"),
        host_line("wrong_host_ed25519"),
    )
    .expect("write known_hosts");
}

/// Reads the server's identification line: `SSH-2.0-...<token>`.
fn banner_ok(port: u16, token: &str) -> bool {
    let Some(mut stream) = connect(port) else {
        return false;
    };
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 255 && !line.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    let line = String::from_utf8_lossy(&line);
    line.starts_with("SSH-2.0-") && line.contains(token)
}
