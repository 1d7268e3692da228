//! The returns desk: returns and exchanges by state (what comes back, why, what it refunds, each
//! beside its order), and receiving one with or without putting its units back in stock. The
//! admin handler's `POST /admin/returns/{return_id}/receive` decides the refund (through Stripe)
//! and the stock; the page says what it did.

use crate::Change;
use crate::listing::Tabs;
use crate::pages::PageError;
use crate::{Console, Ctx, form};
use http::Method;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shop_platform::in_process::{Call, is_order_id};

/// This section's templates.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[("returns.html", include_str!("../templates/returns.html"))];

/// The returns page: returns by state, oldest first; the first tab is the default.
const RETURNS: Tabs = Tabs {
    page: "/returns",
    param: "status",
    tabs: &[
        ("requested", "Waiting to be received"),
        ("received", "Received"),
        ("cancelled", "Cancelled exchanges"),
    ],
    route: "/admin/returns",
};

#[derive(Deserialize)]
struct ReceiveForm {
    /// `true` puts the units back in stock.
    #[serde(default)]
    restock: String,
}

impl Console {
    /// `/returns/…`.
    pub(crate) async fn returns_routes(
        &self,
        ctx: &Ctx<'_>,
        method: &Method,
        rest: &[&str],
    ) -> Result<Response<Body>, PageError> {
        match (method, rest) {
            (&Method::GET, []) => self.returns_page(ctx).await,
            (&Method::POST, [return_id, "receive"]) => self.receive(ctx, return_id).await,
            _ => Err(PageError::NotFound),
        }
    }

    /// `GET /returns?status=&cursor=`.
    async fn returns_page(&self, ctx: &Ctx<'_>) -> Result<Response<Body>, PageError> {
        let listed = self.listed(ctx, &RETURNS).await?;
        self.pages.show(
            ctx,
            "returns.html",
            json!({
                "tabs": listed.tabs,
                "label": listed.label,
                "status": listed.tab,
                "returns": listed.items,
                "next": listed.next,
            }),
        )
    }

    /// `POST /returns/{return_id}/receive` with `restock=true|false`.
    async fn receive(&self, ctx: &Ctx<'_>, return_id: &str) -> Result<Response<Body>, PageError> {
        let request = ctx.request;
        if !is_order_id(return_id) {
            return Err(PageError::NotFound);
        }
        let restock = match form::<ReceiveForm>(request)?.restock.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(PageError::BadForm("say whether the units go back in stock".into())),
        };
        let call = Call::new(Method::POST, "/admin/returns/{return_id}/receive")
            .param("return_id", return_id)
            .body(json!({ "restock": restock }));
        let answer = self
            .ask(request, call)
            .await
            .map(|received| self.pages.displayed(received));
        let message = self
            .changed(
                ctx,
                answer,
                |received| Change {
                    action: "received return",
                    subject: format!(
                        "return {return_id} of order {}",
                        received.get("order_id").and_then(Value::as_str).unwrap_or("")
                    ),
                    before: Some("requested".into()),
                    after: Some(receipt(received)),
                },
                |received| format!("Return {return_id} received: {}", receipt(received)),
            )
            .await?;
        Ok(self.pages.done(ctx, "/returns", &message))
    }
}

/// What receiving did, in the merchant's words: the refund and the stock put back, as the admin
/// handler's answer (the received return) says.
fn receipt(received: &Value) -> String {
    let refund = &received["refund"];
    let refunded = match (refund["amount"].as_i64(), refund["display"].as_str()) {
        (Some(amount), Some(display)) if amount > 0 => match received["refund_id"].as_str() {
            Some(id) => format!("{display} refunded through Stripe ({id})"),
            None => format!("{display} to refund (not yet confirmed by Stripe; receive again to retry)"),
        },
        _ => "nothing to refund".to_owned(),
    };
    let lines: Vec<String> = received["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| Some(format!("{} × {}", line["quantity"].as_u64()?, line["sku"].as_str()?)))
        .collect();
    let stock = if received["restocked"] == true {
        format!("put back in stock: {}", lines.join(", "))
    } else {
        format!("not put back in stock: {}", lines.join(", "))
    };
    format!("{refunded}; {stock}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_names_the_refund_and_the_units_put_back() {
        let received = json!({
            "refund": {"amount": 2413, "currency": "usd", "display": "$24.13"}, "refund_id": "re_1",
            "restocked": true, "lines": [{"sku": "MUG-1", "quantity": 2}],
        });
        assert_eq!(
            receipt(&received),
            "$24.13 refunded through Stripe (re_1); put back in stock: 2 × MUG-1."
        );
        let kept = json!({
            "refund": {"amount": 0, "currency": "usd", "display": "$0.00"},
            "restocked": false, "lines": [{"sku": "MUG-1", "quantity": 1}],
        });
        assert_eq!(receipt(&kept), "nothing to refund; not put back in stock: 1 × MUG-1.");
    }
}
