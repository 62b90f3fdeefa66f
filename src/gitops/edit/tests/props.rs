//! Property tests: a proposal set and promoted on any generated layout, set
//! then clear giving the bytes back, and no panic on any input.

use proptest::prelude::*;

use super::*;

/// One generated layout of a valid spec.
#[derive(Debug, Clone)]
struct Layout {
    bom: bool,
    indent: usize,
    seq_indented: bool,
    crlf: bool,
    final_newline: bool,
    comments: bool,
    baseline_flow: bool,
    baseline_env: Vec<(String, String)>,
    candidate: Option<(Proposal, bool)>,
    queue_mode: bool,
    rejected: usize,
}

fn quote(s: &str, plain: bool) -> String {
    if plain
        && !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
            .contains(&s.to_ascii_lowercase().as_str())
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn flow_version(v: &Proposal) -> String {
    let env: Vec<_> = v
        .env
        .iter()
        .map(|(k, x)| format!("{}: {}", quote(k, true), quote(x, false)))
        .collect();
    let env = if env.is_empty() {
        String::new()
    } else {
        format!(", env: {{{}}}", env.join(", "))
    };
    format!(
        "{{version: {}, image: {}{env}}}",
        v.version,
        quote(&v.image, false)
    )
}

fn block_version(v: &Proposal, pad: &str, i: &str, comments: bool) -> String {
    let c = if comments { " # note" } else { "" };
    let mut s = format!(
        "{pad}{i}version: {}{c}\n{pad}{i}image: {}\n",
        v.version,
        quote(&v.image, true)
    );
    if !v.env.is_empty() {
        s.push_str(&format!("{pad}{i}env:{c}\n"));
        for (k, x) in &v.env {
            s.push_str(&format!(
                "{pad}{i}{i}{}: {}\n",
                quote(k, true),
                quote(x, true)
            ));
        }
    }
    s
}

impl Layout {
    fn text(&self) -> String {
        let i = " ".repeat(self.indent);
        let c = |s: &str| {
            if self.comments {
                format!(" # {s} ✓")
            } else {
                String::new()
            }
        };
        let mut t = format!(
            "# generated{}\napiVersion: assay.dev/v1alpha1\nkind: Release\nmetadata:\n{i}name: app{}\nspec:{}\n",
            c("top"),
            c("name"),
            c("spec")
        );
        let baseline = Proposal {
            version: "base".into(),
            image: "img/base:1".into(),
            env: self.baseline_env.iter().cloned().collect(),
        };
        if self.comments {
            t.push_str(&format!("{i}# the baseline\n"));
        }
        if self.baseline_flow {
            t.push_str(&format!(
                "{i}baseline: {}{}\n",
                flow_version(&baseline),
                c("live")
            ));
        } else {
            t.push_str(&format!(
                "{i}baseline:{}\n{}",
                c("live"),
                block_version(&baseline, &i, &i, self.comments)
            ));
        }
        if let Some((cand, flow)) = &self.candidate {
            if *flow {
                t.push_str(&format!("{i}candidate: {}\n", flow_version(cand)));
            } else {
                t.push_str(&format!(
                    "{i}candidate:{}\n{}",
                    c("test"),
                    block_version(cand, &i, &i, self.comments)
                ));
            }
        }
        if self.comments {
            t.push('\n');
        }
        let mode = if self.queue_mode { "queue" } else { "preempt" };
        t.push_str(&format!(
            "{i}promotion:\n{i}{i}onNewCandidate: {mode}{}\n",
            c("mode")
        ));
        if self.rejected > 0 {
            t.push_str(&format!("{i}rejected:\n"));
            let dash = if self.seq_indented {
                format!("{i}{i}")
            } else {
                i.clone()
            };
            for n in 0..self.rejected {
                t.push_str(&format!(
                    "{dash}- version: r{n}{}\n{dash}  image: rej/{n}\n",
                    c("bad")
                ));
            }
        }
        if !self.final_newline {
            t.pop();
        }
        if self.bom {
            t.insert(0, '\u{feff}');
        }
        if self.crlf {
            t.replace('\n', "\r\n")
        } else {
            t
        }
    }
}

fn env_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z_][A-Z0-9_]{0,6}",
        Just("on".to_string()),
        Just("yes".to_string()),
        Just("y".to_string()),
        Just("null".to_string()),
        Just("No".to_string()),
    ]
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,10}",
        "[a-z0-9 :#'\"-]{0,8}",
        prop::sample::select(vec![
            "on", "no", "0755", "1e3", "~", "12:30", "a: b", "#x", "a #b", " lead", "trail ", "",
            "'", "\"", "\\", "- x", "[x]", "{y}", "*a", "&b", "!t", "%p", "a\nb", "\t", "é🎉",
            "\u{85}", "\u{2028}", "null", "- ", "? ", ": ",
        ])
        .prop_map(String::from),
    ]
}

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((env_key(), env_value()), 0..4).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|(k, _)| seen.insert(k.clone()));
        v
    })
}

