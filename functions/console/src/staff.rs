//! Staff sign-in: an email and password exchanged with the user pool (Cognito `InitiateAuth`,
//! `USER_PASSWORD_AUTH`) for an ID token, and that token checked on every request against the
//! pool's keys (RS256 signature, expiry, audience = the console's client, issuer = the pool,
//! `token_use` = `id`). The keys (JWKS) are fetched once per instance from the pool's
//! well-known address at the Cognito endpoint the SDK talks to: Cognito's own in AWS, the
//! local stack's in front of moto locally. The roles are the token's `cognito:groups`.
//!
//! Two-step sign-in (the pool's optional TOTP MFA): a password of an account that has it on gives
//! a challenge ([`SignIn::NeedsCode`]) that the authenticator app's code answers
//! (`RespondToAuthChallenge`); [`StaffPool::enrol`] and [`StaffPool::confirm`] set it up with the
//! calls Cognito makes on the user's own access token.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType, SoftwareTokenMfaSettingsType,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use shop_platform::config::ConfigError;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long fetching the pool's keys may take.
const KEYS_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the pool's keys document read.
const KEYS_LIMIT: usize = 64 * 1024;
/// Clock skew allowed on a token's expiry.
const LEEWAY_SECONDS: u64 = 5;

/// What a staff account may do, from its Cognito groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, staff accounts and refunds included.
    Owner,
    /// Orders, returns, support and the catalog.
    Staff,
}

impl Role {
    /// Its group's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Staff => "staff",
        }
    }
}

/// The staff member a verified ID token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    /// Their sign-in email.
    pub email: String,
    /// The role of their most powerful group; `None`: in no group of the console.
    pub role: Option<Role>,
    /// When the token, and so the session, ends (unix seconds).
    pub expires_at: u64,
}

/// Why a token is not a session.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT of the pool's (no key id, a key the pool does not have, not RS256).
    #[error("not a token of the staff pool: {0}")]
    Foreign(String),
    /// Its signature, expiry, audience, issuer or use is wrong.
    #[error("the token was refused: {0}")]
    Refused(String),
    /// The pool's keys could not be read.
    #[error("the staff pool's keys could not be read: {0}")]
    Keys(String),
}

/// Why a sign-in did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or password, or an account that may not sign in.
    #[error("the email or password is wrong")]
    Refused,
    /// Cognito asks for a step the console does not offer (a new password, SMS).
    #[error("this account must first complete {0} (not offered by the console)")]
    Challenge(String),
    /// The authenticator app's code is not the one expected now.
    #[error("that code is not right")]
    WrongCode,
    /// The sign-in waited for its code too long (Cognito keeps it three minutes), or was
    /// already answered.
    #[error("the sign-in has expired")]
    Expired,
    /// Cognito answered something else, or the token it gave was refused.
    #[error("signing in failed: {0}")]
    Upstream(String),
}

/// What a token must say to be one of this pool's, for this console.
#[derive(Debug, Clone)]
pub struct TokenRules {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The console's app client.
    pub client_id: String,
}

#[derive(Deserialize)]
struct Claims {
    exp: u64,
    token_use: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(rename = "cognito:username", default)]
    username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

/// Checks `token` against `keys` and `rules`: the staff member it names.
pub fn verify(token: &str, keys: &JwkSet, rules: &TokenRules) -> Result<Staff, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Foreign(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::Foreign(format!("signed with {:?}, not RS256", header.alg)));
    }
    let kid = header.kid.ok_or_else(|| TokenError::Foreign("no key id".into()))?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| TokenError::Foreign(format!("the pool has no key {kid}")))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| TokenError::Keys(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&rules.client_id]);
    validation.set_issuer(&[&rules.issuer]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation.leeway = LEEWAY_SECONDS;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| TokenError::Refused(e.to_string()))?
        .claims;
    if claims.token_use != "id" {
        return Err(TokenError::Refused(format!(
            "a token for {} use, not an ID token",
            claims.token_use
        )));
    }
    let email = claims
        .email
        .or(claims.username)
        .ok_or_else(|| TokenError::Refused("the token names nobody".into()))?;
    let role = if claims.groups.iter().any(|g| g == "owner") {
        Some(Role::Owner)
    } else if claims.groups.iter().any(|g| g == "staff") {
        Some(Role::Staff)
    } else {
        None
    };
    Ok(Staff {
        email,
        role,
        expires_at: claims.exp,
    })
}

