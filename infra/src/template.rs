//! template.yaml as the local stack reads it: functions with their HTTP routes, queue triggers,
//! environment and policies, and the tables and queues to create. CloudFormation intrinsics
//! (`!Ref`, `!GetAtt`, `!Sub`, `!Join`, `!Select`, `!Split`) are evaluated against the local names
//! of resources, and `!If` against the template's `Conditions` (`!Equals`, `!Not`, `!And`, `!Or`,
//! `Condition`) evaluated on the local parameter values.

use serde_norway::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A problem reading the template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file cannot be read or is not YAML.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The template's path.
        path: String,
        /// Why.
        cause: String,
    },
    /// The template says something the local stack does not understand.
    #[error("template: {0}")]
    Unsupported(String),
    /// A reference to a resource that does not exist yet (or at all).
    #[error("template: {0} is not known")]
    Unresolved(String),
}

/// The parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// What `!Ref` and `!GetAtt` of a resource or parameter resolve to locally.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `!Ref name` values.
    pub refs: HashMap<String, String>,
    /// `!GetAtt name.Attr` values, keyed `name.Attr`.
    pub attrs: HashMap<String, String>,
    /// The values of Secrets Manager secrets, by the id `!Ref` gives, for the dynamic
    /// references `{{resolve:secretsmanager:<id>:SecretString}}` CloudFormation resolves.
    pub secrets: HashMap<String, String>,
    /// The template's `Conditions`, by name, unevaluated (`!If` evaluates the one it names).
    pub conditions: HashMap<String, Value>,
}

/// SAM's logical id of the implicit HTTP API, which serves the `HttpApi` events without `ApiId`.
pub const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

/// An HTTP route of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The logical id of the `HttpApi` that serves it (the event's `ApiId: !Ref X`), or
    /// [`IMPLICIT_HTTP_API`] when the event names none.
    pub api: String,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path template, such as `/products/{id_or_slug}`.
    pub path: String,
    /// True when the template puts the route behind `AWS_IAM`.
    pub iam: bool,
}

/// An SQS trigger of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTrigger {
    /// The queue's logical id.
    pub queue: String,
    /// Most messages in one batch.
    pub batch_size: i32,
    /// Whether the function reports partial batch failures.
    pub report_failures: bool,
}

/// A `Schedule` event of a function: how often it runs, with which event.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleTrigger {
    /// `rate(N minute[s]|hour[s]|day[s])` in seconds.
    pub every_seconds: u64,
    /// `Input` (JSON), or `null` when the template gives none (EventBridge's own event, of which
    /// the functions read nothing).
    pub input: serde_json::Value,
}

/// Seconds of a `rate(...)` expression, or `None` when it is not one (a `cron(...)`).
fn rate_seconds(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: u64 = count.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit.trim().trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(count * unit)
}

