//! Gitea (and Forgejo, e.g. Codeberg), API v1.
//!
//! - List: `GET /repos/{owner}/{repo}/pulls?state=open&page=N&limit=50`
//!   (`repoListPullRequests` in `routers/api/v1/repo/pull.go`). It has no
//!   head filter on the versions assay supports (`base_branch` is recent, and
//!   `GET /pulls/{base}/{head}` also returns closed PRs), so pages are read
//!   until one comes back empty and matched on `head.ref`/`base.ref` here.
//!   50 is Gitea's default `MAX_RESPONSE_ITEMS`; a server with a lower cap
//!   just returns shorter pages.
//! - Create: `POST /repos/{owner}/{repo}/pulls` with `{title, head, base, body}`
//!   (`repoCreatePullRequest`), 201 on success; an unmerged PR with the same
//!   head and base is refused with 409 Conflict, `{"message": "pull request
//!   already exists for these targets [...]"}`.
//! - Commit status: `POST /repos/{owner}/{repo}/statuses/{sha}` with
//!   `{state, target_url, description, context}` (`CreateStatusOption`,
//!   `repoCreateStatus` in `routers/api/v1/repo/status.go`), 201 on success;
//!   states `pending`, `success`, `error`, `failure`, `warning`: GitHub's
//!   shape, so `github::set_status` serves both.
//! - Header: `Authorization: token <token>`
//!   (<https://docs.gitea.com/development/api-usage#authentication>).
//! - Fields used: `number`, `html_url`, `head.ref`, `base.ref`, `head.repo_id`, `base.repo_id`.

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::client::{Api, secret_header};
use super::{ForgeError, ForgeRepo, PullRequest};
use crate::secret::Secret;

/// Page size asked for.
const PAGE_SIZE: usize = 50;
/// Pages read at most (2,500 open pull requests) before giving up the search.
const MAX_PAGES: usize = 50;

pub(super) fn headers(token: &Secret) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, secret_header("token ", token)?);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    Ok(headers)
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
    head: Branch,
    base: Branch,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    repo_id: Option<i64>,
}

impl Pull {
    /// From `head` of this same repository (not a fork's branch of that name) into `base`.
    fn is(&self, head: &str, base: &str) -> bool {
        let same_repo = match (self.head.repo_id, self.base.repo_id) {
            (Some(h), Some(b)) => h == b,
            _ => true,
        };
        same_repo && self.head.name == head && self.base.name == base
    }
}

impl From<Pull> for PullRequest {
    fn from(p: Pull) -> PullRequest {
        PullRequest {
            url: p.html_url,
            number: p.number,
        }
    }
}

#[derive(Serialize)]
struct NewPull<'a> {
    title: &'a str,
    head: &'a str,
    base: &'a str,
    body: &'a str,
}

pub(super) async fn find_open(
    api: &Api,
    repo: &ForgeRepo,
    head: &str,
    base: &str,
) -> Result<Option<PullRequest>, ForgeError> {
    let limit = PAGE_SIZE.to_string();
    for page in 1..=MAX_PAGES {
        let url = api.endpoint(&["repos", &repo.owner, &repo.name, "pulls"]);
        let page = page.to_string();
        let query = [
            ("state", "open"),
            ("page", page.as_str()),
            ("limit", limit.as_str()),
        ];
        let pulls: Vec<Pull> = api.get(url, &query).await?;
        if pulls.is_empty() {
            break;
        }
        if let Some(pull) = pulls.into_iter().find(|p| p.is(head, base)) {
            return Ok(Some(pull.into()));
        }
    }
    Ok(None)
}

pub(super) async fn create(
    api: &Api,
    repo: &ForgeRepo,
    head: &str,
    base: &str,
    title: &str,
    body: &str,
) -> Result<PullRequest, ForgeError> {
    let url = api.endpoint(&["repos", &repo.owner, &repo.name, "pulls"]);
    let pull: Pull = api
        .post(
            url,
            &NewPull {
                title,
                head,
                base,
                body,
            },
        )
        .await?;
    Ok(pull.into())
}

pub(super) fn already_exists(e: &ForgeError) -> bool {
    e.status() == Some(409)
}
