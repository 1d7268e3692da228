//! Mails as the customer and the merchant read them: a subject, an HTML part and a text part,
//! rendered from the templates in `templates/` (HTML auto-escaped, text not) with the order's
//! facts. The templates are compiled into the binary and parsed once per instance.

use minijinja::Environment;
use minijinja::value::{Serde, Value};
use serde::Serialize;
use shop_domain::Money;
use shop_domain::fulfillment::ShipmentLine;
use shop_domain::order::Address;
use shop_platform::fulfillment_store::Shipment;
use shop_platform::mail::{MailKind, MailRequest};
use shop_platform::order_store::OrderRecord;

/// One rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The subject line (plain text).
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The text part.
    pub text: String,
}

/// Why a mail could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A shipment or return mail names one the order does not have.
    #[error("order {order_id} has no shipment or return {shipment_id}")]
    NoSuchShipment {
        /// The order.
        order_id: String,
        /// The shipment asked for.
        shipment_id: String,
    },
    /// A template failed.
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
}

/// What the templates may say about an order, each amount already written for people.
#[derive(Debug, Serialize)]
pub struct MailFacts<'a> {
    store_name: &'a str,
    order_id: &'a str,
    status: &'static str,
    customer_email: &'a str,
    order_url: Option<&'a str>,
    packing_slip_url: Option<String>,
    lines: Vec<LineFacts<'a>>,
    subtotal: String,
    discount: Option<String>,
    shipping: String,
    tax: String,
    tax_included: bool,
    total: String,
    shipping_address: &'a Address,
    shipping_method: &'a str,
    shipment: Option<ShipmentFacts<'a>>,
    shipments: Vec<ShipmentFacts<'a>>,
    payment_error: Option<&'a str>,
    cancel_reason: Option<&'a str>,
    refunded: Option<String>,
    review: Option<&'a str>,
    late_payment: Option<&'a str>,
    recent_orders: Vec<RecentOrder>,
    return_of: Option<ReturnFacts<'a>>,
}

#[derive(Debug, Serialize)]
struct ReturnFacts<'a> {
    return_id: &'a str,
    refund: String,
    /// Whether receiving it refunds anything.
    refunds: bool,
    lines: Vec<ShippedLine<'a>>,
    /// The replacements, when the return is an exchange.
    replacements: Vec<ShippedLine<'a>>,
    /// What the shopper pays for the exchange, if anything.
    to_pay: Option<String>,
}

/// One of a customer's recent orders, for the lookup mail.
#[derive(Debug, Serialize)]
pub struct RecentOrder {
    /// The order.
    pub order_id: String,
    /// When it was placed.
    pub placed: String,
    /// Where it is.
    pub status: &'static str,
    /// What it cost.
    pub total: String,
    /// A link that opens it.
    pub url: String,
}

#[derive(Debug, Serialize)]
struct LineFacts<'a> {
    title: &'a str,
    sku: &'a str,
    quantity: u32,
    unit_price: String,
    line_total: String,
}

#[derive(Debug, Serialize)]
struct ShipmentFacts<'a> {
    carrier: &'a str,
    tracking_number: &'a str,
    tracking_url: &'a str,
    lines: Vec<ShippedLine<'a>>,
}

#[derive(Debug, Serialize)]
struct ShippedLine<'a> {
    title: &'a str,
    sku: &'a str,
    quantity: u32,
}

/// The templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

