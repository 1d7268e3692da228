//! The carrier step: where a label-buying adapter (a carrier or shipping-label API) plugs in.
//! The worker asks it once per order when packing starts and keeps the label on the packing
//! record; the default buys nothing and the merchant records shipments at the order desk.

use futures::future::BoxFuture;
use shop_domain::fulfillment::Label;
use shop_domain::order::Order;

/// Why no label could be bought; the message is retried.
#[derive(Debug, thiserror::Error)]
#[error("the carrier could not sell a label: {0}")]
pub struct CarrierError(pub String);

/// Buys a shipping label for an order. An adapter should pass the order id to its API as the
/// idempotency key: a redelivered message may ask again before the first answer was recorded.
pub trait LabelProvider: Send + Sync {
    /// The label for `order`, or `None` when labels are bought elsewhere.
    fn buy_label<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<Option<Label>, CarrierError>>;
}

/// No carrier API: the merchant buys labels and ships by hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualShipping;

impl LabelProvider for ManualShipping {
    fn buy_label<'a>(&'a self, _order: &'a Order) -> BoxFuture<'a, Result<Option<Label>, CarrierError>> {
        Box::pin(async { Ok(None) })
    }
}
