//! Pull-request mode against loopback fake forges: one wiremock server per
//! test, standing in for GitHub (Enterprise), GitLab or Gitea. Each fake
//! matches the forge's real method, path, exact query, auth header and JSON
//! body, and counts requests (`expect(n)`, verified when the fake stops), so
//! a request that strays from the real API finds no mock and fails the test.
//!
//! `Forge` is blocking and drives the command's runtime (here [`runtime`]),
//! and tokio refuses to start a runtime inside another. So these are plain
//! `#[test]`s: wiremock serves from its own thread, the fake's setup runs on a
//! small runtime owned by [`Fake`], and `Forge` is called outside of both.

use assay::gitops::credentials::Credentials;
use assay::gitops::forge::{Forge, ForgeErrorKind, ForgeKind, ForgeRepo, PullRequest};
use assay::runtime::Runtime;
use assay::secret::Secret;
use assay::spec::ForgeChoice;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Match, Mock, MockBuilder, Request, ResponseTemplate};

use crate::support::fake_forge::Fake;

/// The fakes' token; every error and Debug output is searched for it.
const TOKEN: &str = "fake-forge-token-7f3a9c";
const HEAD: &str = "assay/productpage-0a1b2c3d";
const BASE: &str = "main";
const TITLE: &str = "assay: promote productpage v2";
const BODY: &str =
    "| metric | baseline | candidate |\n|---|---|---|\n| latency p99 | 210 ms | 180 ms |";

/// Matches the query string exactly: these pairs, in any order, and no others.
struct ExactQuery(Vec<(String, String)>);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        let mut got: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut want = self.0.clone();
        got.sort();
        want.sort();
        got == want
    }
}

fn query(pairs: &[(&str, &str)]) -> ExactQuery {
    ExactQuery(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// A token as the hook reads it: from a mounted credentials directory.
fn token() -> Secret {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    Credentials::from_dir(dir.path())
        .unwrap()
        .api_token()
        .unwrap()
        .clone()
}

/// One forge's API as the fakes see it.
struct Case {
    setting: ForgeChoice,
    repo_url: &'static str,
    /// The API base's path on the fake (`/api/v3` for GitHub Enterprise...).
    api_path: &'static str,
    /// Path of the list and create endpoints (they are the same on all three).
    pulls_path: &'static str,
    auth: (&'static str, String),
    /// Query of the list request (page 1 for Gitea).
    list_query: Vec<(&'static str, String)>,
    create_body: Value,
    /// The forge's JSON for an open PR from `head` into `base`, numbered `n`.
    pull: fn(u64, &str, &str) -> Value,
    /// Status and body of "one is already open".
    exists: (u16, Value),
}

fn github() -> Case {
    Case {
        setting: ForgeChoice::Github,
        repo_url: "https://ghe.example.com/acme/env.git",
        api_path: "/api/v3",
        pulls_path: "/api/v3/repos/acme/env/pulls",
        auth: ("authorization", format!("Bearer {TOKEN}")),
        list_query: vec![
            ("head", format!("acme:{HEAD}")),
            ("base", BASE.into()),
            ("state", "open".into()),
        ],
        create_body: json!({ "title": TITLE, "head": HEAD, "base": BASE, "body": BODY }),
        pull: |n, head, base| {
            json!({
                "number": n,
                "state": "open",
                "html_url": format!("https://ghe.example.com/acme/env/pull/{n}"),
                "head": { "ref": head, "label": format!("acme:{head}") },
                "base": { "ref": base, "label": format!("acme:{base}") },
            })
        },
        exists: (
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{ "resource": "PullRequest", "code": "custom",
                             "message": format!("A pull request already exists for acme:{HEAD}.") }],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            }),
        ),
    }
}

fn gitlab() -> Case {
    Case {
        setting: ForgeChoice::Gitlab,
        repo_url: "git@gitlab.example.com:platform/team/env.git",
        api_path: "/api/v4",
        // The project id is the URL-encoded full path.
        pulls_path: "/api/v4/projects/platform%2Fteam%2Fenv/merge_requests",
        auth: ("private-token", TOKEN.to_string()),
        list_query: vec![
            ("source_branch", HEAD.into()),
            ("target_branch", BASE.into()),
            ("state", "opened".into()),
        ],
        create_body: json!({ "source_branch": HEAD, "target_branch": BASE, "title": TITLE, "description": BODY }),
        pull: |n, head, base| {
            json!({
                "id": 1000 + n,
                "iid": n,
                "state": "opened",
                "web_url": format!("https://gitlab.example.com/platform/team/env/-/merge_requests/{n}"),
                "source_branch": head,
                "target_branch": base,
            })
        },
        exists: (
            409,
            json!({ "message": ["Another open merge request already exists for this source branch: !4"] }),
        ),
    }
}

fn gitea() -> Case {
    Case {
        setting: ForgeChoice::Gitea,
        repo_url: "https://gitea.example.com/acme/env.git",
        api_path: "/api/v1",
        pulls_path: "/api/v1/repos/acme/env/pulls",
        auth: ("authorization", format!("token {TOKEN}")),
        list_query: vec![
            ("state", "open".into()),
            ("page", "1".into()),
            ("limit", "50".into()),
        ],
        create_body: json!({ "title": TITLE, "head": HEAD, "base": BASE, "body": BODY }),
        pull: |n, head, base| {
            json!({
                "id": 500 + n,
                "number": n,
                "state": "open",
                "html_url": format!("https://gitea.example.com/acme/env/pulls/{n}"),
                "head": { "ref": head, "label": head, "repo_id": 3 },
                "base": { "ref": base, "label": base, "repo_id": 3 },
            })
        },
        exists: (
            409,
            json!({
                "message": format!("pull request already exists for these targets [id: 4, issue_id: 9, head_repo_id: 3, base_repo_id: 3, head_branch: {HEAD}, base_branch: {BASE}]"),
                "url": "https://gitea.example.com/api/swagger",
            }),
        ),
    }
}

/// The runtime a command would hand down, for the test's whole process.
fn runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().unwrap())
}

