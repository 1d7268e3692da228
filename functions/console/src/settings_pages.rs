//! Settings, for owners only: the staff accounts and their roles (add one with a password to
//! hand over, change a role, disable or enable, turn off two-step sign-in for one who lost their
//! authenticator app), and the store's facts as deployed.

use crate::accounts::AccountError;
use crate::pages::PageError;
use crate::staff::Role;
use crate::{Console, Ctx, form};
use http::Method;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[("settings.html", include_str!("../templates/settings.html"))];

/// The longest email the form takes.
const EMAIL_LIMIT: usize = 254;

#[derive(Deserialize)]
struct NewAccount {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
struct AccountChange {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
    /// `off`: turn the account's two-step sign-in off.
    #[serde(default)]
    two_step: Option<String>,
}

/// The role a form named.
fn role_named(name: &str) -> Result<Role, PageError> {
    match name {
        "owner" => Ok(Role::Owner),
        "staff" => Ok(Role::Staff),
        _ => Err(PageError::BadForm("choose the role: owner or staff".into())),
    }
}

impl From<AccountError> for PageError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Refused(words) => Self::BadForm(words),
            AccountError::Upstream(cause) => Self::Internal(cause),
        }
    }
}

impl Console {
    /// `/settings/…`: owners only.
    pub(crate) async fn settings_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        ctx.owner_only()?;
        match (method, rest) {
            (&Method::GET, []) => self.settings_page(ctx).await,
            (&Method::POST, ["staff"]) => self.add_account(ctx).await,
            (&Method::POST, ["staff", "change"]) => self.change_account(ctx).await,
            _ => Err(PageError::NotFound),
        }
    }

    async fn settings_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let accounts = self.accounts.list().await?;
        self.pages.show(
            ctx,
            "settings.html",
            json!({"accounts": accounts, "me": ctx.staff.email, "facts": self.facts}),
        )
    }

    /// `POST /settings/staff {email, password, role}`.
    async fn add_account(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let account: NewAccount = form(ctx.request)?;
        let email = account.email.trim().to_lowercase();
        if email.len() > EMAIL_LIMIT || shop_domain::order::Email::parse(&email).is_err() {
            return Err(PageError::BadForm(format!("'{email}' is not an email address")));
        }
        let role = role_named(&account.role)?;
        self.accounts.add(&email, &account.password, role).await?;
        self.audit(
            ctx,
            "staff account added",
            &format!("staff {email}"),
            None,
            Some(role.as_str().to_owned()),
        )
        .await;
        Ok(self.pages.done(
            ctx,
            "/settings",
            &format!(
                "{email} can now sign in as {}, with the password you chose.",
                role.as_str()
            ),
        ))
    }

    /// `POST /settings/staff/change {email, role | enabled}`: never one's own account, so the
    /// shop always keeps the owner who is changing it.
    async fn change_account(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let change: AccountChange = form(ctx.request)?;
        let email = change.email.trim();
        if email.eq_ignore_ascii_case(&ctx.staff.email) {
            return Err(PageError::BadForm(
                "you cannot change your own account; ask another owner".into(),
            ));
        }
        let before = self.accounts.list().await?.into_iter().find(|a| a.email == email);
        let Some(before) = before else {
            return Err(PageError::NotFound);
        };
        let describe = |role: Option<Role>, enabled: bool| {
            format!(
                "{}, {}",
                role.map_or("no role", Role::as_str),
                if enabled { "enabled" } else { "disabled" }
            )
        };
        let (after, message) = match (
            change.role.as_deref(),
            change.enabled.as_deref(),
            change.two_step.as_deref(),
        ) {
            (None, None, Some("off")) => {
                let was_on = self.accounts.two_step(email).await?;
                self.accounts.reset_two_step(email).await?;
                let message = if was_on {
                    format!("{email} signs in with the password alone now, and may set up a new authenticator app.")
                } else {
                    format!("{email} had no two-step sign-in to turn off.")
                };
                if was_on {
                    self.audit(
                        ctx,
                        "two-step sign-in turned off",
                        &format!("staff {email}"),
                        Some("on".into()),
                        Some("off".into()),
                    )
                    .await;
                }
                return Ok(self.pages.done(ctx, "/settings", &message));
            }
            (Some(role), None, None) => {
                let role = role_named(role)?;
                self.accounts.set_role(email, role).await?;
                (
                    describe(Some(role), before.enabled),
                    format!("{email} is now {}.", role.as_str()),
                )
            }
            (None, Some(enabled), None) => {
                let enabled = enabled == "true";
                self.accounts.set_enabled(email, enabled).await?;
                let word = if enabled {
                    "may sign in again"
                } else {
                    "can no longer sign in"
                };
                (describe(before.role, enabled), format!("{email} {word}."))
            }
            _ => {
                return Err(PageError::BadForm(
                    "change either the role or whether the account may sign in".into(),
                ));
            }
        };
        self.audit(
            ctx,
            "staff account changed",
            &format!("staff {email}"),
            Some(describe(before.role, before.enabled)),
            Some(after),
        )
        .await;
        Ok(self.pages.done(ctx, "/settings", &message))
    }
}
