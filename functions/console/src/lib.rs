//! `console`: the merchant's back office in the browser, HTML rendered on the server. Staff
//! sign in with the shop's Cognito user pool ([`staff`]); every page then asks the admin API's
//! own handler (the campaign function's, for marketing), in-process (`shop_platform::in_process`),
//! so an order is listed, shipped and delivered by the very code `POST /admin/orders/{id}/shipments`
//! runs. The handlers hold the rules; who may reach them is decided at each edge: IAM in front of
//! the shop's API, the staff pool's token (checked on every request here) in front of the console.
//!
//! Every form posts with the session's CSRF token and answers with a redirect; a request
//! without a valid session gets the sign-in page and changes nothing.

mod account_pages;
pub mod accounts;
mod audit_pages;
mod catalog_csv;
mod catalog_discounts;
mod catalog_images;
mod catalog_pages;
mod catalog_transfer;
mod listing;
mod marketing_pages;
mod multipart;
mod order_pages;
pub mod pages;
mod returns_pages;
pub mod session;
mod settings_pages;
pub mod staff;
mod support_pages;
mod today_pages;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use pages::{PageError, Pages};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use session::{Session, Step};
use shop_platform::HttpFunction;
use shop_platform::config::{ConfigError, Env, LocaleSettings, StoreSettings};
use shop_store::audit::{AuditEntry, AuditLog};
use shop_store::staff_sessions::{StaffSession, StaffSessions};
use staff::{CodeChallenge, Role, SignIn, SignInError, Staff, StaffPool};

/// A session unused this long (seconds) is over: the next page is the sign-in page.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// How often (seconds) a session's last use is written: at most once a minute.
const SEEN_EVERY: i64 = 60;

/// Every page template, each section's beside its module.
const TEMPLATES: &[shop_templates::Sources] = &[
    pages::TEMPLATES,
    account_pages::TEMPLATES,
    today_pages::TEMPLATES,
    order_pages::TEMPLATES,
    returns_pages::TEMPLATES,
    support_pages::TEMPLATES,
    catalog_pages::TEMPLATES,
    catalog_transfer::TEMPLATES,
    catalog_discounts::TEMPLATES,
    marketing_pages::TEMPLATES,
    settings_pages::TEMPLATES,
    audit_pages::TEMPLATES,
];

/// One change for the audit log: `action` on `subject`, from `before` to `after`.
pub(crate) struct Change {
    pub action: &'static str,
    pub subject: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What every page of a signed-in staff member has at hand: the request, its session and who
/// is signed in.
pub(crate) struct Ctx<'a> {
    pub request: &'a Request,
    pub session: &'a Session,
    pub staff: &'a Staff,
}

impl Ctx<'_> {
    /// Refuses (with the 403 page) unless an owner is signed in.
    pub fn owner_only(&self) -> Result<(), PageError> {
        if self.staff.role == Some(Role::Owner) {
            Ok(())
        } else {
            Err(PageError::OwnerOnly)
        }
    }

    /// The request id the logs and the audit log name.
    pub fn request_id(&self) -> String {
        shop_platform::edge::request_id(self.request)
    }
}

/// The console with the pool it signs staff in with and the handler it asks, built once per
/// instance.
pub struct Console {
    admin: admin::Admin,
    /// The campaign function's handler: subscribers and campaigns.
    campaigns: email_campaign::EmailCampaign,
    /// The shop API's public address, where the sitemap and the product feed are.
    public_api_url: String,
    /// The storefront's address (empty without the bundled storefront), which serves the
    /// catalog's `/images/…`: the product page links them there.
    storefront_url: String,
    pool: StaffPool,
    pages: Pages,
    audit: AuditLog,
    sessions: StaffSessions,
    accounts: accounts::StaffAccounts,
    /// The store's facts as deployed, for the Settings page: name and value.
    facts: Vec<serde_json::Value>,
    /// The store's currency, in which the catalog's forms and file read prices.
    currency: shop_domain::Currency,
    /// The product images' bucket the product page uploads to; `None`: no uploads.
    images: Option<catalog_images::ImageStore>,
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The form of a one-time code: at sign-in, and the first one of a new authenticator.
#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    pub code: String,
}

/// The most characters of an email or password the sign-in form passes on.
const CREDENTIAL_LIMIT: usize = 256;

