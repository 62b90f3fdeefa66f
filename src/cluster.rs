//! The Kubernetes side of the hook, and nothing more than the Role that
//! `generate` renders allows (`render::hook::rules`; a test compares the
//! two): get its Experiment, patch the Experiment's status (JSON merge
//! patch) and its progress annotation, get the load generator's Job and the candidate's Deployment, and
//! create Events (events.k8s.io/v1). Async, driven by the hook's
//! current-thread runtime.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::crd::Experiment;

/// Who reports the Events.
pub const CONTROLLER: &str = "assay.dev/promote";

/// A call to the API server failed.
#[derive(Debug, thiserror::Error)]
#[error("kubernetes: {action}: {message}")]
pub struct ClusterError {
    pub action: String,
    pub message: String,
    /// The API answered 404.
    pub not_found: bool,
    /// The API's status code; `None` when no answer came.
    pub code: Option<u16>,
}

impl ClusterError {
    /// Worth one more try: no answer, or a server-side error.
    pub fn is_transient(&self) -> bool {
        self.code.is_none_or(|c| c >= 500)
    }
}

pub(crate) fn error(action: impl Into<String>, e: kube::Error) -> ClusterError {
    let not_found = matches!(&e, kube::Error::Api(s) if s.is_not_found());
    let code = match &e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    };
    let message = match &e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    };
    ClusterError {
        action: action.into(),
        message,
        not_found,
        code,
    }
}

/// A client as the pod's ServiceAccount, or from `KUBECONFIG` (else
/// `~/.kube/config`) outside a cluster, with the namespace that
/// configuration names (its context's, or the pod's).
pub async fn client() -> Result<(kube::Client, String), ClusterError> {
    crate::tls::init();
    // kube waits forever for an answer by default (made for watches, which
    // we never open): bound every call so that a silent API server cannot
    // hold the hook past its deadline, or `assay status` forever.
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| error("connect", kube::Error::InferConfig(e)))?;
    config.connect_timeout = Some(std::time::Duration::from_secs(10));
    config.read_timeout = Some(std::time::Duration::from_secs(30));
    config.write_timeout = Some(std::time::Duration::from_secs(30));
    let namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| error("connect", e))?;
    Ok((client, namespace))
}

/// The hook's view of its namespace.
pub struct Cluster {
    client: kube::Client,
    namespace: String,
    /// Reported as `reportingInstance` (the pod's name).
    instance: String,
}

/// Why the sync failed, when it is the candidate's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateFailure {
    pub reason: String,
}

impl Cluster {
    /// Connects as the pod's ServiceAccount, or with `KUBECONFIG` outside a cluster.
    pub async fn connect(namespace: &str) -> Result<Cluster, ClusterError> {
        let (client, _) = client().await?;
        Ok(Cluster {
            client,
            namespace: namespace.to_string(),
            instance: std::env::var("HOSTNAME").unwrap_or_else(|_| "assay".into()),
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn experiments(&self) -> Api<Experiment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub async fn experiment(&self, name: &str) -> Result<Experiment, ClusterError> {
        self.experiments()
            .get(name)
            .await
            .map_err(|e| error(format!("get experiment {name}"), e))
    }

    /// Merges `status` (a JSON object) into the Experiment's status.
    pub async fn patch_status(
        &self,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<(), ClusterError> {
        let body = serde_json::json!({ "status": status });
        self.experiments()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map(|_| ())
            .map_err(|e| error(format!("patch status of experiment {name}"), e))
    }

    /// Sets one annotation of the Experiment (a merge patch of its metadata).
    pub async fn annotate(&self, name: &str, key: &str, value: &str) -> Result<(), ClusterError> {
        let body = serde_json::json!({ "metadata": { "annotations": { key: value } } });
        self.experiments()
            .patch(name, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map(|_| ())
            .map_err(|e| error(format!("annotate experiment {name}"), e))
    }

    /// When the load generator Job started and, if it has, completed.
    pub async fn job_times(
        &self,
        name: &str,
    ) -> Result<(Option<Timestamp>, Option<Timestamp>), ClusterError> {
        let status = self.job(name).await?.and_then(|j| j.status);
        Ok(match status {
            Some(s) => (s.start_time.map(|t| t.0), s.completion_time.map(|t| t.0)),
            None => (None, None),
        })
    }

    async fn job(&self, name: &str) -> Result<Option<Job>, ClusterError> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.get(name).await {
            Ok(j) => Ok(Some(j)),
            Err(e) => {
                let e = error(format!("get job {name}"), e);
                if e.not_found { Ok(None) } else { Err(e) }
            }
        }
    }

    /// The load generator Job failed (condition `Failed`), with its reason.
    pub async fn job_failure(&self, name: &str) -> Result<Option<CandidateFailure>, ClusterError> {
        let Some(job) = self.job(name).await? else {
            return Ok(None);
        };
        let failed = job
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Failed" && c.status == "True");
        Ok(failed.map(|c| CandidateFailure {
            reason: format!(
                "the load generator Job {name} failed: {}{}",
                c.reason.unwrap_or_else(|| "Failed".into()),
                c.message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
        }))
    }

    /// The candidate Deployment is Degraded: its progress deadline passed.
    pub async fn deployment_failure(
        &self,
        name: &str,
    ) -> Result<Option<CandidateFailure>, ClusterError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let d = match api.get(name).await {
            Ok(d) => d,
            Err(e) => {
                let e = error(format!("get deployment {name}"), e);
                return if e.not_found { Ok(None) } else { Err(e) };
            }
        };
        let stuck = d
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| {
                c.type_ == "Progressing"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            });
        Ok(stuck.map(|c| CandidateFailure {
            reason: format!(
                "the candidate Deployment {name} did not become ready: ProgressDeadlineExceeded{}",
                c.message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
        }))
    }

    /// Records an Event on the Experiment. `note` is cut to the API's 1 KB.
    pub async fn event(
        &self,
        exp: &Experiment,
        warning: bool,
        action: &str,
        reason: &str,
        note: &str,
    ) -> Result<(), ClusterError> {
        let now = Timestamp::now();
        let name = exp.metadata.name.clone().unwrap_or_default();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(self.namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_string()),
            note: Some(cut(note, 1024)),
            reporting_controller: Some(CONTROLLER.to_string()),
            reporting_instance: Some(cut(&self.instance, 128)),
            regarding: Some(ObjectReference {
                api_version: Some("assay.dev/v1alpha1".into()),
                kind: Some("Experiment".into()),
                name: Some(name),
                namespace: Some(self.namespace.clone()),
                uid: exp.metadata.uid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        api.create(&PostParams::default(), &event)
            .await
            .map(|_| ())
            .map_err(|e| error(format!("create event {reason}"), e))
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
