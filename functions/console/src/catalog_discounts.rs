//! Discount codes: the list (code, what it takes off, redemptions, when it ends), the form that
//! creates or edits one, and "End now", which sets its end to this moment. Every write is
//! `PUT /admin/discounts/{code}`, whose rule check (`DiscountRule::check`) is the one that counts.

use crate::Change;
use crate::catalog_pages::field;
use crate::order_pages::refusal_message;
use crate::pages::PageError;
use crate::{Console, Ctx, form, now};
use http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shop_domain::instant::{parse_rfc3339, rfc3339};
use shop_domain::{Currency, Money};
use shop_platform::in_process::{Call, encode};
use std::collections::BTreeMap;

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "catalog_discounts.html",
        include_str!("../templates/catalog_discounts.html"),
    ),
    (
        "catalog_discount.html",
        include_str!("../templates/catalog_discount.html"),
    ),
];

/// A posted form, field by field.
type Form = BTreeMap<String, String>;

/// Codes a page of the list shows.
const PAGE_SIZE: &str = "50";

impl Console {
    /// `/catalog/discounts/…`.
    pub(crate) async fn discount_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.discounts_page(ctx).await,
            (&Method::GET, ["new"]) => self.discount_form(ctx, None, &Form::new(), &BTreeMap::new()),
            (&Method::POST, ["new"]) => self.save_discount(ctx, None).await,
            (&Method::GET, [code]) => {
                let record = self.discount(ctx, code).await?;
                self.discount_form(
                    ctx,
                    Some(&record),
                    &record_form(&record, self.currency),
                    &BTreeMap::new(),
                )
            }
            (&Method::POST, [code]) => self.save_discount(ctx, Some(code)).await,
            (&Method::POST, [code, "end"]) => self.end_discount(ctx, code).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// A code's record (`{code, rule, redemptions}`) as the admin handler has it.
    async fn discount(&self, ctx: &Ctx<'_>, code: &str) -> Result<Value, PageError> {
        self.ask(ctx.request, Call::get("/admin/discounts/{code}").param("code", code))
            .await
    }

