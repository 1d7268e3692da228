//! Cognito user pools (AWS JSON 1.1, `AWSCognitoIdentityProviderService.<Operation>`): the
//! pool named. Sign-in and a user's own calls are public: Cognito evaluates no IAM policy for
//! them (they carry the user's password or token instead), so they need no access.

use super::{Arns, Call, RequestError, operation};
use crate::iam::Access;

/// The operations Cognito answers without IAM, signed or not.
pub const PUBLIC_OPERATIONS: &[&str] = &[
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetUser",
    "GlobalSignOut",
    "RevokeToken",
    "ChangePassword",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
];

/// The accesses of one Cognito call, the operation named by `target`.
pub(super) fn accesses(arns: &Arns, target: Option<&str>, body: &[u8]) -> Result<Vec<Access>, RequestError> {
    let operation = operation("cognito-idp", target, "AWSCognitoIdentityProviderService")?;
    if PUBLIC_OPERATIONS.contains(&operation) {
        return Ok(Vec::new());
    }
    let call = Call::json("cognito-idp", operation, body)?;
    let action = format!("cognito-idp:{operation}");
    match operation {
        "AdminCreateUser"
        | "AdminSetUserPassword"
        | "AdminAddUserToGroup"
        | "AdminRemoveUserFromGroup"
        | "AdminGetUser"
        | "AdminDeleteUser"
        | "AdminDisableUser"
        | "AdminEnableUser"
        | "AdminSetUserMFAPreference"
        | "AdminListGroupsForUser"
        | "AdminUserGlobalSignOut"
        | "ListUsers"
        | "ListUsersInGroup"
        | "ListGroups"
        | "DescribeUserPool"
        | "DescribeUserPoolClient" => {
            let pool = call.required("UserPoolId")?;
            Ok(vec![Access::new(
                action,
                arns.arn("cognito-idp", &format!("userpool/{pool}")),
            )])
        }
        _ => Err(call.unsupported()),
    }
}
