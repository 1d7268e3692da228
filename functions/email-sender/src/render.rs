//! Mails as the customer and the merchant read them: a subject, an HTML part and a text part,
//! rendered from the templates in `templates/` with the facts of [`crate::facts`]. Every mail
//! extends the shop's one layout (`shop_templates`: the store's name at the head, the content,
//! the store's name at the foot); HTML is escaped by minijinja as it renders, text is not. The
//! templates are compiled into the binary and parsed once per instance.

use crate::facts::{AcknowledgementFacts, MailFacts, ReplyFacts, SupportFacts};
use minijinja::Environment;
use minijinja::value::{Serde, Value};
use shop_platform::messages::MailKind;

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

/// The templates, each parsed when first rendered.
pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Every template the sender uses, over the shop's layout (its tests parse them all).
const TEMPLATES: shop_templates::Sources = templates![
    "order_lines.html",
    "order_lines.txt",
    "order_footer.html",
    "order_footer.txt",
    "shipped_heading.txt",
    "cancelled_reason.txt",
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
    "support_reply.html",
    "support_reply.txt",
];

impl Templates {
    /// The templates over the shop's layout, each parsed when a mail first needs it.
    pub fn load() -> Result<Self, minijinja::Error> {
        Ok(Self {
            env: shop_templates::environment(&[TEMPLATES])?,
        })
    }

    /// Renders the mail of `kind` about an order from `facts`.
    pub fn render(&self, kind: MailKind, facts: &MailFacts<'_>) -> Result<RenderedMail, RenderError> {
        self.render_parts(kind, Value::from(Serde(facts)), subject(kind, facts))
    }

    /// Renders the merchant's copy of a support message from `facts`.
    pub fn render_support(&self, facts: &SupportFacts<'_>) -> Result<RenderedMail, RenderError> {
        let subject = format!("Support {}: {}", facts.reference, facts.subject);
        self.render_parts(MailKind::SupportMessage, Value::from(Serde(facts)), subject)
    }

    /// Renders the customer's acknowledgement of a support message: its reference, nothing more.
    pub fn render_acknowledgement(&self, facts: &AcknowledgementFacts<'_>) -> Result<RenderedMail, RenderError> {
        let subject = format!("{}: we received your message ({})", facts.store_name, facts.reference);
        self.render_parts(MailKind::SupportReceived, Value::from(Serde(facts)), subject)
    }

    /// Renders the merchant's reply to a support message, for its writer.
    pub fn render_reply(&self, facts: &ReplyFacts<'_>) -> Result<RenderedMail, RenderError> {
        let subject = format!("{}: a reply to your message ({})", facts.store_name, facts.reference);
        self.render_parts(MailKind::SupportReply, Value::from(Serde(facts)), subject)
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
        // Rendered with their own facts (`render_support`, `render_acknowledgement`, `render_reply`).
        MailKind::SupportMessage | MailKind::SupportReceived | MailKind::SupportReply => {
            format!("{store}: order {order}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Links, Store};

    #[test]
    fn every_template_parses() {
        shop_templates::parse_all(&[TEMPLATES]).unwrap();
    }
    use shop_domain::order::Order;
    use shop_domain::{Locale, Money};
    use shop_platform::messages::MailRequest;

    fn order() -> Order {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "token_hash": "h", "status": "shipped", "email": "ada@example.com",
            "lines": [{"sku": "MUG-1", "product_id": "mug", "title": "Mug <Large> & Co", "quantity": 2,
                       "options": {"colour": "Navy", "size": "L"},
                       "unit_price": usd(1250), "line_total": usd(2500)}],
            "totals": {"subtotal": usd(2500), "discount": usd(500), "shipping": usd(500), "tax": usd(218),
                       "total": usd(2718), "tax_included": false},
            "shipping_address": {"name": "Ada <b>Lovelace</b>", "line1": "1 Analytical Way", "city": "London",
                                 "postal_code": "N1 9GU", "country": "GB"},
            "shipping_method": "standard", "cart_id": "c-1", "created_at": 0, "expires_at": 900,
            "shipments": [{"shipment_id": "s-1", "carrier": "UPS", "tracking_number": "1Z999",
                           "tracking_url": "https://www.ups.com/track?tracknum=1Z999",
                           "lines": [{"sku": "MUG-1", "quantity": 2}], "shipped_at": 60}],
            "returns": [{"return_id": "r-1", "order_id": "o-1", "lines": [{"sku": "MUG-1", "quantity": 1}],
                         "reason": "too big", "state": "requested", "refund": usd(1109), "requested_at": 90}],
        }))
        .unwrap()
    }