    /// `GET /catalog/discounts?cursor=`.
    async fn discounts_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let cursor = shop_platform::edge::query_param(ctx.request, "cursor").map(str::to_owned);
        let call = Call::get("/admin/discounts")
            .query("limit", Some(PAGE_SIZE))
            .query("cursor", cursor);
        let page = self.ask(ctx.request, call).await?;
        let now = now();
        let codes: Vec<Value> = page
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|record| {
                let rule = &record["rule"];
                let ends_at = instant(rule.get("ends_at"));
                json!({
                    "code": record["code"],
                    "takes_off": takes_off(rule, self.currency),
                    "redemptions": record.get("redemptions").and_then(Value::as_u64).unwrap_or(0),
                    "max_redemptions": rule.get("max_redemptions"),
                    "starts_at": instant(rule.get("starts_at")).map(rfc3339),
                    "ends_at": ends_at.map(rfc3339),
                    "ended": ends_at.is_some_and(|end| end <= now),
                })
            })
            .collect();
        let next = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(|cursor| format!("/catalog/discounts?cursor={}", encode(cursor)));
        self.pages
            .show(ctx, "catalog_discounts.html", json!({"codes": codes, "next": next}))
    }

    /// The code form: empty, a code's rule, or what was typed with the refusals beside it.
    fn discount_form(
        &self,
        ctx: &Ctx<'_>,
        record: Option<&Value>,
        typed: &Form,
        errors: &BTreeMap<String, String>,
    ) -> Result<Response<Body>, PageError> {
        let fields: BTreeMap<&String, &String> = typed.iter().filter(|(name, _)| *name != "csrf").collect();
        let facts = json!({
            "code": record.map(|r| r["code"].clone()),
            "redemptions": record.and_then(|r| r.get("redemptions")).cloned(),
            "fields": fields,
            "errors": errors,
            "currency": self.currency.as_str().to_ascii_uppercase(),
        });
        let html = self
            .pages
            .render("catalog_discount.html", ctx.session, Some(ctx.staff), facts)?;
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok(self.pages.page(ctx.session, status, html))
    }

    /// `POST /catalog/discounts/new` (`existing` `None`) or `POST /catalog/discounts/{code}`.
    async fn save_discount(&self, ctx: &Ctx<'_>, existing: Option<&str>) -> Result<Response<Body>, PageError> {
        let typed: Form = form(ctx.request)?;
        let before = match existing {
            Some(code) => Some(self.discount(ctx, code).await?),
            None => None,
        };
        let code = existing.map_or_else(|| field(&typed, "code").to_ascii_uppercase(), str::to_owned);
        let (rule, mut errors) = rule_from_form(&typed, self.currency);
        if code.is_empty() {
            errors.insert("code".into(), "give the code its name, such as SUMMER15".into());
        } else if existing.is_none() && self.discount(ctx, &code).await.is_ok() {
            errors.insert(
                "code".into(),
                format!("the code {code} exists already: edit it from the list"),
            );
        }
        if !errors.is_empty() {
            return self.discount_form(ctx, before.as_ref(), &typed, &errors);
        }
        let call = Call::new(Method::PUT, "/admin/discounts/{code}")
            .param("code", code.clone())
            .body(rule);
        match self.ask(ctx.request, call).await {
            Ok(saved) => {
                let action = if before.is_some() {
                    "edited discount code"
                } else {
                    "created discount code"
                };
                self.audit(
                    ctx,
                    action,
                    &format!("discount code {code}"),
                    before.map(|b| b.to_string()),
                    Some(saved.to_string()),
                )
                .await;
                Ok(self
                    .pages
                    .done(ctx, "/catalog/discounts", &format!("Saved the code {code}.")))
            }
            Err(PageError::Refused(refusal)) => {
                let errors = refusal_fields(&refusal);
                self.discount_form(ctx, before.as_ref(), &typed, &errors)
            }
            Err(other) => Err(other),
        }
    }

    /// `POST /catalog/discounts/{code}/end`: the same rule, ending now.
    async fn end_discount(&self, ctx: &Ctx<'_>, code: &str) -> Result<Response<Body>, PageError> {
        let before = self.discount(ctx, code).await?;
        let mut rule = before.get("rule").cloned().unwrap_or(Value::Null);
        let now = now();
        // A code that has not started yet never will: its start goes with it.
        if instant(rule.get("starts_at")).is_some_and(|start| start >= now) {
            rule["starts_at"] = Value::Null;
        }
        rule["ends_at"] = json!(now);
        let call = Call::new(Method::PUT, "/admin/discounts/{code}")
            .param("code", code)
            .body(rule);
        let message = self
            .changed(
                ctx,
                self.ask(ctx.request, call).await,
                |saved| Change {
                    action: "ended discount code",
                    subject: format!("discount code {code}"),
                    before: Some(before.to_string()),
                    after: Some(saved.to_string()),
                },
                |_| format!("The code {code} has ended."),
            )
            .await?;
        Ok(self.pages.done(ctx, "/catalog/discounts", &message))
    }
}

/// An instant of a rule as the admin handler writes it (RFC 3339; Unix seconds read too).
fn instant(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(text) => parse_rfc3339(text).ok(),
        other => other.as_i64(),
    }
}

/// What a rule takes off, as the list says it: `15 % off`, `5.00 USD off`.
fn takes_off(rule: &Value, currency: Currency) -> String {
    let value = &rule["value"];
    match value.get("type").and_then(Value::as_str) {
        Some("percent") => {
            let bp = value.get("percent_bp").and_then(Value::as_i64).unwrap_or(0);
            format!("{} % off", basis_points_text(bp))
        }
        Some("fixed") => {
            let amount = value.get("amount").and_then(Value::as_i64).unwrap_or(0);
            format!("{} off", Money::new(amount, currency))
        }
        _ => String::new(),
    }
}

