//! A function's identity policy: its statements read from the template, and the decision IAM
//! takes on one access when no statement has a Condition.

use super::pattern::Pattern;
use super::sam_templates::SamPolicyTemplates;
use super::{Access, Denied, IamError};
use crate::template::Context;
use serde_norway::Value;

/// What IAM answers for one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement covers it, whatever allows it.
    ExplicitDeny,
}

/// The statements of one principal's identity policies, intrinsics resolved.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// The actions or resources a statement covers: those listed (`Action`), or all but those
/// (`NotAction`).
#[derive(Debug, Clone)]
enum Scope {
    Listed(Vec<Pattern>),
    AllBut(Vec<Pattern>),
}

impl Scope {
    fn covers(&self, value: &str) -> bool {
        match self {
            Scope::Listed(patterns) => patterns.iter().any(|p| p.matches(value)),
            Scope::AllBut(patterns) => !patterns.iter().any(|p| p.matches(value)),
        }
    }
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    actions: Scope,
    resources: Scope,
}

/// The statements of `AWSLambdaBasicExecutionRole`: logs only.
const BASIC_EXECUTION: &[&str] = &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"];

/// The statements of `AWSXRayDaemonWriteAccess` (and the older `AWSXrayWriteOnlyAccess`): traces only.
const XRAY_WRITE: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
];

impl Policy {
    /// The policy of a function whose `Properties.Policies` is `policies` (a list, or a single
    /// item), each item an inline policy document, a SAM policy template, or the name or ARN of
    /// a managed policy. Intrinsics resolve through `context`. Managed policies are known only
    /// when they grant nothing but logs and traces (`AWSLambdaBasicExecutionRole`,
    /// `AWSXRayDaemonWriteAccess`, `AWSXrayWriteOnlyAccess`): they become their real `logs:` and
    /// `xray:` statements; any other is refused, as is a statement with a `Condition`.
    pub fn from_template(
        policies: Option<&Value>,
        context: &Context,
        sam_templates: &SamPolicyTemplates,
    ) -> Result<Policy, IamError> {
        let items: Vec<&Value> = match policies {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items.iter().collect(),
            Some(single) => vec![single],
        };
        let mut statements = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let location = format!("Policies[{index}]");
            statements.extend(policy_item(item, &location, context, sam_templates)?);
        }
        Ok(Policy { statements })
    }

    /// The policy of one policy document (`{Version, Statement}`), intrinsics resolved through
    /// `context`: an `AWS::IAM::ManagedPolicy`'s `PolicyDocument`, say.
    pub fn from_document(document: &Value, context: &Context) -> Result<Policy, IamError> {
        Ok(Policy {
            statements: resolved_document(document, "PolicyDocument", context)?,
        })
    }

    /// What IAM decides for `action` (`service:Action`) on `resource` (an ARN, or `*`).
    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        let mut allowed = false;
        for statement in &self.statements {
            if statement.actions.covers(action) && statement.resources.covers(resource) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }

    /// Succeeds when every access of one request is allowed; else names the first refused.
    pub fn authorize(&self, requests: &[Access]) -> Result<(), Denied> {
        for access in requests {
            let explicit = match self.decide(&access.action, &access.resource) {
                Decision::Allow => continue,
                Decision::ImplicitDeny => false,
                Decision::ExplicitDeny => true,
            };
            return Err(Denied {
                access: access.clone(),
                explicit,
            });
        }
        Ok(())
    }
}

/// The statements of one item of `Policies`, told apart the way SAM tells them apart.
fn policy_item(
    item: &Value,
    location: &str,
    context: &Context,
    sam_templates: &SamPolicyTemplates,
) -> Result<Vec<Statement>, IamError> {
    let malformed = |reason: String| IamError::Malformed {
        location: location.to_owned(),
        reason,
    };
    if is_condition(item) {
        return Err(malformed(
            "Fn::If in Policies is not evaluated locally; write the policy without it".into(),
        ));
    }
    let Value::Mapping(map) = item else {
        // A string, or an intrinsic that makes one: a managed policy.
        let name = context.resolve_string(item).map_err(|source| IamError::Template {
            location: location.to_owned(),
            source,
        })?;
        return managed_policy(&name, location);
    };
    if map.contains_key("Statement") {
        return resolved_document(item, location, context);
    }
    let single_entry = match map.iter().next() {
        Some((Value::String(key), value)) if map.len() == 1 => Some((key.as_str(), value)),
        _ => None,
    };
    match single_entry {
        Some((key, _)) if key == "Ref" || key.starts_with("Fn::") => {
            let name = context.resolve_string(item).map_err(|source| IamError::Template {
                location: location.to_owned(),
                source,
            })?;
            managed_policy(&name, location)
        }
        Some((name, parameter_values)) if sam_templates.contains(name) => {
            let location = format!("{location} ({name})");
            let document = sam_templates.expand(name, parameter_values, &location)?;
            resolved_document(&document, &location, context)
        }
        Some((name, _)) => Err(malformed(format!(
            "{name} is not one of SAM's {} policy templates, and the item is no policy document (it has \
             no Statement)",
            sam_templates.len()
        ))),
        None => Err(malformed(
            "neither a policy document (it has no Statement), a SAM policy template nor a managed policy".into(),
        )),
    }
}

/// Whether `item` is an `!If` / `Fn::If`, which needs the template's conditions.
fn is_condition(item: &Value) -> bool {
    match item {
        Value::Tagged(tagged) => tagged.tag.to_string().trim_start_matches('!') == "If",
        Value::Mapping(map) => map.len() == 1 && map.contains_key("Fn::If"),
        _ => false,
    }
}

