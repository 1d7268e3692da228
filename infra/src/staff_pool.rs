//! The template's Cognito user pools, their clients and groups, created in moto's `cognito-idp`
//! from the template's own properties (found again by name when they already exist), and the
//! first owner of the console from `SHOP_STAFF_EMAIL` / `SHOP_STAFF_PASSWORD`.

use crate::bootstrap::BootstrapError;
use crate::template::{Context, Template};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolMfaType, UserPoolPolicyType,
    UsernameAttributeType, VerifiedAttributeType,
};
use serde_json::Value as Json;

fn emulator(resource: &str) -> impl Fn(String) -> BootstrapError + '_ {
    move |cause| BootstrapError::Emulator {
        resource: resource.to_owned(),
        cause,
    }
}

fn texts(value: &Json) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().filter_map(Json::as_str)
}

/// Creates every `AWS::Cognito::UserPool`, `UserPoolClient` and `UserPoolGroup` of `template`,
/// with `context` learning their ids (`!Ref`) and a pool's `Arn` and `ProviderURL`.
pub async fn create_pools(
    template: &Template,
    context: &mut Context,
    prefix: &str,
    region: &str,
    account: &str,
    client: &Client,
) -> Result<(), BootstrapError> {
    for (id, properties) in template.resources_of_type("AWS::Cognito::UserPool") {
        let properties = to_json(context, properties)?;
        let name = properties["UserPoolName"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{prefix}-{id}"));
        let pool_id = create_pool(client, id, &name, &properties).await?;
        context.attrs.insert(
            format!("{id}.Arn"),
            format!("arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}"),
        );
        let provider = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        context.attrs.insert(format!("{id}.ProviderURL"), provider.clone());
        context.attrs.insert(
            format!("{id}.ProviderName"),
            provider.trim_start_matches("https://").to_owned(),
        );
        context.refs.insert(id.to_owned(), pool_id);
    }
    for (id, properties) in template.resources_of_type("AWS::Cognito::UserPoolClient") {
        let properties = to_json(context, properties)?;
        let client_id = create_client(client, id, &properties).await?;
        context.refs.insert(id.to_owned(), client_id);
    }
    for (id, properties) in template.resources_of_type("AWS::Cognito::UserPoolGroup") {
        let properties = to_json(context, properties)?;
        let (Some(pool), Some(group)) = (properties["UserPoolId"].as_str(), properties["GroupName"].as_str()) else {
            return Err(BootstrapError::Property {
                resource: id.to_owned(),
                reason: "a group needs UserPoolId and GroupName".into(),
            });
        };
        let mut request = client.create_group().user_pool_id(pool).group_name(group);
        if let Some(description) = properties["Description"].as_str() {
            request = request.description(description);
        }
        if let Some(precedence) = properties["Precedence"].as_i64() {
            request = request.precedence(i32::try_from(precedence).unwrap_or(i32::MAX));
        }
        match request.send().await {
            Ok(_) => {}
            Err(error) if error.as_service_error().is_some_and(|e| e.is_group_exists_exception()) => {}
            Err(error) => return Err(emulator(id)(DisplayErrorContext(&error).to_string())),
        }
        context.refs.insert(id.to_owned(), group.to_owned());
    }
    Ok(())
}

fn to_json(context: &Context, properties: &serde_norway::Value) -> Result<Json, BootstrapError> {
    Ok(serde_json::to_value(context.resolve(properties)?).unwrap_or(Json::Null))
}

async fn create_pool(client: &Client, id: &str, name: &str, properties: &Json) -> Result<String, BootstrapError> {
    let fail = emulator(id);
    let pools = client
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?;
    if let Some(existing) = pools
        .user_pools()
        .iter()
        .find(|pool| pool.name() == Some(name))
        .and_then(|pool| pool.id())
    {
        return Ok(existing.to_owned());
    }
    let password = &properties["Policies"]["PasswordPolicy"];
    let number = |name: &str| password[name].as_i64().and_then(|n| i32::try_from(n).ok());
    let flag = |name: &str| password[name].as_bool();
    let policy = PasswordPolicyType::builder()
        .set_minimum_length(number("MinimumLength"))
        .set_require_lowercase(flag("RequireLowercase"))
        .set_require_uppercase(flag("RequireUppercase"))
        .set_require_numbers(flag("RequireNumbers"))
        .set_require_symbols(flag("RequireSymbols"))
        .set_temporary_password_validity_days(number("TemporaryPasswordValidityDays"))
        .build();
    let mut request = client
        .create_user_pool()
        .pool_name(name)
        .policies(UserPoolPolicyType::builder().password_policy(policy).build())
        .set_username_attributes(Some(
            texts(&properties["UsernameAttributes"])
                .map(UsernameAttributeType::from)
                .collect(),
        ))
        .set_auto_verified_attributes(Some(
            texts(&properties["AutoVerifiedAttributes"])
                .map(VerifiedAttributeType::from)
                .collect(),
        ));
    if let Some(mfa) = properties["MfaConfiguration"].as_str() {
        request = request.mfa_configuration(UserPoolMfaType::from(mfa));
    }
    if let Some(admin_only) = properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"].as_bool() {
        request = request.admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(admin_only)
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?
        .user_pool()
        .and_then(|pool| pool.id())
        .map(str::to_owned)
        .ok_or_else(|| fail("CreateUserPool answered no id".into()))
}

async fn create_client(client: &Client, id: &str, properties: &Json) -> Result<String, BootstrapError> {
    let fail = emulator(id);
    let pool = properties["UserPoolId"]
        .as_str()
        .ok_or_else(|| BootstrapError::Property {
            resource: id.to_owned(),
            reason: "a client needs its UserPoolId".into(),
        })?;
    let name = properties["ClientName"].as_str().unwrap_or(id);
    let existing = client
        .list_user_pool_clients()
        .user_pool_id(pool)
        .max_results(60)
        .send()
        .await
        .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?;
    if let Some(found) = existing
        .user_pool_clients()
        .iter()
        .find(|c| c.client_name() == Some(name))
        .and_then(|c| c.client_id())
    {
        return Ok(found.to_owned());
    }
    let hours = |name: &str| properties[name].as_i64().and_then(|n| i32::try_from(n).ok());
    client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name(name)
        .generate_secret(properties["GenerateSecret"].as_bool().unwrap_or(false))
        .set_explicit_auth_flows(Some(
            texts(&properties["ExplicitAuthFlows"])
                .map(ExplicitAuthFlowsType::from)
                .collect(),
        ))
        .set_id_token_validity(hours("IdTokenValidity"))
        .set_access_token_validity(hours("AccessTokenValidity"))
        .set_refresh_token_validity(hours("RefreshTokenValidity"))
        .send()
        .await
        .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?
        .user_pool_client()
        .and_then(|c| c.client_id())
        .map(str::to_owned)
        .ok_or_else(|| fail("CreateUserPoolClient answered no id".into()))
}

/// Makes `email` an owner of `pool` with the permanent `password` (again, when it already
/// is one: the password is set anew), as the console's Settings page adds an account.
pub async fn create_owner(client: &Client, pool: &str, email: &str, password: &str) -> Result<(), BootstrapError> {
    console::accounts::StaffAccounts::new(client.clone(), pool)
        .add(email, password, console::staff::Role::Owner)
        .await
        .map_err(|e| emulator("first owner (SHOP_STAFF_EMAIL)")(e.to_string()))
}
