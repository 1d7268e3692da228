//! Shipping an order: carriers and their tracking links, and which units a shipment may carry.
//! An order ships in one or more shipments; it is shipped when every unit has left.

use crate::Sku;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The placeholder a merchant's tracking URL template puts where the tracking number goes.
pub const TRACKING_NUMBER_PLACEHOLDER: &str = "{tracking_number}";

/// Who carries a shipment, and so where its tracking page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    /// United Parcel Service.
    Ups,
    /// United States Postal Service.
    Usps,
    /// FedEx.
    Fedex,
    /// DHL Express.
    Dhl,
    /// Any other carrier, with the merchant's tracking URL template.
    Other {
        /// The carrier's name, as the customer reads it.
        name: String,
        /// `https://…{tracking_number}…`.
        url_template: String,
    },
}

impl Carrier {
    /// The carrier called `name` (UPS, USPS, FedEx and DHL in any case), or another carrier with
    /// `url_template`, which then must be an https URL holding `{tracking_number}`.
    pub fn parse(name: &str, url_template: Option<&str>) -> Result<Self, String> {
        let name = name.trim();
        let known = match name.to_ascii_lowercase().as_str() {
            "ups" => Some(Self::Ups),
            "usps" => Some(Self::Usps),
            "fedex" => Some(Self::Fedex),
            "dhl" => Some(Self::Dhl),
            _ => None,
        };
        match (known, url_template) {
            (Some(carrier), None) => Ok(carrier),
            (Some(_), Some(_)) => Err(format!(
                "{name} has a known tracking page; send no tracking_url_template"
            )),
            (None, None) => Err(format!(
                "'{name}' is not UPS, USPS, FedEx or DHL: send a tracking_url_template for it"
            )),
            (None, Some(template)) => {
                if name.is_empty() || name.chars().count() > 50 || !crate::text::is_one_line(name) {
                    return Err("a carrier name has 1 to 50 characters".into());
                }
                let template = template.trim();
                let valid = template.starts_with("https://")
                    && template.contains(TRACKING_NUMBER_PLACEHOLDER)
                    && template.len() <= 500
                    && !template.chars().any(|c| c.is_whitespace() || c.is_control());
                if !valid {
                    return Err(format!(
                        "a tracking_url_template is an https URL holding {TRACKING_NUMBER_PLACEHOLDER}"
                    ));
                }
                Ok(Self::Other {
                    name: name.to_owned(),
                    url_template: template.to_owned(),
                })
            }
        }
    }

    /// The carrier's name, as the customer reads it.
    pub fn name(&self) -> &str {
        match self {
            Self::Ups => "UPS",
            Self::Usps => "USPS",
            Self::Fedex => "FedEx",
            Self::Dhl => "DHL",
            Self::Other { name, .. } => name,
        }
    }

    /// The page where the customer follows `tracking`.
    pub fn tracking_url(&self, tracking: &TrackingNumber) -> String {
        let number = tracking.as_str();
        match self {
            Self::Ups => format!("https://www.ups.com/track?tracknum={number}"),
            Self::Usps => format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
            Self::Fedex => format!("https://www.fedex.com/fedextrack/?trknbr={number}"),
            Self::Dhl => {
                format!("https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}")
            }
            Self::Other { url_template, .. } => url_template.replace(TRACKING_NUMBER_PLACEHOLDER, number),
        }
    }
}

text_value!(
    /// A carrier's tracking number: 4 to 40 letters, digits and dashes, so it is safe in a URL.
    TrackingNumber
);

impl TrackingNumber {
    /// Trims and checks a tracking number; spaces inside are dropped as carriers print them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let compact: String = raw.chars().filter(|c| *c != ' ').collect();
        let valid = (4..=40).contains(&compact.len()) && compact.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if valid {
            Ok(Self(compact.to_ascii_uppercase()))
        } else {
            Err("a tracking number has 4 to 40 letters, digits or dashes".into())
        }
    }
}

/// Units of one SKU in a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    /// The variant.
    pub sku: Sku,
    /// Units.
    pub quantity: u32,
}

/// Why a shipment cannot carry what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipmentError {
    /// A SKU the order does not have.
    #[error("{0} is not on this order")]
    NotOnOrder(Sku),
    /// More units than are left to ship.
    #[error("{sku}: {requested} requested but {remaining} left to ship")]
    TooMany {
        /// The variant.
        sku: Sku,
        /// Units asked for.
        requested: u32,
        /// Units not yet shipped.
        remaining: u32,
    },
    /// A line with no units, or a SKU named twice.
    #[error("{0}")]
    Malformed(String),
    /// Every unit has shipped already.
    #[error("every unit of this order has shipped")]
    NothingLeft,
}

/// Units of each SKU on the order not yet shipped (0 once all have): `ordered` less what `shipped` carried.
pub fn remaining<'a>(
    ordered: impl IntoIterator<Item = (&'a Sku, u32)>,
    shipped: impl IntoIterator<Item = &'a ShipmentLine>,
) -> BTreeMap<Sku, u32> {
    let mut left: BTreeMap<Sku, u32> = BTreeMap::new();
    for (sku, quantity) in ordered {
        *left.entry(sku.clone()).or_default() += quantity;
    }
    for line in shipped {
        if let Some(units) = left.get_mut(&line.sku) {
            *units = units.saturating_sub(line.quantity);
        }
    }
    left
}