fn proposal(prefix: &'static str) -> impl Strategy<Value = Proposal> {
    ("[0-9]{1,3}", "[a-z]{1,6}(:[a-z0-9.]{1,4})?", env()).prop_map(move |(n, image, env)| {
        Proposal {
            version: format!("{prefix}{n}"),
            image: format!("img/{image}é"),
            env: env.into_iter().collect(),
        }
    })
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        (
            2usize..=4,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            env(),
            prop::option::of((proposal("c"), any::<bool>())),
        ),
        (any::<bool>(), 0usize..3, any::<bool>()),
    )
        .prop_map(
            |(
                (indent, seq_indented, crlf, final_newline, comments),
                (baseline_flow, baseline_env, candidate),
                (queue_mode, rejected, bom),
            )| Layout {
                bom,
                indent,
                seq_indented,
                crlf,
                final_newline,
                comments,
                baseline_flow,
                baseline_env,
                candidate,
                queue_mode,
                rejected,
            },
        )
}

/// `PROPTEST_CASES` overrides the default of 96 for a longer search.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(96)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A proposal set on any layout and promoted becomes the baseline, in a
    /// valid file with the input's line ends; promoting twice is superseded.
    #[test]
    fn a_promoted_proposal_becomes_the_baseline(l in layout(), prop in proposal("v")) {
        let text = l.text();
        let before = release(&text);
        let (mut out, outcome) = set_candidate(&text, &prop, false).unwrap();
        same_form(&text, &out);
        if let Proposed::Queued { position } = outcome {
            // Queue mode with a candidate under test: promote it first.
            prop_assert_eq!(position, 1);
            let id = release(&out).id;
            out = changed(apply_verdict(&out, &id, &VerdictEdit::Promote)).0;
            prop_assert_eq!(Some(release(&out).baseline), before.candidate);
        }
        let proposed = release(&out);
        prop_assert_eq!(proposed.candidate.as_ref(), Some(&version(&prop)));
        let (promoted, _) = changed(apply_verdict(&out, &proposed.id, &VerdictEdit::Promote));
        same_form(&text, &promoted);
        let after = release(&promoted);
        prop_assert_eq!(&after.baseline, &version(&prop));
        prop_assert_eq!(after.candidate, None);
        prop_assert_eq!(after.rejected, before.rejected);
        let again = apply_verdict(&promoted, &proposed.id, &VerdictEdit::Promote).unwrap();
        prop_assert_eq!(again, Applied::Superseded { found: None });
    }

    /// Setting a candidate where there is none and clearing it again gives
    /// back the very same bytes.
    #[test]
    fn set_then_clear_gives_the_text_back(mut l in layout(), prop in proposal("v")) {
        l.candidate = None;
        let text = l.text();
        let (out, _) = set_candidate(&text, &prop, false).unwrap();
        prop_assert_eq!(clear_candidate(&out).unwrap(), text);
    }

    /// No input makes an edit panic: arbitrary text, and fixtures with bytes
    /// cut out or pasted in.
    #[test]
    fn no_input_panics(
        noise in "\\PC{0,40}",
        which in 0usize..8,
        at in any::<prop::sample::Index>(),
        cut in 0usize..12,
    ) {
        let names = ["comments", "crlf", "flow", "indent3", "indent4", "markers", "quoted", "unicode"];
        let base = fixture(names[which]);
        let mut i = at.index(base.len() + 1);
        while !base.is_char_boundary(i) {
            i -= 1;
        }
        let mut j = (i + cut).min(base.len());
        while !base.is_char_boundary(j) {
            j -= 1;
        }
        let texts = [noise.clone(), format!("{}{noise}{}", &base[..i], &base[j..])];
        for text in &texts {
            let prop = p("v9", "x:9", &[("on", "y")]);
            let _ = set_candidate(text, &prop, false);
            let _ = receive_winner(text, &prop, false);
            let _ = clear_candidate(text);
            let _ = apply_verdict(text, "0000000000", &VerdictEdit::Promote);
            if let Ok(r) = spec::parse_raw("x", text.as_bytes()) {
                let id = spec::experiment_id(&r);
                let _ = apply_verdict(text, &id, &VerdictEdit::Promote);
                let _ = apply_verdict(text, &id, &reject());
            }
        }
    }
}
