//! Configuration, read once when a function starts and refused loudly when incomplete.
//!
//! Values come from an [`Env`]: the process environment in Lambda, or the variables the
//! local gateway resolves from template.yaml for each function it hosts.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shop_domain::pricing::{ShippingRate, TaxTable};
use shop_domain::{Currency, Locale};
use std::collections::HashMap;

/// A set of environment variables.
#[derive(Clone, Default)]
pub struct Env(HashMap<String, String>);

/// Only the variables' names: their values hold credentials (on Lambda, the function's AWS keys)
/// and secrets.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_tuple("Env").field(&names).finish()
    }
}

/// A setting that is missing or cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// A setting that is wrong, in words.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl Env {
    /// This process's environment.
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    /// A given set of variables.
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self(vars)
    }

    /// The same variables with `name` set to `value`.
    pub fn with(&self, name: &str, value: &str) -> Self {
        let mut vars = self.0.clone();
        vars.insert(name.to_owned(), value.to_owned());
        Self(vars)
    }

    /// One variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// One variable that holds a secret, kept out of logs and `Debug`; empty counts as absent.
    pub fn secret(&self, name: &str) -> Option<secrecy::SecretString> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .map(|value| secrecy::SecretString::from(value.to_owned()))
    }

    /// The S3 bucket the variable `name` names; `None` when unset or empty. A name S3 would
    /// refuse (anything but lower-case letters, digits, `.` and `-`) fails the start.
    pub fn bucket(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let Some(bucket) = self.get(name).map(str::trim).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b))
        {
            return Err(ConfigError::new(format!(
                "{name} must be an S3 bucket name, not {bucket:?}"
            )));
        }
        Ok(Some(bucket.to_owned()))
    }

    /// Reads a typed settings struct whose fields are the variables in lower case
    /// (`SHOP_TABLE` fills `shop_table`).
    ///
    /// Only the variables the struct has fields for are handed to envy: the environment holds
    /// many more, and copying and lower-casing all of them for every struct was a fifth of the
    /// storefront's cold start (bench/results.md).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let fields = fields_of::<T>();
        let wanted =
            |name: &str| fields.is_none_or(|fields| fields.iter().any(|field| field.eq_ignore_ascii_case(name)));
        let vars = self
            .0
            .iter()
            .filter(|(name, _)| wanted(name))
            .map(|(name, value)| (name.clone(), value.clone()));
        envy::from_iter(vars).map_err(|error| ConfigError(error.to_string()))
    }
}

/// The field names serde's derive gives a struct `T`, read by asking it to deserialize itself
/// from a deserializer that only records them; `None` for anything else (a map, a flattened
/// struct), which then sees every variable.
fn fields_of<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(serde::de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// The merchant's store settings, set as template parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreSettings {
    /// The store's name, shown in mails and pages.
    pub store_name: String,
    /// The one currency the store sells in.
    pub store_currency: Currency,
    /// ISO 3166-1 alpha-2 codes of the countries the store ships to.
    pub ship_to_countries: Vec<String>,
}

/// The locale the store writes money in for its customers (`STORE_LOCALE`, the `StoreLocale`
/// parameter: `en-US`, `de-DE`, …), read by the functions that render mails and pages.
#[derive(Debug, Clone, Copy)]
pub struct LocaleSettings {
    /// How amounts are written: `$1,234.56` (en-US), `1.234,56 €` (de-DE).
    pub store_locale: Locale,
}

impl LocaleSettings {
    /// Reads `STORE_LOCALE`; a locale the shop does not know, or none, fails at start with the
    /// list of those it does.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let tag = env.get("STORE_LOCALE").ok_or_else(|| {
            ConfigError::new(format!(
                "STORE_LOCALE is not set; one of {}",
                Locale::SUPPORTED.join(", ")
            ))
        })?;
        let store_locale = Locale::parse(tag).map_err(|reason| ConfigError::new(format!("STORE_LOCALE: {reason}")))?;
        Ok(Self { store_locale })
    }
}

/// Where the public storefront lives: the base of the links search engines and shopping
/// feeds follow (`STOREFRONT_URL`).
#[derive(Debug, Clone)]
pub struct StorefrontSettings {
    base: String,
}

#[derive(Deserialize)]
struct RawStorefrontSettings {
    storefront_url: String,
}

