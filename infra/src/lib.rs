//! The local stack's Rust half: template.yaml read with its tags, tables and queues created from
//! it, and a gateway that serves its routes and polls its queues with the real handlers.

pub mod bootstrap;
pub mod enforce;
pub mod functions;
pub mod gateway;
pub mod iam;
pub mod poller;
pub mod screen;
pub mod template;

use shop_platform::config::Env;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A failure to start the local stack.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the gateway serves and polls, built from the template.
pub struct Stack {
    /// The HTTP gateway.
    pub gateway: gateway::Gateway,
    /// The queue pollers.
    pub mappings: Vec<poller::Mapping>,
    /// The proxy that holds each function's AWS calls to its policies.
    pub enforcer: enforce::Enforcer,
}

/// The environment a function runs with: this process's, under the variables the template
/// gives the function, resolved to the local resources.
pub fn function_env(function: &template::Function, context: &template::Context) -> Result<Env, StartError> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    for (name, value) in &function.environment {
        vars.insert(name.clone(), context.resolve_string(value)?);
    }
    Ok(Env::from_map(vars))
}

/// The emulators the enforcing proxy forwards to, by SigV4 service name, from the SDK's own
/// endpoint variables (which name the emulators in this process's environment).
fn emulators() -> HashMap<String, String> {
    let general = std::env::var("AWS_ENDPOINT_URL").ok();
    [
        ("dynamodb", "DYNAMODB"),
        ("sqs", "SQS"),
        ("ses", "SESV2"),
        ("ssm", "SSM"),
    ]
    .into_iter()
    .filter_map(|(service, variable)| {
        let url = std::env::var(format!("AWS_ENDPOINT_URL_{variable}"))
            .ok()
            .or_else(|| general.clone())?;
        Some((service.to_owned(), url))
    })
    .collect()
}

/// Creates the template's resources (named `{prefix}-{LogicalId}`) and hosts its functions,
/// each with the environment the template gives it on top of this process's, and with AWS
/// calls that go through the enforcing proxy at `proxy_url`, signed as that function.
pub async fn build_stack(
    template_path: &Path,
    prefix: &str,
    admin_token: String,
    sdk: &aws_config::SdkConfig,
    proxy_url: &str,
) -> Result<Stack, StartError> {
    let template = template::Template::load(template_path)?;
    let context = bootstrap::create_resources(&template, prefix, sdk).await?;
    let root = template_path
        .canonicalize()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let sam_templates = iam::SamPolicyTemplates::find(&root)?;
    let mut principals = HashMap::new();
    let mut routes = Vec::new();
    let mut mappings = Vec::new();
    for function in template.functions()? {
        let policy = iam::Policy::from_template(function.policies.as_ref(), &context, &sam_templates)
            .map_err(|error| format!("{}: {error}", function.logical_id))?;
        principals.insert(
            enforce::access_key(&function.logical_id),
            enforce::Principal {
                function: function.logical_id.clone(),
                policy,
            },
        );
        let own_sdk = enforce::function_sdk(sdk, proxy_url, &function.logical_id);
        let hosted = functions::host(&function.binary, &function_env(&function, &context)?, &own_sdk).await?;
        let (http, queue) = match hosted {
            functions::Hosted::Http(handler) => (Some(handler), None),
            functions::Hosted::Queue(handler) => (None, Some(handler)),
            functions::Hosted::Both(http, queue) => (Some(http), Some(queue)),
        };
        if let Some(handler) = http {
            for route in &function.routes {
                routes.push(gateway::Route {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    iam: route.iam,
                    function: Arc::clone(&handler),
                });
            }
        }
        if let Some(handler) = queue {
            for trigger in &function.queues {
                let url = context.refs.get(&trigger.queue).cloned();
                let arn = context.attrs.get(&format!("{}.Arn", trigger.queue)).cloned();
                let (Some(queue_url), Some(queue_arn)) = (url, arn) else {
                    return Err(format!("{}: queue {} was not created", function.logical_id, trigger.queue).into());
                };
                mappings.push(poller::Mapping {
                    queue_url,
                    queue_arn,
                    batch_size: trigger.batch_size,
                    report_failures: trigger.report_failures,
                    function: Arc::clone(&handler),
                });
            }
        }
    }
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_owned());
    Ok(Stack {
        gateway: gateway::Gateway::new(routes, admin_token),
        mappings,
        enforcer: enforce::Enforcer::new(principals, emulators(), &region, bootstrap::LOCAL_ACCOUNT),
    })
}
