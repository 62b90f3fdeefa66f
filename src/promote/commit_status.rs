//! The verdict on the forge, as a commit status on the commit that proposed
//! the candidate (`gitops::forge::statuses`): `pending` when judging starts,
//! `success` / `failure` once the verdict is delivered. A courtesy: off with
//! `promotion.commitStatus: false`, and silently off without a forge API
//! token (anonymous remotes); a forge assay cannot name skips it, said once. A forge that refuses or
//! does not answer never holds the verdict back: the first failure is logged,
//! later ones are not.

use std::cell::{Cell, OnceCell};

use crate::crd::{Experiment, Verdict};
use crate::gitops::forge::statuses::{self, CommitState, CommitStatus, Proposer};
use crate::gitops::forge::{Forge, ForgeRepo};
use crate::gitops::repo::Remote;
use crate::gitops::writeback::HISTORY_DEPTH;
use crate::runtime::Runtime;
use crate::spec;

/// Commits fetched first: the candidate was most likely proposed by one of
/// the newest; only if all of them hold it is the history deepened.
const FIRST_DEPTH: i32 = 8;

/// The forge side of one hook run: set up at the first status.
pub struct CommitStatuses<'a> {
    remote: &'a Remote,
    runtime: &'a Runtime,
    experiment: &'a Experiment,
    enabled: bool,
    ready: OnceCell<Option<Ready<'a>>>,
    said: Cell<bool>,
}

struct Ready<'a> {
    forge: Forge<'a>,
    sha: String,
}

impl<'a> CommitStatuses<'a> {
    pub fn new(
        remote: &'a Remote,
        runtime: &'a Runtime,
        experiment: &'a Experiment,
        enabled: bool,
    ) -> CommitStatuses<'a> {
        CommitStatuses {
            remote,
            runtime,
            experiment,
            enabled,
            ready: OnceCell::new(),
            said: Cell::new(false),
        }
    }

    /// Finds the proposing commit now, while the branch head still holds
    /// the experiment: before a verdict is pushed.
    pub fn prepare(&self, log: &dyn Fn(&str)) {
        self.ready(log);
    }

    /// `pending` on the proposing commit: judging has started.
    pub fn judging(&self, description: &str, log: &dyn Fn(&str)) {
        self.set(CommitState::Pending, description, None, log);
    }

    /// The delivered verdict; `link` is its pull request or commit (`None`:
    /// the commit's own page on the forge, if the commit is named).
    pub fn verdict(
        &self,
        verdict: Verdict,
        reason: &str,
        commit: Option<&str>,
        pull_request: Option<&str>,
        log: &dyn Fn(&str),
    ) {
        let state = match verdict {
            Verdict::Promote => CommitState::Success,
            Verdict::Reject => CommitState::Failure,
            Verdict::Superseded => CommitState::Superseded,
        };
        let description = match verdict {
            Verdict::Superseded => reason.to_string(),
            _ => format!("{verdict}: {reason}"),
        };
        let Some(ready) = self.ready(log) else {
            return;
        };
        let link = match (pull_request, commit) {
            (Some(pr), _) => Some(pr.to_string()),
            (None, Some(sha)) => ready.forge.commit_url(self.remote.url(), sha),
            (None, None) => None,
        };
        self.send(ready, state, &description, link.as_deref(), log);
    }

    fn set(&self, state: CommitState, description: &str, link: Option<&str>, log: &dyn Fn(&str)) {
        if let Some(ready) = self.ready(log) {
            self.send(ready, state, description, link, log);
        }
    }

    fn send(
        &self,
        ready: &Ready,
        state: CommitState,
        description: &str,
        link: Option<&str>,
        log: &dyn Fn(&str),
    ) {
        let context = format!("assay/{}", self.experiment.spec.release);
        let status = CommitStatus {
            sha: &ready.sha,
            state,
            context: &context,
            description,
            target_url: link,
        };
        if let Err(e) = ready.forge.set_status(&status) {
            self.once(log, &format!("warning: commit status not set: {e}"));
        }
    }

    /// Says `line` if nothing was said yet.
    fn once(&self, log: &dyn Fn(&str), line: &str) {
        if !self.said.replace(true) {
            log(line);
        }
    }

    fn ready(&self, log: &dyn Fn(&str)) -> Option<&Ready<'a>> {
        self.ready
            .get_or_init(|| match self.setup() {
                Ok(ready) => ready,
                Err(why) => {
                    self.once(log, &format!("commit status skipped: {why}"));
                    None
                }
            })
            .as_ref()
    }

    /// The forge client and the proposing commit; `None` when off (by the
    /// spec, or no token: an anonymous remote), or why there is none.
    fn setup(&self) -> Result<Option<Ready<'a>>, String> {
        let wb = &self.experiment.spec.write_back;
        let Some(token) = self
            .remote
            .credentials()
            .api_token()
            .filter(|_| self.enabled)
        else {
            return Ok(None);
        };
        let repo =
            ForgeRepo::from_url(self.remote.url(), wb.repo.forge, wb.repo.api_url.as_deref())
                .map_err(|e| e.to_string())?;
        let forge = Forge::new(repo, token, self.runtime).map_err(|e| e.to_string())?;
        let id = &self.experiment.spec.id;
        let holds = |text: &str| {
            spec::parse_raw(&wb.repo.path, text.as_bytes()).is_ok_and(|raw| {
                raw.spec.value.candidate.is_some() && spec::experiment_id(&raw) == *id
            })
        };
        for depth in [FIRST_DEPTH, HISTORY_DEPTH] {
            let snap = self
                .remote
                .fetch(&wb.repo.branch, depth)
                .map_err(|e| e.to_string())?;
            let found = statuses::proposing_commit(&snap, &wb.repo.path, depth as usize, holds)
                .map_err(|e| format!("reading the env repo's history: {}", e.message()))?;
            match found {
                Proposer::Found(oid) => {
                    return Ok(Some(Ready {
                        forge,
                        sha: oid.to_string(),
                    }));
                }
                Proposer::NotHeld => {
                    return Err(format!("{} no longer holds this experiment", wb.repo.path));
                }
                Proposer::Deeper => {}
            }
        }
        Err(format!(
            "the experiment is older than the last {HISTORY_DEPTH} commits of {}",
            wb.repo.branch
        ))
    }
}
