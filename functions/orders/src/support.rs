//! `POST /support/messages {email, order_id?, order_token?, subject, body}`: a shopper writes to
//! support. The message is checked at the edge (address, one-line subject, text body), counted
//! against its address's and its source's hourly limits and stored in one transaction (over a
//! limit: 429 with `Retry-After`, nothing stored), then two mails are asked for: the merchant's,
//! with the order's facts when the token opened it, replies going to the customer; and the
//! customer's acknowledgement with the message's reference.

use crate::Orders;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shop_domain::FieldError;
use shop_domain::order::Email;
use shop_domain::support::{self, RateLimit};
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::clock::rfc3339;
use shop_platform::config::SupportSettings;
use shop_platform::edge::{self, json, json_body};
use shop_platform::messages::{MailKind, MailRequest};
use shop_platform::secrets;
use shop_store::rate_limits::Counted;
use shop_store::support::{Admission, SupportMessage};

/// The longest order id a message may name (ids are 22 characters).
const ORDER_ID_MAX: usize = 64;
/// Attempts at a fresh reference when one is taken.
const REFERENCE_ATTEMPTS: usize = 3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    email: String,
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    order_token: Option<String>,
    subject: String,
    body: String,
}

#[derive(Serialize)]
struct Received {
    reference: String,
    received_at: String,
    /// Whether the message is filed with the order (its token opened it).
    order_linked: bool,
}

/// The message's fields once each passed its rule, or every refusal at once.
struct Checked {
    email: Email,
    order_id: Option<String>,
    subject: String,
    body: String,
}

/// The value of a field that passed its rule; a refusal is noted in `errors`.
fn keep<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|reason| errors.push(FieldError::new(field, reason)))
        .ok()
}

fn check(request: MessageRequest) -> Result<(Checked, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let email = keep(&mut errors, "email", Email::parse(&request.email));
    let subject = keep(&mut errors, "subject", support::subject(&request.subject));
    let body = keep(&mut errors, "body", support::body(&request.body));
    let order_id = match request.order_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id)
            if id.len() <= ORDER_ID_MAX && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(id.to_owned())
        }
        Some(_) => keep(&mut errors, "order_id", Err("not an order id".into())),
    };
    if request.order_token.is_some() && request.order_id.is_none() {
        errors.push(FieldError::new(
            "order_id",
            "an order_token needs the order_id it opens",
        ));
    }
    match (email, subject, body) {
        (Some(email), Some(subject), Some(body)) if errors.is_empty() => Ok((
            Checked {
                email,
                order_id,
                subject,
                body,
            },
            request.order_token,
        )),
        _ => Err(ApiError::Invalid { errors }),
    }
}

/// The limits a message from `email` sent from `source` counts against: its mailbox's (the
/// `+tags` of one address count together), its source's, and the whole shop's.
fn limits(email: &Email, source: String, settings: &SupportSettings) -> [Counted; 3] {
    [
        Counted::per_mailbox("email", email, settings.support_messages_per_email_hour),
        Counted::per_source("source", source, settings.support_messages_per_source_hour),
        Counted {
            scope: "shop",
            subject: "all".to_owned(),
            limit: RateLimit::hourly(settings.support_messages_per_shop_hour),
        },
    ]
}