impl StorefrontSettings {
    /// Reads `STOREFRONT_URL`: an absolute http(s) URL; a trailing `/` is dropped.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw: RawStorefrontSettings = env.parse()?;
        let base = raw.storefront_url.trim().trim_end_matches('/');
        let host = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .unwrap_or("");
        if host.is_empty() || base.chars().any(|c| c.is_whitespace() || matches!(c, '?' | '#')) {
            return Err(ConfigError::new(
                "STOREFRONT_URL must be an absolute http(s) URL without a query, such as https://shop.example.com",
            ));
        }
        Ok(Self { base: base.to_owned() })
    }

    /// The storefront's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A product's page: `<StorefrontUrl>/products/<slug>`.
    pub fn product_url(&self, slug: &shop_domain::Slug) -> String {
        format!("{}/products/{slug}", self.base)
    }

    /// A category's page: `<StorefrontUrl>/categories/<slug>`.
    pub fn category_url(&self, slug: &shop_domain::CategorySlug) -> String {
        format!("{}/categories/{slug}", self.base)
    }

    /// An address on the storefront: `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A product image as an outside reader (a search engine, a feed) needs it: a path on the
    /// storefront (`/images/<file>`, the shop's own) made `<StorefrontUrl>/images/<file>`; an
    /// absolute URL (an image the merchant hosts elsewhere) as it is.
    pub fn image_url(&self, image: &str) -> String {
        if image.starts_with('/') && !image.starts_with("//") {
            self.url(image)
        } else {
            image.to_owned()
        }
    }
}

/// The store's return policy, set as template parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct ReturnSettings {
    /// Days after delivery (or the last shipment) within which goods may be returned.
    #[serde(default = "default_return_window_days")]
    pub return_window_days: u32,
    /// Whether a return that completes the order also refunds shipping.
    #[serde(default)]
    pub refund_shipping: shop_domain::returns::ShippingRefund,
}

fn default_return_window_days() -> u32 {
    30
}

/// How long stock is held for a payment (an unpaid order, an exchange's difference): the queue
/// whose delayed message ends the hold, and its length.
#[derive(Debug, Clone, Deserialize)]
pub struct HoldSettings {
    /// The reservation-expiry queue.
    pub reservation_queue_url: String,
    /// Seconds of the hold (an SQS delay, so 1 to 900).
    #[serde(default = "default_hold")]
    pub reservation_hold_seconds: u32,
}

fn default_hold() -> u32 {
    900
}

impl HoldSettings {
    /// Reads `RESERVATION_QUEUE_URL` and `RESERVATION_HOLD_SECONDS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hold: Self = env.parse()?;
        if !(1..=900).contains(&hold.reservation_hold_seconds) {
            return Err(ConfigError::new(
                "RESERVATION_HOLD_SECONDS must be 1 to 900 (an SQS delay)",
            ));
        }
        Ok(hold)
    }
}

/// How often shoppers may write to support or ask for their orders, from the function's
/// environment.
#[derive(Debug, Clone, Deserialize)]
pub struct SupportSettings {
    /// Messages one mailbox may send per hour (`+tags` of one address count together).
    #[serde(default = "default_support_per_email")]
    pub support_messages_per_email_hour: u32,
    /// Messages one source IP may send per hour.
    #[serde(default = "default_support_per_source")]
    pub support_messages_per_source_hour: u32,
    /// Messages the whole shop takes per hour, whoever sends them.
    #[serde(default = "default_support_per_shop")]
    pub support_messages_per_shop_hour: u32,
    /// Order lookups (each may mail) one source IP may ask for per hour.
    #[serde(default = "default_lookups_per_source")]
    pub order_lookups_per_source_hour: u32,
}

fn default_support_per_shop() -> u32 {
    200
}

fn default_lookups_per_source() -> u32 {
    10
}

fn default_support_per_email() -> u32 {
    5
}

fn default_support_per_source() -> u32 {
    20
}

/// How many stock holds (orders awaiting payment) one shopper may start per hour, counted in
/// checkout's own transaction: per mailbox (`+tags` of one address count together) and per
/// source IP, so nobody keeps a sale's stock on hold by script.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct CheckoutLimits {
    /// Holds one mailbox may start per hour (`CHECKOUT_HOLDS_PER_EMAIL_HOUR`).
    #[serde(default = "default_holds_per_email")]
    pub checkout_holds_per_email_hour: u32,
    /// Holds one source IP may start per hour (`CHECKOUT_HOLDS_PER_SOURCE_HOUR`).
    #[serde(default = "default_holds_per_source")]
    pub checkout_holds_per_source_hour: u32,
}