/// A Lambda function of the template.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its logical id, e.g. `BrowseFunction`.
    pub logical_id: String,
    /// The Cargo binary that implements it (`BuildProperties.Binary`).
    pub binary: String,
    /// Environment variables, intrinsics still unevaluated.
    pub environment: BTreeMap<String, Value>,
    /// Its HTTP routes.
    pub routes: Vec<HttpRoute>,
    /// Its queue triggers.
    pub queues: Vec<QueueTrigger>,
    /// Its schedules.
    pub schedules: Vec<ScheduleTrigger>,
    /// `Properties.Policies` as the template writes it (a list or a single policy; intrinsics
    /// unevaluated, SAM policy templates unexpanded), or `None` when it grants nothing.
    pub policies: Option<Value>,
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let read_error = |cause: String| TemplateError::Read {
            path: path.display().to_string(),
            cause,
        };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        Self::parse(&text).map_err(|e| read_error(e.to_string()))
    }

    /// Parses template text.
    pub fn parse(text: &str) -> Result<Self, serde_norway::Error> {
        Ok(Self {
            root: serde_norway::from_str(text)?,
        })
    }

    /// Resources of one CloudFormation type, by logical id, in template order.
    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(move |(id, resource)| {
                (resource.get("Type").and_then(Value::as_str) == Some(kind))
                    .then(|| Some((id.as_str()?, resource.get("Properties")?)))
                    .flatten()
            })
    }

    /// Parameter defaults, for `!Ref Parameter`.
    pub fn parameter_defaults(&self) -> HashMap<String, String> {
        self.root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, parameter)| {
                let default = match parameter.get("Default")? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name.as_str()?.to_owned(), default))
            })
            .collect()
    }

    /// The template's `Conditions`, by name, unevaluated.
    pub fn conditions(&self) -> HashMap<String, Value> {
        self.root
            .get("Conditions")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, condition)| Some((name.as_str()?.to_owned(), condition.clone())))
            .collect()
    }

    /// Every `AWS::Serverless::Function`, with routes, triggers and merged environment.
    pub fn functions(&self) -> Result<Vec<Function>, TemplateError> {
        let global_env = self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Environment"))
            .and_then(|e| e.get("Variables"));
        let mut functions = Vec::new();
        let resources = self
            .root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten();
        for (id, resource) in resources {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let logical_id = id.as_str().unwrap_or_default().to_owned();
            let binary = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TemplateError::Unsupported(format!("{logical_id} has no Metadata.BuildProperties.Binary"))
                })?
                .to_owned();
            let properties = resource.get("Properties");
            let mut environment = BTreeMap::new();
            let own_env = properties
                .and_then(|p| p.get("Environment"))
                .and_then(|e| e.get("Variables"));
            for variables in [global_env, own_env].into_iter().flatten() {
                for (name, value) in variables.as_mapping().into_iter().flatten() {
                    if let Some(name) = name.as_str() {
                        environment.insert(name.to_owned(), value.clone());
                    }
                }
            }
            let mut routes = Vec::new();
            let mut queues = Vec::new();
            let mut schedules = Vec::new();
            let events = properties.and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for (name, event) in events.into_iter().flatten() {
                let props = event.get("Properties");
                let field = |key: &str| props.and_then(|p| p.get(key));
                match event.get("Type").and_then(Value::as_str) {
                    Some("HttpApi") => {
                        let text = |key: &str| field(key).and_then(Value::as_str).map(str::to_owned);
                        let (Some(method), Some(path)) = (text("Method"), text("Path")) else {
                            return Err(TemplateError::Unsupported(format!(
                                "{logical_id}.{name:?} needs Path and Method"
                            )));
                        };
                        let iam =
                            field("Auth").and_then(|a| a.get("Authorizer")).and_then(Value::as_str) == Some("AWS_IAM");
                        let api = match field("ApiId") {
                            None => IMPLICIT_HTTP_API.to_owned(),
                            Some(api_id) => ref_target(api_id).ok_or_else(|| {
                                TemplateError::Unsupported(format!("{logical_id}.{name:?}: ApiId must be !Ref X"))
                            })?,
                        };
                        routes.push(HttpRoute {
                            api,
                            method: method.to_ascii_uppercase(),
                            path,
                            iam,
                        });
                    }
                    Some("SQS") => {
                        let queue = field("Queue").and_then(get_att_target).ok_or_else(|| {
                            TemplateError::Unsupported(format!("{logical_id}: Queue must be !GetAtt X.Arn"))
                        })?;
                        let batch_size = field("BatchSize").and_then(Value::as_i64).unwrap_or(10) as i32;
                        let report_failures = field("FunctionResponseTypes")
                            .and_then(Value::as_sequence)
                            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")));
                        queues.push(QueueTrigger {
                            queue,
                            batch_size,
                            report_failures,
                        });
                    }
                    Some("Schedule") => {
                        let unsupported =
                            |what: &str| TemplateError::Unsupported(format!("{logical_id}.{name:?}: {what}"));
                        let every_seconds = field("Schedule")
                            .and_then(Value::as_str)
                            .and_then(rate_seconds)
                            .ok_or_else(|| unsupported("Schedule must be rate(N minutes|hours|days)"))?;
                        let input = match field("Input").map(|i| i.as_str().ok_or(())) {
                            None => serde_json::Value::Null,
                            Some(Ok(text)) => {
                                serde_json::from_str(text).map_err(|_| unsupported("Input must be JSON"))?
                            }
                            Some(Err(())) => return Err(unsupported("Input must be a JSON string")),
                        };
                        schedules.push(ScheduleTrigger { every_seconds, input });
                    }
                    _ => {}
                }
            }
            functions.push(Function {
                logical_id,
                binary,
                environment,
                routes,
                queues,
                schedules,
                policies: properties.and_then(|p| p.get("Policies")).cloned(),
            });
        }
        Ok(functions)
    }
}

