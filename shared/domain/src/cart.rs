//! The cart's own rules: bounds on lines and quantities, destination codes, discount codes.

/// Most lines one cart holds: checkout reserves every line in one DynamoDB transaction
/// (at most 100 items with the order's own) and prices the cart with one batch read.
pub const MAX_LINES: usize = 50;

text_value!(
    /// An ISO 3166-1 alpha-2 country code, upper case.
    CountryCode
);

impl CountryCode {
    /// Accepts two ASCII letters in either case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(format!("'{raw}' is not an ISO 3166-1 alpha-2 country code"))
        }
    }
}

text_value!(
    /// A discount code as shoppers type it; kept in upper case so `summer10` is `SUMMER10`.
    DiscountCode
);

impl DiscountCode {
    /// 3 to 32 letters, digits, `-` or `_`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if (3..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err("a discount code is 3 to 32 letters, digits, '-' or '_'".to_owned())
        }
    }
}

/// Why a quantity cannot be put in the cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Above the store's per-line maximum.
    #[error("at most {max} of one item per order")]
    OverLineMaximum {
        /// The store's maximum.
        max: u32,
    },
    /// Nothing left.
    #[error("sold out")]
    SoldOut,
    /// Fewer in stock than asked.
    #[error("only {available} in stock")]
    OverStock {
        /// Units in stock.
        available: u32,
    },
}

/// Checks a wanted quantity (1 or more) against the store maximum and the stock.
pub fn check_quantity(wanted: u32, line_max: u32, available: u32) -> Result<(), QuantityError> {
    if wanted > line_max {
        return Err(QuantityError::OverLineMaximum { max: line_max });
    }
    if available == 0 {
        return Err(QuantityError::SoldOut);
    }
    if wanted > available {
        return Err(QuantityError::OverStock { available });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_letters_in_upper_case() {
        assert_eq!(CountryCode::parse("us").unwrap().as_str(), "US");
        for bad in ["", "USA", "U1", "ü"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn discount_codes_ignore_case_and_spaces_around() {
        assert_eq!(DiscountCode::parse(" summer-10 ").unwrap().as_str(), "SUMMER-10");
        assert!(DiscountCode::parse("ab").is_err());
        assert!(DiscountCode::parse("no spaces").is_err());
    }

    #[test]
    fn a_quantity_stays_within_the_line_maximum_and_the_stock() {
        assert_eq!(check_quantity(3, 99, 5), Ok(()));
        assert_eq!(
            check_quantity(100, 99, 500),
            Err(QuantityError::OverLineMaximum { max: 99 })
        );
        assert_eq!(check_quantity(1, 99, 0), Err(QuantityError::SoldOut));
        assert_eq!(check_quantity(6, 99, 5), Err(QuantityError::OverStock { available: 5 }));
    }
}
