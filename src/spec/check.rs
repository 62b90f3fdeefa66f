//! The small toolkit every validation rule uses: an error at a value's
//! position, and the checks shared by many fields (labels, ranges, durations,
//! URLs, images, keyed maps).

use std::time::Duration;

use crate::yaml::Spanned as S;
use indexmap::IndexMap;

use super::duration;
use super::names::*;
use super::raw::StringMap;
use crate::yaml::{Location, SpecError, SpecErrorKind};

/// The result of a validation rule.
pub(super) type R<T> = Result<T, SpecError>;

/// Validation of one file: errors carry its name and a value's position.
pub(super) struct Check<'a> {
    /// The file name every error carries.
    pub file: &'a str,
}

impl Check<'_> {
    /// An `Invalid` error at `at`, for values without a position of their own.
    pub fn err(&self, at: Location, path: &str, msg: impl Into<String>) -> SpecError {
        SpecError::new(self.file, at, path, SpecErrorKind::Invalid(msg.into()))
    }

    /// An `Invalid` error at the position of `v`.
    pub fn at<T>(&self, v: &S<T>, path: &str, msg: impl Into<String>) -> SpecError {
        self.err(Location::of(v), path, msg)
    }

    /// A DNS-1123 label (versions, containers, namespaces).
    pub fn label(&self, v: &S<String>, path: &str) -> R<String> {
        if !is_dns1123_label(&v.value) {
            return Err(self.at(v, path, format!(
                "must be a DNS-1123 label (lowercase letters, digits and '-', at most 63), got {:?}",
                v.value
            )));
        }
        Ok(v.value.clone())
    }

    /// An integer in `min..=max`; YAML gives every integer as `i64`.
    pub fn int(&self, v: &S<i64>, path: &str, min: i64, max: i64) -> R<i64> {
        if v.value < min || v.value > max {
            return Err(self.at(
                v,
                path,
                format!("must be between {min} and {max}, got {}", v.value),
            ));
        }
        Ok(v.value)
    }

    /// A duration such as `30s`, or `default` when the field is not written.
    pub fn duration(&self, v: &Option<S<String>>, path: &str, default: Duration) -> R<Duration> {
        match v {
            None => Ok(default),
            Some(s) => duration::parse(&s.value).map_err(|m| self.at(s, path, m)),
        }
    }

    /// A duration of at least `min`; the default applies when it is not written.
    pub fn duration_min(
        &self,
        v: &Option<S<String>>,
        path: &str,
        default: Duration,
        min: Duration,
    ) -> R<Duration> {
        let d = self.duration(v, path, default)?;
        match v {
            Some(s) if d < min => {
                Err(self.at(s, path, format!("must be at least {}s", min.as_secs())))
            }
            _ => Ok(d),
        }
    }

    /// An absolute http(s) URL with a host.
    pub fn url(&self, v: &S<String>, path: &str) -> R<String> {
        if !is_http_url(&v.value) {
            return Err(self.at(
                v,
                path,
                format!("expected an http:// or https:// URL, got {:?}", v.value),
            ));
        }
        Ok(v.value.clone())
    }

    /// A container image reference: non-empty, no whitespace (the registry checks the rest).
    pub fn image(&self, v: &S<String>, path: &str) -> R<String> {
        if v.value.is_empty() || v.value.chars().any(char::is_whitespace) {
            return Err(self.at(
                v,
                path,
                format!("expected a container image reference, got {:?}", v.value),
            ));
        }
        Ok(v.value.clone())
    }

    /// Maps keyed by Kubernetes-checked names; `S` is the enclosing map.
    pub fn keys(
        &self,
        map: &Option<StringMap>,
        at: Location,
        path: &str,
        ok: fn(&str) -> bool,
        what: &str,
    ) -> R<IndexMap<String, String>> {
        let map = map.clone().unwrap_or_default();
        if let Some(k) = map.keys().find(|k| !ok(k)) {
            return Err(self.err(
                at,
                &format!("{path}.{k}"),
                format!("{k:?} is not a valid {what}"),
            ));
        }
        Ok(map)
    }
}
