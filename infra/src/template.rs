//! template.yaml as the local stack reads it: functions with their HTTP routes, queue triggers,
//! environment and policies, and the tables and queues to create. CloudFormation intrinsics
//! (`!Ref`, `!GetAtt`, `!Sub`, `!Join`, `!Select`, `!Split`) are evaluated against the local names
//! of resources; conditions (`!If`) are not.

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
}

/// An HTTP route of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
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
                        routes.push(HttpRoute {
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
                    _ => {}
                }
            }
            functions.push(Function {
                logical_id,
                binary,
                environment,
                routes,
                queues,
                policies: properties.and_then(|p| p.get("Policies")).cloned(),
            });
        }
        Ok(functions)
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
            other => Err(TemplateError::Unsupported(format!(
                "intrinsic {other} is not supported locally"
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
        Put: {Type: HttpApi, Properties: {Path: /admin/x, Method: PUT, Auth: {Authorizer: AWS_IAM}}}
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Work.Arn, BatchSize: 5, FunctionResponseTypes: [ReportBatchItemFailures]}}
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
                    method: "GET".into(),
                    path: "/things/{id}".into(),
                    iam: false
                },
                HttpRoute {
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
