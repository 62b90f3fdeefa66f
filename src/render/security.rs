//! The Kubernetes "restricted" Pod Security Standard for every pod assay
//! generates: fill in what the standard requires, and refuse a template that
//! asks for what it forbids, rather than let the namespace's admission reject
//! the pods after a sync that Argo CD already reported as applied.

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, Container, PodSecurityContext, PodSpec, SELinuxOptions,
    SeccompProfile, SecurityContext, WindowsSecurityContextOptions,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Volume types the restricted standard allows.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls the baseline standard allows (Kubernetes 1.33).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types the baseline standard allows.
const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// A pod-spec setting the restricted standard forbids: the field path and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    /// Field path in the template, e.g. `spec.template.spec.hostNetwork`.
    pub path: String,
    /// Why the standard forbids it.
    pub message: String,
}

fn violation(path: String, message: impl Into<String>) -> Violation {
    Violation {
        path,
        message: message.into(),
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..Default::default()
    }
}

/// The pod-level context assay uses when nothing is given.
pub fn pod_context(run_as_user: Option<i64>) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user,
        run_as_group: run_as_user,
        fs_group: run_as_user,
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The container-level context assay uses when nothing is given. Only assay's
/// own containers (hook, loadgen) get a read-only root: an application may
/// need to write, and the restricted standard does not ask for it.
pub fn container_context(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: read_only_root.then_some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..Default::default()
    }
}

/// Makes `spec` meet the restricted standard, or says which setting forbids it.
/// `meta` is the pod template's metadata (AppArmor annotations); `path` is the
/// field path of `spec` in the template (for the error).
pub fn harden(spec: &mut PodSpec, meta: &ObjectMeta, path: &str) -> Result<(), Violation> {
    for (k, v) in meta.annotations.iter().flatten() {
        if k.starts_with("container.apparmor.security.beta.kubernetes.io/") && v == "unconfined" {
            return Err(violation(
                format!("spec.template.metadata.annotations.{k}"),
                "unconfined AppArmor is not allowed by the Pod Security Standards",
            ));
        }
    }
    for (flag, set) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if set == Some(true) {
            return Err(violation(
                format!("{path}.{flag}"),
                "host namespaces are not allowed by the restricted Pod Security Standard",
            ));
        }
    }
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let json = serde_json::to_value(v).unwrap_or_default();
        let kind = json
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "name").cloned());
        if let Some(kind) = kind
            && !ALLOWED_VOLUMES.contains(&kind.as_str())
        {
            return Err(violation(
                format!("{path}.volumes[{i}].{kind}"),
                format!("{kind} volumes are not allowed by the restricted Pod Security Standard"),
            ));
        }
    }
    let pod = spec.security_context.get_or_insert_with(Default::default);
    if pod.run_as_non_root == Some(false) {
        return Err(violation(
            format!("{path}.securityContext.runAsNonRoot"),
            "must not be false: pods must run as non-root",
        ));
    }
    if pod.run_as_user == Some(0) {
        return Err(violation(
            format!("{path}.securityContext.runAsUser"),
            "must not be 0: pods must run as non-root",
        ));
    }
    check_seccomp(
        pod.seccomp_profile.as_ref(),
        &format!("{path}.securityContext.seccompProfile"),
    )?;
    for (i, s) in pod.sysctls.iter().flatten().enumerate() {
        if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
            return Err(violation(
                format!("{path}.securityContext.sysctls[{i}].name"),
                format!(
                    "sysctl {} is not in the Pod Security Standards' safe set",
                    s.name
                ),
            ));
        }
    }
    check_common(
        &format!("{path}.securityContext"),
        pod.se_linux_options.as_ref(),
        pod.app_armor_profile.as_ref(),
        pod.windows_options.as_ref(),
    )?;
    pod.run_as_non_root = Some(true);
    if pod.seccomp_profile.is_none() {
        pod.seccomp_profile = Some(runtime_default());
    }
    let groups = [
        ("containers", &mut spec.containers),
        (
            "initContainers",
            spec.init_containers.get_or_insert_with(Vec::new),
        ),
    ];
    for (field, list) in groups {
        for (i, c) in list.iter_mut().enumerate() {
            harden_container(c, &format!("{path}.{field}[{i}]"))?;
        }
    }
    if spec.init_containers.as_ref().is_some_and(Vec::is_empty) {
        spec.init_containers = None;
    }
    Ok(())
}