/// The lines a new shipment carries: `requested`, checked against what is left, or when
/// `requested` is `None` everything that is left.
pub fn plan_shipment(
    left: &BTreeMap<Sku, u32>,
    requested: Option<Vec<ShipmentLine>>,
) -> Result<Vec<ShipmentLine>, ShipmentError> {
    if left.values().all(|units| *units == 0) {
        return Err(ShipmentError::NothingLeft);
    }
    let Some(requested) = requested else {
        return Ok(left
            .iter()
            .filter(|(_, quantity)| **quantity > 0)
            .map(|(sku, quantity)| ShipmentLine {
                sku: sku.clone(),
                quantity: *quantity,
            })
            .collect());
    };
    if requested.is_empty() {
        return Err(ShipmentError::Malformed(
            "lines is empty: leave it out to ship everything left".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for line in &requested {
        if line.quantity == 0 {
            return Err(ShipmentError::Malformed(format!(
                "{}: a line ships at least 1 unit",
                line.sku
            )));
        }
        if !seen.insert(&line.sku) {
            return Err(ShipmentError::Malformed(format!("{} is named twice", line.sku)));
        }
        let Some(&remaining) = left.get(&line.sku) else {
            return Err(ShipmentError::NotOnOrder(line.sku.clone()));
        };
        if line.quantity > remaining {
            return Err(ShipmentError::TooMany {
                sku: line.sku.clone(),
                requested: line.quantity,
                remaining,
            });
        }
    }
    Ok(requested)
}

/// One shipment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Its id.
    pub shipment_id: String,
    /// The carrier's name.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// Where the customer follows it.
    pub tracking_url: String,
    /// What it carries.
    pub lines: Vec<ShipmentLine>,
    /// Unix seconds.
    pub shipped_at: i64,
}

/// A label a carrier adapter bought for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The carrier's name.
    pub carrier: String,
    /// The tracking number printed on it.
    pub tracking_number: String,
    /// Where the label's printable file is.
    pub label_url: String,
}

/// What the packers work from: written when packing starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackingRecord {
    /// The order.
    pub order_id: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Units to pick.
    pub lines: Vec<ShipmentLine>,
    /// A label bought by a carrier adapter, if one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(text: &str) -> Sku {
        Sku::parse(text).unwrap()
    }

    fn line(text: &str, quantity: u32) -> ShipmentLine {
        ShipmentLine {
            sku: sku(text),
            quantity,
        }
    }

    #[test]
    fn known_carriers_link_to_their_own_tracking_pages() {
        let number = TrackingNumber::parse("1z 999 aa1 0123456784").unwrap();
        assert_eq!(number.as_str(), "1Z999AA10123456784");
        let ups = Carrier::parse("ups", None).unwrap();
        assert_eq!(ups.name(), "UPS");
        assert_eq!(
            ups.tracking_url(&number),
            "https://www.ups.com/track?tracknum=1Z999AA10123456784"
        );
        assert_eq!(Carrier::parse("FedEx", None).unwrap(), Carrier::Fedex);
        assert!(Carrier::parse("ups", Some("https://x/{tracking_number}")).is_err());
    }

    #[test]
    fn another_carrier_needs_an_https_template_with_the_placeholder() {
        let carrier = Carrier::parse("Royal Mail", Some("https://track.example/{tracking_number}?x=1")).unwrap();
        let number = TrackingNumber::parse("RM-12345").unwrap();
        assert_eq!(carrier.tracking_url(&number), "https://track.example/RM-12345?x=1");
        for bad in [
            None,
            Some("http://track.example/{tracking_number}"),
            Some("https://track.example/"),
            Some("https://track.example/{tracking_number} x"),
        ] {
            assert!(Carrier::parse("Royal Mail", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tracking_numbers_are_short_url_safe_words() {
        for bad in ["", "abc", "12345/../x", "<script>", &"9".repeat(41)] {
            assert!(TrackingNumber::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_shipment_without_lines_carries_everything_left() {
        let (a, b) = (sku("TEE-M"), sku("MUG-1"));
        let left = remaining([(&a, 2), (&b, 1)], &[line("TEE-M", 1)]);
        let planned = plan_shipment(&left, None).unwrap();
        assert_eq!(planned, [line("MUG-1", 1), line("TEE-M", 1)]);
        let after = remaining(
            [(&a, 2), (&b, 1)],
            &[line("TEE-M", 1), line("TEE-M", 1), line("MUG-1", 1)],
        );
        assert!(after.values().all(|units| *units == 0));
        assert_eq!(plan_shipment(&after, None), Err(ShipmentError::NothingLeft));
    }

    #[test]
    fn a_partial_shipment_carries_no_more_than_is_left_of_skus_on_the_order() {
        let a = sku("TEE-M");
        let left = remaining([(&a, 2)], &[line("TEE-M", 1)]);
        assert_eq!(
            plan_shipment(&left, Some(vec![line("TEE-M", 1)])).unwrap(),
            [line("TEE-M", 1)]
        );
        assert_eq!(
            plan_shipment(&left, Some(vec![line("TEE-M", 2)])),
            Err(ShipmentError::TooMany {
                sku: a.clone(),
                requested: 2,
                remaining: 1
            })
        );
        assert_eq!(
            plan_shipment(&left, Some(vec![line("OTHER", 1)])),
            Err(ShipmentError::NotOnOrder(sku("OTHER")))
        );
        for malformed in [vec![], vec![line("TEE-M", 0)], vec![line("TEE-M", 1), line("TEE-M", 1)]] {
            assert!(matches!(
                plan_shipment(&left, Some(malformed)),
                Err(ShipmentError::Malformed(_))
            ));
        }
    }
}
