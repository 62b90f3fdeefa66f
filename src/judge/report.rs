//! How a judgement is shown: a table for people (`assay judge`), JSON for
//! scripts, and Markdown for the verdict commit and pull request.

use serde_json::json;

use super::Judgement;
use super::criteria::num;
use crate::crd::Evidence;

fn cells(e: &Evidence) -> [String; 8] {
    [
        e.version.clone(),
        e.metric.clone(),
        e.value.map(num).unwrap_or_else(|| "no data".into()),
        e.limit.clone().unwrap_or_default(),
        e.samples.to_string(),
        e.hits.map(|h| h.to_string()).unwrap_or_else(|| "-".into()),
        decision(e),
        e.result.as_str().to_string(),
    ]
}

/// The boundaries of a rate row at this look, or the bound of an estimate.
fn decision(e: &Evidence) -> String {
    match (e.reject_at, e.promote_at, e.bound) {
        (Some(r), Some(p), _) => format!("reject >= {r}, promote <= {p}"),
        (Some(r), None, _) => format!("reject >= {r}, no promotion yet"),
        (None, Some(p), _) => format!("promote <= {p}"),
        (None, None, Some(b)) => format!("bound {}", num(b)),
        (None, None, None) => "-".into(),
    }
}

const HEADER: [&str; 8] = [
    "VERSION", "METRIC", "VALUE", "LIMIT", "SAMPLES", "HITS", "DECISION", "RESULT",
];

/// The table `assay judge` prints by default.
pub fn table(j: &Judgement) -> String {
    let rows: Vec<[String; 8]> = j.assessment.evidence.iter().map(cells).collect();
    let mut width = HEADER.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = format!(
        "experiment {}: {} (baseline) vs {} (candidate)\nwindow {} .. {} ({}s{})\n\n",
        j.experiment,
        j.baseline,
        j.candidate,
        j.window.start,
        j.look.end,
        j.look.seconds,
        if j.look.is_final { ", final" } else { "" }
    );
    out.push_str(&line(&HEADER.map(String::from)));
    for r in &rows {
        out.push_str(&line(r));
    }
    out.push_str(&format!(
        "\nverdict: {} ({})\n",
        j.assessment.decision.as_str(),
        j.assessment.reason
    ));
    out
}

/// `--output json`: a top-level `verdict` plus everything in the table.
pub fn json(j: &Judgement) -> String {
    let v = json!({
        "verdict": j.assessment.decision.as_str(),
        "reason": j.assessment.reason,
        "experiment": j.experiment,
        "baseline": j.baseline,
        "candidate": j.candidate,
        "window": {
            "startedAt": j.window.started_at.to_string(),
            "start": j.window.start.to_string(),
            "end": j.look.end.to_string(),
            "deadline": j.window.deadline.to_string(),
            "seconds": j.look.seconds,
            "final": j.look.is_final,
        },
        "queries": j.queries,
        "evidence": j.assessment.evidence,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// The evidence as a Markdown table, for the verdict commit's body.
pub fn markdown(j: &Judgement) -> String {
    let window = format!("{} to {} ({}s)", j.window.start, j.look.end, j.look.seconds);
    markdown_of(
        j.assessment.decision.as_str(),
        &j.assessment.reason,
        &window,
        &j.assessment.evidence,
    )
}

/// [`markdown`] from parts, e.g. from a status a restarted hook resumes.
pub fn markdown_of(verdict: &str, reason: &str, window: &str, evidence: &[Evidence]) -> String {
    let mut out = format!("Verdict: {verdict} ({reason})\n\nWindow: {window}.\n");
    if evidence.is_empty() {
        return out;
    }
    out.push_str("\n| version | metric | value | limit | samples | hits | decision | result |\n");
    out.push_str("|---|---|---:|---|---:|---:|---|---|\n");
    for e in evidence {
        out.push_str(&format!("| {} |\n", cells(e).join(" | ")));
    }
    out
}
