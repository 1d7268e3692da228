//! The staff accounts of the pool, as an owner manages them on the Settings page: listed with
//! their role and whether they may sign in; added with a password the owner gives them (the
//! pool's password policy decides whether it is good enough); moved between the `owner` and
//! `staff` groups; disabled and enabled; their two-step sign-in read, and turned off for one
//! who lost their authenticator. The same calls make the first owner locally
//! (`make dev`) as the Settings page makes every other.

use crate::staff::Role;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, MessageActionType, SoftwareTokenMfaSettingsType, UserType,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The most accounts the Settings page lists (Cognito's largest page).
const LIST_LIMIT: i32 = 60;

/// One staff account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The sign-in email.
    pub email: String,
    /// The most powerful group it is in; `None`: in neither.
    pub role: Option<Role>,
    /// Whether it may sign in.
    pub enabled: bool,
    /// Cognito's word for its state (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
    pub status: String,
}

/// Why an account change was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The pool refused what was asked, in its own words (a weak password, an email taken).
    #[error("{0}")]
    Refused(String),
    /// Cognito failed.
    #[error("the staff pool failed: {0}")]
    Upstream(String),
}

fn failed<E, R>(error: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>) -> AccountError
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let refused = matches!(
        error.as_service_error().and_then(|e| e.code()),
        Some(
            "InvalidPasswordException"
                | "UsernameExistsException"
                | "InvalidParameterException"
                | "UserNotFoundException"
        )
    );
    match (refused, error.as_service_error().and_then(|e| e.message())) {
        (true, Some(message)) => AccountError::Refused(message.to_owned()),
        _ => AccountError::Upstream(DisplayErrorContext(&error).to_string()),
    }
}

/// The accounts of one user pool.
#[derive(Debug, Clone)]
pub struct StaffAccounts {
    cognito: Client,
    pool_id: String,
}

impl StaffAccounts {
    /// The accounts of `pool_id`.
    pub fn new(cognito: Client, pool_id: impl Into<String>) -> Self {
        Self {
            cognito,
            pool_id: pool_id.into(),
        }
    }

    /// Every account (up to 60) with its role: ListUsers and one ListUsersInGroup per role.
    pub async fn list(&self) -> Result<Vec<Account>, AccountError> {
        let users = self
            .cognito
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(LIST_LIMIT)
            .send()
            .await
            .map_err(failed)?;
        let mut roles: BTreeMap<String, Role> = BTreeMap::new();
        // Staff first, so an account in both groups ends up an owner.
        for role in [Role::Staff, Role::Owner] {
            let members = self
                .cognito
                .list_users_in_group()
                .user_pool_id(&self.pool_id)
                .group_name(role.as_str())
                .limit(LIST_LIMIT)
                .send()
                .await
                .map_err(failed)?;
            for user in members.users() {
                roles.insert(email_of(user), role);
            }
        }
        let mut accounts: Vec<Account> = users
            .users()
            .iter()
            .map(|user| {
                let email = email_of(user);
                Account {
                    role: roles.get(&email).copied(),
                    enabled: user.enabled(),
                    status: user.user_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    email,
                }
            })
            .collect();
        accounts.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(accounts)
    }

    /// Adds `email` with the permanent `password` in `role`'s group; an account that exists
    /// gets the password anew and joins the group.
    pub async fn add(&self, email: &str, password: &str, role: Role) -> Result<(), AccountError> {
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| AccountError::Upstream(e.to_string()))
        };
        let created = self
            .cognito
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(email)
            .user_attributes(attribute("email", email)?)
            .user_attributes(attribute("email_verified", "true")?)
            .message_action(MessageActionType::Suppress)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_username_exists_exception()) => {}
            Err(error) => return Err(failed(error)),
        }
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&self.pool_id)
            .username(email)
            .password(password)
            .permanent(true)
            .send()
            .await
            .map_err(failed)?;
        self.set_role(email, role).await
    }

    /// Puts `email` in `role`'s group and out of the other.
    pub async fn set_role(&self, email: &str, role: Role) -> Result<(), AccountError> {
        self.cognito
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(email)
            .group_name(role.as_str())
            .send()
            .await
            .map_err(failed)?;
        let other = match role {
            Role::Owner => Role::Staff,
            Role::Staff => Role::Owner,
        };
        self.cognito
            .admin_remove_user_from_group()
            .user_pool_id(&self.pool_id)
            .username(email)
            .group_name(other.as_str())
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Lets `email` sign in, or not. A session a disabled account opened before lasts until it
    /// signs out, sits idle or its token expires.
    pub async fn set_enabled(&self, email: &str, enabled: bool) -> Result<(), AccountError> {
        if enabled {
            self.cognito
                .admin_enable_user()
                .user_pool_id(&self.pool_id)
                .username(email)
                .send()
                .await
                .map(|_| ())
                .map_err(failed)
        } else {
            self.cognito
                .admin_disable_user()
                .user_pool_id(&self.pool_id)
                .username(email)
                .send()
                .await
                .map(|_| ())
                .map_err(failed)
        }
    }

    /// Whether `email` signs in with a code from an authenticator app as well (AdminGetUser).
    pub async fn two_step(&self, email: &str) -> Result<bool, AccountError> {
        let user = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(email)
            .send()
            .await
            .map_err(failed)?;
        Ok(user
            .user_mfa_setting_list()
            .iter()
            .any(|mfa| mfa == "SOFTWARE_TOKEN_MFA"))
    }

    /// Turns `email`'s two-step sign-in off (a lost phone): its next sign-in is by password
    /// alone, and it may set up a new authenticator.
    pub async fn reset_two_step(&self, email: &str) -> Result<(), AccountError> {
        self.cognito
            .admin_set_user_mfa_preference()
            .user_pool_id(&self.pool_id)
            .username(email)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(false)
                    .preferred_mfa(false)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

/// A user's email (its `email` attribute; its username otherwise).
fn email_of(user: &UserType) -> String {
    user.attributes()
        .iter()
        .find(|a| a.name() == "email")
        .and_then(|a| a.value())
        .or(user.username())
        .unwrap_or_default()
        .to_owned()
}
