//! Issue 16: a seeded mutation fuzz of the files `generate` reads, through
//! the binary. Each case copies the bookinfo sample (with a candidate, and a
//! JSON manifest beside the YAML ones), mutates one file (`assay.yaml`, the
//! template or a passthrough manifest) a few times (bytes flipped, cut or
//! repeated; lines swapped; YAML syntax, words YAML 1.1 reads differently,
//! the characters YAML 1.1 and 1.2 disagree on, long comment runs and long
//! values inserted), and runs `assay generate` and `assay validate` on it.
//!
//! Every case must end as Argo CD needs: no panic; on success a non-empty
//! stream of objects with `apiVersion`, `kind` and `metadata.name` that holds
//! no character YAML 1.1 reads differently; on failure nothing on stdout and
//! one bounded stderr line `assay: file:line:column: …` pointing into the
//! app. And `validate` agrees with `generate`: the same outcome, and the
//! same line when both refuse — except that `validate` alone also refuses,
//! by design (issue 9), an experiment whose traffic could not promote even
//! a candidate with no errors; such a refusal is checked like any other. A failure names its seed, so it replays:
//! `ASSAY_FUZZ_SEED=714 cargo nextest run -E 'test(/fuzz/)'` runs that case
//! alone and prints what each command said.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::invalid::place;
use crate::support::{assay_bin, bookinfo_with_candidate, sample_dir};

/// Cases, split over [`THREADS`] threads (the CI machine has two cores).
const CASES: u64 = 3_000;
const THREADS: u64 = 2;
/// An error line longer than this echoes too much of the input.
const MAX_LINE: usize = 2_000;

/// What Argo CD would set; a Prometheus URL from the plugin env, so a spec
/// without one is judged alike by `generate` and by `validate`.
const ENV: &[(&str, &str)] = &[
    ("ARGOCD_APP_NAME", "bookinfo"),
    ("ARGOCD_APP_NAMESPACE", "default"),
    (
        "ARGOCD_APP_SOURCE_REPO_URL",
        "https://github.com/YOUR_ORG/bookinfo-env.git",
    ),
    ("ARGOCD_ENV_PROMETHEUS_URL", "http://prometheus:9090"),
];

/// A passthrough manifest in JSON, so JSON streams are mutated too.
const JSON_MANIFEST: &str = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "data": {"a": "b"}}
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra-2"}}
"#;

/// What a mutation inserts.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    ": ", "- ", "-", ":", "---\n", "...\n", "\n", "  ", "\t", "#", "# c\n", "{", "}", "[", "]", ",",
    "'", "\"", "&a ", "*a", "<<: *a\n", "!!str ", "!!binary ", "? ", "|\n", ">-\n", "%YAML 1.1\n",
    "~", "null", "on", "no", "y", "0755", "12:30", "1e3", ".nan", "-1", "2026-01-01", "0x1F",
    "\u{feff}", "\u{feff}\u{feff}", "\u{85}", "\u{2028}", "\u{2029}", "\u{0}", "é", "\\u2028",
    "kind: ", "apiVersion: ", "metadata:\n  name: x\n", "name: ", "namespace: x\n",
    "version: v2\n", "image: ", "prometheus: http://[::1/x\n", "url: http://a:99999\n",
    "container: other\n", "kind: Service\n", "apiVersion: v1\nkind: Service\nmetadata:\n  name: productpage\n",
];

/// A small deterministic generator, so a failing case is one seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The start of the line holding byte `at`.
fn line_start(b: &[u8], at: usize) -> usize {
    b[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1)
}

