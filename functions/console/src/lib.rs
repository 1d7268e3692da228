//! `console`: the merchant's back office in the browser, HTML rendered on the server. Staff
//! sign in with the shop's Cognito user pool ([`staff`]); every page then asks the admin API's
//! own handler, in-process (`shop_platform::in_process`), so an order is listed, shipped and
//! delivered by the very code `POST /admin/orders/{id}/shipments` runs. The admin handler holds
//! the rules; who may reach it is decided at each edge: IAM in front of the admin API, the
//! staff pool's token (checked on every request here) in front of the console.
//!
//! Every form posts with the session's CSRF token and answers with a redirect; a request
//! without a valid session gets the sign-in page and changes nothing.

mod order_pages;
pub mod pages;
pub mod session;
pub mod staff;

use http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestPayloadExt, Response};
use pages::{PageError, Pages};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use session::Session;
use shop_platform::HttpFunction;
use shop_platform::config::{ConfigError, Env, LocaleSettings, StoreSettings};
use staff::{SignInError, Staff, StaffPool};

/// The console with the pool it signs staff in with and the handler it asks, built once per
/// instance.
pub struct Console {
    admin: admin::Admin,
    pool: StaffPool,
    pages: Pages,
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The most characters of an email or password the sign-in form passes on.
const CREDENTIAL_LIMIT: usize = 256;

impl Console {
    /// Builds the admin handler from its own settings in `env` and the staff pool from
    /// `STAFF_USER_POOL_ID` and `STAFF_USER_POOL_CLIENT_ID`.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let store: StoreSettings = env.parse()?;
        let locale = LocaleSettings::from_env(env)?;
        let pages = Pages::new(store.store_name.clone(), locale.store_locale)
            .map_err(|e| ConfigError::new(format!("console templates: {e:#}")))?;
        // The CSRF tokens and messages are tags and seals of the shop's key (admin installs it too).
        shop_platform::keys::install(env)?;
        let setting = |name: &str| {
            env.get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::new(format!("{name} is not set")))
        };
        let pool = StaffPool::new(
            sdk,
            setting("STAFF_USER_POOL_ID")?,
            setting("STAFF_USER_POOL_CLIENT_ID")?,
        )?;
        Ok(Self {
            admin: admin::Admin::from_env(env, sdk).await?,
            pool,
            pages,
        })
    }

    /// Answers one request with a page.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let session = Session::read(&request);
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = request.method().clone();
        if method == Method::POST
            && let Err(error) = check_form(&request, &session)
        {
            return self.pages.error(&session, None, error);
        }
        match (&method, segments.as_slice()) {
            (&Method::GET, ["sign-in"]) => return self.sign_in_page(&session).await,
            (&Method::POST, ["sign-in"]) => return self.sign_in(&request, &session).await,
            _ => {}
        }
        let Some(staff) = self.staff(&session).await else {
            // No valid session: nothing is read or changed; a form gets the sign-in page.
            return if method == Method::GET {
                self.pages.redirect(&session, "/sign-in", session.forget_token())
            } else {
                self.pages
                    .sign_in(&session, StatusCode::UNAUTHORIZED, Some("Please sign in."))
            };
        };
        if staff.role.is_none() {
            return self.pages.error(&session, Some(&staff), PageError::NoRole);
        }
        let answer = match (&method, segments.as_slice()) {
            (&Method::GET, []) => Ok(self.pages.redirect(&session, "/orders", Vec::new())),
            (&Method::POST, ["sign-out"]) => Ok(self.pages.redirect(&session, "/sign-in", session.sign_out())),
            (&Method::GET, ["orders"]) => self.orders_page(&request, &session, &staff).await,
            (&Method::GET, ["orders", order_id]) => self.order_page(&request, &session, &staff, order_id).await,
            (&Method::GET, ["orders", order_id, "packing-slip"]) => self.packing_slip(&request, order_id).await,
            (&Method::POST, ["orders", order_id, "ship"]) => self.ship(&request, &session, order_id).await,
            (&Method::POST, ["orders", order_id, "delivered"]) => self.delivered(&request, &session, order_id).await,
            _ => Err(PageError::NotFound),
        };
        answer.unwrap_or_else(|error| self.pages.error(&session, Some(&staff), error))
    }

    /// The staff member the session's token names, when it is valid.
    async fn staff(&self, session: &Session) -> Option<Staff> {
        let token = session.token()?;
        match self.pool.verify(token).await {
            Ok(staff) => Some(staff),
            Err(error) => {
                tracing::info!(%error, "console session refused");
                None
            }
        }
    }

    async fn sign_in_page(&self, session: &Session) -> Response<Body> {
        if self.staff(session).await.is_some() {
            return self.pages.redirect(session, "/orders", Vec::new());
        }
        self.pages.sign_in(session, StatusCode::OK, None)
    }

    async fn sign_in(&self, request: &Request, session: &Session) -> Response<Body> {
        let form: SignInForm = match form(request) {
            Ok(form) => form,
            Err(error) => return self.pages.error(session, None, error),
        };
        let email = form.email.trim();
        if email.is_empty() || form.password.is_empty() {
            return self.pages.sign_in(
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("Enter your email and password."),
            );
        }
        if email.len() > CREDENTIAL_LIMIT || form.password.len() > CREDENTIAL_LIMIT {
            return self.pages.sign_in(
                session,
                StatusCode::UNAUTHORIZED,
                Some("The email or password is wrong."),
            );
        }
        match self.pool.sign_in(email, &form.password).await {
            Ok((token, staff)) => {
                tracing::info!(role = ?staff.role, "staff signed in");
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                self.pages
                    .redirect(session, "/orders", session.sign_in(&token, now, staff.expires_at))
            }
            Err(SignInError::Refused) => self.pages.sign_in(
                session,
                StatusCode::UNAUTHORIZED,
                Some("The email or password is wrong."),
            ),
            Err(error @ SignInError::Challenge(_)) => {
                self.pages
                    .sign_in(session, StatusCode::FORBIDDEN, Some(&error.to_string()))
            }
            Err(SignInError::Upstream(cause)) => {
                tracing::error!(cause, "sign-in failed");
                self.pages.error(session, None, PageError::Internal(cause))
            }
        }
    }
}

/// A posted form must carry this session's CSRF token.
fn check_form(request: &Request, session: &Session) -> Result<(), PageError> {
    let form: serde_json::Value = form(request)?;
    let token = form.get("csrf").and_then(serde_json::Value::as_str).unwrap_or("");
    if session.csrf_matches(token) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// The form of a `POST`, read as `T` (urlencoded, as browsers send forms).
fn form<T: DeserializeOwned>(request: &Request) -> Result<T, PageError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(PageError::BadForm("send this form from the console's page".into()));
    }
    request
        .payload::<T>()
        .map_err(|error| PageError::BadForm(format!("the form could not be read: {error}")))?
        .ok_or_else(|| PageError::BadForm("the form was empty".into()))
}

impl HttpFunction for Console {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Console::handle(self, request))
    }
}