impl Case {
    fn forge(&self, fake: &Fake) -> Forge<'static> {
        let api = format!("{}{}", fake.server.uri(), self.api_path);
        let repo = ForgeRepo::from_url(self.repo_url, self.setting, Some(&api)).unwrap();
        Forge::new(repo, &token(), runtime()).unwrap()
    }

    fn list(&self) -> MockBuilder {
        let pairs: Vec<(&str, &str)> = self
            .list_query
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        Mock::given(method("GET"))
            .and(path(self.pulls_path))
            .and(query(&pairs))
            .and(header(self.auth.0, self.auth.1.as_str()))
            .and(header_exists("user-agent"))
    }

    fn create(&self) -> MockBuilder {
        Mock::given(method("POST"))
            .and(path(self.pulls_path))
            .and(query(&[]))
            .and(header(self.auth.0, self.auth.1.as_str()))
            .and(header("content-type", "application/json"))
            .and(header_exists("user-agent"))
            .and(body_json(&self.create_body))
    }

    fn pull(&self, n: u64) -> Value {
        (self.pull)(n, HEAD, BASE)
    }

    /// An unrelated open PR the list may also hold.
    fn other(&self) -> Value {
        (self.pull)(2, "feature/unrelated", BASE)
    }

    fn expected(&self, n: u64) -> PullRequest {
        let json = self.pull(n);
        let url = json
            .get("html_url")
            .or_else(|| json.get("web_url"))
            .and_then(Value::as_str)
            .unwrap();
        PullRequest {
            url: url.to_string(),
            number: n,
        }
    }
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Nothing open: the list comes back empty and `open` creates one (201).
fn none_open_then_created(case: Case) {
    let fake = Fake::start();
    fake.mount(
        case.list()
            .respond_with(json_response(200, json!([])))
            .expect(1),
    );
    fake.mount(
        case.create()
            .respond_with(json_response(201, case.pull(7)))
            .expect(1),
    );
    let forge = case.forge(&fake);
    assert_eq!(forge.find_open(HEAD, BASE).unwrap(), None);
    assert_eq!(
        forge.open(HEAD, BASE, TITLE, BODY).unwrap(),
        (case.expected(7), true)
    );
    fake.verify();
}

/// Already open: `find_open` returns it and `ensure` reuses it without a POST.
fn open_one_is_reused(case: Case) {
    let fake = Fake::start();
    fake.mount(
        case.list()
            .respond_with(json_response(200, json!([case.other(), case.pull(4)])))
            .expect(2),
    );
    fake.mount(
        case.create()
            .respond_with(json_response(201, case.pull(8)))
            .expect(0),
    );
    let forge = case.forge(&fake);
    assert_eq!(forge.find_open(HEAD, BASE).unwrap(), Some(case.expected(4)));
    assert_eq!(
        forge.ensure(HEAD, BASE, TITLE, BODY).unwrap(),
        (case.expected(4), false)
    );
    fake.verify();
}

/// The forge refuses the POST because one is open (another writer won the
/// race): `open` finds that one and reports it as not created.
fn already_exists_answer_finds_it(case: Case) {
    let fake = Fake::start();
    let (status, body) = case.exists.clone();
    fake.mount(
        case.create()
            .respond_with(json_response(status, body))
            .expect(1),
    );
    fake.mount(
        case.list()
            .respond_with(json_response(200, json!([case.pull(4)])))
            .expect(1),
    );
    let forge = case.forge(&fake);
    assert_eq!(
        forge.open(HEAD, BASE, TITLE, BODY).unwrap(),
        (case.expected(4), false)
    );
    fake.verify();
}