/// A code's rule as the form shows it.
fn record_form(record: &Value, currency: Currency) -> Form {
    let rule = &record["rule"];
    let mut form = Form::new();
    let value = &rule["value"];
    let decimal = |amount: i64| Money::new(amount, currency).decimal();
    match value.get("type").and_then(Value::as_str) {
        Some("percent") => {
            form.insert("kind".into(), "percent".into());
            let bp = value.get("percent_bp").and_then(Value::as_i64).unwrap_or(0);
            form.insert("value".into(), basis_points_text(bp));
        }
        _ => {
            form.insert("kind".into(), "fixed".into());
            form.insert(
                "value".into(),
                decimal(value.get("amount").and_then(Value::as_i64).unwrap_or(0)),
            );
        }
    }
    let moment = |name: &str| instant(rule.get(name)).map(|at| rfc3339(at).chars().take(16).collect::<String>());
    for name in ["starts_at", "ends_at"] {
        if let Some(at) = moment(name) {
            form.insert(name.into(), at);
        }
    }
    if let Some(max) = rule.get("max_redemptions").and_then(Value::as_u64) {
        form.insert("max_redemptions".into(), max.to_string());
    }
    if rule.get("once_per_customer").and_then(Value::as_bool) == Some(true) {
        form.insert("once_per_customer".into(), "on".into());
    }
    if let Some(min) = rule.get("min_subtotal").and_then(Value::as_i64) {
        form.insert("min_subtotal".into(), decimal(min));
    }
    for name in ["categories", "skus"] {
        let items: Vec<&str> = rule
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        form.insert(name.into(), items.join(", "));
    }
    form
}

/// `1550` basis points as `15.5`.
fn basis_points_text(bp: i64) -> String {
    let text = format!("{}.{:02}", bp / 100, bp % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `15` or `15.5` (percent) as basis points.
fn basis_points(text: &str) -> Result<i64, String> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |part: &str| !part.is_empty() && part.len() <= 5 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.len() > 2 || (!fraction.is_empty() && !digits(fraction)) {
        return Err(format!("'{}' is not a percentage such as 15 or 12.5", text.trim()));
    }
    let whole: i64 = whole.parse().map_err(|_| "not a percentage".to_owned())?;
    let fraction: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| "not a percentage".to_owned())?;
    Ok(whole * 100 + fraction)
}

/// The rule JSON `PUT /admin/discounts/{code}` takes, from the form; amounts in `currency`,
/// times as UTC. What cannot be read is refused by field; the rule itself is the handler's to
/// check.
fn rule_from_form(typed: &Form, currency: Currency) -> (Value, BTreeMap<String, String>) {
    let mut errors = BTreeMap::new();
    let value = match field(typed, "kind") {
        "percent" => match basis_points(field(typed, "value")) {
            Ok(bp) => json!({"type": "percent", "percent_bp": bp}),
            Err(reason) => {
                errors.insert("value".to_owned(), reason);
                Value::Null
            }
        },
        _ => match Money::parse_decimal(field(typed, "value"), currency) {
            Ok(money) => json!({"type": "fixed", "amount": money.amount}),
            Err(reason) => {
                errors.insert("value".to_owned(), reason);
                Value::Null
            }
        },
    };
    let mut rule = json!({"value": value, "once_per_customer": field(typed, "once_per_customer") == "on"});
    match field(typed, "min_subtotal") {
        "" => {}
        text => match Money::parse_decimal(text, currency) {
            Ok(money) => rule["min_subtotal"] = json!(money.amount),
            Err(reason) => {
                errors.insert("min_subtotal".to_owned(), reason);
            }
        },
    }
    for name in ["starts_at", "ends_at"] {
        match field(typed, name) {
            "" => {}
            // A browser's datetime-local value, read as UTC: `2026-12-01T09:30`.
            text => match parse_rfc3339(&format!("{text}:00Z")).or_else(|_| parse_rfc3339(text)) {
                Ok(at) => rule[name] = json!(at),
                Err(_) => {
                    errors.insert(
                        name.to_owned(),
                        "a date and time such as 2026-12-01T09:30 (UTC)".to_owned(),
                    );
                }
            },
        }
    }
    match field(typed, "max_redemptions") {
        "" => {}
        text => match text.parse::<u32>() {
            Ok(max) => rule["max_redemptions"] = json!(max),
            Err(_) => {
                errors.insert("max_redemptions".to_owned(), "a whole number of orders".to_owned());
            }
        },
    }
    for name in ["categories", "skus"] {
        let items: Vec<&str> = field(typed, name)
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        rule[name] = json!(items);
    }
    (rule, errors)
}