impl Templates {
    /// Every template the sender uses; a template that does not parse fails here, at start.
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in templates![
            "layout.html",
            "order_lines.html",
            "order_confirmation.html",
            "order_confirmation.txt",
            "new_order.html",
            "new_order.txt",
            "shipped.html",
            "shipped.txt",
            "delivered.html",
            "delivered.txt",
            "payment_failed.html",
            "payment_failed.txt",
            "cancelled.html",
            "cancelled.txt",
            "refunded.html",
            "refunded.txt",
            "order_review.html",
            "order_review.txt",
            "order_lookup.html",
            "order_lookup.txt",
            "return_instructions.html",
            "return_instructions.txt",
            "support_message.html",
            "support_message.txt",
            "support_received.html",
            "support_received.txt",
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Renders the mail of `kind` about an order from `facts`.
    pub fn render(&self, kind: MailKind, facts: &MailFacts<'_>) -> Result<RenderedMail, RenderError> {
        self.render_parts(kind, Value::from(Serde(facts)), subject(kind, facts))
    }

    /// Renders the mail of `kind` about a support message from `facts`.
    pub fn render_support(&self, kind: MailKind, facts: &SupportFacts<'_>) -> Result<RenderedMail, RenderError> {
        let subject = match kind {
            MailKind::SupportMessage => format!("Support {}: {}", facts.reference, facts.subject),
            _ => format!("{}: we received your message ({})", facts.store_name, facts.reference),
        };
        self.render_parts(kind, Value::from(Serde(facts)), subject)
    }

    fn render_parts(&self, kind: MailKind, context: Value, subject: String) -> Result<RenderedMail, RenderError> {
        let html = self
            .env
            .get_template(&format!("{}.html", kind.as_str()))?
            .render(&context)?;
        let text = self
            .env
            .get_template(&format!("{}.txt", kind.as_str()))?
            .render(&context)?;
        Ok(RenderedMail { subject, html, text })
    }
}

/// What a support mail says: the message, and its order's facts when its token opened it.
#[derive(Debug, Serialize)]
pub struct SupportFacts<'a> {
    /// The store's name.
    pub store_name: &'a str,
    /// The message's reference.
    pub reference: &'a str,
    /// Who wrote.
    pub customer_email: &'a str,
    /// Their subject.
    pub subject: &'a str,
    /// Their text.
    pub body: &'a str,
    /// When it arrived.
    pub received_at: String,
    /// An order id given without the token that opens it.
    pub unverified_order_id: Option<&'a str>,
    /// The merchant's link to the order in the admin API.
    pub admin_order_url: Option<String>,
    /// The verified order's facts.
    pub order: Option<MailFacts<'a>>,
}

fn subject(kind: MailKind, facts: &MailFacts<'_>) -> String {
    let (store, order) = (facts.store_name, facts.order_id);
    match kind {
        MailKind::OrderConfirmation => format!("{store}: order {order} confirmed"),
        MailKind::NewOrder => format!("New order {order}: {} to pack", facts.total),
        MailKind::Shipped => match &facts.shipment {
            Some(shipment) => format!(
                "{store}: order {order} shipped with {} ({})",
                shipment.carrier, shipment.tracking_number
            ),
            None => format!("{store}: order {order} shipped"),
        },
        MailKind::Delivered => format!("{store}: order {order} was delivered"),
        MailKind::PaymentFailed => format!("{store}: the payment for order {order} did not go through"),
        MailKind::Cancelled => format!("{store}: order {order} was cancelled"),
        MailKind::Refunded => format!("{store}: a refund for order {order}"),
        MailKind::OrderLookup => format!("{store}: your orders"),
        MailKind::ReturnInstructions => match &facts.return_of {
            Some(r) => format!("{store}: return {} for order {order}", r.return_id),
            None => format!("{store}: your return for order {order}"),
        },
        MailKind::OrderReview => format!(
            "Order {order} needs a look: {}",
            facts.review.unwrap_or("see the order")
        ),
        // Rendered with their own facts (`render_support`); named here for completeness.
        MailKind::SupportMessage | MailKind::SupportReceived => format!("{store}: order {order}"),
    }
}

/// Where the links in a mail lead.
pub struct Links<'a> {
    /// The order page, with a token that opens it.
    pub order_url: Option<&'a str>,
    /// The API's base URL, for the merchant's packing slip link.
    pub admin_base: Option<&'a str>,
}