/// The statements of the AWS managed policy `name` (a name, or an `arn:…:iam::aws:policy/…` ARN).
fn managed_policy(name: &str, location: &str) -> Result<Vec<Statement>, IamError> {
    let unknown = || IamError::UnknownManagedPolicy {
        location: location.to_owned(),
        name: name.to_owned(),
    };
    let short_name = match name.strip_prefix("arn:") {
        // arn:<partition>:iam::aws:policy/<path>/<name>; any other account's policy is the
        // customer's, whose statements live in IAM.
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            match parts.as_slice() {
                [_, "iam", "", "aws", resource] => resource
                    .strip_prefix("policy/")
                    .and_then(|path| path.rsplit('/').next())
                    .ok_or_else(unknown)?,
                _ => return Err(unknown()),
            }
        }
        None => name,
    };
    let actions = match short_name {
        "AWSLambdaBasicExecutionRole" => BASIC_EXECUTION,
        "AWSXRayDaemonWriteAccess" | "AWSXrayWriteOnlyAccess" => XRAY_WRITE,
        _ => return Err(unknown()),
    };
    Ok(vec![Statement {
        effect: Effect::Allow,
        actions: Scope::Listed(actions.iter().map(|a| Pattern::action(a)).collect()),
        resources: Scope::Listed(vec![Pattern::resource("*")]),
    }])
}

/// The statements of a policy document whose intrinsics are still to evaluate.
fn resolved_document(document: &Value, location: &str, context: &Context) -> Result<Vec<Statement>, IamError> {
    let resolved = context.resolve(document).map_err(|source| IamError::Template {
        location: location.to_owned(),
        source,
    })?;
    parse_document(&resolved, location)
}

/// The statements of a plain (resolved) policy document.
fn parse_document(document: &Value, location: &str) -> Result<Vec<Statement>, IamError> {
    let malformed = |reason: String| IamError::Malformed {
        location: location.to_owned(),
        reason,
    };
    let Value::Mapping(map) = document else {
        return Err(malformed("a policy document is a mapping with a Statement".into()));
    };
    for (key, value) in map {
        match key.as_str() {
            Some("Statement" | "Id") => {}
            Some("Version") => match value.as_str() {
                Some("2012-10-17" | "2008-10-17") => {}
                _ => {
                    return Err(malformed(format!(
                        "Version {value:?} is not an IAM policy language version"
                    )));
                }
            },
            _ => return Err(malformed(format!("unknown policy document field {key:?}"))),
        }
    }
    let statements: Vec<&Value> = match map.get("Statement") {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(single @ Value::Mapping(_)) => vec![single],
        _ => return Err(malformed("Statement must be a statement or a list of them".into())),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(index, statement)| parse_statement(statement, &format!("{location}.Statement[{index}]")))
        .collect()
}

fn parse_statement(statement: &Value, location: &str) -> Result<Statement, IamError> {
    let malformed = |reason: String| IamError::Malformed {
        location: location.to_owned(),
        reason,
    };
    let Value::Mapping(map) = statement else {
        return Err(malformed("a statement is a mapping".into()));
    };
    for key in map.keys() {
        match key.as_str() {
            Some("Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource") => {}
            Some("Condition") => {
                return Err(IamError::Condition {
                    location: location.to_owned(),
                });
            }
            Some("Principal" | "NotPrincipal") => {
                return Err(malformed(
                    "an identity policy names no Principal (that is for resource policies)".into(),
                ));
            }
            _ => return Err(malformed(format!("unknown statement field {key:?}"))),
        }
    }
    let effect = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Effect must be Allow or Deny".into())),
    };
    let actions = scope(map, "Action", "NotAction", location, |action| {
        if action == "*"
            || action
                .split_once(':')
                .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty())
        {
            Ok(Pattern::action(action))
        } else {
            Err(format!("action {action:?} is not service:Action"))
        }
    })?;
    let resources = scope(map, "Resource", "NotResource", location, |resource| {
        if resource == "*" || resource.starts_with("arn:") {
            Ok(Pattern::resource(resource))
        } else {
            Err(format!("resource {resource:?} is not an ARN"))
        }
    })?;
    Ok(Statement {
        effect,
        actions,
        resources,
    })
}

/// The `listed` or `all_but` element of a statement (exactly one of the two): a string or a
/// non-empty list of strings, each made a pattern by `pattern`.
fn scope(
    map: &serde_norway::Mapping,
    listed: &str,
    all_but: &str,
    location: &str,
    pattern: impl Fn(&str) -> Result<Pattern, String>,
) -> Result<Scope, IamError> {
    let malformed = |reason: String| IamError::Malformed {
        location: location.to_owned(),
        reason,
    };
    let (key, value, negated) = match (map.get(listed), map.get(all_but)) {
        (Some(value), None) => (listed, value, false),
        (None, Some(value)) => (all_but, value, true),
        (Some(_), Some(_)) => return Err(malformed(format!("has both {listed} and {all_but}"))),
        (None, None) => return Err(malformed(format!("has neither {listed} nor {all_but}"))),
    };
    let texts: Vec<&str> = match value {
        Value::String(text) => vec![text.as_str()],
        Value::Sequence(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| malformed(format!("{key} lists {item:?}, not a string")))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(malformed(format!(
                "{key} must be a string or a non-empty list, not {other:?}"
            )));
        }
    };
    let patterns = texts
        .into_iter()
        .map(|text| pattern(text).map_err(|reason| malformed(format!("{key}: {reason}"))))
        .collect::<Result<_, _>>()?;
    Ok(if negated {
        Scope::AllBut(patterns)
    } else {
        Scope::Listed(patterns)
    })
}

#[cfg(test)]
mod tests;