    fn store(locale: &str, return_address: &str) -> Store {
        Store {
            name: "Demo & Co".into(),
            locale: Locale::parse(locale).unwrap(),
            return_address: Store::return_address_lines(return_address),
        }
    }

    fn links() -> Links<'static> {
        Links {
            order_url: Some("https://shop.example/orders/o-1?token=t"),
            console_base: Some("https://console.example"),
        }
    }

    fn render_with(store: &Store, order: &Order, kind: MailKind, reference: Option<&str>) -> RenderedMail {
        let request = MailRequest {
            kind,
            order_id: order.order_id.clone(),
            reference: reference.map(str::to_owned),
            customer: None,
        };
        let facts = MailFacts::of(store, order, &request, links()).unwrap();
        Templates::load().unwrap().render(kind, &facts).unwrap()
    }

    fn render(kind: MailKind, reference: Option<&str>) -> RenderedMail {
        render_with(
            &store("en-US", "Returns|1 Dock Rd|Reno, NV 89501"),
            &order(),
            kind,
            reference,
        )
    }

    #[test]
    fn every_kind_of_mail_renders_both_parts_in_the_layout_naming_the_order() {
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
            assert!(
                mail.html.contains("class=\"shop-header"),
                "{kind:?} has the layout's header"
            );
            assert!(mail.text.starts_with("Demo & Co\n\n"), "{kind:?}: {}", mail.text);
            assert!(
                mail.text.contains("\n-- \nDemo & Co"),
                "{kind:?} has the layout's footer"
            );
            assert!(
                !mail.text.contains("\n\n\n"),
                "{kind:?} has no stray blank lines:\n{}",
                mail.text
            );
        }
    }

    #[test]
    fn html_escapes_what_customers_typed_and_text_keeps_it() {
        let mail = render(MailKind::OrderConfirmation, None);
        // minijinja escapes `/` too (`&#x2f;`), which browsers read back as `/`.
        assert!(mail.html.contains("Ada &lt;b&gt;Lovelace&lt;&#x2f;b&gt;"));
        assert!(mail.html.contains("Mug &lt;Large&gt; &amp; Co"));
        assert!(!mail.html.contains("<b>Lovelace"));
        assert!(mail.html.contains("Demo &amp; Co"));
        assert!(mail.text.contains("Hello Ada <b>Lovelace</b>"));
        assert!(mail.text.contains("https://shop.example/orders/o-1?token=t"));
    }

    #[test]
    fn money_reads_as_the_stores_locale_writes_it() {
        let mail = render(MailKind::OrderConfirmation, None);
        assert!(
            mail.text
                .contains("2 x Mug <Large> & Co, Colour: Navy, Size: L (MUG-1)  $25.00"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("Discount: -$5.00"), "{}", mail.text);
        assert!(mail.text.contains("Total: $27.18"), "{}", mail.text);
        assert!(mail.html.contains("$27.18") && !mail.html.contains("USD"));

        let german = render_with(&store("de-DE", ""), &order(), MailKind::OrderConfirmation, None);
        assert!(german.text.contains("Total: 27,18\u{a0}$"), "{}", german.text);
        let refund = render(MailKind::Refunded, Some("1000"));
        assert!(refund.text.contains("refunded $10.00"), "{}", refund.text);
        assert_eq!(
            render(MailKind::NewOrder, None).subject,
            "New order o-1: $27.18 to pack"
        );
    }

    #[test]
    fn the_address_reads_in_its_countrys_order_and_the_options_beside_the_title() {
        let mail = render(MailKind::OrderConfirmation, None);
        assert!(
            mail.text
                .contains("Ships to:\nAda <b>Lovelace</b>\n1 Analytical Way\nLondon\nN1 9GU\nUnited Kingdom"),
            "{}",
            mail.text
        );
        assert!(
            mail.html.contains("London<br>N1 9GU<br>United Kingdom"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("Colour: Navy, Size: L"));
        let merchant = render(MailKind::NewOrder, None);
        assert!(
            merchant.text.contains("Colour: Navy, Size: L (MUG-1)"),
            "{}",
            merchant.text
        );
        assert!(
            merchant
                .text
                .contains("https://console.example/orders/o-1/packing-slip")
        );
        assert!(merchant.text.contains("ada@example.com"));
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
        assert!(
            mail.text
                .contains("2 x Mug <Large> & Co, Colour: Navy, Size: L (MUG-1)")
        );
        let order = order();
        let unknown = MailRequest::about(MailKind::Shipped, "o-1", "s-404");
        let links = Links {
            order_url: None,
            console_base: None,
        };
        let store = store("en-US", "");
        assert!(matches!(
            MailFacts::of(&store, &order, &unknown, links),
            Err(RenderError::NoSuchShipment { .. })
        ));
    }

    #[test]
    fn a_parcel_that_completes_the_order_says_so_and_one_that_leaves_units_says_part() {
        let whole = render(MailKind::Shipped, Some("s-1"));
        for part in [&whole.html, &whole.text] {
            assert!(part.contains("Your order is on its way"), "{part}");
            assert!(part.contains("Everything you ordered is in this parcel."), "{part}");
            assert!(!part.to_lowercase().contains("part of your order"), "{part}");
        }

        let mut split = order();
        split.shipments[0].lines[0].quantity = 1;
        let mut second = split.shipments[0].clone();
        second.shipment_id = "s-2".into();
        split.shipments.push(second);
        let store = store("en-US", "");
        let first = render_with(&store, &split, MailKind::Shipped, Some("s-1"));
        for part in [&first.html, &first.text] {
            assert!(part.contains("Part of your order is on its way"), "{part}");
        }
        assert!(
            first.text.contains("Still to come:\n1 x Mug <Large> & Co"),
            "{}",
            first.text
        );
        let last = render_with(&store, &split, MailKind::Shipped, Some("s-2"));
        assert!(
            last.text.contains("The rest of your order is on its way"),
            "{}",
            last.text
        );
        assert!(
            last.text.contains("everything you ordered has shipped"),
            "{}",
            last.text
        );
        assert!(!last.text.to_lowercase().contains("part of your order"));
    }

    #[test]
    fn return_instructions_give_the_return_address_or_ask_the_customer_to_write() {
        let mail = render(MailKind::ReturnInstructions, Some("r-1"));
        assert!(
            mail.text.contains("Send it to:\nReturns\n1 Dock Rd\nReno, NV 89501\n"),
            "{}",
            mail.text
        );
        assert!(mail.html.contains("Returns<br>1 Dock Rd<br>Reno, NV 89501"));
        assert!(
            mail.text
                .contains("1 x Mug <Large> & Co, Colour: Navy, Size: L (MUG-1)")
        );
        assert!(mail.text.contains("we refund $11.09"), "{}", mail.text);

        let without = render_with(
            &store("en-US", " | "),
            &order(),
            MailKind::ReturnInstructions,
            Some("r-1"),
        );
        assert!(
            without
                .text
                .contains("Send it to:\nReply to this mail and we will tell you where to send it."),
            "{}",
            without.text
        );
    }

    #[test]
    fn exchange_instructions_name_the_replacement_and_what_is_still_owed() {
        let usd = |amount: i64| serde_json::json!({"amount": amount, "currency": "usd"});
        let mut order = order();
        order.returns[0].refund = Money::new(0, order.totals.total.currency);
        order.returns[0].exchange = Some(
            serde_json::from_value(serde_json::json!({
                "new_lines": [{"sku": "MUG-2", "product_id": "mug", "title": "Mug Blue", "quantity": 1,
                               "options": {"colour": "Blue"},
                               "unit_price": usd(1500), "line_total": usd(1500)}],
                "replacement_total": usd(1609), "returned_value": usd(1359), "balance": usd(250),
                "payment": "awaiting", "payment_intent_id": "pi_1",
            }))
            .unwrap(),
        );
        let mail = render_with(&store("en-US", ""), &order, MailKind::ReturnInstructions, Some("r-1"));
        assert!(
            mail.text.contains("1 x Mug Blue, Colour: Blue (MUG-2)"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("costs $2.50 more"), "{}", mail.text);
        assert!(!mail.text.contains("we refund"), "nothing to refund: {}", mail.text);
    }

    fn support_facts<'a>(store: &'a Store, order: Option<&'a Order>) -> SupportFacts<'a> {
        SupportFacts {
            store_name: &store.name,
            reference: "SUP-1",
            customer_email: "ada@example.com",
            subject: "Mug <broken>",
            body: "It arrived in pieces.\n<script>alert(1)</script>",
            received_at: "2026-11-25T10:00:00Z".into(),
            unverified_order_id: order.is_none().then_some("o-9"),
            admin_order_url: order.map(|o| format!("https://console.example/orders/{}", o.order_id)),
            console_message_url: "https://console.example/support/SUP-1".into(),
            order: order.map(|o| {
                let request = MailRequest::support(MailKind::SupportMessage, "SUP-1", Some(&o.order_id));
                let links = Links {
                    order_url: None,
                    console_base: Some("https://console.example"),
                };
                MailFacts::of(store, o, &request, links).unwrap()
            }),
        }
    }

    #[test]
    fn the_merchant_reads_the_message_with_its_order() {
        let (order, store) = (order(), store("en-US", ""));
        let templates = Templates::load().unwrap();
        let merchant = templates.render_support(&support_facts(&store, Some(&order))).unwrap();
        assert_eq!(merchant.subject, "Support SUP-1: Mug <broken>");
        assert!(merchant.text.contains("It arrived in pieces."), "{}", merchant.text);
        assert!(
            merchant.text.contains("Order o-1 (shipped), $27.18"),
            "{}",
            merchant.text
        );
        assert!(merchant.text.contains("1Z999"));
        assert!(merchant.html.contains("&lt;script&gt;") && !merchant.html.contains("<script>"));

        let unverified = templates.render_support(&support_facts(&store, None)).unwrap();
        assert!(unverified.text.contains("o-9") && unverified.text.contains("not verified"));
        assert!(!unverified.text.contains("27.18"));
    }

    #[test]
    fn the_acknowledgement_carries_the_reference_and_nothing_the_caller_typed() {
        let ack = Templates::load()
            .unwrap()
            .render_acknowledgement(&AcknowledgementFacts {
                store_name: "Demo & Co",
                reference: "SUP-1",
            })
            .unwrap();
        assert_eq!(ack.subject, "Demo & Co: we received your message (SUP-1)");
        for part in [&ack.html, &ack.text] {
            assert!(part.contains("SUP-1"), "{part}");
            assert!(!part.contains("pieces") && !part.contains("broken"), "{part}");
        }
        assert!(ack.html.contains("class=\"shop-header"));
    }

    #[test]
    fn a_reply_carries_the_merchants_words_escaped_in_html() {
        let reply = Templates::load()
            .unwrap()
            .render_reply(&ReplyFacts {
                store_name: "Demo & Co",
                reference: "SUP-1",
                reply: "A new mug is on its way.\n<b>Sorry</b>",
            })
            .unwrap();
        assert_eq!(reply.subject, "Demo & Co: a reply to your message (SUP-1)");
        assert!(
            reply.text.contains("A new mug is on its way.\n<b>Sorry</b>"),
            "{}",
            reply.text
        );
        assert!(reply.html.contains("&lt;b&gt;Sorry") && !reply.html.contains("<b>Sorry"));
        assert!(reply.html.contains("class=\"shop-header"));
        assert!(reply.text.contains("\n-- \nDemo & Co"), "{}", reply.text);
    }

    /// `SHOP_MAIL_SAMPLES=dir cargo test -p email-sender -- --ignored`: every mail's parts as
    /// files, to look at in a browser (or render to an image) after changing a template.
    #[test]
    #[ignore = "writes files; run on purpose to look at the mails"]
    fn write_every_mail_for_looking_at() {
        let dir =
            std::path::PathBuf::from(std::env::var("SHOP_MAIL_SAMPLES").expect("SHOP_MAIL_SAMPLES is a directory"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut split = order();
        split.shipments[0].lines[0].quantity = 1;
        let store = store("en-US", "Demo & Co Returns|1 Dock Rd|Reno, NV 89501|United States");
        let mut mails: Vec<(String, RenderedMail)> = Vec::new();
        for kind in MailKind::ALL.into_iter().filter(|kind| !kind.is_support()) {
            let reference = match kind {
                MailKind::Shipped => Some("s-1"),
                MailKind::Refunded => Some("1000"),
                MailKind::ReturnInstructions => Some("r-1"),
                _ => None,
            };
            mails.push((kind.as_str().to_owned(), render_with(&store, &order(), kind, reference)));
        }
        mails.push((
            "shipped_part".into(),
            render_with(&store, &split, MailKind::Shipped, Some("s-1")),
        ));
        let templates = Templates::load().unwrap();
        let order = order();
        mails.push((
            "support_message".into(),
            templates.render_support(&support_facts(&store, Some(&order))).unwrap(),
        ));
        let ack = AcknowledgementFacts {
            store_name: &store.name,
            reference: "SUP-1",
        };
        mails.push((
            "support_received".into(),
            templates.render_acknowledgement(&ack).unwrap(),
        ));
        for (name, mail) in mails {
            std::fs::write(dir.join(format!("{name}.html")), &mail.html).unwrap();
            std::fs::write(
                dir.join(format!("{name}.txt")),
                format!("Subject: {}\n\n{}", mail.subject, mail.text),
            )
            .unwrap();
        }
    }
}
