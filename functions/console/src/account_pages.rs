//! Your account, for every staff member: two-step sign-in (a code from an authenticator app
//! after the password, Cognito's TOTP "software token" MFA, which the pool offers as optional).
//!
//! Setting it up asks for the password again (a session left open on a shared computer does
//! not let someone else bind their phone to the account), gives the app's secret as a QR code
//! and as text, and turns it on once the app's first code proves the secret was taken. The
//! secret and the access token the code is checked with are held sealed, for this session,
//! for ten minutes ([`crate::session::Step::Enrolment`]). Turning it off is an owner's, on
//! Settings, for one who lost their phone.

use crate::pages::PageError;
use crate::session::Step;
use crate::staff::{Enrolment, SignInError};
use crate::{CodeForm, Console, Ctx, form, one_time_code};
use http::Method;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("account.html", include_str!("../templates/account.html")),
    ("sign_in_code.html", include_str!("../templates/sign_in_code.html")),
];

/// The most characters of a password the form passes on.
const PASSWORD_LIMIT: usize = 256;

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

impl Console {
    /// `/account/…`.
    pub(crate) async fn account_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.account_page(ctx).await,
            (&Method::POST, ["two-step"]) => self.start_two_step(ctx).await,
            (&Method::POST, ["two-step", "confirm"]) => self.confirm_two_step(ctx).await,
            _ => Err(PageError::NotFound),
        }
    }

    async fn account_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let on = self.accounts.two_step(&ctx.staff.email).await?;
        let enrolment = ctx
            .session
            .held::<Enrolment>(Step::Enrolment)
            .filter(|_| !on)
            .map(|enrolment| {
                let uri = otpauth_uri(self.pages.store_name(), &ctx.staff.email, &enrolment.secret);
                json!({
                    "secret": grouped(&enrolment.secret),
                    "uri": uri,
                    "qr": qr_svg(&uri),
                })
            });
        self.pages.show(
            ctx,
            "account.html",
            json!({"two_step": on, "enrolment": enrolment, "email": ctx.staff.email}),
        )
    }

    /// `POST /account/two-step {password}`: a new authenticator's secret, held for the page.
    async fn start_two_step(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let typed: PasswordForm = form(ctx.request)?;
        if typed.password.is_empty() || typed.password.len() > PASSWORD_LIMIT {
            return Ok(self
                .pages
                .done(ctx, "/account", "Enter your password to set up two-step sign-in."));
        }
        match self.pool.enrol(&ctx.staff.email, &typed.password).await {
            Ok(Some(enrolment)) => Ok(self.pages.redirect(
                ctx.session,
                "/account",
                vec![ctx.session.hold(Step::Enrolment, &enrolment)],
            )),
            Ok(None) => Ok(self.pages.done(ctx, "/account", "Two-step sign-in is on already.")),
            Err(SignInError::Refused) => Ok(self.pages.done(ctx, "/account", "That password is wrong.")),
            Err(error) => Err(enrolment_failed(error)),
        }
    }

    /// `POST /account/two-step/confirm {code}`: the app's first code turns two-step sign-in on.
    async fn confirm_two_step(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let Some(enrolment) = ctx.session.held::<Enrolment>(Step::Enrolment) else {
            return Ok(self.pages.done(
                ctx,
                "/account",
                "Setting up took too long. Enter your password to start again.",
            ));
        };
        let typed: CodeForm = form(ctx.request)?;
        let Some(code) = one_time_code(&typed.code) else {
            return Ok(self
                .pages
                .done(ctx, "/account", "Enter the 6 digits your authenticator app shows."));
        };
        match self.pool.confirm(&enrolment, &code).await {
            Ok(()) => {
                let subject = format!("staff {}", ctx.staff.email);
                self.audit(
                    ctx,
                    "two-step sign-in turned on",
                    &subject,
                    Some("off".into()),
                    Some("on".into()),
                )
                .await;
                let message =
                    "Two-step sign-in is on: from now on the console asks for your app's code after your password.";
                Ok(self.pages.redirect(
                    ctx.session,
                    "/account",
                    vec![ctx.session.release(Step::Enrolment), ctx.session.flash(message)],
                ))
            }
            Err(SignInError::WrongCode) => Ok(self.pages.done(
                ctx,
                "/account",
                "That code is not right. Enter the one your app shows now.",
            )),
            Err(SignInError::Expired) => Ok(self.pages.redirect(
                ctx.session,
                "/account",
                vec![
                    ctx.session.release(Step::Enrolment),
                    ctx.session
                        .flash("Setting up took too long. Enter your password to start again."),
                ],
            )),
            Err(error) => Err(enrolment_failed(error)),
        }
    }
}

fn enrolment_failed(error: SignInError) -> PageError {
    match error {
        SignInError::Upstream(cause) => PageError::Internal(cause),
        other => PageError::BadForm(other.to_string()),
    }
}

/// The address an authenticator app reads from the QR code (Google's `otpauth://` format,
/// which every such app takes): the store as issuer, the staff email as the account.
fn otpauth_uri(store: &str, email: &str, secret: &str) -> String {
    let issuer = percent(store);
    format!(
        "otpauth://totp/{issuer}:{}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        percent(email)
    )
}

/// `text` percent-encoded for an `otpauth://` address: all but unreserved characters.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The secret in groups of four, as a person types it into an app.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `uri` as a QR code, inline SVG (markup the page holds, so nothing is loaded); `None` for an
/// address too long for a code, where the page shows the text alone.
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_address_names_the_store_and_account_encoded() {
        let uri = otpauth_uri("Field & Thread", "ana+shop@example.com", "ABCD2345");
        assert_eq!(
            uri,
            "otpauth://totp/Field%20%26%20Thread:ana%2Bshop%40example.com?secret=ABCD2345&issuer=Field%20%26%20Thread&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn the_secret_is_shown_in_groups_of_four_and_as_a_qr_code() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        let svg = qr_svg("otpauth://totp/x:y?secret=ABCD").unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>") && !svg.contains("<script"));
    }

    #[test]
    fn a_code_is_six_digits_typed_with_or_without_spaces() {
        assert_eq!(one_time_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(one_time_code("12345"), None);
        assert_eq!(one_time_code("12345a"), None);
        assert_eq!(one_time_code("1234567"), None);
    }
}
