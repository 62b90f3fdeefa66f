//! [`HttpGit`]: `git http-backend` (CGI) behind lighttpd with basic auth,
//! over HTTPS with a throwaway CA (or plain HTTP).
//!
//! Why lighttpd and not Apache: CI runs the tests as root, and Apache
//! refuses `User root` ("Apache has not been designed to serve pages while
//! running as root", unless rebuilt with `-DBIG_SECURITY_HOLE`); started as
//! root it always drops its children (and so the CGI) to another user, who
//! then cannot write the root-owned repos in the test's temp dir without
//! chmod, `core.sharedRepository` and `safe.directory` workarounds.
//! lighttpd runs as whoever starts it, in one process, starts in
//! milliseconds, and has everything needed built in or packaged
//! (`mod_cgi`, `mod_alias`, `mod_setenv`, `mod_auth` + `mod_authn_file`,
//! `mod_openssl` from `lighttpd-mod-openssl`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use super::{BareRepo, clean_env, git_exec_path, path_under, random_token};
use crate::support::server::{PROBE_TIMEOUT, Server, connect, exchange, run_with_timeout};

const LIGHTTPD: &str = "/usr/sbin/lighttpd";
/// The one account basic auth accepts.
const USERNAME: &str = "assay-bot";

/// `lighttpd -D -f <tmp>/lighttpd.conf` on `127.0.0.1:P`:
///
/// ```text
/// server.modules = (mod_openssl, mod_auth, mod_authn_file, mod_alias, mod_setenv, mod_cgi)
/// server.tag = "assay-test-<token>"                  # checked by the readiness probe
/// ssl.engine = "enable"; ssl.pemfile/ssl.privkey      # HTTPS only: cert for IP 127.0.0.1
/// alias.url = ("/git/" => "<git --exec-path>/git-http-backend/")
/// $HTTP["url"] =~ "^/git/" {
///   cgi.assign = ("" => "")
///   setenv.set-environment = (GIT_PROJECT_ROOT => <root>, GIT_HTTP_EXPORT_ALL => 1,
///                             GIT_CONFIG_NOSYSTEM => 1, HOME => <tmp>/home, PATH => ...)
///   auth.backend = "plain"; auth.backend.plain.userfile = <tmp>/users
///   auth.require = ("" => (method => basic, realm => git, require => valid-user))
/// }
/// ```
///
/// Every `/git/` request needs the user and password (fetches too); a wrong
/// one gets 401. Pushes work because git-http-backend enables receive-pack
/// for authenticated requests (`REMOTE_USER` set by mod_auth). The password
/// is random per server, so a test can grep outputs for it.
///
/// HTTPS: a throwaway CA (`ca.pem`, EC P-256) and a server certificate for
/// `IP:127.0.0.1` signed by it, made with the `openssl` CLI. Clients trust it
/// with `GIT_SSL_CAINFO=<ca_cert_path>` (git CLI) or the equivalent.
///
/// Ready when the log says "server started" and `GET /git/` answers with
/// this instance's `Server:` tag (over TLS: `openssl s_client` verifying
/// the chain against the CA).
pub struct HttpGit {
    server: Server,
    root: PathBuf,
    tls: bool,
    password: String,
    tmp: TempDir,
}

impl HttpGit {
    /// HTTPS: serves every repository under `root` (normally `repo.root()`)
    /// at `https://127.0.0.1:P/git/<name>.git`.
    pub fn start(root: &Path) -> HttpGit {
        HttpGit::launch(root, true)
    }

    /// The same over plain HTTP (`http://127.0.0.1:P/git/<name>.git`), no CA.
    pub fn start_http(root: &Path) -> HttpGit {
        HttpGit::launch(root, false)
    }