/// What a password gave: a session, or a sign-in that waits for the authenticator app's code
/// (two-step sign-in is on for the account).
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the ID token and whom it names.
    Done { token: String, staff: Staff },
    /// The password was right; the code is asked next.
    NeedsCode(CodeChallenge),
}

/// A sign-in that waits for its code: Cognito's session of it, for the user it named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge {
    /// The user name Cognito answers the challenge for.
    pub username: String,
    /// Cognito's session of this sign-in (valid three minutes).
    pub session: String,
}

/// A new authenticator for an account: the secret the app is given, and the access token the
/// code that proves it is checked with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enrolment {
    /// The TOTP secret, base32, as Cognito gave it.
    pub secret: String,
    /// The account's access token from the password it was asked again for.
    pub access_token: String,
}

/// Why a sign-in's code or an enrolment failed: its words for the page, or Cognito's failure.
fn code_error<E, R>(error: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>) -> SignInError
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error().and_then(|e| e.code()) {
        Some("CodeMismatchException" | "EnableSoftwareTokenMFAException" | "InvalidParameterException") => {
            SignInError::WrongCode
        }
        Some("NotAuthorizedException" | "ExpiredCodeException" | "ResourceNotFoundException") => SignInError::Expired,
        _ => SignInError::Upstream(aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error).to_string()),
    }
}

/// The user pool the console signs staff in with, and its keys once read.
pub struct StaffPool {
    cognito: Client,
    rules: TokenRules,
    keys_url: String,
    keys: OnceCell<JwkSet>,
    http: shop_platform::https::Client,
}

