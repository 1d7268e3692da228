//! Creates the template's DynamoDB tables, SQS queues, S3 buckets and Cognito user pools in the emulators, from the template's
//! own resource properties, so the local stack and the cloud cannot drift. Safe to run again.

use crate::gateway::LocalApi;
use crate::template::{Context, Template, TemplateError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value as Json;
use std::collections::HashMap;

/// The account id the emulators use.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A failure to create a resource.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The template cannot be evaluated.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A property the local stack needs is missing or malformed.
    #[error("{resource}: {reason}")]
    Property {
        /// Logical id.
        resource: String,
        /// What is wrong.
        reason: String,
    },
    /// The emulator refused.
    #[error("{resource}: {cause}")]
    Emulator {
        /// Logical id.
        resource: String,
        /// What it said.
        cause: String,
    },
}

/// Creates every table and queue of `template`, naming unnamed ones `{prefix}-{LogicalId}`, and
/// answers the context in which the template's intrinsics resolve to those local resources.
pub async fn create_resources(
    template: &Template,
    prefix: &str,
    sdk: &aws_config::SdkConfig,
) -> Result<Context, BootstrapError> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut context = Context::default();
    context.refs.extend(template.parameter_defaults());
    // Local overrides of template parameters: SHOP_PARAM_<Name>=value (as --parameter-overrides).
    for (name, value) in std::env::vars() {
        if let Some(parameter) = name.strip_prefix("SHOP_PARAM_") {
            context.refs.insert(parameter.to_owned(), value);
        }
    }
    for (name, value) in [
        ("AWS::Region", region.as_str()),
        ("AWS::AccountId", LOCAL_ACCOUNT),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", prefix),
    ] {
        context.refs.insert(name.to_owned(), value.to_owned());
    }

    // Secrets Manager secrets: their values come from the stack (`SHOP_SECRET_<LogicalId>`),
    // for the dynamic references that CloudFormation resolves in AWS.
    for (id, _) in template.resources_of_type("AWS::SecretsManager::Secret") {
        let local = format!("{prefix}-{id}");
        let value = std::env::var(format!("SHOP_SECRET_{id}")).map_err(|_| BootstrapError::Property {
            resource: id.to_owned(),
            reason: format!("set SHOP_SECRET_{id} to the local value of the secret (infra/local/stack.py does)"),
        })?;
        context.refs.insert(id.to_owned(), local.clone());
        context.secrets.insert(local, value);
    }
    // SES configuration sets: the local SES takes any name.
    for (id, _) in template.resources_of_type("AWS::SES::ConfigurationSet") {
        context.refs.insert(id.to_owned(), format!("{prefix}-{id}"));
    }
    // Each API's public URL (`!GetAtt X.ApiEndpoint`) is where the local gateway serves it.
    for (id, _) in template.resources_of_type("AWS::Serverless::HttpApi") {
        let url = LocalApi::of(id).ok_or_else(|| BootstrapError::Property {
            resource: id.to_owned(),
            reason: "this HttpApi has no local port: add it to LOCAL_APIS in infra/src/gateway.rs".into(),
        })?;
        let url = url.url().map_err(|reason| BootstrapError::Property {
            resource: id.to_owned(),
            reason,
        })?;
        context.attrs.insert(format!("{id}.ApiEndpoint"), url);
    }
    // `!If` decides on the local parameters.
    context.conditions = template.conditions();

    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for (id, properties) in template.resources_of_type("AWS::DynamoDB::Table") {
        let properties = to_json(&context.resolve(properties)?);
        let name = properties["TableName"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{prefix}-{id}"));
        create_table(&dynamodb, id, &name, &properties).await?;
        context.refs.insert(id.to_owned(), name.clone());
        context.attrs.insert(
            format!("{id}.Arn"),
            format!("arn:aws:dynamodb:{region}:{LOCAL_ACCOUNT}:table/{name}"),
        );
    }

    // Buckets (moto's S3, on the port of its SQS): unnamed ones `{prefix}-{logicalid}`, in the
    // lower case S3 asks of a name.
    let s3 = s3_client(sdk);
    for (id, properties) in template.resources_of_type("AWS::S3::Bucket") {
        let properties = to_json(&context.resolve(properties)?);
        let name = properties["BucketName"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{prefix}-{id}").to_ascii_lowercase());
        create_bucket(&s3, id, &name).await?;
        context
            .attrs
            .insert(format!("{id}.Arn"), format!("arn:aws:s3:::{name}"));
        context
            .attrs
            .insert(format!("{id}.DomainName"), format!("{name}.s3.amazonaws.com"));
        context.refs.insert(id.to_owned(), name);
    }

    // Staff sign-in (moto's cognito-idp, on the port of its SQS), and the first owner when the
    // stack names one.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    crate::staff_pool::create_pools(template, &mut context, prefix, &region, LOCAL_ACCOUNT, &cognito).await?;
    if let (Ok(email), Ok(password)) = (std::env::var("SHOP_STAFF_EMAIL"), std::env::var("SHOP_STAFF_PASSWORD"))
        && let Some((pool, _)) = template.resources_of_type("AWS::Cognito::UserPool").next()
        && let Some(pool_id) = context.refs.get(pool)
    {
        crate::staff_pool::create_owner(&cognito, pool_id, email.trim(), &password).await?;
    }

    // A queue may name another's ARN (its dead-letter queue): create in as many passes as needed.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut pending: Vec<(&str, &serde_norway::Value)> = template.resources_of_type("AWS::SQS::Queue").collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (id, properties) in pending {
            match context.resolve(properties) {
                Ok(resolved) => {
                    let (url, arn, name) = create_queue(&sqs, id, prefix, &to_json(&resolved)).await?;
                    context.refs.insert(id.to_owned(), url);
                    context.attrs.insert(format!("{id}.Arn"), arn);
                    context.attrs.insert(format!("{id}.QueueName"), name);
                }
                Err(TemplateError::Unresolved(_)) => waiting.push((id, properties)),
                Err(other) => return Err(other.into()),
            }
        }
        if waiting.len() == before {
            let names: Vec<&str> = waiting.iter().map(|(id, _)| *id).collect();
            return Err(BootstrapError::Property {
                resource: names.join(", "),
                reason: "these queues refer to resources that cannot be created".into(),
            });
        }
        pending = waiting;
    }
    Ok(context)
}

