//! The merchant's support desk: the inbox (every message newest first, or only the unanswered),
//! one message with its thread, a reply (kept on the thread and mailed to the writer through the
//! email queue, once per reply) and marking a message answered.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shop_domain::support;
use shop_platform::ApiError;
use shop_platform::batch::Trace;
use shop_platform::clock::Clock;
use shop_platform::edge::{self, json, json_body, path_param};
use shop_platform::messages::{MailKind, MailRequest};
use shop_services::mail::Mailer;
use shop_store::support::{Answered, SupportMessage, SupportReply, SupportStore, reply_id};
use std::sync::Arc;

/// Who a change is written down as when the caller does not say (a script on the admin API).
const API_CALLER: &str = "admin API";
/// The longest `by` a caller may give.
const BY_MAX: usize = 256;
/// The largest body that carries no more than a `by` (each of its characters may take 12
/// bytes escaped in JSON, `\ud83d\ude00`), so no valid `by` is refused for its size.
pub(crate) const BY_BODY_LIMIT: usize = 4096;
/// Tries at appending a reply while other replies to the same message come in.
const REPLY_ATTEMPTS: usize = 3;

/// The support desk with its store and the mail queue.
pub struct SupportDesk {
    /// The inbox.
    pub support: SupportStore,
    /// Asks for the reply mails.
    pub mailer: Mailer,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    body: String,
    /// Who replies (the console sends the signed-in staff member's address).
    #[serde(default)]
    by: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AnsweredRequest {
    #[serde(default)]
    by: Option<String>,
}

fn no_message() -> ApiError {
    ApiError::NotFound {
        what: "support message",
    }
}

/// The `by` of a request: one line of at most [`BY_MAX`] characters, or [`API_CALLER`].
pub(crate) fn author(by: Option<&str>) -> Result<String, ApiError> {
    match by.map(str::trim) {
        None | Some("") => Ok(API_CALLER.to_owned()),
        Some(by) if by.chars().count() <= BY_MAX && shop_domain::text::is_one_line(by) => Ok(by.to_owned()),
        Some(_) => Err(ApiError::invalid(
            "by",
            format!("one line of at most {BY_MAX} characters"),
        )),
    }
}

impl SupportDesk {
    /// `GET /admin/support/messages?state=all|unanswered&limit=&cursor=`, newest first: every
    /// message, or summaries of those not yet marked answered.
    pub async fn list(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = edge::page_params(request)?;
        match edge::query_param(request, "state").unwrap_or("all") {
            "all" => json(StatusCode::OK, &self.support.newest(limit, cursor.as_ref()).await?),
            "unanswered" => json(StatusCode::OK, &self.support.unanswered(limit, cursor.as_ref()).await?),
            other => Err(ApiError::invalid(
                "state",
                format!("'{other}' is not a state of the inbox: all or unanswered"),
            )),
        }
    }

    /// `GET /admin/support/messages/{reference}`: the message with its replies.
    pub async fn show(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let message = self.message(request).await?;
        json(StatusCode::OK, &message)
    }

    /// `POST /admin/support/messages/{reference}/replies {body, by?}`: the reply, kept on the
    /// thread, then asked for as a mail to the message's writer.
    pub async fn reply(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let asked: ReplyRequest = json_body(request, 16 * 1024)?;
        let body = support::body(&asked.body).map_err(|reason| ApiError::invalid("body", reason))?;
        let by = author(asked.by.as_deref())?;
        let mut message = self.message(request).await?;
        let mut attempts = 0;
        let reply = loop {
            let reply = SupportReply {
                reply_id: reply_id(&message.reference, message.replies.len() + 1),
                by: by.clone(),
                sent_at: self.clock.now(),
                body: body.clone(),
            };
            if self.support.add_reply(&message, &reply).await? {
                break reply;
            }
            attempts += 1;
            if attempts == REPLY_ATTEMPTS {
                return Err(ApiError::Conflict {
                    code: "thread_busy",
                    detail: "other replies to this message keep coming in; read it again and reply".into(),
                });
            }
            message = self.message(request).await?;
        };
        let trace = Trace::new(
            message.order_id.as_deref().unwrap_or(&message.reference),
            edge::request_id(request),
        );
        let mail = MailRequest::support(MailKind::SupportReply, &reply.reply_id, message.order_id.as_deref());
        self.mailer.request(&[mail], &trace).await.inspect_err(|error| {
            tracing::error!(reply_id = reply.reply_id, %error, "reply kept but its mail was not asked for");
        })?;
        tracing::info!(
            reference = message.reference,
            reply_id = reply.reply_id,
            "support reply sent"
        );
        json(StatusCode::CREATED, &reply)
    }

    /// `POST /admin/support/messages/{reference}/answered {by?}`: out of the unanswered list.
    /// Marking it again answers the same, with who marked it first.
    pub async fn answered(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let reference = path_param(request, "reference")?;
        let asked: AnsweredRequest = match request.body().as_ref() {
            [] => AnsweredRequest::default(),
            _ => json_body(request, BY_BODY_LIMIT)?,
        };
        let by = author(asked.by.as_deref())?;
        match self.support.mark_answered(&reference, &by, self.clock.now()).await? {
            Answered::Missing => return Err(no_message()),
            Answered::Now => tracing::info!(reference, "support message answered"),
            Answered::Before => {}
        }
        let message = self.support.get(&reference).await?.ok_or_else(no_message)?;
        json(StatusCode::OK, &message)
    }

    async fn message(&self, request: &Request) -> Result<SupportMessage, ApiError> {
        let reference = path_param(request, "reference")?;
        self.support.get(&reference).await?.ok_or_else(no_message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_written_down_as_its_caller_or_the_api() {
        assert_eq!(author(None).unwrap(), API_CALLER);
        assert_eq!(author(Some("  ")).unwrap(), API_CALLER);
        assert_eq!(author(Some("ada@example.com")).unwrap(), "ada@example.com");
        assert!(author(Some("ada\r\nBcc: x")).is_err());
        assert!(author(Some(&"x".repeat(BY_MAX + 1))).is_err());
    }
}
