//! The hook's and the CLI's progress lines, for people or for log
//! pipelines: `text` is `assay: <message>` as always; `json` is one object
//! per line with `time`, `level`, `message`, and the `experiment`, `look`
//! and `verdict` the line belongs to (null until known), so Loki, Elastic or
//! Cloud Logging can filter a hook's lines without parsing prose.
//!
//! Code that logs keeps calling a plain `&dyn Fn(&str)` ([`Log`] derefs to
//! one); a line starting `warning: ` is a warning. The context is set where
//! it becomes known ([`Log::experiment`], [`Log::look`], [`Log::verdict`]).
//! Nothing here sees a secret unless a message holds one, and none does.

use std::cell::RefCell;
use std::ops::Deref;

/// How lines are written (`--log-format`, `ASSAY_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `assay: <message>`, for people.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Which experiment, look and verdict the next lines are about.
#[derive(Debug, Clone, Default)]
struct Context {
    experiment: Option<String>,
    look: Option<u32>,
    verdict: Option<String>,
}

/// A line writer with its context; derefs to the `Fn(&str)` code logs with.
pub struct Log<'a> {
    ctx: std::rc::Rc<RefCell<Context>>,
    line: Box<dyn Fn(&str) + 'a>,
}

impl<'a> Deref for Log<'a> {
    type Target = dyn Fn(&str) + 'a;
    fn deref(&self) -> &Self::Target {
        &*self.line
    }
}

impl<'a> Log<'a> {
    /// Lines in `format`, each handed whole (no line break) to `write`.
    /// Text lines are the message alone; `write` adds any prefix.
    pub fn new(format: LogFormat, write: impl Fn(&str) + 'a) -> Log<'a> {
        let ctx = std::rc::Rc::new(RefCell::new(Context::default()));
        let shared = ctx.clone();
        let line: Box<dyn Fn(&str) + 'a> = match format {
            LogFormat::Text => Box::new(write),
            LogFormat::Json => Box::new(move |message: &str| {
                let (level, message) = level_of(message);
                write(&json_line(level, message, &shared.borrow()));
            }),
        };
        Log { ctx, line }
    }

    /// Lines on stderr, `assay: ` before each text line.
    pub fn stderr(format: LogFormat) -> Log<'static> {
        Log::new(format, move |line: &str| match format {
            LogFormat::Text => eprintln!("assay: {line}"),
            LogFormat::Json => eprintln!("{line}"),
        })
    }

    /// The lines from here on are about this experiment.
    pub fn experiment(&self, name: &str) {
        self.ctx.borrow_mut().experiment = Some(name.to_string());
    }

    /// ... at this look.
    pub fn look(&self, look: u32) {
        self.ctx.borrow_mut().look = Some(look);
    }

    /// ... which has this verdict.
    pub fn verdict(&self, verdict: &str) {
        self.ctx.borrow_mut().verdict = Some(verdict.to_string());
    }
}

/// One error line, as `main` prints the command's failure.
pub fn error_line(format: LogFormat, message: &str) -> String {
    match format {
        LogFormat::Text => format!("assay: {message}"),
        LogFormat::Json => json_line("error", message, &Context::default()),
    }
}

fn level_of(message: &str) -> (&'static str, &str) {
    match message.strip_prefix("warning: ") {
        Some(rest) => ("warning", rest),
        None => ("info", message),
    }
}

fn json_line(level: &str, message: &str, ctx: &Context) -> String {
    serde_json::json!({
        "time": jiff_now(),
        "level": level,
        "message": message,
        "experiment": ctx.experiment,
        "look": ctx.look,
        "verdict": ctx.verdict,
    })
    .to_string()
}

fn jiff_now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_level_and_context() {
        let lines = RefCell::new(Vec::<String>::new());
        let log = Log::new(LogFormat::Json, |l: &str| lines.borrow_mut().push(l.into()));
        log("starting");
        log.experiment("productpage-0a1b2c3d4e");
        log.look(3);
        log.verdict("reject");
        log("warning: cannot poll the env repo: \"quoted\"\nsecond line");
        drop(log);
        let lines = lines.into_inner();
        assert_eq!(lines.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["level"], "info");
        assert_eq!(first["message"], "starting");
        assert!(first["experiment"].is_null() && first["look"].is_null());
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["level"], "warning");
        assert_eq!(
            second["message"],
            "cannot poll the env repo: \"quoted\"\nsecond line"
        );
        assert_eq!(second["experiment"], "productpage-0a1b2c3d4e");
        assert_eq!(second["look"], 3);
        assert_eq!(second["verdict"], "reject");
        assert!(!lines[1].contains('\n'));
    }

    #[test]
    fn text_lines_are_the_message() {
        let lines = RefCell::new(Vec::<String>::new());
        let log = Log::new(LogFormat::Text, |l: &str| lines.borrow_mut().push(l.into()));
        log.look(1);
        log("warning: x");
        drop(log);
        assert_eq!(lines.into_inner(), ["warning: x"]);
        assert_eq!(error_line(LogFormat::Text, "boom"), "assay: boom");
        let e: serde_json::Value =
            serde_json::from_str(&error_line(LogFormat::Json, "boom")).unwrap();
        assert_eq!(
            (e["level"].as_str(), e["message"].as_str()),
            (Some("error"), Some("boom"))
        );
    }
}
