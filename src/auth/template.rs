//! Permission templates of scoped signing keys, as nats-server expands
//! them (`processUserPermissionsTemplate`): `{{name()}}`, `{{subject()}}`,
//! `{{account-name()}}`, `{{account-subject()}}`, `{{tag(X)}}` and
//! `{{account-tag(X)}}` in a template's subjects, filled from the user's
//! and its account's JWTs.

use super::jwt::Permission;
use crate::subject;

/// nats-server's `maxPermTemplateSubjectExpansions`.
const MAX_EXPANSIONS: usize = 4096;

/// What templates are filled from.
pub struct TemplateValues<'a> {
    /// The user JWT's `name` and `sub`.
    pub name: &'a str,
    pub subject: &'a str,
    /// The account JWT's `name` and the user's `issuer_account`.
    pub account_name: &'a str,
    pub account_subject: &'a str,
    pub tags: &'a [String],
    pub account_tags: &'a [String],
}

/// Expand `permission`'s lists in place, in nats-server's order (subscribe
/// allow and deny, then publish allow and deny are each the caller's).
/// An allow list that had entries and has none left denies everything.
pub fn expand(permission: &mut Permission, values: &TemplateValues<'_>) -> Result<(), String> {
    let had_allow = permission.allow.as_ref().is_some_and(|a| !a.is_empty());
    if let Some(allow) = &mut permission.allow {
        *allow = expand_list(allow, values, false)?;
    }
    if let Some(deny) = &mut permission.deny {
        *deny = expand_list(deny, values, true)?;
    }
    if had_allow && permission.allow.as_ref().is_some_and(|a| a.is_empty()) {
        permission
            .deny
            .get_or_insert_with(Vec::new)
            .push(">".into());
    }
    Ok(())
}

/// The `{{...}}` operations of `entry`, with where each starts and ends.
fn operations(entry: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = entry[from..].find("{{").map(|i| i + from) {
        let inner_start = open + 2;
        let Some(close) = entry[inner_start..].find('}').map(|i| i + inner_start) else {
            break;
        };
        if close == inner_start || !entry[close..].starts_with("}}") {
            from = inner_start;
            continue;
        }
        found.push((open, close + 2, entry[inner_start..close].trim()));
        from = close + 2;
    }
    found
}

fn expand_list(
    list: &[String],
    values: &TemplateValues<'_>,
    fail_on_bad_subject: bool,
) -> Result<Vec<String>, String> {
    if !list.iter().any(|e| !operations(e).is_empty()) {
        return Ok(list.to_vec());
    }
    let mut out = Vec::new();
    for entry in list {
        let ops = operations(entry);
        // Each operation's values: one for most, any number for tags.
        let mut choices: Vec<Vec<String>> = Vec::with_capacity(ops.len());
        for &(_, _, op) in &ops {
            choices.push(op_values(entry, op, values, fail_on_bad_subject)?);
        }
        let combinations = choices
            .iter()
            .try_fold(1usize, |n, c| n.checked_mul(c.len().max(1)))
            .filter(|&n| n <= MAX_EXPANSIONS)
            .ok_or(format!(
                "template expansion exceeds limit: {MAX_EXPANSIONS}"
            ))?;
        for index in 0..combinations {
            // The first operation varies slowest.
            let mut picks = Vec::with_capacity(ops.len());
            let mut rest = index;
            for c in choices.iter().rev() {
                let n = c.len().max(1);
                picks.push(c.get(rest % n).map_or("", String::as_str));
                rest /= n;
            }
            picks.reverse();
            let mut subject = String::with_capacity(entry.len());
            let mut copied = 0;
            for (&(start, end, _), pick) in ops.iter().zip(&picks) {
                subject.push_str(&entry[copied..start]);
                subject.push_str(pick);
                copied = end;
            }
            subject.push_str(&entry[copied..]);
            if valid_entry(&subject) {
                out.push(subject);
            } else if fail_on_bad_subject {
                return Err("generated invalid subject".into());
            }
            if out.len() > MAX_EXPANSIONS {
                return Err(format!(
                    "template expansion exceeds limit: {MAX_EXPANSIONS}"
                ));
            }
        }
    }
    Ok(out)
}