/// An S3 client for the emulator: path-style (`http://host:port/bucket/key`), as a local
/// endpoint has no per-bucket host names.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn create_bucket(client: &aws_sdk_s3::Client, resource: &str, name: &str) -> Result<(), BootstrapError> {
    let mut request = client.create_bucket().bucket(name);
    // us-east-1 takes no location; every other region must be named.
    if let Some(region) = client.config().region().map(|r| r.to_string())
        && region != "us-east-1"
    {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()) =>
        {
            Ok(())
        }
        Err(error) => Err(BootstrapError::Emulator {
            resource: resource.to_owned(),
            cause: aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
        }),
    }
}

fn to_json(value: &serde_norway::Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

fn key_schema(resource: &str, value: &Json) -> Result<Vec<KeySchemaElement>, BootstrapError> {
    let property = |reason: String| BootstrapError::Property {
        resource: resource.to_owned(),
        reason,
    };
    value
        .as_array()
        .ok_or_else(|| property("KeySchema must be a list".into()))?
        .iter()
        .map(|element| {
            KeySchemaElement::builder()
                .attribute_name(element["AttributeName"].as_str().unwrap_or_default())
                .key_type(KeyType::from(element["KeyType"].as_str().unwrap_or_default()))
                .build()
                .map_err(|e| property(e.to_string()))
        })
        .collect()
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    resource: &str,
    name: &str,
    properties: &Json,
) -> Result<(), BootstrapError> {
    let property = |reason: String| BootstrapError::Property {
        resource: resource.to_owned(),
        reason,
    };
    let emulator = |cause: String| BootstrapError::Emulator {
        resource: resource.to_owned(),
        cause,
    };
    let definitions = properties["AttributeDefinitions"]
        .as_array()
        .ok_or_else(|| property("AttributeDefinitions must be a list".into()))?
        .iter()
        .map(|d| {
            AttributeDefinition::builder()
                .attribute_name(d["AttributeName"].as_str().unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(
                    d["AttributeType"].as_str().unwrap_or_default(),
                ))
                .build()
                .map_err(|e| property(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(resource, &properties["KeySchema"])?))
        .billing_mode(BillingMode::from(
            properties["BillingMode"].as_str().unwrap_or("PAY_PER_REQUEST"),
        ));
    for index in properties["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(
                index["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"),
            ))
            .set_non_key_attributes(
                index["Projection"]["NonKeyAttributes"]
                    .as_array()
                    .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()),
            )
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap_or_default())
                .set_key_schema(Some(key_schema(resource, &index["KeySchema"])?))
                .projection(projection)
                .build()
                .map_err(|e| property(e.to_string()))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(error) => {
            return Err(emulator(
                aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string(),
            ));
        }
    }
    if let Some(attribute) = properties["TimeToLiveSpecification"]["AttributeName"].as_str() {
        let enabled = properties["TimeToLiveSpecification"]["Enabled"]
            .as_bool()
            .unwrap_or(true);
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(enabled)
            .build()
            .map_err(|e| property(e.to_string()))?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|e| emulator(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string()))?;
    }
    Ok(())
}

/// CloudFormation property names of a queue and the SQS attribute each sets.
const QUEUE_ATTRIBUTES: &[(&str, &str)] = &[
    ("DelaySeconds", "DelaySeconds"),
    ("MaximumMessageSize", "MaximumMessageSize"),
    ("MessageRetentionPeriod", "MessageRetentionPeriod"),
    ("ReceiveMessageWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds"),
    ("VisibilityTimeout", "VisibilityTimeout"),
    ("FifoQueue", "FifoQueue"),
    ("ContentBasedDeduplication", "ContentBasedDeduplication"),
    ("RedrivePolicy", "RedrivePolicy"),
];

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    resource: &str,
    prefix: &str,
    properties: &Json,
) -> Result<(String, String, String), BootstrapError> {
    let emulator = |cause: String| BootstrapError::Emulator {
        resource: resource.to_owned(),
        cause,
    };
    let fifo = properties["FifoQueue"].as_bool() == Some(true) || properties["FifoQueue"].as_str() == Some("true");
    let name = properties["QueueName"].as_str().map(str::to_owned).unwrap_or_else(|| {
        if fifo {
            format!("{prefix}-{resource}.fifo")
        } else {
            format!("{prefix}-{resource}")
        }
    });
    let attributes: HashMap<QueueAttributeName, String> = QUEUE_ATTRIBUTES
        .iter()
        .filter_map(|(property, attribute)| {
            let value = match &properties[*property] {
                Json::Null => return None,
                Json::String(s) => s.clone(),
                Json::Object(_) => properties[*property].to_string(),
                other => other.to_string(),
            };
            Some((QueueAttributeName::from(*attribute), value))
        })
        .collect();
    let url = client
        .create_queue()
        .queue_name(&name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| emulator(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?
        .queue_url
        .ok_or_else(|| emulator("CreateQueue answered no URL".into()))?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| emulator(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| emulator("the queue has no ARN".into()))?;
    Ok((url, arn, name))
}
