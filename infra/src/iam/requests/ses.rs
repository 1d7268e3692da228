//! SES v2 (REST under `/v2/email/`, signing name `ses`): the sending identity and whatever else a
//! send names, or the identity, configuration set or account other calls act on.

use super::{Arns, Call, RequestError};
use crate::iam::Access;
use percent_encoding::percent_decode_str;
use serde_json::Value as Json;

/// The accesses of one SES v2 call: `method` on `path`, with its JSON `body`.
pub(super) fn accesses(arns: &Arns, method: &str, path: &str, body: &[u8]) -> Result<Vec<Access>, RequestError> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let method = method.to_ascii_uppercase();
    let described = format!("{method} {path}");
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let ["v2", "email", rest @ ..] = segments.as_slice() else {
        return Err(RequestError::Unsupported {
            service: "ses".into(),
            operation: format!("{described} (only the SES v2 API is classified)"),
        });
    };
    let (operation, resource): (&str, Option<String>) = match (method.as_str(), rest) {
        ("POST", ["outbound-emails"]) => ("SendEmail", None),
        ("POST", ["outbound-bulk-emails"]) => ("SendBulkEmail", None),
        ("GET", ["account"]) => ("GetAccount", Some("*".into())),
        ("GET", ["identities"]) => ("ListEmailIdentities", Some("*".into())),
        ("POST", ["identities"]) => ("CreateEmailIdentity", None),
        ("GET", ["identities", identity]) => (
            "GetEmailIdentity",
            Some(arns.arn("ses", &format!("identity/{identity}"))),
        ),
        ("DELETE", ["identities", identity]) => (
            "DeleteEmailIdentity",
            Some(arns.arn("ses", &format!("identity/{identity}"))),
        ),
        ("GET", ["configuration-sets"]) => ("ListConfigurationSets", Some("*".into())),
        ("POST", ["configuration-sets"]) => ("CreateConfigurationSet", None),
        ("GET", ["configuration-sets", name]) => (
            "GetConfigurationSet",
            Some(arns.arn("ses", &format!("configuration-set/{name}"))),
        ),
        ("DELETE", ["configuration-sets", name]) => (
            "DeleteConfigurationSet",
            Some(arns.arn("ses", &format!("configuration-set/{name}"))),
        ),
        ("POST", ["configuration-sets", name, "event-destinations"]) => (
            "CreateConfigurationSetEventDestination",
            Some(arns.arn("ses", &format!("configuration-set/{name}"))),
        ),
        ("GET", ["configuration-sets", name, "event-destinations"]) => (
            "GetConfigurationSetEventDestinations",
            Some(arns.arn("ses", &format!("configuration-set/{name}"))),
        ),
        ("PUT", ["suppression", "addresses"]) => ("PutSuppressedDestination", Some("*".into())),
        ("GET", ["suppression", "addresses"]) => ("ListSuppressedDestinations", Some("*".into())),
        ("GET", ["suppression", "addresses", _]) => ("GetSuppressedDestination", Some("*".into())),
        ("DELETE", ["suppression", "addresses", _]) => ("DeleteSuppressedDestination", Some("*".into())),
        _ => {
            return Err(RequestError::Unsupported {
                service: "ses".into(),
                operation: described,
            });
        }
    };
    let action = format!("ses:{operation}");
    if let Some(resource) = resource {
        return Ok(vec![Access::new(action, resource)]);
    }
    let call = Call::json("ses", operation, body)?;
    match operation {
        "CreateEmailIdentity" => Ok(vec![Access::new(
            action,
            arns.arn("ses", &format!("identity/{}", call.required("EmailIdentity")?)),
        )]),
        "CreateConfigurationSet" => Ok(vec![Access::new(
            action,
            arns.arn(
                "ses",
                &format!("configuration-set/{}", call.required("ConfigurationSetName")?),
            ),
        )]),
        _ => sending(arns, &call, &action),
    }
}

/// What SES v2 checks for SendEmail and SendBulkEmail: the sending identity, and the
/// configuration set, contact list and stored template when the request names them.
fn sending(arns: &Arns, call: &Call, action: &str) -> Result<Vec<Access>, RequestError> {
    let body = call.body();
    let identity = match body.get("FromEmailAddressIdentityArn").and_then(Json::as_str) {
        // Sending authorization: the identity whose policy lets the caller use the address.
        Some(arn) => arn.to_owned(),
        None => {
            let from = call.required("FromEmailAddress")?;
            let address = from_address(from).ok_or_else(|| call.malformed(format!("FromEmailAddress {from:?}")))?;
            arns.arn("ses", &format!("identity/{address}"))
        }
    };
    let mut accesses = vec![Access::new(action, identity)];
    if let Some(name) = call.text("ConfigurationSetName").filter(|name| !name.is_empty()) {
        accesses.push(Access::new(
            action,
            arns.arn("ses", &format!("configuration-set/{name}")),
        ));
    }
    if let Some(list) = body
        .pointer("/ListManagementOptions/ContactListName")
        .and_then(Json::as_str)
    {
        accesses.push(Access::new(action, arns.arn("ses", &format!("contact-list/{list}"))));
    }
    let template = body
        .pointer("/Content/Template")
        .or_else(|| body.pointer("/DefaultContent/Template"));
    if let Some(template) = template {
        if let Some(arn) = template.get("TemplateArn").and_then(Json::as_str) {
            accesses.push(Access::new(action, arn));
        } else if let Some(name) = template.get("TemplateName").and_then(Json::as_str) {
            accesses.push(Access::new(action, arns.arn("ses", &format!("template/{name}"))));
        }
    }
    Ok(accesses)
}

/// The address of a From header value: `a@b`, `<a@b>` or `"Name" <a@b>`.
fn from_address(from: &str) -> Option<&str> {
    let address = match from.rfind('<') {
        Some(open) => from[open + 1..].split('>').next()?,
        None => from,
    };
    let address = address.trim();
    address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        .then_some(address)
}