impl Console {
    /// Builds the admin and campaign handlers from their own settings in `env` and the staff
    /// pool from `STAFF_USER_POOL_ID` and `STAFF_USER_POOL_CLIENT_ID`.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let store: StoreSettings = env.parse()?;
        let locale = LocaleSettings::from_env(env)?;
        let mut pages = Pages::new(store.store_name.clone(), locale.store_locale, TEMPLATES)
            .map_err(|e| ConfigError::new(format!("console templates: {e:#}")))?;
        let images = catalog_images::ImageStore::from_env(env, sdk)?;
        if let Some(images) = &images {
            pages
                .allow_uploads_to(&images.origin())
                .map_err(|reason| ConfigError::new(format!("IMAGES_BUCKET: {reason}")))?;
        }
        // The CSRF tokens and messages are tags and seals of the shop's key (admin installs it too).
        shop_platform::keys::install(env)?;
        let setting = |name: &str| {
            env.get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::new(format!("{name} is not set")))
        };
        let pool_id = setting("STAFF_USER_POOL_ID")?;
        let pool = StaffPool::new(sdk, pool_id, setting("STAFF_USER_POOL_CLIENT_ID")?)?;
        let fact = |name: &str, value: String| serde_json::json!({"name": name, "value": value});
        let facts = vec![
            fact("Store name", store.store_name.clone()),
            fact("Currency", store.store_currency.to_string()),
            fact("Locale", locale.store_locale.tag().to_owned()),
            fact("Ships to", store.ship_to_countries.join(", ")),
            fact("Region", sdk.region().map(ToString::to_string).unwrap_or_default()),
            fact("Staff user pool", pool_id.to_owned()),
        ];
        let table: shop_platform::config::TableSettings = env.parse()?;
        Ok(Self {
            admin: admin::Admin::from_env(env, sdk).await?,
            campaigns: email_campaign::EmailCampaign::from_env(env, sdk)?,
            public_api_url: setting("PUBLIC_API_URL")?.trim_end_matches('/').to_owned(),
            storefront_url: env
                .get("STOREFRONT_URL")
                .map_or("", |url| url.trim().trim_end_matches('/'))
                .to_owned(),
            pool,
            pages,
            audit: AuditLog::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table.clone()),
            sessions: StaffSessions::new(aws_sdk_dynamodb::Client::new(sdk), table.shop_table),
            accounts: accounts::StaffAccounts::new(aws_sdk_cognitoidentityprovider::Client::new(sdk), pool_id),
            facts,
            currency: store.store_currency,
            images,
        })
    }

    /// Answers one request with a page.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let session = Session::read(&request);
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = request.method().clone();
        if method == Method::POST
            && let Err(error) = check_form(&request, &session).await
        {
            return self.pages.error(&session, None, error);
        }
        match (&method, segments.as_slice()) {
            // The product page's script: the same file for anyone, nothing read or changed.
            (&Method::GET, ["assets", "upload.js"]) => return catalog_images::upload_script(),
            (&Method::GET, ["sign-in"]) => return self.sign_in_page(&session).await,
            (&Method::POST, ["sign-in"]) => return self.sign_in(&request, &session).await,
            (&Method::GET, ["sign-in", "code"]) => return self.code_page(&session, StatusCode::OK, None),
            (&Method::POST, ["sign-in", "code"]) => return self.sign_in_code(&request, &session).await,
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
        let ctx = Ctx {
            request: &request,
            session: &session,
            staff: &staff,
        };
        let answer = match (&method, segments.as_slice()) {
            (&Method::GET, []) => Ok(self.pages.redirect(&session, "/today", Vec::new())),
            (&Method::POST, ["sign-out"]) => self.sign_out(&session).await,
            (_, ["today", rest @ ..]) => self.today_routes(&ctx, &method, rest).await,
            (_, ["orders", rest @ ..]) => self.order_routes(&ctx, &method, rest).await,
            (_, ["returns", rest @ ..]) => self.returns_routes(&ctx, &method, rest).await,
            (_, ["support", rest @ ..]) => self.support_routes(&ctx, &method, rest).await,
            (_, ["catalog", rest @ ..]) => self.catalog_routes(&ctx, &method, rest).await,
            (_, ["marketing", rest @ ..]) => self.marketing_routes(&ctx, &method, rest).await,
            (_, ["settings", rest @ ..]) => self.settings_routes(&ctx, &method, rest).await,
            (_, ["audit", rest @ ..]) => self.audit_routes(&ctx, &method, rest).await,
            (_, ["account", rest @ ..]) => self.account_routes(&ctx, &method, rest).await,
            _ => Err(PageError::NotFound),
        };
        answer.unwrap_or_else(|error| self.pages.error(&session, Some(&staff), error))
    }

    /// Writes what `ctx`'s staff member just changed to the audit log: `action` on `subject`,
    /// from `before` to `after` (`None`: did not exist / is gone). The change is done by then;
    /// a failed write is logged as an error, never shown as the action failing.
    pub(crate) async fn audit(
        &self,
        ctx: &Ctx<'_>,
        action: &str,
        subject: &str,
        before: Option<String>,
        after: Option<String>,
    ) {
        let entry = AuditEntry {
            id: shop_platform::secrets::new_token(),
            at: now(),
            staff: ctx.staff.email.clone(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            before,
            after,
            request_id: ctx.request_id(),
        };
        if let Err(error) = self.audit.record(&entry).await {
            tracing::error!(%error, action, subject, "audit entry not written");
        }
    }

    /// What a form's call to a handler came to, in words for the page the form returns to:
    /// `said` of its answer, once `change` of it is in the audit log; or its refusal (with the
    /// fields it named). Any other failure is the page's error.
    pub(crate) async fn changed(
        &self,
        ctx: &Ctx<'_>,
        answer: Result<serde_json::Value, PageError>,
        change: impl FnOnce(&serde_json::Value) -> Change,
        said: impl FnOnce(&serde_json::Value) -> String,
    ) -> Result<String, PageError> {
        match answer {
            Ok(answer) => {
                let Change {
                    action,
                    subject,
                    before,
                    after,
                } = change(&answer);
                self.audit(ctx, action, &subject, before, after).await;
                Ok(said(&answer))
            }
            Err(PageError::Refused(refusal)) => Ok(order_pages::refusal_message(&refusal)),
            Err(other) => Err(other),
        }
    }

    /// The staff member the session's token names, when the token is valid and its session
    /// was started with it, not signed out and not idle for [`IDLE_SECONDS`].
    async fn staff(&self, session: &Session) -> Option<Staff> {
        let (token, sid) = (session.token()?, session.id()?);
        let staff = match self.pool.verify(token).await {
            Ok(staff) => staff,
            Err(error) => {
                tracing::info!(%error, "console session refused");
                return None;
            }
        };
        let record = match self.sessions.get(sid).await {
            Ok(Some(record)) if shop_platform::secrets::token_matches(token, &record.token_hash) => record,
            Ok(_) => {
                tracing::info!("console session ended or not this token's");
                return None;
            }
            Err(error) => {
                tracing::error!(%error, "console session unreadable");
                return None;
            }
        };
        let now = now();
        if now - record.last_seen > IDLE_SECONDS {
            tracing::info!(idle = now - record.last_seen, "console session idle too long");
            if let Err(error) = self.sessions.end(sid).await {
                tracing::warn!(%error, "idle console session not ended");
            }
            return None;
        }
        if now - record.last_seen >= SEEN_EVERY
            && let Err(error) = self.sessions.seen(sid, now).await
        {
            tracing::warn!(%error, "console session's last use not written");
        }
        Some(staff)
    }

    /// `POST /sign-out`: the session ended server-side, so its cookies are worth nothing even
    /// if kept, and forgotten by the browser.
    async fn sign_out(&self, session: &Session) -> Result<Response<Body>, PageError> {
        if let Some(sid) = session.id() {
            self.sessions
                .end(sid)
                .await
                .map_err(|error| PageError::Internal(format!("the session could not be ended: {error}")))?;
        }
        tracing::info!("staff signed out");
        Ok(self.pages.redirect(session, "/sign-in", session.sign_out()))
    }

    async fn sign_in_page(&self, session: &Session) -> Response<Body> {
        if self.staff(session).await.is_some() {
            return self.pages.redirect(session, "/today", Vec::new());
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
            Ok(SignIn::Done { token, staff }) => self.start_session(session, &token, &staff, Vec::new()).await,
            Ok(SignIn::NeedsCode(challenge)) => {
                self.pages
                    .redirect(session, "/sign-in/code", vec![session.hold(Step::Code, &challenge)])
            }
            Err(error) => self.sign_in_failed(session, error),
        }
    }

    /// `GET /sign-in/code`: the second step of a sign-in whose password was right.
    fn code_page(&self, session: &Session, status: StatusCode, problem: Option<&str>) -> Response<Body> {
        if session.held::<CodeChallenge>(Step::Code).is_none() {
            return self
                .pages
                .redirect(session, "/sign-in", vec![session.release(Step::Code)]);
        }
        match self.pages.render(
            "sign_in_code.html",
            session,
            None,
            serde_json::json!({ "problem": problem }),
        ) {
            Ok(html) => self.pages.page(session, status, html),
            Err(error) => self.pages.error(session, None, error),
        }
    }

    /// `POST /sign-in/code {code}`: the authenticator app's code for the sign-in held.
    async fn sign_in_code(&self, request: &Request, session: &Session) -> Response<Body> {
        let Some(challenge) = session.held::<CodeChallenge>(Step::Code) else {
            return self.pages.sign_in(
                session,
                StatusCode::UNAUTHORIZED,
                Some("That sign-in has expired. Please sign in again."),
            );
        };
        let form: CodeForm = match form(request) {
            Ok(form) => form,
            Err(error) => return self.pages.error(session, None, error),
        };
        let Some(code) = one_time_code(&form.code) else {
            return self.code_page(
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("Enter the 6 digits your authenticator app shows."),
            );
        };
        match self.pool.answer_code(&challenge, &code).await {
            Ok((token, staff)) => {
                self.start_session(session, &token, &staff, vec![session.release(Step::Code)])
                    .await
            }
            Err(SignInError::WrongCode) => self.code_page(
                session,
                StatusCode::UNAUTHORIZED,
                Some("That code is not right. Enter the one your app shows now."),
            ),
            Err(error) => {
                let mut response = self.sign_in_failed(session, error);
                shop_platform::browser::with_cookies(&mut response, vec![session.release(Step::Code)]);
                response
            }
        }
    }

    /// The sign-in page (or the error page) for a sign-in that gave no session.
    fn sign_in_failed(&self, session: &Session, error: SignInError) -> Response<Body> {
        match error {
            SignInError::Refused => self.pages.sign_in(
                session,
                StatusCode::UNAUTHORIZED,
                Some("The email or password is wrong."),
            ),
            SignInError::Expired => self.pages.sign_in(
                session,
                StatusCode::UNAUTHORIZED,
                Some("That sign-in has expired. Please sign in again."),
            ),
            error @ (SignInError::Challenge(_) | SignInError::WrongCode) => {
                self.pages
                    .sign_in(session, StatusCode::FORBIDDEN, Some(&error.to_string()))
            }
            SignInError::Upstream(cause) => {
                tracing::error!(cause, "sign-in failed");
                self.pages.error(session, None, PageError::Internal(cause))
            }
        }
    }

    /// A finished sign-in: the session recorded server-side, its cookies (and `cookies`) given,
    /// on to Today.
    async fn start_session(
        &self,
        session: &Session,
        token: &str,
        staff: &Staff,
        mut cookies: Vec<String>,
    ) -> Response<Body> {
        let now = now();
        let (sid, session_cookies) = session.sign_in(token, now.unsigned_abs(), staff.expires_at);
        let record = StaffSession {
            email: staff.email.clone(),
            token_hash: shop_platform::secrets::token_hash(token),
            signed_in_at: now,
            last_seen: now,
            expires_at: i64::try_from(staff.expires_at).unwrap_or(i64::MAX),
        };
        if let Err(error) = self.sessions.start(&sid, &record).await {
            return self.pages.error(
                session,
                None,
                PageError::Internal(format!("session not recorded: {error}")),
            );
        }
        tracing::info!(role = ?staff.role, "staff signed in");
        cookies.extend(session_cookies);
        self.pages.redirect(session, "/today", cookies)
    }
}

/// The code an authenticator app shows, as typed (spaces allowed): its 6 digits.
pub(crate) fn one_time_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// Now, in unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A posted form, urlencoded or multipart (a file upload), must carry this session's CSRF token.
async fn check_form(request: &Request, session: &Session) -> Result<(), PageError> {
    let token = if multipart::is_multipart(request) {
        multipart::read(request).await?.text("csrf").to_owned()
    } else {
        let form: serde_json::Value = form(request)?;
        form.get("csrf")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if session.csrf_matches(&token) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// The form of a `POST`, read as `T` (urlencoded, as browsers send forms).
pub(crate) fn form<T: DeserializeOwned>(request: &Request) -> Result<T, PageError> {
    shop_platform::browser::form(request, "the console's page").map_err(PageError::BadForm)
}

impl HttpFunction for Console {
    fn handle(&self, request: Request) -> futures::future::BoxFuture<'_, Response<Body>> {
        Box::pin(Console::handle(self, request))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        shop_templates::parse_all(super::TEMPLATES).unwrap();
    }
}