/// A subject, or a subject and a queue (subscribe entries).
fn valid_entry(entry: &str) -> bool {
    let mut parts = entry.split(' ');
    let subject_ok = parts
        .next()
        .is_some_and(|s| subject::is_valid_subject(s.as_bytes()));
    let queue_ok = parts.next().is_none_or(|q| !q.is_empty());
    subject_ok && queue_ok && parts.next().is_none()
}

fn op_values(
    entry: &str,
    op: &str,
    values: &TemplateValues<'_>,
    fail_on_bad_subject: bool,
) -> Result<Vec<String>, String> {
    let lower = op.to_lowercase();
    let single = |v: &str| Ok(vec![v.to_string()]);
    match lower.as_str() {
        "name()" => return single(values.name),
        "subject()" => return single(values.subject),
        "account-name()" => return single(values.account_name),
        "account-subject()" => return single(values.account_subject),
        _ => {}
    }
    let tag_op = |prefix: &str| {
        (lower.len() >= prefix.len() && lower.starts_with(prefix) && op.ends_with(')'))
            .then(|| op[prefix.len()..op.len() - 1].to_string())
    };
    let (name, tags) = if let Some(name) = tag_op("account-tag(") {
        (name, values.account_tags)
    } else if let Some(name) = tag_op("tag(") {
        (name, values.tags)
    } else {
        return Err(format!(
            "template operation in {entry:?}: {op:?} is not defined"
        ));
    };
    let prefix = format!("{}:", name.to_lowercase());
    let found: Vec<String> = tags
        .iter()
        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
        .collect();
    if found.is_empty() {
        if fail_on_bad_subject {
            return Err(format!(
                "generated invalid subject {entry:?}: {op:?} is not defined"
            ));
        }
        // An invalid subject: the entry is dropped.
        return Ok(vec![" ".into()]);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(tags: &'a [String]) -> TemplateValues<'a> {
        TemplateValues {
            name: "bob",
            subject: "UABC",
            account_name: "acme",
            account_subject: "AXYZ",
            tags,
            account_tags: &[],
        }
    }

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_and_subjects_are_filled_in() {
        let mut p = Permission {
            allow: list(&[
                "user.{{name()}}.>",
                "{{account-name()}}.{{subject()}}",
                "plain",
            ]),
            deny: None,
        };
        expand(&mut p, &values(&[])).unwrap();
        assert_eq!(p.allow, list(&["user.bob.>", "acme.UABC", "plain"]));
    }

    #[test]
    fn tags_expand_to_every_combination() {
        let tags = ["dept:a".to_string(), "dept:b".into(), "site:x".into()];
        let mut p = Permission {
            allow: list(&["{{tag(dept)}}.{{tag(site)}}.>"]),
            deny: None,
        };
        expand(&mut p, &values(&tags)).unwrap();
        assert_eq!(p.allow, list(&["a.x.>", "b.x.>"]));
    }

    #[test]
    fn a_missing_tag_drops_an_allow_entry_and_fails_a_deny_entry() {
        let mut p = Permission {
            allow: list(&["{{tag(none)}}.>"]),
            deny: None,
        };
        expand(&mut p, &values(&[])).unwrap();
        assert_eq!(p.allow, Some(vec![]));
        assert_eq!(p.deny, list(&[">"]), "an emptied allow list denies all");
        let mut p = Permission {
            allow: None,
            deny: list(&["{{tag(none)}}.>"]),
        };
        assert!(expand(&mut p, &values(&[])).is_err());
        let mut p = Permission {
            allow: list(&["{{bogus()}}"]),
            deny: None,
        };
        assert_eq!(
            expand(&mut p, &values(&[])).unwrap_err(),
            "template operation in \"{{bogus()}}\": \"bogus()\" is not defined"
        );
    }

    #[test]
    fn expansions_are_bounded() {
        let tags: Vec<String> = (0..100).map(|i| format!("t:{i}")).collect();
        let mut p = Permission {
            allow: list(&["{{tag(t)}}.{{tag(t)}}"]),
            deny: None,
        };
        assert_eq!(
            expand(&mut p, &values(&tags)).unwrap_err(),
            "template expansion exceeds limit: 4096"
        );
    }
}