/// A refused token: the error names the status and the forge's message,
/// and neither it nor any Debug output holds the token.
fn unauthorized_error_hides_the_token(case: Case) {
    let fake = Fake::start();
    // A server that echoes the credential back must not leak it either.
    let body = json!({ "message": format!("Bad credentials: {TOKEN}") });
    fake.mount(
        case.list()
            .respond_with(json_response(401, body.clone()))
            .expect(1),
    );
    fake.mount(
        case.create()
            .respond_with(json_response(401, body))
            .expect(1),
    );
    let forge = case.forge(&fake);
    let find = forge.find_open(HEAD, BASE).unwrap_err();
    let open = forge.open(HEAD, BASE, TITLE, BODY).unwrap_err();
    for e in [&find, &open] {
        assert_eq!(e.status(), Some(401));
        let shown = format!("{e} {e:?} {forge:?}");
        assert!(
            shown.contains("401") && shown.contains("Bad credentials"),
            "{shown}"
        );
        assert!(shown.contains(case.pulls_path), "{shown}");
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
    }
    assert!(find.to_string().starts_with("GET "), "{find}");
    assert!(open.to_string().starts_with("POST "), "{open}");
    fake.verify();
}

#[test]
fn github_fake_none_open_then_created() {
    none_open_then_created(github());
}

#[test]
fn github_fake_open_one_is_reused() {
    open_one_is_reused(github());
}

#[test]
fn github_fake_422_already_exists_finds_it() {
    already_exists_answer_finds_it(github());
}

#[test]
fn github_fake_401_hides_the_token() {
    unauthorized_error_hides_the_token(github());
}

#[test]
fn gitlab_fake_none_open_then_created() {
    none_open_then_created(gitlab());
}

#[test]
fn gitlab_fake_open_one_is_reused() {
    open_one_is_reused(gitlab());
}

#[test]
fn gitlab_fake_409_already_exists_finds_it() {
    already_exists_answer_finds_it(gitlab());
}

#[test]
fn gitlab_fake_401_hides_the_token() {
    unauthorized_error_hides_the_token(gitlab());
}

#[test]
fn gitea_fake_none_open_then_created() {
    none_open_then_created(gitea());
}

#[test]
fn gitea_fake_open_one_is_reused() {
    open_one_is_reused(gitea());
}

#[test]
fn gitea_fake_409_already_exists_finds_it() {
    already_exists_answer_finds_it(gitea());
}

#[test]
fn gitea_fake_401_hides_the_token() {
    unauthorized_error_hides_the_token(gitea());
}

/// Gitea has no head filter: pages are read until the PR turns up or a page
/// comes back empty.
#[test]
fn gitea_fake_pages_through_open_pulls() {
    let case = gitea();
    let fake = Fake::start();
    let page = |n: &str| {
        Mock::given(method("GET"))
            .and(path(case.pulls_path))
            .and(query(&[("state", "open"), ("page", n), ("limit", "50")]))
            .and(header(case.auth.0, case.auth.1.as_str()))
    };
    // A fork's branch of the same name into the same base is not ours.
    let mut fork = case.pull(3);
    fork["head"]["repo_id"] = json!(99);
    fake.mount(
        page("1")
            .respond_with(json_response(200, json!([case.other(), fork])))
            .expect(2),
    );
    fake.mount(
        page("2")
            .respond_with(json_response(200, json!([case.pull(5)])))
            .expect(2),
    );
    let forge = case.forge(&fake);
    assert_eq!(forge.find_open(HEAD, BASE).unwrap(), Some(case.expected(5)));
    // Another branch: page 2 only holds ours, page 3 is empty, so nothing.
    fake.mount(
        page("3")
            .respond_with(json_response(200, json!([])))
            .expect(1),
    );
    assert_eq!(forge.find_open("assay/other-ffff", BASE).unwrap(), None);
    fake.verify();
}

/// The forge's API must agree with itself: a 422 that is not "already
/// exists" (here: no commits between the branches) is an error, not a reuse.
#[test]
fn github_fake_other_422_is_an_error() {
    let case = github();
    let fake = Fake::start();
    let body = json!({
        "message": "Validation Failed",
        "errors": [{ "resource": "PullRequest", "code": "custom", "message": format!("No commits between {BASE} and {HEAD}") }],
    });
    fake.mount(
        case.create()
            .respond_with(json_response(422, body))
            .expect(1),
    );
    fake.mount(
        case.list()
            .respond_with(json_response(200, json!([])))
            .expect(0),
    );
    let e = case.forge(&fake).open(HEAD, BASE, TITLE, BODY).unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.to_string().contains("No commits between"), "{e}");
    fake.verify();
}

/// A fake that is not there: a transport error, promptly, without the token.
#[test]
fn unreachable_forge_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = format!("http://127.0.0.1:{port}/api/v4");
    let repo = ForgeRepo::from_url(
        "https://gitlab.com/acme/env.git",
        ForgeChoice::Auto,
        Some(&api),
    )
    .unwrap();
    assert_eq!(repo.kind, ForgeKind::Gitlab);
    let e = Forge::new(repo, &token(), runtime())
        .unwrap()
        .find_open(HEAD, BASE)
        .unwrap_err();
    assert!(matches!(e.kind, ForgeErrorKind::Transport(_)), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("cannot connect"), "{e}");
    assert!(!format!("{e} {e:?}").contains(TOKEN), "{e:?}");
}
