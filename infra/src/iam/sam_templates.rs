//! SAM's policy templates (`DynamoDBCrudPolicy`, `SQSSendMessagePolicy`, …), read from the
//! definitions the SAM translator itself ships (`samtranslator/policy_templates_data/
//! policy_templates.json` in the project's `.venv`), so the local stack grants exactly what a
//! deploy would.

use super::IamError;
use serde_norway::{Mapping, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that names a `policy_templates.json` to use instead of the one in
/// the project's `.venv`.
pub const PATH_VARIABLE: &str = "SHOP_SAM_POLICY_TEMPLATES";

/// Where the file lies inside a Python `site-packages`.
const IN_SITE_PACKAGES: &str = "samtranslator/policy_templates_data/policy_templates.json";

/// SAM's policy templates, by name.
#[derive(Debug, Clone)]
pub struct SamPolicyTemplates {
    path: PathBuf,
    templates: HashMap<String, SamTemplate>,
}

/// One template: the parameters it needs, and its policy document with `{"Ref": <parameter>}`
/// where each value goes.
#[derive(Debug, Clone)]
struct SamTemplate {
    parameters: Vec<String>,
    definition: Value,
}

impl SamPolicyTemplates {
    /// Reads SAM's `policy_templates.json` at `path`.
    pub fn load(path: &Path) -> Result<Self, IamError> {
        let unreadable = |cause: String| IamError::SamTemplatesUnreadable {
            path: path.display().to_string(),
            cause,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let root: serde_json::Value = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let entries = root
            .get("Templates")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| unreadable("it has no Templates object".into()))?;
        let mut templates = HashMap::new();
        for (name, template) in entries {
            let definition = template
                .get("Definition")
                .filter(|d| d.get("Statement").is_some())
                .ok_or_else(|| unreadable(format!("{name} has no Definition.Statement")))?;
            let definition = serde_norway::to_value(definition).map_err(|e| unreadable(format!("{name}: {e}")))?;
            let parameters = template
                .get("Parameters")
                .and_then(serde_json::Value::as_object)
                .map(|parameters| parameters.keys().cloned().collect())
                .unwrap_or_default();
            templates.insert(name.clone(), SamTemplate { parameters, definition });
        }
        Ok(Self {
            path: path.to_owned(),
            templates,
        })
    }

    /// Reads the templates of the SAM translator installed in `project_root`'s `.venv` (by
    /// `make deps`), or the file `SHOP_SAM_POLICY_TEMPLATES` names when it is set.
    pub fn find(project_root: &Path) -> Result<Self, IamError> {
        Self::load(&Self::locate(project_root)?)
    }

    /// Where [`SamPolicyTemplates::find`] reads from.
    pub fn locate(project_root: &Path) -> Result<PathBuf, IamError> {
        locate_in(project_root, std::env::var_os(PATH_VARIABLE))
    }

    /// The file the templates were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether SAM has a policy template `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// How many templates SAM has.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// True when no template is known (never so for SAM's own file).
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// A set that knows no template, for tests of policies written without them.
    #[cfg(test)]
    pub(crate) fn none() -> Self {
        Self {
            path: PathBuf::new(),
            templates: HashMap::new(),
        }
    }

    /// The policy document template `name` stands for with `parameter_values` (the mapping the
    /// function's `Policies` gives it), as SAM expands it: each `{"Ref": <parameter>}` of the
    /// definition replaced by the value given, intrinsics left for the caller to resolve.
    pub(crate) fn expand(&self, name: &str, parameter_values: &Value, location: &str) -> Result<Value, IamError> {
        let template = self.templates.get(name).ok_or_else(|| IamError::Malformed {
            location: location.to_owned(),
            reason: format!("{name} is not one of SAM's policy templates"),
        })?;
        let empty = Mapping::new();
        let values = match parameter_values {
            Value::Mapping(values) => values,
            // `NoParametersPolicy:` with nothing after the colon.
            Value::Null if template.parameters.is_empty() => &empty,
            other => {
                return Err(IamError::Malformed {
                    location: location.to_owned(),
                    reason: format!("{name} takes a mapping of its parameters, not {other:?}"),
                });
            }
        };
        let mut missing: Vec<&str> = template
            .parameters
            .iter()
            .map(String::as_str)
            .filter(|parameter| !values.contains_key(*parameter))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            return Err(IamError::MissingTemplateParameter {
                location: location.to_owned(),
                template: name.to_owned(),
                missing: missing.join(", "),
            });
        }
        Ok(substitute(&template.definition, &template.parameters, values))
    }
}

