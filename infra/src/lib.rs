//! The local stack's Rust half: template.yaml read with its tags, tables, queues and buckets
//! created from it, and a gateway that serves its routes and polls its queues with the real
//! handlers.

pub mod bootstrap;
pub mod enforce;
pub mod faults;
pub mod functions;
pub mod gateway;
pub mod iam;
pub mod poller;
pub mod post_object;
pub mod screen;
pub mod staff_pool;
pub mod template;

use shop_platform::config::Env;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// A failure to start the local stack.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the gateway serves and polls, built from the template.
pub struct Stack {
    /// The HTTP gateway of each `HttpApi`, to serve on that API's own port.
    pub gateways: Vec<(&'static gateway::LocalApi, gateway::Gateway)>,
    /// The queue pollers.
    pub mappings: Vec<poller::Mapping>,
    /// The scheduled functions: logical id, handler and the template's schedules of it.
    pub scheduled: Vec<(
        String,
        Arc<dyn shop_platform::ScheduledFunction>,
        Vec<template::ScheduleTrigger>,
    )>,
    /// The proxy that holds each function's AWS calls to its policies.
    pub enforcer: enforce::Enforcer,
}

/// Variables of the template that name a service outside AWS the local stack stands in for:
/// where this process has one (infra/local/stack.py exports them, as it exports
/// `STRIPE_API_BASE` for the Stripe API), it replaces the template's value. Stripe.js comes from
/// the local Stripe server.
pub const LOCAL_STAND_INS: &[&str] = &["STRIPE_JS_URL"];

/// The variables the template gives `function`, resolved to the local resources, with the
/// local stand-ins of [`LOCAL_STAND_INS`] where this process names them.
pub fn template_vars(
    function: &template::Function,
    context: &template::Context,
) -> Result<BTreeMap<String, String>, StartError> {
    let mut vars = BTreeMap::new();
    for (name, value) in &function.environment {
        let local = LOCAL_STAND_INS
            .contains(&name.as_str())
            .then(|| std::env::var(name).ok())
            .flatten()
            .filter(|v| !v.is_empty());
        let value = match local {
            Some(local) => local,
            None => context.resolve_string(value)?,
        };
        vars.insert(name.clone(), value);
    }
    Ok(vars)
}

/// The variables a function runs with: this process's, under those the template gives the
/// function ([`template_vars`]).
pub fn function_vars(
    function: &template::Function,
    context: &template::Context,
) -> Result<HashMap<String, String>, StartError> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.extend(template_vars(function, context)?);
    Ok(vars)
}

/// The environment a function runs with ([`function_vars`]).
pub fn function_env(function: &template::Function, context: &template::Context) -> Result<Env, StartError> {
    Ok(Env::from_map(function_vars(function, context)?))
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
        ("s3", "S3"),
        ("cognito-idp", "COGNITO_IDENTITY_PROVIDER"),
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

/// The local API that serves the template's `HttpApi` `id`.
fn local_api(id: &str) -> Result<&'static gateway::LocalApi, StartError> {
    gateway::LocalApi::of(id).ok_or_else(|| {
        format!("the template's HttpApi {id} has no local port: add it to LOCAL_APIS in infra/src/gateway.rs").into()
    })
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
    let mut routes: HashMap<&'static str, Vec<gateway::Route>> = HashMap::new();
    let mut mappings = Vec::new();
    let mut scheduled = Vec::new();
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
            functions::Hosted::Scheduled(handler) => {
                scheduled.push((function.logical_id.clone(), handler, function.schedules.clone()));
                (None, None)
            }
        };
        if let Some(handler) = http {
            for route in &function.routes {
                let api = local_api(&route.api)?;
                routes.entry(api.name()).or_default().push(gateway::Route {
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
    // Every API of the template is served, one without routes too (it answers as API Gateway
    // does where no route matches).
    for (id, _) in template.resources_of_type("AWS::Serverless::HttpApi") {
        routes.entry(local_api(id)?.name()).or_default();
    }
    let gateways = gateway::LOCAL_APIS
        .iter()
        .filter_map(|api| {
            let routes = routes.remove(api.name())?;
            Some((api, gateway::Gateway::new(routes, admin_token.clone(), api.unrouted)))
        })
        .collect();
    // The buckets' CORS rules, for the browsers that post to them through the proxy.
    let mut cors = post_object::BucketCors::new();
    for (id, properties) in template.resources_of_type("AWS::S3::Bucket") {
        let Some(name) = context.refs.get(id) else { continue };
        let resolved = serde_json::to_value(context.resolve(properties)?).unwrap_or_default();
        let rules = post_object::CorsRule::of_bucket(&resolved);
        if !rules.is_empty() {
            cors.insert(name.clone(), rules);
        }
    }
    Ok(Stack {
        gateways,
        mappings,
        scheduled,
        enforcer: enforce::Enforcer::new(principals, emulators(), &region, bootstrap::LOCAL_ACCOUNT)
            .with_bucket_cors(cors),
    })
}
