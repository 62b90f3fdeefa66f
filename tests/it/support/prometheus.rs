//! A real Prometheus (Debian bookworm's 2.42, see `.ci/run`) on 127.0.0.1,
//! loaded with Istio metrics the test describes, for the judge's tests: the
//! judge's own PromQL runs against the real query engine, extrapolation and
//! all, instead of against a mock that agrees with whatever the judge expects.
//!
//! [`Prometheus::start`] writes an [`OpenMetrics`] text into its own temp
//! dir, backfills it with `promtool tsdb create-blocks-from openmetrics`,
//! and starts `prometheus` with an empty `scrape_configs` on a free port
//! through [`super::server`] (own process group, killed on Drop and when the
//! test process dies, readiness polled with a deadline: the log line
//! "Server is ready to receive web requests." and `GET /-/ready` = 200).
//! Starting (promtool included) takes 0.2 s on an idle machine, up to ~0.9 s
//! with other tests competing for two cores.
//!
//! The data and its exact expected numbers: [`OpenMetrics`], [`Workload`]
//! and [`Span`] (module `openmetrics`, whose doc also says what promtool
//! demands of the text).
//!
//! # Exact expected numbers
//!
//! Prometheus 2.42, verified against this package: a range selector
//! `x[W]` at time `T` takes the samples with `T - W ≤ t ≤ T` (both ends
//! inclusive: `count_over_time(x[300s])` on a 15 s grid counts 21;
//! Prometheus 3 makes the start exclusive). `increase()` and
//! `rate()` then extrapolate from the first and last sample in the range to
//! the range's ends when the gap is below 1.1 × the average sample interval
//! (otherwise by half an interval), and never below the point where the
//! counter would have been 0. On a straight line extrapolating is exact, so:
//!
//! `increase(x[W])` at any `T` with `start ≤ T ≤ end` and at least two
//! samples in `[T - W, T]` is exactly `rate * (T - max(T - W, start))`
//! ([`Span::increase_seconds`]): on or off the grid, whole window inside the
//! data or not (before `start` the line meets 0 at the first sample). With
//! `T` and `T - W` on the grid nothing is extrapolated at all; `rate()` is
//! the same divided by `W`. Past `end` the line is extended only while
//! `T - end < 1.1 × step`; later Prometheus adds half an interval instead
//! (at `end + 20` on a 15 s grid, 2875 instead of 3000), so
//! [`Span::increase_seconds`] refuses any `T` after `end`. So let spans
//! reach past the time the code under test queries, e.g.
//! `Span::around_now(3600, 600)`: the judge may then query at wall-clock
//! now. [`Workload::expected`] gives every number for a window.
//!
//! Worked example: `Span::new(1_000_000_200, 1_000_003_800)`, rps 10, error
//! fraction 0.1, latencies `[(20.0, 3.0), (200.0, 1.0)]`, `W = 300`, `T =
//! 1_000_003_600`: requests 3000, errors 300, `_sum` 3000 × (3·20 + 200)/4 =
//! 195000, buckets `le="0.5"`…`"10"` 0, `"25"`…`"100"` 2250, `"250"`…`"+Inf"`
//! 3000 (per reporter, summed over codes).
//!
//! An instant query of a gauge returns the newest sample at or before `T`
//! within the 5 min lookback.

pub mod openmetrics;

pub use openmetrics::{Expected, ISTIO_BUCKETS, OpenMetrics, Span, Workload, now};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::server::{Server, connect, exchange};

const READY_LINE: &str = "Server is ready to receive web requests.";
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A Prometheus serving the backfilled data, owned by the test.
pub struct Prometheus {
    /// First, so the process dies before its data dir goes.
    server: Server,
    dir: TempDir,
    /// Served over TLS (`--web.config.file` with `tls_server_config`).
    tls: bool,
}

