//! What `generate` renders for next environments: the resolved entries in
//! the Experiment, and their Secrets mounted into the hook.

use serde_json::{Value, json};

use crate::promote::NS;

#[test]
fn the_hook_mounts_each_next_environments_own_secret_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(crate::support::sample_dir("bookinfo")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let text = crate::support::bookinfo_with_candidate().replace(
        "    credentialsSecret: assay-git\n",
        "    credentialsSecret: assay-git\n    next:\n      - ../prod/assay.yaml\n      \
         - {repo: https://git.example/staging.git, credentialsSecret: assay-git}\n      \
         - {repo: https://git.example/prod.git, credentialsSecret: prod-git, mode: pull-request, after: 1h}\n      \
         - {branch: qa, credentialsSecret: prod-git}\n",
    );
    std::fs::write(dir.path().join("assay.yaml"), text).unwrap();
    let out = crate::support::generate_ok(
        dir.path(),
        &[
            ("ARGOCD_APP_NAMESPACE", NS),
            ("ARGOCD_APP_SOURCE_REPO_URL", "https://git.example/dev.git"),
            ("ARGOCD_APP_SOURCE_PATH", "envs/dev"),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
        ],
    );
    let manifests: Vec<Value> = serde_saphyr::from_multiple(&out).unwrap();
    let exp = manifests
        .iter()
        .find(|m| m["kind"] == "Experiment")
        .unwrap();
    let wb = &exp["spec"]["writeBack"];
    assert_eq!(wb["next"], json!(["envs/prod/assay.yaml"]));
    assert_eq!(
        wb["nextEnvironments"],
        json!([
            {"repoURL": "https://git.example/staging.git", "branch": "HEAD", "path": "assay.yaml",
             "mode": "pull-request", "credentialsSecret": "assay-git", "forge": "auto"},
            {"repoURL": "https://git.example/prod.git", "branch": "HEAD", "path": "assay.yaml",
             "mode": "pull-request", "credentialsSecret": "prod-git", "forge": "auto",
             "afterSeconds": 3600},
            {"repoURL": "https://git.example/dev.git", "branch": "qa", "path": "assay.yaml",
             "mode": "pull-request", "credentialsSecret": "prod-git", "forge": "auto"}
        ])
    );
    let hook = manifests
        .iter()
        .find(|m| m["kind"] == "Job" && m["metadata"]["name"] == "productpage-promote")
        .expect("the PostSync hook Job");
    let pod = &hook["spec"]["template"]["spec"];
    let secrets: Vec<(String, String)> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("secret").is_some())
        .map(|v| {
            let name = v["name"].as_str().unwrap();
            let mount = pod["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .unwrap();
            (
                v["secret"]["secretName"].as_str().unwrap().to_string(),
                mount["mountPath"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        secrets,
        [
            ("assay-git".into(), "/var/run/secrets/assay/git".into()),
            (
                "prod-git".into(),
                "/var/run/secrets/assay/next/prod-git".into()
            )
        ]
    );
}
