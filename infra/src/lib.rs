//! The local stack's Rust half: template.yaml read with its tags, tables and queues created from
//! it, and a gateway that serves its routes and polls its queues with the real handlers.

pub mod bootstrap;
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

/// Creates the template's resources (named `{prefix}-{LogicalId}`) and hosts its functions,
/// each with the environment the template gives it on top of this process's.
pub async fn build_stack(
    template_path: &Path,
    prefix: &str,
    admin_token: String,
    sdk: &aws_config::SdkConfig,
) -> Result<Stack, StartError> {
    let template = template::Template::load(template_path)?;
    let context = bootstrap::create_resources(&template, prefix, sdk).await?;
    let mut routes = Vec::new();
    let mut mappings = Vec::new();
    for function in template.functions()? {
        let (http, queue) = match functions::host(&function.binary, &function_env(&function, &context)?, sdk).await? {
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
    Ok(Stack {
        gateway: gateway::Gateway::new(routes, admin_token),
        mappings,
    })
}