impl StaffPool {
    /// The pool `pool_id` with the console's `client_id`, reached where `sdk` reaches Cognito.
    pub fn new(sdk: &aws_config::SdkConfig, pool_id: &str, client_id: &str) -> Result<Self, ConfigError> {
        let valid =
            |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid(pool_id) || !valid(client_id) {
            return Err(ConfigError::new(
                "STAFF_USER_POOL_ID and STAFF_USER_POOL_CLIENT_ID must name the staff pool and its client",
            ));
        }
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| ConfigError::new("the AWS region is not set"))?;
        let endpoint = sdk
            .endpoint_url()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com"));
        Ok(Self {
            cognito: Client::new(sdk),
            rules: TokenRules {
                issuer: format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
                client_id: client_id.to_owned(),
            },
            keys_url: format!("{endpoint}/{pool_id}/.well-known/jwks.json"),
            keys: OnceCell::new(),
            http: shop_platform::https::client().map_err(ConfigError::new)?,
        })
    }

    /// Exchanges `email` and `password` for an ID token, checked as every request's is, or for
    /// the challenge of the account's second step.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignIn, SignInError> {
        let answer = self.password(email, password).await?;
        if let Some(challenge) = answer.challenge_name() {
            return match (challenge, answer.session()) {
                (ChallengeNameType::SoftwareTokenMfa, Some(session)) => Ok(SignIn::NeedsCode(CodeChallenge {
                    // Cognito's own name for the user when it gives one, else the email it was asked for.
                    username: answer
                        .challenge_parameters()
                        .and_then(|parameters| parameters.get("USER_ID_FOR_SRP"))
                        .map_or(email, String::as_str)
                        .to_owned(),
                    session: session.to_owned(),
                })),
                (challenge, _) => Err(SignInError::Challenge(challenge.as_str().to_owned())),
            };
        }
        let (token, staff) = self.signed_in(answer.authentication_result()).await?;
        Ok(SignIn::Done { token, staff })
    }

    /// Answers `challenge` with the authenticator app's `code`: the ID token, as
    /// [`Self::sign_in`] gives it.
    pub async fn answer_code(&self, challenge: &CodeChallenge, code: &str) -> Result<(String, Staff), SignInError> {
        let answer = self
            .cognito
            .respond_to_auth_challenge()
            .client_id(&self.rules.client_id)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(&challenge.session)
            .challenge_responses("USERNAME", &challenge.username)
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
            .send()
            .await
            .map_err(code_error)?;
        if let Some(challenge) = answer.challenge_name() {
            return Err(SignInError::Challenge(challenge.as_str().to_owned()));
        }
        self.signed_in(answer.authentication_result()).await
    }

    /// Starts a new authenticator for the account of `email`, asked for its `password` again:
    /// the secret for the app. `Ok(None)`: two-step sign-in is on already (the password asked
    /// for a code).
    pub async fn enrol(&self, email: &str, password: &str) -> Result<Option<Enrolment>, SignInError> {
        let answer = self.password(email, password).await?;
        if answer.challenge_name() == Some(&ChallengeNameType::SoftwareTokenMfa) {
            return Ok(None);
        }
        if let Some(challenge) = answer.challenge_name() {
            return Err(SignInError::Challenge(challenge.as_str().to_owned()));
        }
        let access_token = answer
            .authentication_result()
            .and_then(|result| result.access_token())
            .ok_or_else(|| SignInError::Upstream("Cognito answered no access token".into()))?
            .to_owned();
        let associated = self
            .cognito
            .associate_software_token()
            .access_token(&access_token)
            .send()
            .await
            .map_err(code_error)?;
        let secret = associated
            .secret_code()
            .ok_or_else(|| SignInError::Upstream("Cognito answered no secret".into()))?
            .to_owned();
        Ok(Some(Enrolment { secret, access_token }))
    }

    /// Proves `enrolment`'s authenticator with its first `code` and makes it the account's
    /// second step: every sign-in from now asks for a code.
    pub async fn confirm(&self, enrolment: &Enrolment, code: &str) -> Result<(), SignInError> {
        self.cognito
            .verify_software_token()
            .access_token(&enrolment.access_token)
            .user_code(code)
            .friendly_device_name("Console")
            .send()
            .await
            .map_err(code_error)?;
        self.cognito
            .set_user_mfa_preference()
            .access_token(&enrolment.access_token)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .map_err(code_error)?;
        Ok(())
    }

    /// `InitiateAuth` with `email` and `password`; a wrong one (or an account that may not
    /// sign in) is [`SignInError::Refused`].
    async fn password(&self, email: &str, password: &str) -> Result<InitiateAuthOutput, SignInError> {
        self.cognito
            .initiate_auth()
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .client_id(&self.rules.client_id)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|error| {
                let refused = error.as_service_error().is_some_and(|e| {
                    e.is_not_authorized_exception()
                        || e.is_user_not_found_exception()
                        || e.is_user_not_confirmed_exception()
                        || e.is_password_reset_required_exception()
                });
                if refused {
                    SignInError::Refused
                } else {
                    SignInError::Upstream(
                        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error).to_string(),
                    )
                }
            })
    }

    /// The ID token of a finished sign-in, checked as every request's is.
    async fn signed_in(&self, result: Option<&AuthenticationResultType>) -> Result<(String, Staff), SignInError> {
        let token = result
            .and_then(|result| result.id_token())
            .ok_or_else(|| SignInError::Upstream("Cognito answered no ID token".into()))?
            .to_owned();
        let staff = self
            .verify(&token)
            .await
            .map_err(|e| SignInError::Upstream(e.to_string()))?;
        Ok((token, staff))
    }

    /// The staff member `token` names, when it is one of the pool's for this console.
    pub async fn verify(&self, token: &str) -> Result<Staff, TokenError> {
        let keys = self.keys.get_or_try_init(|| self.fetch_keys()).await?;
        verify(token, keys, &self.rules)
    }

    async fn fetch_keys(&self) -> Result<JwkSet, TokenError> {
        let fail = |e: String| TokenError::Keys(format!("{}: {e}", self.keys_url));
        let uri: http::Uri = self
            .keys_url
            .parse()
            .map_err(|e: http::uri::InvalidUri| fail(e.to_string()))?;
        let response = tokio::time::timeout(KEYS_TIMEOUT, self.http.get(uri))
            .await
            .map_err(|_| fail("no answer in time".into()))?
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("answered {}", response.status())));
        }
        let body = shop_platform::https::body(response, KEYS_LIMIT).await.map_err(fail)?;
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        tracing::info!(keys = keys.keys.len(), "staff pool keys read");
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    mod properties;

    const POOL_KEY: &[u8] = include_bytes!("../testdata/pool.pem");
    const FORGER_KEY: &[u8] = include_bytes!("../testdata/forger.pem");
    const POOL_JWKS: &str = include_str!("../testdata/pool-jwks.json");

    fn rules() -> TokenRules {
        TokenRules {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool".into(),
            client_id: "console-client".into(),
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool",
            "aud": "console-client",
            "exp": now() + 3600,
            "iat": now(),
            "token_use": "id",
            "email": "owner@example.com",
            "cognito:username": "u-1",
            "cognito:groups": ["owner"],
        })
    }

    fn signed(claims: &serde_json::Value, key: &[u8]) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("pool-key-1".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
    }

    fn keys() -> JwkSet {
        serde_json::from_str(POOL_JWKS).unwrap()
    }

    #[test]
    fn a_token_of_the_pool_for_the_console_names_the_staff_member_and_role() {
        let staff = verify(&signed(&claims(), POOL_KEY), &keys(), &rules()).unwrap();
        assert_eq!(staff.email, "owner@example.com");
        assert_eq!(staff.role, Some(Role::Owner));
        let mut staff_claims = claims();
        staff_claims["cognito:groups"] = json!(["staff"]);
        let staff = verify(&signed(&staff_claims, POOL_KEY), &keys(), &rules()).unwrap();
        assert_eq!(staff.role, Some(Role::Staff));
        staff_claims["cognito:groups"] = json!([]);
        let staff = verify(&signed(&staff_claims, POOL_KEY), &keys(), &rules()).unwrap();
        assert_eq!(staff.role, None);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let mut expired = claims();
        expired["exp"] = json!(now() - 60);
        let error = verify(&signed(&expired, POOL_KEY), &keys(), &rules()).unwrap_err();
        assert!(matches!(error, TokenError::Refused(_)), "{error}");
    }

    #[test]
    fn a_token_for_another_client_or_pool_is_refused() {
        let mut other_client = claims();
        other_client["aud"] = json!("another-client");
        assert!(matches!(
            verify(&signed(&other_client, POOL_KEY), &keys(), &rules()),
            Err(TokenError::Refused(_))
        ));
        let mut other_pool = claims();
        other_pool["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other");
        assert!(matches!(
            verify(&signed(&other_pool, POOL_KEY), &keys(), &rules()),
            Err(TokenError::Refused(_))
        ));
    }

    #[test]
    fn an_access_token_is_not_a_session() {
        let mut access = claims();
        access["token_use"] = json!("access");
        assert!(matches!(
            verify(&signed(&access, POOL_KEY), &keys(), &rules()),
            Err(TokenError::Refused(_))
        ));
    }

    #[test]
    fn a_forged_signature_is_refused() {
        // Signed by another key under the pool key's id.
        let forged = signed(&claims(), FORGER_KEY);
        assert!(matches!(
            verify(&forged, &keys(), &rules()),
            Err(TokenError::Refused(_))
        ));
        // The pool's token with its claims changed after signing.
        let token = signed(&claims(), POOL_KEY);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut changed = claims();
        changed["cognito:groups"] = json!(["owner", "staff"]);
        changed["email"] = json!("mallory@example.com");
        use base64::Engine;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(changed.to_string());
        assert!(matches!(
            verify(&parts.join("."), &keys(), &rules()),
            Err(TokenError::Refused(_))
        ));
    }

    #[test]
    fn a_token_that_is_not_rs256_or_names_no_pool_key_is_refused() {
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"guess").unwrap(),
        )
        .unwrap();
        assert!(matches!(verify(&hs, &keys(), &rules()), Err(TokenError::Foreign(_))));
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("another-key".into());
        let unknown = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_rsa_pem(POOL_KEY).unwrap()).unwrap();
        assert!(matches!(
            verify(&unknown, &keys(), &rules()),
            Err(TokenError::Foreign(_))
        ));
        assert!(matches!(
            verify("not a token", &keys(), &rules()),
            Err(TokenError::Foreign(_))
        ));
    }
}