/// One mutation of `b`, chosen by `rng`.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
    let at = rng.below(b.len() + 1);
    let len = 1 + rng.below(24);
    let end = (at + len).min(b.len());
    match rng.below(9) {
        0 if at < b.len() => b[at] ^= 1 << rng.below(8),
        1 => {
            b.drain(at..end);
        }
        2 => {
            let copy = b[at..end].to_vec();
            b.splice(at..at, copy);
        }
        3 | 4 => {
            let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
            let at = if rng.below(2) == 0 {
                line_start(b, at)
            } else {
                at
            };
            b.splice(at..at, token.iter().copied());
        }
        5 => {
            // Two lines swapped.
            let text = String::from_utf8_lossy(b).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            lines.swap(i, j);
            *b = lines.join("\n").into_bytes();
        }
        6 => {
            // A long comment run (issue 16: more than the parser's default 32).
            let indent = " ".repeat(2 * rng.below(3));
            let run = format!("{indent}# comment\n").repeat(20 + rng.below(60));
            let at = line_start(b, at);
            b.splice(at..at, run.bytes());
        }
        7 => {
            // A long value where a scalar was.
            let long = "v".repeat(1 + rng.below(5_000));
            b.splice(at..end, long.bytes());
        }
        _ => {
            // A line indented or dedented.
            let at = line_start(b, at);
            if b.get(at..at + 2) == Some(b"  ") && rng.below(2) == 0 {
                b.drain(at..at + 2);
            } else {
                b.splice(at..at, *b"  ");
            }
        }
    }
}

/// The app every case starts from: file name and bytes.
fn base_app() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "assay.yaml".to_string(),
            bookinfo_with_candidate().into_bytes(),
        ),
        ("extra.json".to_string(), JSON_MANIFEST.as_bytes().to_vec()),
    ];
    for entry in std::fs::read_dir(sample_dir("bookinfo")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        // Two of the sample's four Service + Deployment files are enough.
        let kept = ![
            "assay.yaml",
            "argocd-app.yaml",
            "ratings.yaml",
            "reviews.yaml",
        ]
        .contains(&name.as_str());
        if kept {
            let bytes = std::fs::read(sample_dir("bookinfo").join(&name)).unwrap();
            files.push((name, bytes));
        }
    }
    files.sort();
    files
}

fn run(dir: &Path, command: &str) -> Output {
    Command::new(assay_bin())
        .arg(command)
        .current_dir(dir)
        .env_clear()
        .envs(ENV.iter().copied())
        .output()
        .expect("assay runs")
}

/// Characters a YAML 1.1 reader reads differently (issue 16).
const DISAGREED: [char; 4] = ['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'];

/// The stream `generate` printed holds objects Argo CD can read and apply.
fn check_stream(stdout: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(stdout).map_err(|e| format!("stdout is not UTF-8: {e}"))?;
    if let Some(c) = text.chars().find(|c| DISAGREED.contains(c)) {
        return Err(format!("stdout holds U+{:04X}", c as u32));
    }
    // Passed-through manifests may hold long comment runs and deep CRDs
    // (comments not emitted are not held, as assay reads them).
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: 128 },
        emit_comments: false,
    };
    let docs: Vec<Value> = serde_saphyr::from_str_multiple_with_options(text, options)
        .map_err(|e| format!("stdout is not a YAML stream: {e}"))?;
    let objects: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    if objects.is_empty() {
        return Err("exit 0 with an empty stream".into());
    }
    for o in objects {
        let text = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
        let named = text(&o["metadata"]["name"]) || text(&o["metadata"]["generateName"]);
        let list = o["kind"].as_str().is_some_and(|k| k.ends_with("List"));
        if !text(&o["apiVersion"]) || !text(&o["kind"]) || !(named || list) {
            let shown: String = o.to_string().chars().take(200).collect();
            return Err(format!("an object Argo CD cannot apply: {shown}"));
        }
    }
    Ok(())
}