impl<'a> MailFacts<'a> {
    /// The facts of `order` for the mail `request` asks for: a shipment mail names its shipment,
    /// a refund mail the refunded total.
    pub fn of(
        store_name: &'a str,
        order: &'a OrderRecord,
        request: &MailRequest,
        links: Links<'a>,
    ) -> Result<Self, RenderError> {
        let reference = request.reference.as_deref();
        let shipment = match (request.kind, reference) {
            (MailKind::Shipped, Some(id)) => {
                let shipment = order.shipments.iter().find(|s| s.shipment_id == id).ok_or_else(|| {
                    RenderError::NoSuchShipment {
                        order_id: order.order_id.clone(),
                        shipment_id: id.to_owned(),
                    }
                })?;
                Some(shipment_facts(order, shipment))
            }
            _ => None,
        };
        let return_of =
            match (request.kind, reference) {
                (MailKind::ReturnInstructions, Some(id)) => {
                    let record = order.returns.iter().find(|r| r.return_id == id).ok_or_else(|| {
                        RenderError::NoSuchShipment {
                            order_id: order.order_id.clone(),
                            shipment_id: id.to_owned(),
                        }
                    })?;
                    let exchange = record.exchange.as_ref();
                    Some(ReturnFacts {
                        return_id: &record.return_id,
                        refund: record.refund.to_string(),
                        refunds: record.refund.amount > 0,
                        lines: titled(order, &record.lines),
                        replacements: exchange
                            .map(|e| {
                                e.new_lines
                                    .iter()
                                    .map(|l| ShippedLine {
                                        title: &l.title,
                                        sku: l.sku.as_str(),
                                        quantity: l.quantity,
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        to_pay: exchange.filter(|e| e.balance.amount > 0).map(|e| e.balance.to_string()),
                    })
                }
                _ => None,
            };
        let totals = &order.totals;
        // A refund mail's reference is the refunded total it reports (see the payment webhook).
        let refunded = (request.kind == MailKind::Refunded)
            .then_some(reference)
            .flatten()
            .and_then(|amount| amount.parse::<i64>().ok())
            .map(|amount| Money::new(amount, totals.total.currency).to_string());
        Ok(Self {
            store_name,
            order_id: &order.order_id,
            status: order.status.as_str(),
            customer_email: order.email.as_str(),
            order_url: links.order_url,
            packing_slip_url: links.admin_base.map(|base| {
                format!(
                    "{}/admin/orders/{}/packing-slip",
                    base.trim_end_matches('/'),
                    order.order_id
                )
            }),
            lines: order
                .lines
                .iter()
                .map(|line| LineFacts {
                    title: &line.title,
                    sku: line.sku.as_str(),
                    quantity: line.quantity,
                    unit_price: line.unit_price.to_string(),
                    line_total: line.line_total.to_string(),
                })
                .collect(),
            subtotal: totals.subtotal.to_string(),
            discount: (totals.discount.amount > 0).then(|| totals.discount.to_string()),
            shipping: totals.shipping.to_string(),
            tax: totals.tax.to_string(),
            tax_included: totals.tax_included,
            total: totals.total.to_string(),
            shipping_address: &order.shipping_address,
            shipping_method: &order.shipping_method,
            shipment,
            shipments: order.shipments.iter().map(|s| shipment_facts(order, s)).collect(),
            payment_error: order.last_payment_error.as_deref(),
            cancel_reason: order.cancel_reason.as_deref(),
            refunded,
            review: order.review.as_deref(),
            late_payment: order.late_payment.as_deref(),
            recent_orders: Vec::new(),
            return_of,
        })
    }

    /// The same facts listing `orders` (the lookup mail).
    pub fn with_recent_orders(mut self, orders: Vec<RecentOrder>) -> Self {
        self.recent_orders = orders;
        self
    }
}

fn shipment_facts<'a>(order: &'a OrderRecord, shipment: &'a Shipment) -> ShipmentFacts<'a> {
    ShipmentFacts {
        carrier: &shipment.carrier,
        tracking_number: &shipment.tracking_number,
        tracking_url: &shipment.tracking_url,
        lines: titled(order, &shipment.lines),
    }
}

/// Units of the order's lines (or of its exchanges' replacements), each with its title.
fn titled<'a>(order: &'a OrderRecord, lines: &'a [ShipmentLine]) -> Vec<ShippedLine<'a>> {
    lines
        .iter()
        .map(|line| ShippedLine {
            title: order.title_of(&line.sku).unwrap_or(line.sku.as_str()),
            sku: line.sku.as_str(),
            quantity: line.quantity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderRecord {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "shipped", "email": "ada@example.com",
            "lines": [{"sku": "MUG-1", "product_id": "mug", "title": "Mug <Large> & Co", "quantity": 2,
                       "unit_price": usd(1250), "line_total": usd(2500)}],
            "totals": {"subtotal": usd(2500), "discount": usd(0), "shipping": usd(500), "tax": usd(218),
                       "total": usd(3218), "tax_included": false},
            "shipping_address": {"name": "Ada <b>Lovelace</b>", "line1": "1 Analytical Way", "city": "London",
                                 "postal_code": "N1", "country": "GB"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 0, "expires_at": 900,
            "shipments": [{"shipment_id": "s-1", "carrier": "UPS", "tracking_number": "1Z999",
                           "tracking_url": "https://www.ups.com/track?tracknum=1Z999",
                           "lines": [{"sku": "MUG-1", "quantity": 2}], "shipped_at": 60}],
            "returns": [{"return_id": "r-1", "order_id": "o-1", "lines": [{"sku": "MUG-1", "quantity": 1}],
                         "reason": "too big", "state": "requested", "refund": usd(1359), "requested_at": 90}],
        }))
        .unwrap()
    }

    fn render(kind: MailKind, reference: Option<&str>) -> RenderedMail {
        let order = order();
        let request = MailRequest {
            kind,
            order_id: order.order_id.clone(),
            reference: reference.map(str::to_owned),
            customer: None,
        };
        let links = Links {
            order_url: Some("https://shop.example/orders/o-1?token=t"),
            admin_base: Some("https://api.example"),
        };
        let facts = MailFacts::of("Demo & Co", &order, &request, links).unwrap();
        Templates::load().unwrap().render(kind, &facts).unwrap()
    }

    #[test]
    fn every_kind_of_mail_renders_both_parts_naming_the_order() {
        for kind in MailKind::ALL.into_iter().filter(|kind| !kind.is_support()) {
            let reference = match kind {
                MailKind::Shipped => Some("s-1"),
                MailKind::Refunded => Some("1000"),
                MailKind::ReturnInstructions => Some("r-1"),
                _ => None,
            };
            let mail = render(kind, reference);
            assert!(!mail.subject.is_empty() && !mail.html.is_empty() && !mail.text.is_empty());
            if kind != MailKind::OrderLookup {
                assert!(mail.subject.contains("o-1"), "{kind:?}: {}", mail.subject);
                assert!(mail.html.contains("o-1") && mail.text.contains("o-1"), "{kind:?}");
            }
        }
    }

    #[test]
    fn html_escapes_what_customers_typed_and_text_keeps_it() {
        let mail = render(MailKind::OrderConfirmation, None);
        // minijinja escapes `/` too (`&#x2f;`), which browsers read back as `/`.
        assert!(mail.html.contains("Ada &lt;b&gt;Lovelace&lt;&#x2f;b&gt;"));
        assert!(mail.html.contains("Mug &lt;Large&gt; &amp; Co"));
        assert!(!mail.html.contains("<b>Lovelace"));
        assert!(mail.text.contains("Hello Ada <b>Lovelace</b>"));
        assert!(mail.text.contains("2 x Mug <Large> & Co (MUG-1)  25.00 USD"));
        assert!(mail.text.contains("Total: 32.18 USD"));
        assert!(mail.text.contains("https://shop.example/orders/o-1?token=t"));
    }

    #[test]
    fn a_shipped_mail_carries_the_carrier_the_number_and_the_link() {
        let mail = render(MailKind::Shipped, Some("s-1"));
        assert_eq!(mail.subject, "Demo & Co: order o-1 shipped with UPS (1Z999)");
        assert!(mail.text.contains("Tracking number: 1Z999"));
        assert!(
            mail.html
                .contains("href=\"https:&#x2f;&#x2f;www.ups.com&#x2f;track?tracknum=1Z999\"")
        );
        let order = order();
        let unknown = MailRequest::about(MailKind::Shipped, "o-1", "s-404");
        let links = Links {
            order_url: None,
            admin_base: None,
        };
        assert!(matches!(
            MailFacts::of("Demo", &order, &unknown, links),
            Err(RenderError::NoSuchShipment { .. })
        ));
    }

    #[test]
    fn a_refund_mail_names_the_refunded_total_and_the_merchant_mail_the_packing_slip() {
        assert!(
            render(MailKind::Refunded, Some("1000"))
                .text
                .contains("refunded 10.00 USD")
        );
        let merchant = render(MailKind::NewOrder, None);
        assert!(
            merchant
                .text
                .contains("https://api.example/admin/orders/o-1/packing-slip")
        );
        assert!(merchant.text.contains("ada@example.com"));
    }

    fn support_mail(kind: MailKind, order: Option<&OrderRecord>) -> RenderedMail {
        let request = MailRequest::support(kind, "SUP-1", order.map(|o| o.order_id.as_str()));
        let facts = SupportFacts {
            store_name: "Demo & Co",
            reference: "SUP-1",
            customer_email: "ada@example.com",
            subject: "Mug <broken>",
            body: "It arrived in pieces.\n<script>alert(1)</script>",
            received_at: "2026-11-25T10:00:00Z".into(),
            unverified_order_id: order.is_none().then_some("o-9"),
            admin_order_url: order.map(|o| format!("https://api.example/admin/orders/{}", o.order_id)),
            order: order.map(|o| {
                let links = Links {
                    order_url: None,
                    admin_base: Some("https://api.example"),
                };
                MailFacts::of("Demo & Co", o, &request, links).unwrap()
            }),
        };
        Templates::load().unwrap().render_support(kind, &facts).unwrap()
    }

    #[test]
    fn the_merchant_reads_the_message_with_its_order_and_the_customer_gets_the_reference() {
        let order = order();
        let merchant = support_mail(MailKind::SupportMessage, Some(&order));
        assert_eq!(merchant.subject, "Support SUP-1: Mug <broken>");
        assert!(merchant.text.contains("It arrived in pieces."), "{}", merchant.text);
        assert!(
            merchant.text.contains("Order o-1 (shipped), 32.18 USD"),
            "{}",
            merchant.text
        );
        assert!(merchant.text.contains("UPS 1Z999") || merchant.text.contains("1Z999"));
        assert!(merchant.html.contains("&lt;script&gt;") && !merchant.html.contains("<script>"));

        let unverified = support_mail(MailKind::SupportMessage, None);
        assert!(unverified.text.contains("o-9") && unverified.text.contains("not verified"));
        assert!(!unverified.text.contains("32.18"));

        let ack = support_mail(MailKind::SupportReceived, None);
        assert_eq!(ack.subject, "Demo & Co: we received your message (SUP-1)");
        assert!(ack.text.contains("SUP-1") && ack.text.contains("It arrived in pieces."));
    }

    #[test]
    fn exchange_instructions_name_the_replacement_and_what_is_still_owed() {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        let mut order = order();
        order.returns[0].refund = Money::new(0, order.totals.total.currency);
        order.returns[0].exchange = Some(
            serde_json::from_value(serde_json::json!({
                "new_lines": [{"sku": "MUG-2", "product_id": "mug", "title": "Mug Blue", "quantity": 1,
                               "unit_price": usd(1500), "line_total": usd(1500)}],
                "replacement_total": usd(1609), "returned_value": usd(1359), "balance": usd(250),
                "payment": "awaiting", "payment_intent_id": "pi_1",
            }))
            .unwrap(),
        );
        let request = MailRequest::about(MailKind::ReturnInstructions, "o-1", "r-1");
        let links = Links {
            order_url: None,
            admin_base: None,
        };
        let facts = MailFacts::of("Demo", &order, &request, links).unwrap();
        let mail = Templates::load()
            .unwrap()
            .render(MailKind::ReturnInstructions, &facts)
            .unwrap();
        assert!(mail.text.contains("1 x Mug Blue (MUG-2)"), "{}", mail.text);
        assert!(mail.text.contains("costs 2.50 USD more"), "{}", mail.text);
        assert!(!mail.text.contains("we refund"), "nothing to refund: {}", mail.text);
    }
}
