//! IAM as the local stack enforces it, the pure half: each function's `Policies` from
//! template.yaml (inline documents, SAM policy templates expanded from SAM's own definitions, and
//! the few AWS managed policies that only grant logs and traces) with intrinsics resolved to the
//! local resources; the decision IAM takes for a Condition-free identity policy; and the accesses
//! (action and resource ARN) that one AWS API call asks IAM for.

mod pattern;
mod policy;
pub mod requests;
mod sam_templates;

pub use policy::{Decision, Policy};
pub use requests::{RequestError, accesses};
pub use sam_templates::{PATH_VARIABLE as SAM_POLICY_TEMPLATES_VARIABLE, SamPolicyTemplates};

use crate::template::TemplateError;
use std::fmt;

/// A problem turning a function's policies into something the local stack can enforce.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// SAM's policy templates are not installed where the project keeps them.
    #[error(
        "SAM's policy templates are not at {searched}: run `make deps` (it installs aws-sam-translator into \
         .venv), or set SHOP_SAM_POLICY_TEMPLATES to a policy_templates.json"
    )]
    SamTemplatesNotFound {
        /// Where they were looked for.
        searched: String,
    },
    /// SAM's policy templates file exists but cannot be read as SAM writes it.
    #[error("cannot read SAM's policy templates at {path}: {cause}")]
    SamTemplatesUnreadable {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// A SAM policy template is used without a value for one of its parameters.
    #[error("{location}: SAM policy template {template} needs a value for {missing}")]
    MissingTemplateParameter {
        /// Which policy, e.g. `Policies[1]`.
        location: String,
        /// The template, e.g. `DynamoDBCrudPolicy`.
        template: String,
        /// The parameters without a value, comma-separated.
        missing: String,
    },
    /// A managed policy whose statements the local stack does not know.
    #[error(
        "{location}: managed policy {name} is not known locally (only the logs- and traces-only \
         AWSLambdaBasicExecutionRole, AWSXRayDaemonWriteAccess and AWSXrayWriteOnlyAccess are); write its \
         statements inline or use a SAM policy template"
    )]
    UnknownManagedPolicy {
        /// Which policy.
        location: String,
        /// Its name or ARN.
        name: String,
    },
    /// A statement with a `Condition`, which the local stack does not evaluate.
    #[error(
        "{location}: has a Condition, which the local stack does not evaluate; it would allow or deny \
         more than AWS does"
    )]
    Condition {
        /// Which statement, e.g. `Policies[0].Statement[2]`.
        location: String,
    },
    /// Something that is not a valid identity policy.
    #[error("{location}: {reason}")]
    Malformed {
        /// Where.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// An intrinsic that cannot be evaluated against the local resources.
    #[error("{location}: {source}")]
    Template {
        /// Where.
        location: String,
        /// Why.
        source: TemplateError,
    },
}

/// What one request asks IAM for: an action on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Access {
    /// `service:Action`, as IAM names it, e.g. `dynamodb:Query`.
    pub action: String,
    /// The resource's ARN, or `*` for actions without resource-level permissions.
    pub resource: String,
}

impl Access {
    /// The access to `action` on `resource`.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)
    }
}

/// The first access of a request that a policy refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The access refused.
    pub access: Access,
    /// True when a Deny statement refused it; false when no statement allowed it.
    pub explicit: bool,
}

/// Worded as AWS's `AccessDenied` message, so a caller reads what it would read in AWS.
impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = if self.explicit {
            "with an explicit deny in an identity-based policy"
        } else {
            "because no identity-based policy allows the action"
        };
        write!(
            f,
            "not authorized to perform: {} on resource: {} {why}",
            self.access.action, self.access.resource
        )
    }
}

impl std::error::Error for Denied {}

#[cfg(test)]
mod tests;
