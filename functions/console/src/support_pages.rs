//! The support inbox: messages newest first (the unanswered ones by default), one message with
//! the facts of the order it names when its token verified it, its thread of replies, the reply
//! form (mailed to the writer by the email sender) and "Mark answered". Each asks the admin
//! handler's `/admin/support/messages` routes.

use crate::Change;
use crate::listing::Tabs;
use crate::pages::PageError;
use crate::{Console, Ctx, form};
use http::Method;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_platform::in_process::{Call, encode, is_order_id};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("support.html", include_str!("../templates/support.html")),
    (
        "support_message.html",
        include_str!("../templates/support_message.html"),
    ),
];

/// The inbox: messages newest first, the unanswered by default.
const INBOX: Tabs = Tabs {
    page: "/support",
    param: "state",
    tabs: &[("unanswered", "Unanswered"), ("all", "All messages")],
    route: "/admin/support/messages",
};

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    reply: String,
}

/// Whether `reference` can be a message's (`SUP-` and a short code), before asking for it.
fn is_reference(reference: &str) -> bool {
    reference.starts_with("SUP-") && is_order_id(reference)
}

impl Console {
    /// `/support/…`.
    pub(crate) async fn support_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.inbox_page(ctx).await,
            (_, [reference, ..]) if !is_reference(reference) => Err(PageError::NotFound),
            (&Method::GET, [reference]) => self.message_page(ctx, reference).await,
            (&Method::POST, [reference, "reply"]) => self.reply(ctx, reference).await,
            (&Method::POST, [reference, "answered"]) => self.answered(ctx, reference).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// `GET /support?state=unanswered|all&cursor=`.
    async fn inbox_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let listed = self.listed(ctx, &INBOX).await?;
        self.pages.show(
            ctx,
            "support.html",
            json!({
                "tabs": listed.tabs,
                "label": listed.label,
                "state": listed.tab,
                "messages": listed.items,
                "next": listed.next,
            }),
        )
    }

    /// `GET /support/{reference}`: the message, its verified order's facts, its thread.
    async fn message_page(&self, ctx: &Ctx<'_>, reference: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        let message = self.message(ctx, reference).await?;
        let order = match message.get("order_id").and_then(Value::as_str) {
            Some(order_id) if is_order_id(order_id) => {
                let call = Call::get("/admin/orders/{order_id}").param("order_id", order_id);
                match self.ask(request, call).await {
                    Ok(order) => Some(self.pages.displayed(order)),
                    // The order is gone (never, as orders are kept): show the message alone.
                    Err(PageError::NotFound) => None,
                    Err(other) => return Err(other),
                }
            }
            _ => None,
        };
        self.pages.show(
            ctx,
            "support_message.html",
            // `thread`, not `message`: that name is the page's flash message.
            json!({"reference": reference, "thread": message, "order": order}),
        )
    }

    /// `POST /support/{reference}/reply`: the reply kept on the thread and mailed to the writer.
    async fn reply(&self, ctx: &Ctx<'_>, reference: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        let form: ReplyForm = form(request)?;
        let call = Call::new(Method::POST, "/admin/support/messages/{reference}/replies")
            .param("reference", reference)
            .body(json!({"body": form.reply, "by": ctx.staff.email}));
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |reply| {
                    let field = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
                    Change {
                        action: "replied to support message",
                        subject: format!("support message {reference}"),
                        before: None,
                        after: Some(format!("reply {}: {}", field("reply_id"), field("body"))),
                    }
                },
                |_| "Reply sent: it is on its way to the customer by mail.".to_owned(),
            )
            .await?;
        Ok(self.back_to_message(ctx, reference, &message))
    }

    /// `POST /support/{reference}/answered`: out of the unanswered list.
    async fn answered(&self, ctx: &Ctx<'_>, reference: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        let before = self.message(ctx, reference).await?;
        if before.get("answered_at").is_some_and(|at| !at.is_null()) {
            return Ok(self.back_to_message(ctx, reference, "This message was already marked answered."));
        }
        let call = Call::new(Method::POST, "/admin/support/messages/{reference}/answered")
            .param("reference", reference)
            .body(json!({"by": ctx.staff.email}));
        let message = self
            .changed(
                ctx,
                self.ask(request, call).await,
                |_| Change {
                    action: "marked answered",
                    subject: format!("support message {reference}"),
                    before: Some("unanswered".into()),
                    after: Some("answered".into()),
                },
                |_| "Marked answered.".to_owned(),
            )
            .await?;
        Ok(self.back_to_message(ctx, reference, &message))
    }

    async fn message(&self, ctx: &Ctx<'_>, reference: &str) -> Result<Value, PageError> {
        let call = Call::get("/admin/support/messages/{reference}").param("reference", reference);
        self.ask(ctx.request, call).await
    }

    fn back_to_message(&self, ctx: &Ctx<'_>, reference: &str, message: &str) -> Response<Body> {
        self.pages
            .done(ctx, &format!("/support/{}", encode(reference)), message)
    }
}