fn default_holds_per_email() -> u32 {
    10
}

fn default_holds_per_source() -> u32 {
    30
}

impl CheckoutLimits {
    /// Reads `CHECKOUT_HOLDS_PER_EMAIL_HOUR` and `CHECKOUT_HOLDS_PER_SOURCE_HOUR`; 0 (which would
    /// refuse every checkout) fails the start.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits: Self = env.parse()?;
        at_least_one(&[
            ("CHECKOUT_HOLDS_PER_EMAIL_HOUR", limits.checkout_holds_per_email_hour),
            ("CHECKOUT_HOLDS_PER_SOURCE_HOUR", limits.checkout_holds_per_source_hour),
        ])?;
        Ok(limits)
    }
}

/// How many newsletter sign-ups (each mails a confirmation link) one mailbox and one source IP
/// may ask for per hour, so the form cannot be used to fill someone's inbox.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SignUpLimits {
    /// Sign-ups of one mailbox per hour (`SIGN_UPS_PER_EMAIL_HOUR`).
    #[serde(default = "default_sign_ups_per_email")]
    pub sign_ups_per_email_hour: u32,
    /// Sign-ups from one source IP per hour (`SIGN_UPS_PER_SOURCE_HOUR`).
    #[serde(default = "default_sign_ups_per_source")]
    pub sign_ups_per_source_hour: u32,
}

fn default_sign_ups_per_email() -> u32 {
    5
}

fn default_sign_ups_per_source() -> u32 {
    20
}

impl SignUpLimits {
    /// Reads `SIGN_UPS_PER_EMAIL_HOUR` and `SIGN_UPS_PER_SOURCE_HOUR`; 0 fails the start.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits: Self = env.parse()?;
        at_least_one(&[
            ("SIGN_UPS_PER_EMAIL_HOUR", limits.sign_ups_per_email_hour),
            ("SIGN_UPS_PER_SOURCE_HOUR", limits.sign_ups_per_source_hour),
        ])?;
        Ok(limits)
    }
}

/// Refuses a limit of 0: it would refuse everyone, which is not what a limit is for.
fn at_least_one(limits: &[(&str, u32)]) -> Result<(), ConfigError> {
    match limits.iter().find(|(_, max)| *max == 0) {
        Some((name, _)) => Err(ConfigError::new(format!("{name} must be at least 1"))),
        None => Ok(()),
    }
}

/// Where the shop keeps its state.
#[derive(Debug, Clone, Deserialize)]
pub struct TableSettings {
    /// The single DynamoDB table's name.
    pub shop_table: String,
}

/// How carts are priced and bounded: shipping rates, tax rates, line and idle limits.
#[derive(Debug, Clone)]
pub struct PricingSettings {
    /// Shipping rates by destination.
    pub shipping_rates: Vec<ShippingRate>,
    /// Tax rates by destination.
    pub tax_rates: TaxTable,
    /// Most units of one SKU in one cart.
    pub max_line_quantity: u32,
    /// Seconds a cart lives after its last change.
    pub cart_idle_seconds: i64,
}

#[derive(Deserialize)]
struct RawPricingSettings {
    shipping_rates: String,
    tax_rates: String,
    #[serde(default = "default_max_line_quantity")]
    max_line_quantity: u32,
    #[serde(default = "default_cart_idle_hours")]
    cart_idle_hours: u32,
}

fn default_max_line_quantity() -> u32 {
    99
}

fn default_cart_idle_hours() -> u32 {
    72
}

/// The store's tax rates alone (`TAX_RATES`, JSON), for pricing outside a cart (exchanges).
pub fn tax_rates(env: &Env) -> Result<TaxTable, ConfigError> {
    let raw = env
        .get("TAX_RATES")
        .ok_or_else(|| ConfigError::new("TAX_RATES is not set"))?;
    serde_json::from_str(raw).map_err(|e| ConfigError(format!("TAX_RATES: {e}")))
}

