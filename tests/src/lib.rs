//! Cross-crate checks of the repro workspace: the `report.json` schema every paper's
//! report must follow; `tests/papers.rs` runs every paper's smoke profile against it and
//! checks that a rerun with the same seeds gives the same numbers.

use serde_json::Value;

/// Fields of `report.json` with their JSON types, as fixed by the foundation issue.
pub const REQUIRED: &[(&str, &str)] = &[
    ("paper", "string"),
    ("profile", "string"),
    ("device", "string"),
    ("seeds", "array"),
    ("wall_seconds", "number"),
    ("git_commit", "string"),
    ("config", "object"),
    ("rows", "array"),
    ("results", "array"),
    ("claims", "array"),
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks a parsed `report.json` against the schema; the error lists every violation.
pub fn validate_report(v: &Value) -> Result<(), String> {
    let mut errors = Vec::new();
    for (key, ty) in REQUIRED {
        match v.get(key) {
            None => errors.push(format!("missing `{key}`")),
            Some(x) if type_name(x) != *ty => {
                errors.push(format!("`{key}` is {}, expected {ty}", type_name(x)))
            }
            _ => {}
        }
    }
    if let Some(p) = v.get("profile").and_then(Value::as_str)
        && !["smoke", "quick", "full"].contains(&p)
    {
        errors.push(format!("profile `{p}` is not smoke, quick or full"));
    }
    if let Some(seeds) = v.get("seeds").and_then(Value::as_array)
        && seeds.iter().any(|s| !s.is_u64())
    {
        errors.push("seeds must be non-negative integers".into());
    }
    for (i, c) in v
        .get("claims")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (key, ty) in [
            ("id", "string"),
            ("statement", "string"),
            ("measured", "object"),
            ("criterion", "string"),
            ("verdict", "string"),
        ] {
            match c.get(key) {
                None => errors.push(format!("claims[{i}]: missing `{key}`")),
                Some(x) if type_name(x) != ty => errors.push(format!(
                    "claims[{i}].{key} is {}, expected {ty}",
                    type_name(x)
                )),
                _ => {}
            }
        }
        if let Some(verdict) = c.get("verdict").and_then(Value::as_str)
            && !["reproduced", "not_reproduced", "inconclusive"].contains(&verdict)
        {
            errors.push(format!(
                "claims[{i}]: verdict `{verdict}` is not reproduced, not_reproduced or inconclusive"
            ));
        }
    }
    for (i, r) in v
        .get("rows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (key, ty) in [
            ("experiment", "string"),
            ("setting", "string"),
            ("method", "string"),
            ("metrics", "object"),
        ] {
            match r.get(key) {
                None => errors.push(format!("rows[{i}]: missing `{key}`")),
                Some(x) if type_name(x) != ty => errors.push(format!(
                    "rows[{i}].{key} is {}, expected {ty}",
                    type_name(x)
                )),
                _ => {}
            }
        }
        if !r.get("seed").is_some_and(|s| s.is_u64() || s.is_null()) {
            errors.push(format!(
                "rows[{i}].seed must be a non-negative integer or null"
            ));
        }
        let metrics = r
            .get("metrics")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        for (name, x) in metrics {
            if !(x.is_number() || x.is_null()) {
                errors.push(format!(
                    "rows[{i}].metrics.{name} is {}, expected number or null",
                    type_name(x)
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
