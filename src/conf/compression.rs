//! `compression` of leaf nodes and routes: nats-server's `parseCompression`
//! and `validateAndNormalizeCompressionOption`, with their texts. natsd
//! compresses neither; the callers say so when a mode asks for it.

use super::duration;
use super::options::{at_key, go_duration, string, unknown_field, wrong_type, Result};
use super::value::{Entry, Value};
use super::Diagnostic;

/// The mode and thresholds as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Compression {
    pub mode: String,
    /// `rtt_thresholds`, in nanoseconds.
    pub thresholds: Vec<i128>,
}

/// nats-server's `parseCompression`: a string, a boolean (`true` is
/// `on_mode`), or `{ mode, rtt_thresholds }`.
pub(super) fn parse(field: &Entry, on_mode: &str) -> Result<Compression> {
    let mut c = Compression::default();
    match &field.value.value {
        Value::String(s) => c.mode = s.clone(),
        Value::Bool(true) => c.mode = on_mode.into(),
        Value::Bool(false) => c.mode = "off".into(),
        Value::Map(block) => {
            for f in block.entries() {
                match f.key.to_lowercase().as_str() {
                    "mode" => c.mode = string(f)?.to_string(),
                    "rtt_thresholds" | "thresholds" | "rtts" | "rtt" => {
                        let Value::Array(items) = &f.value.value else {
                            return Err(wrong_type(f, "an array", &f.value.value));
                        };
                        for item in items {
                            let Value::String(s) = &item.value else {
                                return Err(Diagnostic::at(
                                    item.pos.clone(),
                                    format!(
                                        "error parsing rtt_thresholds: unsupported type in array {}",
                                        item.value.kind()
                                    ),
                                ));
                            };
                            c.thresholds
                                .push(duration::parse(s).map_err(|e| at_key(f, e))?);
                        }
                    }
                    _ => unknown_field(f)?,
                }
            }
        }
        other => {
            return Err(at_key(
                field,
                format!(
                    "field {:?} should be a boolean or a structure, got {}",
                    field.key,
                    super::accounts::go_type(other)
                ),
            ))
        }
    }
    Ok(c)
}

/// nats-server's `validateAndNormalizeCompressionOption`: the mode's
/// canonical name (`off`, `not supported`, `accept`, `s2_auto`, `s2_fast`,
/// `s2_better`, `s2_best`). `on_mode` is what `on` means; an empty mode is
/// `empty_mode` (nats-server's `setBaselineOptions` default).
pub(super) fn normalize(
    c: &Compression,
    on_mode: &str,
    empty_mode: &str,
) -> std::result::Result<String, String> {
    let written = if c.mode.is_empty() {
        empty_mode
    } else {
        c.mode.as_str()
    };
    let mut lower = written.to_lowercase();
    if matches!(lower.as_str(), "on" | "enabled" | "true") {
        lower = on_mode.to_string();
    }
    let mode = match lower.as_str() {
        "not supported" | "not_supported" => "not supported",
        "disabled" | "off" | "false" => "off",
        "accept" => "accept",
        "auto" | "s2_auto" => {
            check_thresholds(written, &c.thresholds)?;
            "s2_auto"
        }
        "fast" | "s2_fast" => "s2_fast",
        "better" | "s2_better" => "s2_better",
        "best" | "s2_best" => "s2_best",
        _ => return Err(format!("unsupported compression mode {written:?}")),
    };
    Ok(mode.to_string())
}

/// Whether a normalized mode compresses (or would accept to).
pub(super) fn compresses(mode: &str) -> bool {
    !matches!(mode, "off" | "not supported")
}

/// The `s2_auto` RTT thresholds as nats-server checks them.
fn check_thresholds(mode: &str, thresholds: &[i128]) -> std::result::Result<(), String> {
    if thresholds.is_empty() {
        return Ok(());
    }
    let written = || {
        let shown: Vec<String> = thresholds.iter().map(|n| go_duration(*n)).collect();
        format!("[{}]", shown.join(" "))
    };
    let mut rtts: Vec<i128> = Vec::new();
    for &n in thresholds {
        let n = n.max(0);
        if n != 0 && rtts.iter().any(|&v| n < v) {
            return Err(format!(
                "RTT threshold values {} should be in ascending order",
                written()
            ));
        }
        rtts.push(n);
    }
    while rtts.last() == Some(&0) {
        rtts.pop();
    }
    if rtts.len() > 4 {
        return Err(format!(
            "compression mode {mode:?} should have no more than 4 RTT thresholds: {}",
            written()
        ));
    }
    if rtts.is_empty() {
        return Err(format!(
            "compression mode {mode:?} requires at least one RTT threshold"
        ));
    }
    Ok(())
}