/// The handler's refusals by form field (`value.percent_bp` beside `value`).
fn refusal_fields(refusal: &shop_platform::in_process::Refusal) -> BTreeMap<String, String> {
    let mut errors: BTreeMap<String, String> = refusal
        .problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let field = item.get("field").and_then(Value::as_str)?;
            let reason = item.get("reason").and_then(Value::as_str)?;
            let name = field.split(['.', '[']).next().unwrap_or("");
            Some((name.to_owned(), reason.to_owned()))
        })
        .collect();
    if errors.is_empty() {
        errors.insert("code".to_owned(), refusal_message(refusal));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(pairs: &[(&str, &str)]) -> Form {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_percentage_reads_as_basis_points_and_back() {
        assert_eq!(basis_points("15"), Ok(1500));
        assert_eq!(basis_points("12.5"), Ok(1250));
        assert_eq!(basis_points_text(1250), "12.5");
        assert_eq!(basis_points_text(1500), "15");
        assert!(basis_points("15%").is_err());
        assert!(basis_points("1.234").is_err());
    }

    #[test]
    fn the_form_becomes_the_rule_the_admin_handler_takes() {
        let usd = Currency::parse("usd").unwrap();
        let (rule, errors) = rule_from_form(
            &typed(&[
                ("kind", "fixed"),
                ("value", "5"),
                ("min_subtotal", "20.00"),
                ("ends_at", "2030-01-02T03:04"),
                ("skus", "A-1, B-2"),
                ("once_per_customer", "on"),
            ]),
            usd,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rule["value"], json!({"type": "fixed", "amount": 500}));
        assert_eq!(rule["min_subtotal"], 2000);
        assert_eq!(rule["ends_at"], parse_rfc3339("2030-01-02T03:04:00Z").unwrap());
        assert_eq!(rule["skus"], json!(["A-1", "B-2"]));
        assert_eq!(rule["once_per_customer"], true);
        let parsed: shop_domain::pricing::DiscountRule = serde_json::from_value(rule).unwrap();
        assert!(parsed.check().is_empty());
    }

    #[test]
    fn a_saved_code_fills_the_form_as_the_merchant_typed_it() {
        let usd = Currency::parse("usd").unwrap();
        let record = json!({"code": "TEN", "redemptions": 3, "rule": {
            "value": {"type": "fixed", "amount": 500}, "min_subtotal": 2000,
            "starts_at": null, "ends_at": "2030-01-02T03:04:00Z", "skus": ["A-1", "B-2"], "categories": []
        }});
        let form = record_form(&record, usd);
        assert_eq!(form["kind"], "fixed");
        assert_eq!(form["value"], "5.00");
        assert_eq!(form["min_subtotal"], "20.00");
        assert_eq!(form["ends_at"], "2030-01-02T03:04");
        assert!(!form.contains_key("starts_at"));
        assert_eq!(form["skus"], "A-1, B-2");
        let (rule, errors) = rule_from_form(&form, usd);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rule["ends_at"], parse_rfc3339("2030-01-02T03:04:00Z").unwrap());
    }

    #[test]
    fn what_cannot_be_read_is_refused_beside_its_field() {
        let usd = Currency::parse("usd").unwrap();
        let (_, errors) = rule_from_form(
            &typed(&[
                ("kind", "percent"),
                ("value", "lots"),
                ("ends_at", "soon"),
                ("max_redemptions", "-1"),
            ]),
            usd,
        );
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["ends_at", "max_redemptions", "value"]);
    }
}
