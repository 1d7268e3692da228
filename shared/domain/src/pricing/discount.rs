//! Discount codes: what they take off, and when they apply to a cart.

use super::*;

/// What a discount takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DiscountValue {
    /// A share of the eligible subtotal, in basis points (1500 = 15 %).
    Percent {
        /// Basis points, 1 to 10,000.
        percent_bp: BasisPoints,
    },
    /// A fixed amount in minor units of the store currency.
    Fixed {
        /// Minor units.
        amount: i64,
    },
}

/// A discount code as the merchant sets it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountRule {
    /// What it takes off.
    pub value: DiscountValue,
    /// The cart subtotal (before discount) it needs, in minor units.
    #[serde(default)]
    pub min_subtotal: Option<i64>,
    /// Valid from (Unix seconds; sent as RFC 3339 or Unix seconds).
    #[serde(default, deserialize_with = "crate::instant::deserialize_optional")]
    pub starts_at: Option<i64>,
    /// Valid until (Unix seconds, exclusive; sent as RFC 3339 or Unix seconds).
    #[serde(default, deserialize_with = "crate::instant::deserialize_optional")]
    pub ends_at: Option<i64>,
    /// How many orders may use it in all.
    #[serde(default)]
    pub max_redemptions: Option<u32>,
    /// Whether one customer (by email) may use it once only; checked at checkout.
    #[serde(default)]
    pub once_per_customer: bool,
    /// Only lines of these categories count, when given.
    #[serde(default)]
    pub categories: Vec<CategorySlug>,
    /// Only these SKUs count, when given.
    #[serde(default)]
    pub skus: Vec<Sku>,
}

/// Why a code does not apply to a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscountRefusal {
    /// Before its start.
    #[error("this code is not valid yet")]
    NotStarted,
    /// After its end.
    #[error("this code has expired")]
    Expired,
    /// The cart is too small.
    #[error("this code needs a subtotal of at least {minimum} minor units")]
    MinimumNotMet {
        /// The minimum, in minor units.
        minimum: i64,
    },
    /// Every redemption is used.
    #[error("this code has been used up")]
    Exhausted,
    /// No line of the cart is one it applies to.
    #[error("this code does not apply to anything in the cart")]
    NoEligibleLines,
    /// The customer already used it.
    #[error("this code was already used with this email")]
    AlreadyUsed,
}

impl DiscountRefusal {
    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotStarted => "discount_not_started",
            Self::Expired => "discount_expired",
            Self::MinimumNotMet { .. } => "discount_minimum_not_met",
            Self::Exhausted => "discount_exhausted",
            Self::NoEligibleLines => "discount_not_applicable",
            Self::AlreadyUsed => "discount_already_used",
        }
    }
}

impl DiscountRule {
    /// The merchant's mistakes in a rule, by field.
    pub fn check(&self) -> Vec<crate::FieldError> {
        let mut errors = Vec::new();
        match self.value {
            DiscountValue::Percent { percent_bp } if !(1..=10_000).contains(&percent_bp) => errors.push(
                crate::FieldError::new("value.percent_bp", "must be 1 to 10000 (0.01 % to 100 %)"),
            ),
            DiscountValue::Fixed { amount } if amount <= 0 => {
                errors.push(crate::FieldError::new("value.amount", "must be positive"))
            }
            _ => {}
        }
        if self.min_subtotal.is_some_and(|m| m < 0) {
            errors.push(crate::FieldError::new("min_subtotal", "must not be negative"));
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at)
            && end <= start
        {
            errors.push(crate::FieldError::new("ends_at", "must be after starts_at"));
        }
        errors
    }

    fn eligible(&self, line: &PricedLine) -> bool {
        (self.categories.is_empty() || self.categories.contains(&line.category))
            && (self.skus.is_empty() || self.skus.contains(&line.sku))
    }

    /// The subtotal of the lines the code applies to.
    pub fn eligible_subtotal(&self, lines: &[PricedLine]) -> i64 {
        lines.iter().filter(|l| self.eligible(l)).map(PricedLine::total).sum()
    }

    /// Whether the code applies to these lines at `now`, given how often it was redeemed.
    pub fn applies(&self, lines: &[PricedLine], now: i64, redemptions: u32) -> Result<(), DiscountRefusal> {
        if self.starts_at.is_some_and(|start| now < start) {
            return Err(DiscountRefusal::NotStarted);
        }
        if self.ends_at.is_some_and(|end| now >= end) {
            return Err(DiscountRefusal::Expired);
        }
        if self.max_redemptions.is_some_and(|max| redemptions >= max) {
            return Err(DiscountRefusal::Exhausted);
        }
        let subtotal: i64 = lines.iter().map(PricedLine::total).sum();
        if let Some(minimum) = self.min_subtotal.filter(|m| subtotal < *m) {
            return Err(DiscountRefusal::MinimumNotMet { minimum });
        }
        if self.eligible_subtotal(lines) == 0 {
            return Err(DiscountRefusal::NoEligibleLines);
        }
        Ok(())
    }

    /// What it takes off these lines: never more than their eligible subtotal.
    pub fn amount(&self, lines: &[PricedLine]) -> i64 {
        let eligible = self.eligible_subtotal(lines);
        let amount = match self.value {
            DiscountValue::Percent { percent_bp } => {
                divide_half_up(i128::from(eligible) * i128::from(percent_bp), 10_000)
            }
            DiscountValue::Fixed { amount } => amount,
        };
        amount.clamp(0, eligible)
    }
}
