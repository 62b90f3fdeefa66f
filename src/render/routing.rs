//! How requests reach each version. `istio`: one Service, a DestinationRule
//! with a subset per version and a VirtualService with the weights.
//! `gateway-api`: a Service per version and an HTTPRoute with weighted
//! backendRefs (GAMMA mesh routing by default, parented to the Service).
//! `none`: one Service over every version, split by replica count. Weights are
//! declared in Git, so nothing patches them in the cluster and Argo CD needs
//! no `ignoreDifferences`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::{Ctx, Document, object, order};
use crate::spec::{Router, Version};

/// The Services for the release.
pub(crate) fn services(ctx: &Ctx) -> Vec<Document> {
    let rel = ctx.rel;
    let mut out = vec![object(&service(ctx, &rel.name, None))];
    if rel.traffic.router == Router::GatewayApi {
        out.push(object(&service(
            ctx,
            &ctx.workload_name(&rel.baseline),
            Some((&rel.baseline, false)),
        )));
        if let Some(c) = &rel.candidate {
            out.push(object(&service(
                ctx,
                &ctx.workload_name(c),
                Some((c, true)),
            )));
        }
    }
    out
}

fn service(ctx: &Ctx, name: &str, version: Option<(&Version, bool)>) -> Service {
    let mut selector = BTreeMap::from([("app".to_string(), ctx.rel.name.clone())]);
    let meta = match version {
        Some((v, is_candidate)) => {
            selector.insert("version".into(), v.version.clone());
            let mut meta = if is_candidate {
                ctx.experiment_meta(name)
            } else {
                ctx.meta(name, &[])
            };
            Ctx::annotate(&mut meta, order::SYNC_OPTIONS, order::PRUNE_LAST);
            meta
        }
        None => ctx.meta(name, &[]),
    };
    let mut meta = meta;
    let mut ports = vec![ServicePort {
        name: Some("http".into()),
        port: i32::from(ctx.port),
        target_port: Some(IntOrString::Int(i32::from(ctx.port))),
        protocol: Some("TCP".into()),
        ..Default::default()
    }];
    // `workload.from`: the base's Service this one replaces hands on its
    // labels (monitors select by them), annotations and other ports.
    if let (None, Some(a)) = (version, &ctx.adopted_service) {
        let labels = meta.labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in &a.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if !a.annotations.is_empty() {
            meta.annotations = Some(a.annotations.clone());
        }
        ports.extend(a.ports.iter().cloned());
    }
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(ports),
            ..Default::default()
        }),
        status: None,
    }
}

/// (version, weight) pairs: baseline alone at 100 in steady state.
fn split<'a>(ctx: &Ctx<'a>) -> Vec<(&'a Version, u8)> {
    match &ctx.rel.candidate {
        None => vec![(&ctx.rel.baseline, 100)],
        Some(c) => vec![(&ctx.rel.baseline, 100 - ctx.weight), (c, ctx.weight)],
    }
}

fn metadata(ctx: &Ctx) -> Value {
    let mut meta = ctx.meta(&ctx.rel.name, &[]);
    Ctx::annotate(&mut meta, order::WAVE, order::ROUTING);
    // ObjectMeta serialises to a JSON object.
    serde_json::to_value(meta).expect("serialisable metadata")
}

/// The routing objects for the chosen router.
pub(crate) fn routes(ctx: &Ctx) -> Vec<Document> {
    match ctx.rel.traffic.router {
        Router::None => vec![],
        Router::Istio => istio(ctx),
        Router::GatewayApi => vec![http_route(ctx)],
    }
}

fn istio(ctx: &Ctx) -> Vec<Document> {
    let rel = ctx.rel;
    let t = &rel.traffic;
    let subsets: Vec<Value> = split(ctx)
        .iter()
        .map(|(v, _)| json!({"name": v.version, "labels": {"version": v.version}}))
        .collect();
    let destination_rule = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": metadata(ctx),
        "spec": {"host": rel.name, "subsets": subsets},
    });
    let route: Vec<Value> = split(ctx)
        .iter()
        .map(|(v, w)| json!({"destination": {"host": rel.name, "subset": v.version, "port": {"number": ctx.port}}, "weight": w}))
        .collect();
    let mut hosts = vec![rel.name.clone()];
    hosts.extend(t.hosts.iter().filter(|h| **h != rel.name).cloned());
    let mut spec = json!({"hosts": hosts});
    if !t.gateways.is_empty() {
        spec["gateways"] = json!(t.gateways);
    }
    spec["http"] = json!([{"name": "assay", "route": route}]);
    let virtual_service = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(ctx),
        "spec": spec,
    });
    vec![
        Document::Object(destination_rule),
        Document::Object(virtual_service),
    ]
}

fn http_route(ctx: &Ctx) -> Document {
    let rel = ctx.rel;
    let parents: Vec<Value> = if rel.traffic.parent_refs.is_empty() {
        vec![json!({"group": "", "kind": "Service", "name": rel.name, "port": ctx.port})]
    } else {
        rel.traffic
            .parent_refs
            .iter()
            .map(|p| serde_json::to_value(p).expect("serialisable parentRef"))
            .collect()
    };
    let backends: Vec<Value> = split(ctx)
        .iter()
        .map(|(v, w)| json!({"name": ctx.workload_name(v), "port": ctx.port, "weight": w}))
        .collect();
    Document::Object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(ctx),
        "spec": {"parentRefs": parents, "rules": [{"backendRefs": backends}]},
    }))
}