impl Orders {
    /// `POST /support/messages`.
    pub(crate) async fn support_message(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: MessageRequest = json_body(request, 16 * 1024)?;
        let (checked, token) = check(body)?;
        let now = self.clock.now();
        // The order's facts go to the merchant only when its token opens it; otherwise the id
        // is passed on as the customer wrote it, marked unverified.
        let linked = match (&checked.order_id, token.as_deref()) {
            (Some(id), Some(token)) => self
                .orders
                .get(id)
                .await?
                .filter(|order| secrets::opens(order, token, now))
                .map(|order| order.order_id),
            _ => None,
        };
        let counted = limits(&checked.email, edge::source_ip(request), &self.support_limits);
        let mut message = SupportMessage {
            reference: String::new(),
            email: checked.email.as_str().to_owned(),
            unverified_order_id: checked.order_id.filter(|_| linked.is_none()),
            order_id: linked,
            subject: checked.subject,
            body: checked.body,
            received_at: now,
            request_id: edge::request_id(request),
            replies: Vec::new(),
            answered_at: None,
            answered_by: None,
        };
        let mut stored = false;
        for _ in 0..REFERENCE_ATTEMPTS {
            message.reference = secrets::new_reference("SUP-");
            match self.support.admit(&message, &counted, now).await? {
                Admission::Stored => {
                    stored = true;
                    break;
                }
                Admission::ReferenceTaken => continue,
                Admission::Limited { scope, retry_after } => {
                    tracing::warn!(scope, retry_after, "support message refused: rate limit");
                    let why = match scope {
                        "email" => "too many messages from this address",
                        "source" => "too many messages from this network",
                        _ => "support takes no more messages this hour",
                    };
                    return Err(ApiError::TooManyRequests {
                        detail: format!("{why}; try again in {retry_after} seconds"),
                        retry_after: u64::try_from(retry_after).unwrap_or(1),
                    });
                }
            }
        }
        if !stored {
            return Err(ApiError::Internal("no free support reference".into()));
        }
        let reference = message.reference.as_str();
        let order_id = message.order_id.as_deref();
        tracing::info!(reference, order_id, "support message received");
        let trace = Trace::new(order_id.unwrap_or(reference), message.request_id.clone());
        let mails = [
            MailRequest::support(MailKind::SupportMessage, reference, order_id),
            MailRequest::support(MailKind::SupportReceived, reference, order_id),
        ];
        self.mailer.request(&mails, &trace).await?;
        json(
            StatusCode::CREATED,
            &Received {
                reference: message.reference.clone(),
                received_at: rfc3339(now),
                order_linked: message.order_id.is_some(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str, subject: &str, body: &str) -> MessageRequest {
        MessageRequest {
            email: email.into(),
            order_id: None,
            order_token: None,
            subject: subject.into(),
            body: body.into(),
        }
    }

    fn refused_fields(result: Result<(Checked, Option<String>), ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Invalid { errors }) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn every_refused_field_is_named_at_once() {
        let fields = refused_fields(check(request("not-an-address", "Hi\r\nBcc: x@example.com", "")));
        assert_eq!(fields, ["email", "subject", "body"]);
        let mut with_token = request("ada@example.com", "Parcel", "Where is it?");
        with_token.order_token = Some("t".into());
        assert_eq!(refused_fields(check(with_token)), ["order_id"]);
        let mut odd_id = request("ada@example.com", "Parcel", "Where is it?");
        odd_id.order_id = Some("../../admin".into());
        assert_eq!(refused_fields(check(odd_id)), ["order_id"]);
    }

    #[test]
    fn tags_of_one_address_count_as_one_writer_and_the_shop_counts_everyone() {
        let settings: SupportSettings = shop_platform::config::Env::default().parse().unwrap();
        let limits_of = |address: &str, source: &str| {
            limits(&Email::parse(address).unwrap(), source.to_owned(), &settings)
                .map(|counted| (counted.scope, counted.subject, counted.limit.max))
        };
        let [tagged, _, _] = limits_of("ada+support@example.com", "192.0.2.1");
        let [plain, _, _] = limits_of("ada@example.com", "192.0.2.1");
        assert_eq!(tagged, plain);
        let [_, _, one] = limits_of("ada@example.com", "192.0.2.1");
        let [_, _, other] = limits_of("bob@example.org", "198.51.100.7");
        assert_eq!(one, other, "one counter for the whole shop");
        assert_eq!(one.2, 200, "the template's default");
    }

    #[test]
    fn a_good_message_is_trimmed_and_its_address_normalised() {
        let (checked, token) = check(request(" Ada@Example.com ", " Parcel ", " Where is it?\r\n")).unwrap();
        assert_eq!(checked.email.as_str(), "ada@example.com");
        assert_eq!(
            (checked.subject.as_str(), checked.body.as_str()),
            ("Parcel", "Where is it?")
        );
        assert!(token.is_none() && checked.order_id.is_none());
    }
}