/// `definition` with each `{"Ref": p}` for a parameter `p` replaced by its value. The values
/// themselves are not searched, so a template parameter and a stack parameter of one name (both
/// `TableName`, say) do not confuse each other.
fn substitute(definition: &Value, parameters: &[String], values: &Mapping) -> Value {
    match definition {
        Value::Mapping(map) => {
            if let Some((Value::String(key), Value::String(name))) = map.iter().next()
                && map.len() == 1
                && key == "Ref"
                && parameters.contains(name)
                && let Some(value) = values.get(name.as_str())
            {
                return value.clone();
            }
            Value::Mapping(
                map.iter()
                    .map(|(key, item)| (key.clone(), substitute(item, parameters, values)))
                    .collect(),
            )
        }
        Value::Sequence(items) => Value::Sequence(items.iter().map(|i| substitute(i, parameters, values)).collect()),
        other => other.clone(),
    }
}

/// The file the override names, else the translator's file in `root/.venv/lib/python3.*/`.
fn locate_in(root: &Path, override_path: Option<OsString>) -> Result<PathBuf, IamError> {
    if let Some(path) = override_path.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(IamError::SamTemplatesNotFound {
                searched: format!("{} (named by {PATH_VARIABLE})", path.display()),
            })
        };
    }
    let lib = root.join(".venv").join("lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python"))
        .map(|entry| entry.path().join("site-packages").join(IN_SITE_PACKAGES))
        .filter(|path| path.is_file())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| IamError::SamTemplatesNotFound {
        searched: lib
            .join("python3.*/site-packages")
            .join(IN_SITE_PACKAGES)
            .display()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{Decision, Policy};
    use crate::template::Context;

    /// SAM's real templates, as `make deps` installs them; a missing venv fails, never skips.
    pub(crate) fn sam_templates() -> SamPolicyTemplates {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        SamPolicyTemplates::find(&root).unwrap_or_else(|e| panic!("{e}"))
    }

    fn context() -> Context {
        let mut context = Context::default();
        for (name, value) in [
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", "123456789012"),
            ("AWS::Partition", "aws"),
            ("ShopTable", "shop-ShopTable"),
            ("Stripe", "serverless-shop/stripe/secret-key"),
        ] {
            context.refs.insert(name.into(), value.into());
        }
        context
            .attrs
            .insert("EmailQueue.QueueName".into(), "shop-EmailQueue".into());
        context
    }

    fn policy(yaml: &str) -> Result<Policy, IamError> {
        let policies: Value = serde_norway::from_str(yaml).expect("test YAML");
        Policy::from_template(Some(&policies), &context(), &sam_templates())
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-ShopTable";

    #[test]
    fn the_translators_own_templates_are_found_in_the_venv() {
        let templates = sam_templates();
        assert!(templates.path().ends_with(IN_SITE_PACKAGES));
        for name in [
            "DynamoDBCrudPolicy",
            "SQSSendMessagePolicy",
            "SESCrudPolicy",
            "SSMParameterReadPolicy",
        ] {
            assert!(templates.contains(name), "{name}");
        }
        assert!(templates.len() > 50);
    }

    #[test]
    fn dynamodb_crud_policy_grants_the_table_and_its_indexes_and_nothing_else() {
        let crud = policy("[{DynamoDBCrudPolicy: {TableName: !Ref ShopTable}}]").unwrap();
        for action in [
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DescribeTable",
        ] {
            assert_eq!(crud.decide(action, TABLE), Decision::Allow, "{action}");
        }
        assert_eq!(
            crud.decide("dynamodb:Query", &format!("{TABLE}/index/gsi1")),
            Decision::Allow
        );
        assert_eq!(crud.decide("dynamodb:DeleteTable", TABLE), Decision::ImplicitDeny);
        assert_eq!(
            crud.decide("dynamodb:GetRecords", &format!("{TABLE}/stream/2026")),
            Decision::ImplicitDeny
        );
        let other = "arn:aws:dynamodb:us-east-1:123456789012:table/other";
        assert_eq!(crud.decide("dynamodb:GetItem", other), Decision::ImplicitDeny);
    }

    #[test]
    fn sqs_send_message_policy_grants_sending_to_the_named_queue_only() {
        let send = policy("[{SQSSendMessagePolicy: {QueueName: !GetAtt EmailQueue.QueueName}}]").unwrap();
        let queue = "arn:aws:sqs:us-east-1:123456789012:shop-EmailQueue";
        assert_eq!(send.decide("sqs:SendMessage", queue), Decision::Allow);
        assert_eq!(send.decide("sqs:ReceiveMessage", queue), Decision::ImplicitDeny);
        let other = "arn:aws:sqs:us-east-1:123456789012:shop-Other";
        assert_eq!(send.decide("sqs:SendMessage", other), Decision::ImplicitDeny);
    }

    #[test]
    fn ssm_parameter_read_policy_grants_reading_the_parameter_without_its_leading_slash() {
        let read = policy("[{SSMParameterReadPolicy: {ParameterName: !Ref Stripe}}]").unwrap();
        let parameter = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/secret-key";
        assert_eq!(read.decide("ssm:GetParameter", parameter), Decision::Allow);
        assert_eq!(read.decide("ssm:DescribeParameters", "*"), Decision::Allow);
        assert_eq!(read.decide("ssm:PutParameter", parameter), Decision::ImplicitDeny);
        let other = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/other";
        assert_eq!(read.decide("ssm:GetParameter", other), Decision::ImplicitDeny);
    }

    #[test]
    fn a_template_without_its_parameter_is_an_error_naming_the_parameter() {
        let error = policy("[{DynamoDBCrudPolicy: {Table: !Ref ShopTable}}]").unwrap_err();
        assert!(
            matches!(&error, IamError::MissingTemplateParameter { template, missing, .. }
                if template == "DynamoDBCrudPolicy" && missing == "TableName"),
            "{error}"
        );
        assert!(error.to_string().contains("TableName"));
    }

    #[test]
    fn a_parameter_that_does_not_resolve_locally_is_an_error() {
        let error = policy("[{DynamoDBCrudPolicy: {TableName: !Ref Missing}}]").unwrap_err();
        assert!(matches!(error, IamError::Template { .. }), "{error}");
    }

    #[test]
    fn a_single_key_that_is_no_sam_template_is_refused() {
        let error = policy("[{DynamoDBCrudPolicyy: {TableName: !Ref ShopTable}}]").unwrap_err();
        assert!(
            error.to_string().contains("DynamoDBCrudPolicyy is not one of SAM's"),
            "{error}"
        );
    }

    #[test]
    fn a_project_without_a_venv_is_told_to_run_make_deps() {
        let nowhere = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-project");
        let error = locate_in(&nowhere, None).unwrap_err();
        assert!(error.to_string().contains("run `make deps`"), "{error}");
        let error = locate_in(&nowhere, Some("/no/such/policy_templates.json".into())).unwrap_err();
        assert!(error.to_string().contains("/no/such/policy_templates.json"), "{error}");
    }

    #[test]
    fn the_override_names_the_file_to_read() {
        let real = SamPolicyTemplates::locate(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .unwrap_or_else(|e| panic!("{e}"));
        let nowhere = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-project");
        assert_eq!(locate_in(&nowhere, Some(real.clone().into_os_string())).unwrap(), real);
    }
}
