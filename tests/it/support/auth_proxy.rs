//! A real reverse proxy in front of Prometheus, as Thanos, Mimir or a managed
//! Prometheus sit behind one: lighttpd (`mod_proxy`) on 127.0.0.1 that
//! answers 403 unless the request carries `Authorization: Bearer <token>`
//! and `X-Scope-OrgID: <tenant>`, and forwards the rest to the upstream
//! port. Its access log (request line and status, no header values) is
//! [`AuthProxy::access_log`], read after [`AuthProxy::stop`] flushed it.

use std::path::PathBuf;
use std::process::Command;

use super::server::{Server, connect};

const LIGHTTPD: &str = "/usr/sbin/lighttpd";

pub struct AuthProxy {
    server: Server,
    dir: tempfile::TempDir,
}

impl AuthProxy {
    pub fn start(upstream: u16, token: &str, tenant: &str) -> AuthProxy {
        let dir = tempfile::Builder::new()
            .prefix("auth-proxy-")
            .tempdir()
            .unwrap();
        let d: PathBuf = dir.path().to_owned();
        let (token, tenant) = (token.to_string(), tenant.to_string());
        let launch = {
            let d = d.clone();
            move |port: u16| {
                let config = format!(
                    r#"server.modules = ("mod_access", "mod_proxy", "mod_accesslog")
server.document-root = "{d}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{d}/lighttpd.pid"
accesslog.filename = "{d}/access.log"
$REQUEST_HEADER["Authorization"] != "Bearer {token}" {{
  url.access-deny = ("")
}}
$REQUEST_HEADER["X-Scope-OrgID"] != "{tenant}" {{
  url.access-deny = ("")
}}
proxy.server = ("" => (("host" => "127.0.0.1", "port" => {upstream})))
"#,
                    d = d.display()
                );
                std::fs::write(d.join("lighttpd.conf"), config).unwrap();
                let mut cmd = Command::new(LIGHTTPD);
                cmd.arg("-D").arg("-f").arg(d.join("lighttpd.conf"));
                cmd
            }
        };
        let probe =
            |port: u16, log: &str| log.contains("server started") && connect(port).is_some();
        let server = Server::start(
            "lighttpd (auth proxy)",
            d.join("lighttpd.log"),
            Box::new(launch),
            Box::new(probe),
        );
        AuthProxy { server, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// Stops lighttpd, which flushes its access log.
    pub fn stop(&self) {
        self.server.stop();
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}