/// SELinux, AppArmor and Windows settings, the same at pod and container level.
fn check_common(
    path: &str,
    se_linux: Option<&SELinuxOptions>,
    app_armor: Option<&AppArmorProfile>,
    windows: Option<&WindowsSecurityContextOptions>,
) -> Result<(), Violation> {
    if let Some(se) = se_linux {
        if !SELINUX_TYPES.contains(&se.type_.as_deref().unwrap_or("")) {
            return Err(violation(
                format!("{path}.seLinuxOptions.type"),
                "this SELinux type is not allowed by the Pod Security Standards",
            ));
        }
        if se.user.as_deref().is_some_and(|u| !u.is_empty())
            || se.role.as_deref().is_some_and(|r| !r.is_empty())
        {
            return Err(violation(
                format!("{path}.seLinuxOptions"),
                "a custom SELinux user or role is not allowed by the Pod Security Standards",
            ));
        }
    }
    if app_armor.is_some_and(|a| a.type_ == "Unconfined") {
        return Err(violation(
            format!("{path}.appArmorProfile.type"),
            "unconfined AppArmor is not allowed by the Pod Security Standards",
        ));
    }
    if windows.and_then(|w| w.host_process) == Some(true) {
        return Err(violation(
            format!("{path}.windowsOptions.hostProcess"),
            "host processes are not allowed by the Pod Security Standards",
        ));
    }
    Ok(())
}

fn check_seccomp(p: Option<&SeccompProfile>, path: &str) -> Result<(), Violation> {
    match p {
        Some(p) if p.type_ == "Unconfined" => Err(violation(
            format!("{path}.type"),
            "Unconfined seccomp is not allowed by the restricted Pod Security Standard",
        )),
        _ => Ok(()),
    }
}

fn harden_container(c: &mut Container, path: &str) -> Result<(), Violation> {
    for (j, p) in c.ports.iter().flatten().enumerate() {
        if p.host_port.is_some_and(|h| h != 0) {
            return Err(violation(
                format!("{path}.ports[{j}].hostPort"),
                "host ports are not allowed by the Pod Security Standards",
            ));
        }
    }
    let sc = c.security_context.get_or_insert_with(Default::default);
    let p = |f: &str| format!("{path}.securityContext.{f}");
    if sc.privileged == Some(true) {
        return Err(violation(
            p("privileged"),
            "privileged containers are not allowed by the restricted Pod Security Standard",
        ));
    }
    if sc.allow_privilege_escalation == Some(true) {
        return Err(violation(
            p("allowPrivilegeEscalation"),
            "must be false under the restricted Pod Security Standard",
        ));
    }
    if sc.run_as_non_root == Some(false) {
        return Err(violation(
            p("runAsNonRoot"),
            "must not be false: containers must run as non-root",
        ));
    }
    if sc.run_as_user == Some(0) {
        return Err(violation(
            p("runAsUser"),
            "must not be 0: containers must run as non-root",
        ));
    }
    if sc.proc_mount.as_deref().is_some_and(|m| m != "Default") {
        return Err(violation(
            p("procMount"),
            "only the Default proc mount is allowed",
        ));
    }
    check_seccomp(sc.seccomp_profile.as_ref(), &p("seccompProfile"))?;
    check_common(
        &format!("{path}.securityContext"),
        sc.se_linux_options.as_ref(),
        sc.app_armor_profile.as_ref(),
        sc.windows_options.as_ref(),
    )?;
    sc.allow_privilege_escalation = Some(false);
    let caps = sc.capabilities.get_or_insert_with(Default::default);
    if let Some(add) = &caps.add
        && let Some(bad) = add.iter().find(|c| c.as_str() != "NET_BIND_SERVICE")
    {
        return Err(violation(
            p("capabilities.add"),
            format!(
                "{bad} may not be added; the restricted Pod Security Standard allows only NET_BIND_SERVICE"
            ),
        ));
    }
    let drop = caps.drop.get_or_insert_with(Vec::new);
    if !drop.iter().any(|d| d == "ALL") {
        drop.push("ALL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "a".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn fills_in_what_is_missing() {
        let mut p = pod();
        harden(&mut p, &ObjectMeta::default(), "spec").unwrap();
        let sc = p.containers[0].security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        let pc = p.security_context.as_ref().unwrap();
        assert_eq!(pc.run_as_non_root, Some(true));
        assert_eq!(pc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    }

    #[test]
    fn refuses_what_is_forbidden() {
        let mut p = pod();
        p.containers[0].security_context = Some(SecurityContext {
            privileged: Some(true),
            ..Default::default()
        });
        assert_eq!(
            harden(&mut p, &ObjectMeta::default(), "spec")
                .unwrap_err()
                .path,
            "spec.containers[0].securityContext.privileged"
        );
        let mut p = pod();
        p.host_network = Some(true);
        assert_eq!(
            harden(&mut p, &ObjectMeta::default(), "spec")
                .unwrap_err()
                .path,
            "spec.hostNetwork"
        );
        let mut p = pod();
        p.containers[0].security_context = Some(SecurityContext {
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_ADMIN".into()]),
                drop: None,
            }),
            ..Default::default()
        });
        assert!(
            harden(&mut p, &ObjectMeta::default(), "spec")
                .unwrap_err()
                .message
                .contains("NET_ADMIN")
        );
    }
}
