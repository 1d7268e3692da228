//! What a mail may say, each fact already written as the customer reads it: amounts in the
//! store's locale (`$57.55`), addresses in their country's order, items with their options.
//! The templates only place these facts; they compute nothing.

use crate::render::RenderError;
use serde::Serialize;
use shop_domain::catalog::options_label;
use shop_domain::fulfillment::Shipment;
use shop_domain::fulfillment::{self, ShipmentLine};
use shop_domain::order::Order;
use shop_domain::{Locale, Money, Sku};
use shop_platform::messages::{MailKind, MailRequest};

/// What every mail knows of the store.
#[derive(Debug, Clone)]
pub struct Store {
    /// The store's name, at the head and foot of every mail.
    pub name: String,
    /// How amounts are written (`STORE_LOCALE`).
    pub locale: Locale,
    /// The lines of the address returns go to (`RETURN_ADDRESS`); empty when none is set.
    pub return_address: Vec<String>,
}

impl Store {
    /// The lines of a `ReturnAddress` parameter: `|` separates them, blank ones are dropped.
    pub fn return_address_lines(raw: &str) -> Vec<String> {
        raw.split('|')
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|line| !line.is_empty())
            .collect()
    }

    fn money(&self, money: Money) -> String {
        money.display(self.locale)
    }
}

/// Where the links in a mail lead.
pub struct Links<'a> {
    /// The order page, with a token that opens it.
    pub order_url: Option<&'a str>,
    /// The merchant console's base URL, for the merchant's links to the order and its packing slip.
    pub console_base: Option<&'a str>,
}

/// What the templates may say about an order.
#[derive(Debug, Serialize)]
pub struct MailFacts<'a> {
    pub(crate) store_name: &'a str,
    pub(crate) order_id: &'a str,
    status: &'static str,
    customer_email: &'a str,
    /// The name on the shipping address, for the greeting.
    customer_name: &'a str,
    order_url: Option<&'a str>,
    packing_slip_url: Option<String>,
    /// The order's page in the merchant console.
    console_order_url: Option<String>,
    lines: Vec<LineFacts<'a>>,
    subtotal: String,
    /// The discount as the negative amount it is (`-$5.00`), when there is one.
    discount: Option<String>,
    shipping: String,
    tax: String,
    tax_included: bool,
    pub(crate) total: String,
    /// The shipping address, line by line, in its country's order.
    ship_to: Vec<String>,
    shipping_method: &'a str,
    pub(crate) shipment: Option<ShipmentFacts<'a>>,
    shipments: Vec<ShipmentFacts<'a>>,
    payment_error: Option<&'a str>,
    cancel_reason: Option<&'a str>,
    refunded: Option<String>,
    pub(crate) review: Option<&'a str>,
    late_payment: Option<&'a str>,
    recent_orders: Vec<RecentOrder>,
    pub(crate) return_of: Option<ReturnFacts<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ReturnFacts<'a> {
    pub(crate) return_id: &'a str,
    refund: String,
    /// Whether receiving it refunds anything.
    refunds: bool,
    lines: Vec<ItemFacts<'a>>,
    /// The replacements, when the return is an exchange.
    replacements: Vec<ItemFacts<'a>>,
    /// What the shopper pays for the exchange, if anything.
    to_pay: Option<String>,
    /// Where the parcel goes, line by line; empty when the store set no return address.
    send_to: &'a [String],
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
    /// What it cost, as the customer reads it.
    pub total: String,
    /// A link that opens it.
    pub url: String,
}

#[derive(Debug, Serialize)]
struct LineFacts<'a> {
    title: &'a str,
    /// The variant's options: `Colour: Navy, Size: M`.
    variant: Option<String>,
    sku: &'a str,
    quantity: u32,
    unit_price: String,
    line_total: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ShipmentFacts<'a> {
    pub(crate) carrier: &'a str,
    pub(crate) tracking_number: &'a str,
    tracking_url: &'a str,
    lines: Vec<ItemFacts<'a>>,
    /// Whether nothing is left to ship once this parcel left.
    completes_order: bool,
    /// Parcels of the order that left before this one.
    earlier_parcels: usize,
    /// What is still to ship after this parcel.
    still_to_ship: Vec<ItemFacts<'a>>,
}

/// Units of an item: an order's line, a parcel's, a return's.
#[derive(Debug, Serialize)]
struct ItemFacts<'a> {
    title: &'a str,
    variant: Option<String>,
    sku: &'a str,
    quantity: u32,
}