/// The logical id a `!Ref X` names.
fn ref_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        Value::Mapping(map) if map.len() == 1 => value.get("Ref").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// The logical id a `!GetAtt X.Arn` names.
fn get_att_target(value: &Value) -> Option<String> {
    let Value::Tagged(tagged) = value else {
        return value
            .get("Fn::GetAtt")
            .and_then(Value::as_sequence)
            .and_then(|s| s.first())
            .and_then(Value::as_str)
            .map(str::to_owned);
    };
    if tagged.tag != "GetAtt" {
        return None;
    }
    match &tagged.value {
        Value::String(text) => text.split('.').next().map(str::to_owned),
        Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

impl Context {
    /// Evaluates the intrinsics in `value` into plain YAML (strings, numbers, maps, lists).
    pub fn resolve(&self, value: &Value) -> Result<Value, TemplateError> {
        match value {
            Value::Tagged(tagged) => {
                let name = tagged.tag.to_string();
                self.intrinsic(name.trim_start_matches('!'), &tagged.value)
            }
            Value::Mapping(map) => {
                if map.len() == 1
                    && let Some((Value::String(key), arg)) = map.iter().next()
                    && (key == "Ref" || key.starts_with("Fn::"))
                {
                    return self.intrinsic(key.trim_start_matches("Fn::"), arg);
                }
                let mut out = serde_norway::Mapping::new();
                for (key, item) in map {
                    out.insert(key.clone(), self.resolve(item)?);
                }
                Ok(Value::Mapping(out))
            }
            Value::Sequence(items) => Ok(Value::Sequence(
                items.iter().map(|i| self.resolve(i)).collect::<Result<_, _>>()?,
            )),
            other => Ok(other.clone()),
        }
    }

    /// Evaluates `value` to a string, dynamic references to secrets included.
    pub fn resolve_string(&self, value: &Value) -> Result<String, TemplateError> {
        self.dynamic_references(&self.resolve_text(value)?)
    }

    /// Evaluates `value` to a string, as the intrinsics see it (dynamic references are
    /// resolved after them).
    fn resolve_text(&self, value: &Value) -> Result<String, TemplateError> {
        match self.resolve(value)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(TemplateError::Unsupported(format!(
                "expected a string, found {other:?}"
            ))),
        }
    }

    /// `text` with each `{{resolve:secretsmanager:<id>:SecretString}}` replaced by the secret's
    /// value, as CloudFormation does when it creates the resource.
    fn dynamic_references(&self, text: &str) -> Result<String, TemplateError> {
        const OPEN: &str = "{{resolve:secretsmanager:";
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let inner = &rest[start + OPEN.len()..];
            let end = inner
                .find("}}")
                .ok_or_else(|| TemplateError::Unsupported(format!("an unclosed dynamic reference in {text}")))?;
            let reference = &inner[..end];
            let id = reference.strip_suffix(":SecretString").ok_or_else(|| {
                TemplateError::Unsupported(format!(
                    "{{{{resolve:secretsmanager:{reference}}}}}: only :SecretString is supported locally"
                ))
            })?;
            out.push_str(
                self.secrets
                    .get(id)
                    .ok_or_else(|| TemplateError::Unresolved(format!("secret {id}")))?,
            );
            rest = &inner[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup_ref(&self, name: &str) -> Result<String, TemplateError> {
        self.refs
            .get(name)
            .cloned()
            .ok_or_else(|| TemplateError::Unresolved(name.to_owned()))
    }

    fn lookup_att(&self, name: &str) -> Result<String, TemplateError> {
        self.attrs
            .get(name)
            .cloned()
            .ok_or_else(|| TemplateError::Unresolved(name.to_owned()))
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<Value, TemplateError> {
        let text = |value: &Value| self.resolve_text(value);
        match name {
            "Ref" => Ok(Value::String(self.lookup_ref(&text(arg)?)?)),
            "GetAtt" => {
                let path = match arg {
                    Value::Sequence(parts) => parts.iter().map(text).collect::<Result<Vec<_>, _>>()?.join("."),
                    other => text(other)?,
                };
                Ok(Value::String(self.lookup_att(&path)?))
            }
            "Sub" => {
                let (pattern, vars) = match arg {
                    Value::Sequence(parts) if parts.len() == 2 => (text(&parts[0])?, Some(&parts[1])),
                    other => (text(other)?, None),
                };
                let mut out = String::new();
                let mut rest = pattern.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| TemplateError::Unsupported(format!("unclosed ${{ in {pattern}")))?;
                    let var = &rest[start + 2..start + end];
                    let local = vars.and_then(|v| v.get(var));
                    out.push_str(&match local {
                        Some(value) => text(value)?,
                        None if var.contains('.') => self.lookup_att(var)?,
                        None => self.lookup_ref(var)?,
                    });
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                Ok(Value::String(out))
            }
            "Join" => match arg {
                Value::Sequence(parts) if parts.len() == 2 => {
                    let separator = text(&parts[0])?;
                    let items = match self.resolve(&parts[1])? {
                        Value::Sequence(items) => items,
                        other => return Err(TemplateError::Unsupported(format!("!Join of {other:?}"))),
                    };
                    Ok(Value::String(
                        items.iter().map(text).collect::<Result<Vec<_>, _>>()?.join(&separator),
                    ))
                }
                _ => Err(TemplateError::Unsupported("!Join takes [separator, list]".into())),
            },
            "Split" => match arg {
                Value::Sequence(parts) if parts.len() == 2 => {
                    let delimiter = text(&parts[0])?;
                    if delimiter.is_empty() {
                        return Err(TemplateError::Unsupported("!Split needs a non-empty delimiter".into()));
                    }
                    let source = text(&parts[1])?;
                    Ok(Value::Sequence(
                        source
                            .split(&delimiter)
                            .map(|piece| Value::String(piece.to_owned()))
                            .collect(),
                    ))
                }
                _ => Err(TemplateError::Unsupported("!Split takes [delimiter, string]".into())),
            },
            "Select" => match arg {
                Value::Sequence(parts) if parts.len() == 2 => {
                    let index = text(&parts[0])?;
                    let index: usize = index
                        .parse()
                        .map_err(|_| TemplateError::Unsupported(format!("!Select index {index:?} is not a number")))?;
                    match self.resolve(&parts[1])? {
                        Value::Sequence(mut items) if index < items.len() => Ok(items.swap_remove(index)),
                        Value::Sequence(items) => Err(TemplateError::Unsupported(format!(
                            "!Select index {index} is out of range of {} items",
                            items.len()
                        ))),
                        other => Err(TemplateError::Unsupported(format!("!Select from {other:?}"))),
                    }
                }
                _ => Err(TemplateError::Unsupported("!Select takes [index, list]".into())),
            },
            "If" => match arg {
                Value::Sequence(parts) if parts.len() == 3 => {
                    let chosen = if self.condition(&text(&parts[0])?, 0)? {
                        &parts[1]
                    } else {
                        &parts[2]
                    };
                    self.resolve(chosen)
                }
                _ => Err(TemplateError::Unsupported("!If takes [condition, then, else]".into())),
            },
            "Equals" | "Not" | "And" | "Or" | "Condition" => Ok(Value::Bool(self.condition_value(name, arg, 0)?)),
            other => Err(TemplateError::Unsupported(format!(
                "intrinsic {other} is not supported locally"
            ))),
        }
    }

    /// The value of the template's condition `name`, on the local parameters.
    fn condition(&self, name: &str, depth: usize) -> Result<bool, TemplateError> {
        // Conditions may name each other (`Condition: X`), never in a circle: a deep chain is one.
        if depth > 32 {
            return Err(TemplateError::Unsupported(format!("condition {name} refers to itself")));
        }
        let definition = self
            .conditions
            .get(name)
            .ok_or_else(|| TemplateError::Unresolved(format!("condition {name}")))?;
        self.condition_of(definition, depth + 1)
    }

    /// The value of a condition function (`!Equals`, `!Not`, `!And`, `!Or`, `{Condition: name}`).
    fn condition_of(&self, value: &Value, depth: usize) -> Result<bool, TemplateError> {
        let not_a_condition = || TemplateError::Unsupported(format!("{value:?} is not a condition"));
        let (function, arg) = match value {
            Value::Tagged(tagged) => (tagged.tag.to_string(), &tagged.value),
            Value::Mapping(map) if map.len() == 1 => match map.iter().next() {
                Some((Value::String(key), arg)) => (key.clone(), arg),
                _ => return Err(not_a_condition()),
            },
            _ => return Err(not_a_condition()),
        };
        self.condition_value(function.trim_start_matches('!').trim_start_matches("Fn::"), arg, depth)
    }

    /// `function` (`Equals`, `Not`, `And`, `Or` or `Condition`) applied to `arg`.
    fn condition_value(&self, function: &str, arg: &Value, depth: usize) -> Result<bool, TemplateError> {
        let operands = || -> Result<Vec<bool>, TemplateError> {
            match arg {
                Value::Sequence(items) => items.iter().map(|item| self.condition_of(item, depth + 1)).collect(),
                _ => Err(TemplateError::Unsupported(format!("!{function} takes a list"))),
            }
        };
        match function {
            "Condition" => self.condition(&self.resolve_text(arg)?, depth),
            "Equals" => match arg {
                Value::Sequence(parts) if parts.len() == 2 => {
                    Ok(self.resolve_text(&parts[0])? == self.resolve_text(&parts[1])?)
                }
                _ => Err(TemplateError::Unsupported("!Equals takes [a, b]".into())),
            },
            "Not" => match operands()?.as_slice() {
                [one] => Ok(!one),
                _ => Err(TemplateError::Unsupported("!Not takes [condition]".into())),
            },
            "And" => Ok(operands()?.iter().all(|b| *b)),
            "Or" => Ok(operands()?.iter().any(|b| *b)),
            other => Err(TemplateError::Unsupported(format!(
                "{other} is not a condition function"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  StoreName: {Type: String, Default: Demo}
Globals:
  Function:
    Environment:
      Variables:
        SHOP_TABLE: !Ref Table
        STORE_NAME: !Ref StoreName
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {BillingMode: PAY_PER_REQUEST}
  Work:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDlq.Arn
        maxReceiveCount: 3
  Shop:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: shop}}
    Properties:
      Environment:
        Variables:
          QUEUE_URL: !Ref Work
          SITE: !Sub "https://${Table}.example/${AWS::Region}"
      Events:
        Get: {Type: HttpApi, Properties: {Path: "/things/{id}", Method: get}}
        Put: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /admin/x, Method: PUT, Auth: {Authorizer: AWS_IAM}}}
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Work.Arn, BatchSize: 5, FunctionResponseTypes: [ReportBatchItemFailures]}}
        Often: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
        Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour), Input: '{"job": "report"}'}}