/// The one error line of a refusal, checked.
fn check_refusal(dir: &Path, out: &Output) -> Result<String, String> {
    if !out.stdout.is_empty() {
        return Err("stdout not empty on failure".into());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.ends_with('\n') || stderr.lines().count() != 1 {
        return Err(format!("stderr is not one line: {stderr:?}"));
    }
    let line = stderr.trim_end().to_string();
    if line.chars().count() > MAX_LINE {
        let head: String = line.chars().take(300).collect();
        return Err(format!(
            "a {}-character error line: {head}…",
            line.chars().count()
        ));
    }
    let (file, l, c) = place(&line).ok_or_else(|| format!("no file:line:column: {line:?}"))?;
    let lines = std::fs::read(dir.join(file))
        .map(|b| String::from_utf8_lossy(&b).split('\n').count())
        .map_err(|_| format!("names no file of the app: {line:?}"))?;
    if l == 0 || c == 0 || l > lines {
        return Err(format!("place outside {file} ({lines} lines): {line:?}"));
    }
    Ok(line)
}

/// One case; `Ok(true)` when `generate` rendered, `Ok(false)` when it refused.
fn case(base: &[(String, Vec<u8>)], seed: u64) -> Result<bool, String> {
    let mut rng = Rng::new(seed);
    let mut files = base.to_vec();
    // assay.yaml in (a little over) 2 of 5 cases, any file otherwise.
    let spec = files.iter().position(|f| f.0 == "assay.yaml").unwrap();
    let target = match rng.below(5) {
        0 | 1 => spec,
        _ => rng.below(files.len()),
    };
    for _ in 0..1 + rng.below(3) {
        mutate(&mut rng, &mut files[target].1);
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let what = |e: String| format!("seed {seed} ({} mutated): {e}", files[target].0);
    let generate = run(dir.path(), "generate");
    let validate = run(dir.path(), "validate");
    for (name, out) in [("generate", &generate), ("validate", &validate)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("panicked") || !matches!(out.status.code(), Some(0 | 1)) {
            return Err(what(format!("{name}: {:?}, {stderr}", out.status)));
        }
    }
    // Only validate plans the experiment's power (generate stays silent).
    let unpromotable = generate.status.success()
        && String::from_utf8_lossy(&validate.stderr).contains("spec.experiment.duration: ")
        && String::from_utf8_lossy(&validate.stderr)
            .contains("cannot show even a candidate with no errors");
    if unpromotable {
        check_stream(&generate.stdout).map_err(what)?;
        check_refusal(dir.path(), &validate).map_err(what)?;
        return Ok(true);
    }
    if generate.status.code() != validate.status.code() {
        let said = |o: &Output| {
            String::from_utf8_lossy(if o.status.success() {
                &o.stdout
            } else {
                &o.stderr
            })
            .into_owned()
        };
        return Err(what(format!(
            "generate and validate disagree: generate {:?}, validate {:?}",
            said(&generate),
            said(&validate)
        )));
    }
    if generate.status.success() {
        check_stream(&generate.stdout).map_err(what)?;
        return Ok(true);
    }
    let g = check_refusal(dir.path(), &generate).map_err(what)?;
    let v = check_refusal(dir.path(), &validate).map_err(what)?;
    if g != v {
        return Err(what(format!(
            "different refusals: generate {g:?}, validate {v:?}"
        )));
    }
    Ok(false)
}

#[test]
fn mutated_inputs_fail_cleanly_and_validate_agrees_with_generate() {
    let base = base_app();
    if let Ok(seed) = std::env::var("ASSAY_FUZZ_SEED") {
        let seed = seed.parse().expect("ASSAY_FUZZ_SEED is a number");
        let outcome = case(&base, seed);
        assert!(outcome.is_ok(), "{outcome:?}");
        return;
    }
    let results: Vec<Result<bool, String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let base = &base;
                s.spawn(move || {
                    (t..CASES)
                        .step_by(THREADS as usize)
                        .map(|seed| case(base, seed))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let rendered = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(false))).count();
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases failed; the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    // Both outcomes are exercised, or the fuzz is testing nothing.
    assert!(rendered > CASES as usize / 10, "only {rendered} rendered");
    assert!(refused > CASES as usize / 10, "only {refused} refused");
}