impl<'a> MailFacts<'a> {
    /// The facts of `order` for the mail `request` asks for: a shipment mail names its shipment,
    /// a refund mail the refunded total, return instructions the return and where it goes.
    pub fn of(
        store: &'a Store,
        order: &'a Order,
        request: &MailRequest,
        links: Links<'a>,
    ) -> Result<Self, RenderError> {
        let reference = request.reference.as_deref();
        let missing = |id: &str| RenderError::NoSuchShipment {
            order_id: order.order_id.clone(),
            shipment_id: id.to_owned(),
        };
        let shipment = match (request.kind, reference) {
            (MailKind::Shipped, Some(id)) => {
                let index = order
                    .shipments
                    .iter()
                    .position(|s| s.shipment_id == id)
                    .ok_or_else(|| missing(id))?;
                Some(shipment_facts(order, index))
            }
            _ => None,
        };
        let return_of = match (request.kind, reference) {
            (MailKind::ReturnInstructions, Some(id)) => {
                let record = order
                    .returns
                    .iter()
                    .find(|r| r.return_id == id)
                    .ok_or_else(|| missing(id))?;
                let exchange = record.exchange.as_ref();
                Some(ReturnFacts {
                    return_id: &record.return_id,
                    refund: store.money(record.refund),
                    refunds: record.refund.amount > 0,
                    lines: items(order, &record.lines),
                    replacements: exchange
                        .map(|e| {
                            e.new_lines
                                .iter()
                                .map(|l| ItemFacts {
                                    title: &l.title,
                                    variant: options_label(&l.options),
                                    sku: l.sku.as_str(),
                                    quantity: l.quantity,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    to_pay: exchange
                        .filter(|e| e.balance.amount > 0)
                        .map(|e| store.money(e.balance)),
                    send_to: &store.return_address,
                })
            }
            _ => None,
        };
        let totals = &order.totals;
        let currency = totals.total.currency;
        // A refund mail's reference is the refunded total it reports (see the payment webhook).
        let refunded = (request.kind == MailKind::Refunded)
            .then_some(reference)
            .flatten()
            .and_then(|amount| amount.parse::<i64>().ok())
            .map(|amount| store.money(Money::new(amount, currency)));
        Ok(Self {
            store_name: &store.name,
            order_id: &order.order_id,
            status: order.status.as_str(),
            customer_email: order.email.as_str(),
            customer_name: order.shipping_address.name.trim(),
            order_url: links.order_url,
            console_order_url: links
                .console_base
                .map(|base| format!("{}/orders/{}", base.trim_end_matches('/'), order.order_id)),
            packing_slip_url: links
                .console_base
                .map(|base| format!("{}/orders/{}/packing-slip", base.trim_end_matches('/'), order.order_id)),
            lines: order
                .lines
                .iter()
                .map(|line| LineFacts {
                    title: &line.title,
                    variant: options_label(&line.options),
                    sku: line.sku.as_str(),
                    quantity: line.quantity,
                    unit_price: store.money(line.unit_price),
                    line_total: store.money(line.line_total),
                })
                .collect(),
            subtotal: store.money(totals.subtotal),
            discount: (totals.discount.amount > 0).then(|| store.money(Money::new(-totals.discount.amount, currency))),
            shipping: store.money(totals.shipping),
            tax: store.money(totals.tax),
            tax_included: totals.tax_included,
            total: store.money(totals.total),
            ship_to: order.shipping_address.postal_lines(),
            shipping_method: &order.shipping_method,
            shipment,
            shipments: (0..order.shipments.len()).map(|i| shipment_facts(order, i)).collect(),
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

/// The order's shipment at `index`, with what it leaves to ship: the units the order owes less
/// those this parcel and the ones before it carried.
fn shipment_facts(order: &Order, index: usize) -> ShipmentFacts<'_> {
    let shipment: &Shipment = &order.shipments[index];
    let shipped_so_far = order.shipments[..=index].iter().flat_map(|s| &s.lines);
    let left = fulfillment::remaining(order.units_owed(), shipped_so_far);
    let still_to_ship: Vec<ItemFacts<'_>> = left
        .iter()
        .filter(|(_, units)| **units > 0)
        .filter_map(|(sku, units)| item(order, sku, *units))
        .collect();
    ShipmentFacts {
        carrier: &shipment.carrier,
        tracking_number: &shipment.tracking_number,
        tracking_url: &shipment.tracking_url,
        lines: items(order, &shipment.lines),
        completes_order: still_to_ship.is_empty(),
        earlier_parcels: index,
        still_to_ship,
    }
}

/// Units of the order's lines (or of its exchanges' replacements), each with its title and
/// options; a SKU the order does not name is shown by its code.
fn items<'a>(order: &'a Order, lines: &'a [ShipmentLine]) -> Vec<ItemFacts<'a>> {
    lines
        .iter()
        .map(|line| {
            item(order, &line.sku, line.quantity).unwrap_or(ItemFacts {
                title: line.sku.as_str(),
                variant: None,
                sku: line.sku.as_str(),
                quantity: line.quantity,
            })
        })
        .collect()
}

fn item<'a>(order: &'a Order, sku: &Sku, quantity: u32) -> Option<ItemFacts<'a>> {
    order.line_of(sku).map(|line| ItemFacts {
        title: &line.title,
        variant: options_label(&line.options),
        sku: line.sku.as_str(),
        quantity,
    })
}

/// What the merchant's copy of a support message says: the message, and its order's facts
/// when its token opened it.
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
    /// The message in the console's support inbox.
    pub console_message_url: String,
    /// The verified order's facts.
    pub order: Option<MailFacts<'a>>,
}

/// What the acknowledgement of a support message says: the reference and nothing the caller
/// typed, so the form cannot make the shop carry anyone's words to any address.
#[derive(Debug, Serialize)]
pub struct AcknowledgementFacts<'a> {
    /// The store's name.
    pub store_name: &'a str,
    /// The message's reference.
    pub reference: &'a str,
}

/// What the merchant's reply to a support message says: the reply, under the message's
/// reference. It repeats nothing of the message: the writer chose the address, the merchant
/// chose these words.
#[derive(Debug, Serialize)]
pub struct ReplyFacts<'a> {
    /// The store's name.
    pub store_name: &'a str,
    /// The message's reference.
    pub reference: &'a str,
    /// The merchant's text.
    pub reply: &'a str,
}