"#;

    fn context() -> Context {
        let mut context = Context::default();
        context.refs.insert("Table".into(), "local-Table".into());
        context.refs.insert("Work".into(), "http://sqs/123/local-Work".into());
        context.refs.insert("StoreName".into(), "Demo".into());
        context.refs.insert("AWS::Region".into(), "us-east-1".into());
        context
            .attrs
            .insert("WorkDlq.Arn".into(), "arn:aws:sqs:us-east-1:123:local-WorkDlq".into());
        context
    }

    #[test]
    fn routes_and_triggers_are_read_from_the_events() {
        let template = Template::parse(TEMPLATE).unwrap();
        let functions = template.functions().unwrap();
        assert_eq!(functions.len(), 1);
        let shop = &functions[0];
        assert_eq!(shop.binary, "shop");
        assert_eq!(
            shop.routes,
            [
                HttpRoute {
                    api: IMPLICIT_HTTP_API.into(),
                    method: "GET".into(),
                    path: "/things/{id}".into(),
                    iam: false
                },
                HttpRoute {
                    api: "Api".into(),
                    method: "PUT".into(),
                    path: "/admin/x".into(),
                    iam: true
                },
            ]
        );
        assert_eq!(
            shop.queues,
            [QueueTrigger {
                queue: "Work".into(),
                batch_size: 5,
                report_failures: true
            }]
        );
    }

    #[test]
    fn schedules_are_read_with_their_rate_and_input() {
        let shop = Template::parse(TEMPLATE).unwrap().functions().unwrap().remove(0);
        assert_eq!(
            shop.schedules,
            [
                ScheduleTrigger {
                    every_seconds: 300,
                    input: serde_json::Value::Null
                },
                ScheduleTrigger {
                    every_seconds: 3600,
                    input: serde_json::json!({"job": "report"})
                },
            ]
        );
        assert_eq!(rate_seconds("rate(1 day)"), Some(86_400));
        for unread in [
            "cron(0 12 * * ? *)",
            "rate(0 minutes)",
            "rate(5 fortnights)",
            "rate(five minutes)",
        ] {
            assert_eq!(rate_seconds(unread), None, "{unread}");
        }
    }

    #[test]
    fn environment_merges_globals_and_resolves_intrinsics() {
        let template = Template::parse(TEMPLATE).unwrap();
        let shop = template.functions().unwrap().remove(0);
        let context = context();
        let resolved: BTreeMap<String, String> = shop
            .environment
            .iter()
            .map(|(name, value)| (name.clone(), context.resolve_string(value).unwrap()))
            .collect();
        assert_eq!(resolved["SHOP_TABLE"], "local-Table");
        assert_eq!(resolved["STORE_NAME"], "Demo");
        assert_eq!(resolved["QUEUE_URL"], "http://sqs/123/local-Work");
        assert_eq!(resolved["SITE"], "https://local-Table.example/us-east-1");
    }

    #[test]
    fn a_dynamic_reference_to_a_secret_resolves_to_its_local_value() {
        let mut context = context();
        context.refs.insert("Key".into(), "shop-Key".into());
        context.secrets.insert("shop-Key".into(), "s3cret".into());
        let value: Value =
            serde_norway::from_str(r#"!Sub "k={{resolve:secretsmanager:${Key}:SecretString}}""#).unwrap();
        assert_eq!(context.resolve_string(&value).unwrap(), "k=s3cret");
        let unknown: Value = serde_norway::from_str(r#""{{resolve:secretsmanager:Other:SecretString}}""#).unwrap();
        assert!(context.resolve_string(&unknown).is_err());
    }

    #[test]
    fn select_and_split_take_a_piece_of_a_resolved_string() {
        let mut context = context();
        context.refs.insert("Sender".into(), "shop@example.com".into());
        let domain: Value = serde_norway::from_str(r#"!Select [1, !Split ["@", !Ref Sender]]"#).unwrap();
        assert_eq!(context.resolve_string(&domain).unwrap(), "example.com");
        let beyond: Value = serde_norway::from_str(r#"!Select [2, !Split ["@", !Ref Sender]]"#).unwrap();
        assert!(matches!(context.resolve(&beyond), Err(TemplateError::Unsupported(_))));
    }

    const CONDITIONS: &str = r#"
Conditions:
  HasDomain: !And [!Not [!Equals [!Ref Domain, ""]], !Not [!Equals [!Ref Certificate, ""]]]
  Bundled: !Equals [!Ref SiteUrl, ""]
  BundledOnDomain: {"Fn::And": [{Condition: Bundled}, !Condition HasDomain]}
  Either: !Or [!Condition HasDomain, !Equals [a, b]]
  Loop: !Not [!Condition Loop]
"#;

    fn conditional(context: &Context, yaml: &str) -> Result<String, TemplateError> {
        context.resolve_string(&serde_norway::from_str(yaml).unwrap())
    }

    #[test]
    fn if_takes_the_branch_of_its_condition_on_the_local_parameters() {
        let template = Template::parse(CONDITIONS).unwrap();
        let mut context = context();
        context.conditions = template.conditions();
        context
            .attrs
            .insert("SiteApi.ApiEndpoint".into(), "http://127.0.0.1:3001".into());
        for (name, value) in [("Domain", ""), ("Certificate", ""), ("SiteUrl", "")] {
            context.refs.insert(name.into(), value.into());
        }
        let site =
            r#"!If [Bundled, !If [HasDomain, !Sub "https://${Domain}", !GetAtt SiteApi.ApiEndpoint], !Ref SiteUrl]"#;
        let orders = r#"!If [Bundled, !Sub "${SiteApi.ApiEndpoint}/orders", !Ref SiteUrl]"#;
        assert_eq!(conditional(&context, site).unwrap(), "http://127.0.0.1:3001");
        assert_eq!(conditional(&context, orders).unwrap(), "http://127.0.0.1:3001/orders");
        assert_eq!(conditional(&context, "!If [Either, yes, no]").unwrap(), "no");

        // A domain alone is not enough; with its certificate it is the bundled site's address.
        context.refs.insert("Domain".into(), "shop.example.com".into());
        assert_eq!(conditional(&context, site).unwrap(), "http://127.0.0.1:3001");
        context.refs.insert("Certificate".into(), "arn:aws:acm:cert".into());
        assert_eq!(conditional(&context, site).unwrap(), "https://shop.example.com");
        assert_eq!(conditional(&context, "!If [BundledOnDomain, yes, no]").unwrap(), "yes");
        assert_eq!(conditional(&context, "!If [Either, yes, no]").unwrap(), "yes");

        // A value of the parameter wins.
        context
            .refs
            .insert("SiteUrl".into(), "https://elsewhere.example".into());
        assert_eq!(conditional(&context, site).unwrap(), "https://elsewhere.example");
        assert_eq!(conditional(&context, "!If [BundledOnDomain, yes, no]").unwrap(), "no");
    }

    #[test]
    fn an_unknown_or_circular_condition_is_an_error() {
        let template = Template::parse(CONDITIONS).unwrap();
        let mut context = context();
        context.conditions = template.conditions();
        assert!(matches!(
            conditional(&context, "!If [Nowhere, a, b]"),
            Err(TemplateError::Unresolved(name)) if name == "condition Nowhere"
        ));
        assert!(matches!(
            conditional(&context, "!If [Loop, a, b]"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(conditional(&context, "!If [Bundled, a]").is_err());
    }

    #[test]
    fn a_route_names_its_api_by_ref_only() {
        let text = TEMPLATE.replace("ApiId: !Ref Api", "ApiId: SomeId");
        let template = Template::parse(&text).unwrap();
        assert!(matches!(template.functions(), Err(TemplateError::Unsupported(_))));
    }

    #[test]
    fn a_reference_to_an_unknown_resource_is_an_error() {
        let template = Template::parse(TEMPLATE).unwrap();
        let (_, work) = template.resources_of_type("AWS::SQS::Queue").next().unwrap();
        let empty = Context::default();
        assert!(matches!(empty.resolve(work), Err(TemplateError::Unresolved(name)) if name == "WorkDlq.Arn"));
        assert!(context().resolve(work).is_ok());
    }

    #[test]
    fn the_shop_template_parses_with_its_tags() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = Template::load(&path).unwrap();
        let functions = template.functions().unwrap();
        assert!(
            functions
                .iter()
                .any(|f| f.binary == "browse" && f.routes.iter().any(|r| r.path == "/products"))
        );
        assert!(
            functions
                .iter()
                .flat_map(|f| &f.routes)
                .filter(|r| r.path.starts_with("/admin"))
                .all(|r| r.iam)
        );
        assert_eq!(template.resources_of_type("AWS::DynamoDB::Table").count(), 1);
        assert!(
            functions.iter().all(|f| f.policies.is_some()),
            "every function states its policies"
        );
    }

    /// A context in which every intrinsic of the shop's template resolves to a name of its own
    /// (`ref:X`, `X.Attr`), so that what two functions are granted can be compared.
    fn naming_context(template: &Template) -> Context {
        let mut context = Context::default();
        context.refs.extend(template.parameter_defaults());
        for pseudo in [
            "AWS::Region",
            "AWS::AccountId",
            "AWS::Partition",
            "AWS::URLSuffix",
            "AWS::StackName",
        ] {
            context.refs.insert(pseudo.into(), format!("ref:{pseudo}"));
        }
        let resources = template.root["Resources"].as_mapping().unwrap();
        for id in resources.keys().filter_map(Value::as_str) {
            context.refs.insert(id.into(), format!("ref:{id}"));
            for attr in ["Arn", "QueueName", "ApiEndpoint"] {
                context.attrs.insert(format!("{id}.{attr}"), format!("{id}.{attr}"));
            }
        }
        context.conditions = template.conditions();
        context
    }

    /// Every (action, resource) a function's inline policy statements allow.
    fn grants(function: &Function, context: &Context) -> std::collections::BTreeSet<(String, String)> {
        let list = |value: &Value| match context.resolve(value).unwrap() {
            Value::Sequence(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            Value::String(one) => vec![one],
            other => panic!("{}: {other:?}", function.logical_id),
        };
        let mut grants = std::collections::BTreeSet::new();
        for policy in function.policies.as_ref().and_then(Value::as_sequence).unwrap() {
            let statements = policy["Statement"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{}: inline statements only", function.logical_id));
            for statement in statements {
                assert_eq!(statement["Effect"], "Allow", "{}", function.logical_id);
                for action in list(&statement["Action"]) {
                    for resource in list(&statement["Resource"]) {
                        grants.insert((action.clone(), resource));
                    }
                }
            }
        }
        grants
    }

    #[test]
    fn the_storefront_may_do_what_the_handlers_it_runs_may_do_and_nothing_more() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = Template::load(&path).unwrap();
        let context = naming_context(&template);
        let functions: HashMap<String, Function> = template
            .functions()
            .unwrap()
            .into_iter()
            .map(|f| (f.logical_id.clone(), f))
            .collect();
        let storefront = &functions["StorefrontFunction"];
        let mut union = std::collections::BTreeSet::new();
        for id in ["BrowseFunction", "CartFunction", "CheckoutFunction", "OrdersFunction"] {
            union.extend(grants(&functions[id], &context));
        }
        // The campaign function's subscription routes (email_campaign::subscriptions): reading
        // links and subscribers, a confirmation's transaction of puts, an unsubscribe's update,
        // and sign-ups sent to the campaign queue. A part of the campaign function's rights.
        let subscriptions: std::collections::BTreeSet<(String, String)> = [
            ("dynamodb:GetItem", "ShopTable.Arn"),
            ("dynamodb:PutItem", "ShopTable.Arn"),
            ("dynamodb:UpdateItem", "ShopTable.Arn"),
            ("sqs:SendMessage", "CampaignQueue.Arn"),
        ]
        .into_iter()
        .map(|(action, resource)| (action.to_owned(), resource.to_owned()))
        .collect();
        assert!(subscriptions.is_subset(&grants(&functions["CampaignFunction"], &context)));
        union.extend(subscriptions);
        // And the one of its own: reading the product images it answers at /images/{file}.
        let mut own_grants = grants(storefront, &context);
        assert!(
            own_grants.remove(&("s3:GetObject".to_owned(), "ProductImagesBucket.Arn/*".to_owned())),
            "the storefront reads the product images"
        );
        assert_eq!(own_grants, union);
        let actions: std::collections::BTreeSet<&str> = union.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions.into_iter().collect::<Vec<_>>(),
            [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "sqs:SendMessage",
                "ssm:GetParameter"
            ]
        );

        // Their variables too, but for the storefront's own address (the bundled one would be
        // a circle: the storefront's API embeds the function).
        for id in ["BrowseFunction", "CartFunction", "CheckoutFunction", "OrdersFunction"] {
            for (name, value) in &functions[id].environment {
                if name == "STOREFRONT_URL" {
                    continue;
                }
                assert_eq!(storefront.environment.get(name), Some(value), "{id}'s {name}");
            }
        }
        for name in ["SIGNING_KEY", "CAMPAIGN_QUEUE_URL"] {
            let campaign = &functions["CampaignFunction"].environment;
            assert_eq!(
                storefront.environment.get(name),
                campaign.get(name),
                "the subscriptions' {name}"
            );
        }
        let own = |name: &str| context.resolve_string(&storefront.environment[name]).unwrap();
        assert_eq!(
            own("STOREFRONT_URL"),
            "",
            "empty: the storefront answers for the host it is asked on"
        );
        assert_eq!(own("STRIPE_JS_URL"), "https://js.stripe.com/v3/");
        assert_eq!(own("STRIPE_PUBLISHABLE_KEY"), "");
        assert!(
            !serde_norway::to_string(&template.root["Resources"]["StorefrontFunction"])
                .unwrap()
                .contains("StorefrontApi."),
            "the storefront function names no attribute of its own API"
        );
        let routes: Vec<(&str, &str, &str)> = storefront
            .routes
            .iter()
            .map(|r| (r.api.as_str(), r.method.as_str(), r.path.as_str()))
            .collect();
        // The pages behind one catch-all; the forms a script could flood (checkout, order
        // lookup, sign-up, contact) on routes of their own, so the stage throttles them apart.
        assert_eq!(
            routes,
            [
                ("StorefrontApi", "GET", "/"),
                ("StorefrontApi", "ANY", "/{proxy+}"),
                ("StorefrontApi", "POST", "/checkout"),
                ("StorefrontApi", "POST", "/orders/lookup"),
                ("StorefrontApi", "POST", "/newsletter"),
                ("StorefrontApi", "POST", "/contact"),
            ]
        );
    }

    #[test]
    fn the_console_may_do_what_the_handlers_it_runs_may_do_and_nothing_more() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = Template::load(&path).unwrap();
        let context = naming_context(&template);
        let functions: HashMap<String, Function> = template
            .functions()
            .unwrap()
            .into_iter()
            .map(|f| (f.logical_id.clone(), f))
            .collect();
        let console = &functions["ConsoleFunction"];
        let mut union = grants(&functions["AdminFunction"], &context);
        // The campaign function's admin routes (import, counts, campaigns, preview, send): its
        // table rights and its queue, where a send's first page goes. Not SES: the queue's
        // worker, the campaign function itself, sends.
        let campaigns = grants(&functions["CampaignFunction"], &context);
        let (mail, routes): (std::collections::BTreeSet<_>, _) = campaigns
            .into_iter()
            .partition(|(action, _)| action.starts_with("ses:"));
        assert!(!mail.is_empty(), "the campaign function sends with SES");
        union.extend(routes);
        // And the console's own: the audit log's entries and the sessions (puts, which the
        // campaign routes have too, and deletes), the Settings page's staff accounts, and the
        // product images it signs upload forms for and checks (objects only).
        let (own, theirs): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
            grants(console, &context).into_iter().partition(|(action, _)| {
                action == "dynamodb:DeleteItem" || action.starts_with("cognito-idp:") || action.starts_with("s3:")
            });
        assert!(own.contains(&("dynamodb:DeleteItem".to_owned(), "ShopTable.Arn".to_owned())));
        let images: Vec<&(String, String)> = own.iter().filter(|(action, _)| action.starts_with("s3:")).collect();
        assert_eq!(images.len(), 2, "{images:?}");
        assert!(
            images.iter().all(
                |(action, resource)| matches!(action.as_str(), "s3:PutObject" | "s3:GetObject")
                    && resource.contains("ProductImagesBucket")
                    && resource.ends_with("/*")
            ),
            "{images:?}"
        );
        assert!(own.iter().all(|(action, resource)| action == "dynamodb:DeleteItem"
            || resource == "StaffUserPool.Arn"
            || action.starts_with("s3:")));
        assert!(union.contains(&("dynamodb:PutItem".to_owned(), "ShopTable.Arn".to_owned())));
        assert_eq!(theirs, union);

        for (name, value) in &functions["AdminFunction"].environment {
            assert_eq!(console.environment.get(name), Some(value), "admin's {name}");
        }
        for name in [
            "SIGNING_KEY",
            "CAMPAIGN_QUEUE_URL",
            "PUBLIC_API_URL",
            "CONSENT_PAGES_URL",
        ] {
            let campaign = &functions["CampaignFunction"].environment;
            assert_eq!(
                console.environment.get(name),
                campaign.get(name),
                "the campaigns' {name}"
            );
        }
    }

    #[test]
    fn empty_storefront_and_order_page_urls_mean_the_bundled_storefront() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = Template::load(&path).unwrap();
        let mut context = naming_context(&template);
        let functions = template.functions().unwrap();
        let variable = |context: &Context, function: &str, name: &str| {
            let function = functions.iter().find(|f| f.logical_id == function).unwrap();
            context.resolve_string(&function.environment[name]).unwrap()
        };
        assert_eq!(
            variable(&context, "BrowseFunction", "STOREFRONT_URL"),
            "StorefrontApi.ApiEndpoint"
        );
        assert_eq!(
            variable(&context, "EmailSenderFunction", "ORDER_PAGE_URL"),
            "StorefrontApi.ApiEndpoint/orders"
        );
        assert_eq!(
            variable(&context, "CampaignFunction", "CONSENT_PAGES_URL"),
            "StorefrontApi.ApiEndpoint"
        );
        context
            .refs
            .insert("StorefrontDomain".into(), "shop.example.com".into());
        context
            .refs
            .insert("StorefrontCertificateArn".into(), "arn:aws:acm:x".into());
        assert_eq!(
            variable(&context, "BrowseFunction", "STOREFRONT_URL"),
            "https://shop.example.com"
        );
        assert_eq!(
            variable(&context, "EmailSenderFunction", "ORDER_PAGE_URL"),
            "https://shop.example.com/orders"
        );
        assert_eq!(
            variable(&context, "CampaignFunction", "CONSENT_PAGES_URL"),
            "https://shop.example.com"
        );
        context
            .refs
            .insert("StorefrontUrl".into(), "https://www.example.com".into());
        context
            .refs
            .insert("OrderPageUrl".into(), "https://www.example.com/my-orders".into());
        assert_eq!(
            variable(&context, "BrowseFunction", "STOREFRONT_URL"),
            "https://www.example.com"
        );
        assert_eq!(
            variable(&context, "EmailSenderFunction", "ORDER_PAGE_URL"),
            "https://www.example.com/my-orders"
        );
        assert_eq!(
            variable(&context, "StorefrontFunction", "STOREFRONT_URL"),
            "https://www.example.com"
        );
        assert_eq!(
            variable(&context, "CampaignFunction", "CONSENT_PAGES_URL"),
            "",
            "a storefront of the merchant's: the mails link to the API's pages"
        );
    }

    #[test]
    fn the_apis_access_log_names_routes_and_no_path_query_or_header() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = Template::load(&path).unwrap();
        for (id, api) in template.resources_of_type("AWS::Serverless::HttpApi") {
            let format = api["AccessLogSettings"]["Format"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} has no access log"));
            let line: serde_json::Value = serde_json::from_str(format).expect("a JSON line");
            assert_eq!(line["routeKey"], "$context.routeKey", "{id}");
            for secret_bearing in [
                "$context.path",
                "querystring",
                "header",
                "$context.authorizer",
                "$context.identity.user",
            ] {
                assert!(!format.contains(secret_bearing), "{id} logs {secret_bearing}");
            }
        }
    }
}