impl PricingSettings {
    /// Reads `SHIPPING_RATES` and `TAX_RATES` (JSON), `MAX_LINE_QUANTITY` and `CART_IDLE_HOURS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw: RawPricingSettings = env.parse()?;
        let json_error = |name: &str, error: serde_json::Error| ConfigError(format!("{name}: {error}"));
        Ok(Self {
            shipping_rates: serde_json::from_str(&raw.shipping_rates).map_err(|e| json_error("SHIPPING_RATES", e))?,
            tax_rates: serde_json::from_str(&raw.tax_rates).map_err(|e| json_error("TAX_RATES", e))?,
            max_line_quantity: raw.max_line_quantity,
            cart_idle_seconds: i64::from(raw.cart_idle_hours) * 3600,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abuse_limits_default_to_the_templates_and_refuse_zero() {
        let limits = CheckoutLimits::from_env(&Env::default()).unwrap();
        assert_eq!(
            (
                limits.checkout_holds_per_email_hour,
                limits.checkout_holds_per_source_hour
            ),
            (10, 30)
        );
        let set = Env::default().with("CHECKOUT_HOLDS_PER_SOURCE_HOUR", "3");
        assert_eq!(
            CheckoutLimits::from_env(&set).unwrap().checkout_holds_per_source_hour,
            3
        );
        let zero = Env::default().with("CHECKOUT_HOLDS_PER_EMAIL_HOUR", "0");
        assert!(CheckoutLimits::from_env(&zero).is_err());
        assert!(CheckoutLimits::from_env(&Env::default().with("CHECKOUT_HOLDS_PER_EMAIL_HOUR", "many")).is_err());
        let sign_ups = SignUpLimits::from_env(&Env::default()).unwrap();
        assert_eq!(
            (sign_ups.sign_ups_per_email_hour, sign_ups.sign_ups_per_source_hour),
            (5, 20)
        );
        assert!(SignUpLimits::from_env(&Env::default().with("SIGN_UPS_PER_SOURCE_HOUR", "0")).is_err());
    }

    #[test]
    fn a_bucket_setting_is_an_s3_bucket_name_or_nothing() {
        let env = |value: &str| Env::from_map(HashMap::from([("IMAGES_BUCKET".to_owned(), value.to_owned())]));
        assert_eq!(
            env(" shop-images.1 ").bucket("IMAGES_BUCKET").unwrap().as_deref(),
            Some("shop-images.1")
        );
        assert_eq!(env("").bucket("IMAGES_BUCKET").unwrap(), None);
        assert_eq!(Env::from_map(HashMap::new()).bucket("IMAGES_BUCKET").unwrap(), None);
        let refused = env("Shop_Images").bucket("IMAGES_BUCKET").unwrap_err();
        assert!(
            refused.to_string().contains("IMAGES_BUCKET must be an S3 bucket name"),
            "{refused}"
        );
    }

    #[test]
    fn store_settings_are_read_from_the_environment() {
        let env = Env::from_map(HashMap::from([
            ("STORE_NAME".to_owned(), "Demo".to_owned()),
            ("STORE_CURRENCY".to_owned(), "USD".to_owned()),
            ("SHIP_TO_COUNTRIES".to_owned(), "US,CA".to_owned()),
        ]));
        let settings: StoreSettings = env.parse().unwrap();
        assert_eq!(settings.store_currency.as_str(), "usd");
        assert_eq!(settings.ship_to_countries, ["US", "CA"]);
    }

    #[test]
    fn pricing_settings_refuse_rates_that_are_not_json() {
        let env = |shipping: &str| {
            Env::from_map(HashMap::from([
                ("SHIPPING_RATES".to_owned(), shipping.to_owned()),
                ("TAX_RATES".to_owned(), r#"{"US": {"rate_bp": 725}}"#.to_owned()),
            ]))
        };
        let settings = PricingSettings::from_env(&env("[]")).unwrap();
        assert_eq!(
            (settings.max_line_quantity, settings.cart_idle_seconds),
            (99, 72 * 3600)
        );
        let error = PricingSettings::from_env(&env("[{")).unwrap_err();
        assert!(error.to_string().contains("SHIPPING_RATES"), "{error}");
    }

    #[test]
    fn the_storefront_url_is_an_absolute_url_kept_without_its_trailing_slash() {
        let read = |url: &str| {
            StorefrontSettings::from_env(&Env::from_map(HashMap::from([(
                "STOREFRONT_URL".to_owned(),
                url.to_owned(),
            )])))
        };
        let storefront = read("https://shop.example.com/").unwrap();
        let slug = shop_domain::Slug::parse("merino-crew").unwrap();
        assert_eq!(
            storefront.product_url(&slug),
            "https://shop.example.com/products/merino-crew"
        );
        assert_eq!(
            storefront.image_url("/images/merino-crew-1-640.webp"),
            "https://shop.example.com/images/merino-crew-1-640.webp"
        );
        assert_eq!(
            storefront.image_url("https://cdn.example/a.jpg"),
            "https://cdn.example/a.jpg"
        );
        for bad in ["", "shop.example.com", "https://", "https://shop.example.com/?a=b"] {
            assert!(read(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_environment_prints_its_names_and_never_its_values() {
        let env = Env::from_map(HashMap::from([
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "wJalrXUtnFEMI".to_owned()),
            ("STRIPE_SECRET_KEY".to_owned(), "sk_test_secret".to_owned()),
        ]));
        let printed = format!("{env:?}");
        assert!(printed.contains("STRIPE_SECRET_KEY"), "{printed}");
        assert!(
            !printed.contains("wJalrXUtnFEMI") && !printed.contains("sk_test_secret"),
            "{printed}"
        );
        let secret = env.secret("STRIPE_SECRET_KEY").unwrap();
        assert!(!format!("{secret:?}").contains("sk_test_secret"));
    }

    #[test]
    fn the_store_locale_is_one_the_shop_writes_money_for_or_the_function_does_not_start() {
        let read = |tag: Option<&str>| {
            LocaleSettings::from_env(&Env::from_map(
                tag.map(|t| ("STORE_LOCALE".to_owned(), t.to_owned()))
                    .into_iter()
                    .collect(),
            ))
        };
        assert_eq!(read(Some("de-DE")).unwrap().store_locale.tag(), "de-DE");
        for bad in [Some("xx-XX"), Some(""), None] {
            let error = read(bad).unwrap_err().to_string();
            assert!(error.contains("STORE_LOCALE") && error.contains("en-GB"), "{error}");
        }
    }

    /// template.yaml's `StoreLocale` offers exactly the locales the domain writes money for.
    #[test]
    fn the_template_allows_every_supported_locale_and_no_other() {
        let template = include_str!("../../../template.yaml");
        let parameter = template
            .split("\n  StoreLocale:\n")
            .nth(1)
            .expect("template.yaml has a StoreLocale parameter");
        let allowed = parameter
            .lines()
            .find_map(|line| line.trim().strip_prefix("AllowedValues:"))
            .expect("StoreLocale has AllowedValues");
        let allowed: Vec<&str> = allowed
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(str::trim)
            .collect();
        assert_eq!(allowed, Locale::SUPPORTED);
    }

    #[test]
    fn a_missing_setting_fails_at_start() {
        let error = Env::default().parse::<TableSettings>().unwrap_err();
        assert!(error.to_string().contains("shop_table"), "{error}");
    }

    #[test]
    fn a_settings_struct_reads_its_variables_among_many_others() {
        let mut vars: HashMap<String, String> = (0..500).map(|i| (format!("OTHER_{i}"), "x".to_owned())).collect();
        vars.insert("SHOP_TABLE".to_owned(), "shop".to_owned());
        vars.insert("STORE_NAME".to_owned(), "Ivy & Oak".to_owned());
        vars.insert("STORE_CURRENCY".to_owned(), "EUR".to_owned());
        vars.insert("SHIP_TO_COUNTRIES".to_owned(), "DE,AT".to_owned());
        let env = Env::from_map(vars);
        assert_eq!(env.parse::<TableSettings>().unwrap().shop_table, "shop");
        let store: StoreSettings = env.parse().unwrap();
        assert_eq!(
            (store.store_name.as_str(), store.ship_to_countries.len()),
            ("Ivy & Oak", 2)
        );
        // Not a struct: every variable is handed over.
        let all: HashMap<String, String> = env.parse().unwrap();
        assert_eq!(all.len(), 504);
        assert_eq!(all.get("shop_table").map(String::as_str), Some("shop"));
    }

    #[test]
    fn the_fields_of_a_settings_struct_are_its_variables() {
        assert_eq!(fields_of::<TableSettings>(), Some(&["shop_table"][..]));
        assert_eq!(fields_of::<HashMap<String, String>>(), None);
    }
}