    fn launch(root: &Path, tls: bool) -> HttpGit {
        let tmp = tempfile::Builder::new()
            .prefix("http-git-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().to_owned();
        for sub in ["home", "www", "upload"] {
            fs::create_dir(dir.join(sub)).expect("create dir");
        }
        let root = root.canonicalize().expect("served root exists");
        let password = format!("pw-{}", random_token());
        fs::write(dir.join("users"), format!("{USERNAME}:{password}\n")).expect("write users");
        if tls {
            make_certificates(&dir);
        }
        let tag = format!("assay-test-{}", &random_token()[..16]);
        let launch = {
            let (dir, root, tag) = (dir.clone(), root.clone(), tag.clone());
            move |port: u16| {
                write_config(&dir, &root, port, tls, &tag);
                let mut cmd = Command::new(LIGHTTPD);
                clean_env(&mut cmd, &dir.join("home"));
                cmd.arg("-D").arg("-f").arg(dir.join("lighttpd.conf"));
                cmd
            }
        };
        let ca = dir.join("ca.pem");
        let probe = move |port: u16, log: &str| {
            log.contains("server started")
                && connect(port).is_some()
                && answers(port, tls, &ca, &tag)
        };
        let name = if tls {
            "lighttpd (https)"
        } else {
            "lighttpd (http)"
        };
        let server = Server::start(
            name,
            dir.join("lighttpd.log"),
            Box::new(launch),
            Box::new(probe),
        );
        HttpGit {
            server,
            root,
            tls,
            password,
            tmp,
        }
    }

    /// `https://127.0.0.1:P/git/<name>.git` (`http://` for
    /// [`HttpGit::start_http`]), without credentials.
    pub fn url(&self, repo: &BareRepo) -> String {
        let rel = path_under(&self.root, repo, "HttpGit");
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/git/{rel}", self.port())
    }

    /// [`HttpGit::url`] with `user:password@` in it (for the git CLI).
    pub fn url_with_credentials(&self, repo: &BareRepo, username: &str, password: &str) -> String {
        let url = self.url(repo);
        let (scheme, rest) = url.split_once("://").expect("scheme");
        format!("{scheme}://{username}:{password}@{rest}")
    }

    /// The one user basic auth accepts.
    pub fn username(&self) -> &str {
        USERNAME
    }

    /// That user's password (random per server).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The throwaway CA certificate (PEM) that signed the server's; panics
    /// for a plain HTTP server.
    pub fn ca_cert_path(&self) -> PathBuf {
        assert!(self.tls, "a plain HTTP server has no CA");
        self.tmp.path().join("ca.pem")
    }

    /// The CA certificate's PEM text.
    pub fn ca_cert_pem(&self) -> String {
        fs::read_to_string(self.ca_cert_path()).expect("read ca.pem")
    }

    pub fn is_https(&self) -> bool {
        self.tls
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// lighttpd's log, with git-http-backend's stderr and failed logins
    /// ("password doesn't match for ...").
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// lighttpd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// "Server down": SIGKILL lighttpd and any CGI in flight.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Starts lighttpd again on the same port, same certificates and password.
    pub fn restart(&self) {
        self.server.restart();
    }

    /// SIGTERM, then SIGKILL whatever is left; the temp dir goes too.
    pub fn stop(self) {
        self.server.stop();
    }
}

/// `<git --exec-path>/git-http-backend` (Debian: `/usr/lib/git-core`).
fn http_backend() -> PathBuf {
    git_exec_path().join("git-http-backend")
}

fn write_config(dir: &Path, root: &Path, port: u16, tls: bool, tag: &str) {
    let d = dir.display();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let ssl = if tls {
        format!(
            "ssl.engine = \"enable\"\nssl.pemfile = \"{d}/server.pem\"\nssl.privkey = \"{d}/server.key\"\n"
        )
    } else {
        String::new()
    };
    let config = format!(
        r#"server.modules = ("mod_openssl", "mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi")
server.document-root = "{d}/www"
server.upload-dirs = ("{d}/upload")
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{d}/lighttpd.pid"
server.tag = "{tag}"
{ssl}alias.url = ("/git/" => "{backend}/")
$HTTP["url"] =~ "^/git/" {{
  cgi.assign = ("" => "")
  setenv.set-environment = (
    "GIT_PROJECT_ROOT" => "{root}",
    "GIT_HTTP_EXPORT_ALL" => "1",
    "GIT_CONFIG_NOSYSTEM" => "1",
    "HOME" => "{d}/home",
    "PATH" => "{path}",
  )
  auth.backend = "plain"
  auth.backend.plain.userfile = "{d}/users"
  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
"#,
        backend = http_backend().display(),
        root = root.display(),
    );
    fs::write(dir.join("lighttpd.conf"), config).expect("write lighttpd.conf");
}

/// A throwaway CA and a server certificate for IP 127.0.0.1 and the name
/// `localhost` in `dir`: `ca.pem`/`ca.key`, `server.pem`/`server.key`.
/// A rustls server config for the throwaway certificates made in `dir`
/// (`make_certificates`), for the loopback HTTPS fakes.
pub(crate) fn tls_server_config(dir: &Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    make_certificates(dir);
    rustls::crypto::ring::default_provider()
        .install_default()
        .ok();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    std::sync::Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

pub(crate) fn make_certificates(dir: &Path) {
    fs::write(
        dir.join("openssl.cnf"),
        "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = placeholder\n\
         [v3_ca]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [v3_server]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1,DNS:localhost\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .expect("write openssl.cnf");
    // Arguments are split at spaces: none holds one.
    let openssl = |args: &str| {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir)
            .args(args.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    // The CA and the server's key + request do not depend on each other.
    let ca = openssl(&format!(
        "req -x509 -config openssl.cnf -extensions v3_ca {ec} -keyout ca.key -out ca.pem \
         -days 30 -subj /CN=assay-test-CA"
    ))
    .spawn()
    .expect("run openssl");
    let csr = openssl(&format!(
        "req -new -config openssl.cnf {ec} -keyout server.key -out server.csr -subj /CN=127.0.0.1"
    ))
    .spawn()
    .expect("run openssl");
    for child in [ca, csr] {
        check(child.wait_with_output().expect("openssl"));
    }
    let serial = &random_token()[..16];
    check(
        openssl(&format!(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x{serial} -days 30 \
             -extfile openssl.cnf -extensions v3_server -out server.pem"
        ))
        .output()
        .expect("run openssl"),
    );
}

fn check(out: std::process::Output) {
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Does `GET /git/` get an HTTP answer from this instance (its `Server:`
/// tag)? Over TLS through `openssl s_client`, verifying against the CA.
fn answers(port: u16, tls: bool, ca: &Path, tag: &str) -> bool {
    let request = b"GET /git/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let response = if tls {
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-quiet", "-verify_return_error", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-CAfile")
            .arg(ca);
        match run_with_timeout(&mut cmd, request, PROBE_TIMEOUT) {
            Some(out) if out.status.success() => out.stdout,
            _ => return false,
        }
    } else {
        match connect(port) {
            Some(stream) => exchange(stream, request, 64 * 1024),
            None => return false,
        }
    };
    let text = String::from_utf8_lossy(&response);
    text.starts_with("HTTP/1.") && text.contains(&format!("Server: {tag}"))
}
