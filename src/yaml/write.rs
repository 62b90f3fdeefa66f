//! Writing values as YAML documents for the output stream. serde-saphyr's
//! serializer quotes every string a YAML 1.1 or 1.2 reader would resolve to
//! something else (see [`super::scalar`] and its test), so Argo CD's go-yaml
//! reads back exactly the strings assay wrote.

use serde::Serialize;

/// `value` as one YAML document (no `---`), ending in a newline.
pub fn to_string<T: Serialize>(value: &T) -> String {
    let mut out = String::new();
    append(&mut out, value);
    out
}

/// Appends `value` to `out` as one YAML document (no `---`), ending in a
/// newline: a stream is written into one buffer, not a string per document.
pub fn append<T: Serialize>(out: &mut String, value: &T) {
    // The values assay writes are plain data (serde_json values, Kubernetes
    // types): serialising them to YAML cannot fail.
    serde_saphyr::to_fmt_writer(out, value).expect("serialisable value");
}