/// Prometheus' own `--web.config.file`: basic auth and TLS.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// `basic_auth_users`: user name and bcrypt hash of the password.
    pub users: Vec<(String, String)>,
    /// `tls_server_config`: certificate and key files (PEM).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl WebConfig {
    fn yaml(&self) -> String {
        let mut out = String::new();
        if let Some((cert, key)) = &self.tls {
            out += &format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                cert.display(),
                key.display()
            );
        }
        if !self.users.is_empty() {
            out += "basic_auth_users:\n";
            for (user, hash) in &self.users {
                out += &format!("  {user}: '{hash}'\n");
            }
        }
        out
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Prometheus {
    /// Backfills `data` and starts Prometheus on a free port; panics with
    /// promtool's or Prometheus' output if either fails.
    pub fn start(data: &OpenMetrics) -> Prometheus {
        Prometheus::start_with(data, None)
    }

    /// [`Prometheus::start`] with its own `--web.config.file` (basic auth,
    /// TLS), and a query log (`query.log` in its dir, see [`Prometheus::query_log`]).
    /// Readiness is then the log line and an open port: `/-/ready` needs the auth too.
    pub fn start_with(data: &OpenMetrics, web: Option<WebConfig>) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("data.om");
        let tsdb = dir.path().join("tsdb");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&input, data.text()).expect("write OpenMetrics");
        backfill(&input, &tsdb);
        let query_log = dir.path().join("query.log");
        let config_text = match &web {
            None => "scrape_configs: []\n".to_string(),
            Some(_) => format!(
                "global:\n  query_log_file: {}\nscrape_configs: []\n",
                query_log.display()
            ),
        };
        std::fs::write(&config, config_text).expect("write config");
        let web_file = dir.path().join("web.yml");
        let tls = web.as_ref().is_some_and(|w| w.tls.is_some());
        if let Some(w) = &web {
            std::fs::write(&web_file, w.yaml()).expect("write web config");
        }
        let secured = web.is_some();
        let launch = move |port: u16| {
            let mut cmd = Command::new("prometheus");
            if secured {
                cmd.arg(format!("--web.config.file={}", web_file.display()));
            }
            cmd.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", tsdb.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // Retention counts back from the newest block, not from now,
                // but the default 15d would still drop long test histories.
                .arg("--storage.tsdb.retention.time=10y");
            cmd
        };
        let probe = move |port: u16, log: &str| {
            log.contains(READY_LINE)
                && if secured {
                    connect(port).is_some()
                } else {
                    ready(port)
                }
        };
        let server = Server::start(
            "prometheus",
            dir.path().join("prometheus.log"),
            Box::new(launch),
            Box::new(probe),
        );
        Prometheus { server, dir, tls }
    }

    /// `http://127.0.0.1:PORT` (https with TLS), what the judge is pointed at.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The queries it answered (JSON lines with their parameters), when
    /// started with a [`WebConfig`].
    pub fn query_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("query.log")).unwrap_or_default()
    }

    /// Prometheus' log so far, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The OpenMetrics text it was loaded with.
    pub fn data(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data.om")).unwrap_or_default()
    }

    /// Runs an instant query at `at` (unix seconds) through the HTTP API;
    /// panics unless it succeeds with a vector.
    pub fn query(&self, promql: &str, at: f64) -> Vec<Sample> {
        let target = format!(
            "/api/v1/query?query={}&time={at:.3}",
            percent_encode(promql)
        );
        let (status, body) = http_get(self.server.port(), &target);
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{promql}: HTTP {status}, not JSON ({e}): {body}"));
        assert!(
            status == 200 && json["status"] == "success",
            "{promql} at {at}: HTTP {status}: {body}"
        );
        assert_eq!(json["data"]["resultType"], "vector", "{promql}: {body}");
        let results = json["data"]["result"].as_array().expect("result array");
        results
            .iter()
            .map(|r| {
                let labels = r["metric"].as_object().expect("metric object");
                let value = r["value"][1].as_str().expect("value string");
                Sample {
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect(),
                    value: value
                        .parse()
                        .unwrap_or_else(|e| panic!("{promql}: value {value}: {e}")),
                }
            })
            .collect()
    }
}

fn backfill(input: &Path, tsdb: &Path) {
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(input)
        .arg(tsdb)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool (package prometheus): {e}"));
    assert!(
        out.status.success(),
        "promtool tsdb create-blocks-from openmetrics failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET /-/ready` answers 200 (it says 503 while the TSDB still loads).
fn ready(port: u16) -> bool {
    let Some(stream) = connect(port) else {
        return false;
    };
    let response = exchange(stream, b"GET /-/ready HTTP/1.0\r\n\r\n", 4096);
    status_code(&response) == Some(200)
}

fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|w| w.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}

/// A plain HTTP/1.0 GET of `target` on 127.0.0.1:port (HTTP/1.0: the
/// server closes the connection, no chunking): status and body. Std only,
/// because the crate's reqwest has no TLS provider built in.
pub fn http_get(port: u16, target: &str) -> (u16, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, QUERY_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(QUERY_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(QUERY_TIMEOUT)).unwrap();
    let request = format!("GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("GET {target}: {e}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .unwrap_or_else(|e| panic!("GET {target}: reading the response: {e}"));
    let status = status_code(&response)
        .unwrap_or_else(|| panic!("GET {target}: no HTTP status line in {response:?}"));
    let text = String::from_utf8_lossy(&response);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body.to_owned())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
