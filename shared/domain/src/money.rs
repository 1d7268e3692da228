//! Money as integer minor units with an ISO 4217 currency: never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code, kept in lower case as Stripe writes it (`usd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a three-letter code in either case.
    pub fn parse(code: &str) -> Result<Self, String> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(format!("'{code}' is not a three-letter ISO 4217 currency code"));
        }
        let mut lower = [0u8; 3];
        for (slot, b) in lower.iter_mut().zip(bytes) {
            *slot = b.to_ascii_lowercase();
        }
        Ok(Self(lower))
    }

    /// The code in lower case.
    pub fn as_str(&self) -> &str {
        // The bytes were checked to be ASCII letters when parsed.
        std::str::from_utf8(&self.0).unwrap_or("xxx")
    }

    /// Digits after the decimal point, as Stripe counts minor units: 0 for its zero-decimal
    /// currencies (`jpy`), 3 for its three-decimal ones (`kwd`), else 2.
    pub fn decimals(&self) -> u32 {
        const ZERO_DECIMAL: [&str; 16] = [
            "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof",
            "xpf",
        ];
        const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];
        if ZERO_DECIMAL.contains(&self.as_str()) {
            0
        } else if THREE_DECIMAL.contains(&self.as_str()) {
            3
        } else {
            2
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Two amounts that cannot be added or compared: their currencies differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} and {1} amounts cannot be added")]
pub struct CurrencyMismatch(pub Currency, pub Currency);

/// An amount in the currency's minor units (cents for `usd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units; a price is never negative, a discount is expressed as its own line.
    pub amount: i64,
    /// The currency of `amount`.
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// `self + other`, both in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, CurrencyMismatch> {
        self.same_currency(other)
            .map(|currency| Self::new(self.amount + other.amount, currency))
    }

    /// `self - other`, both in the same currency.
    pub fn checked_sub(self, other: Money) -> Result<Money, CurrencyMismatch> {
        self.same_currency(other)
            .map(|currency| Self::new(self.amount - other.amount, currency))
    }

    fn same_currency(self, other: Money) -> Result<Currency, CurrencyMismatch> {
        if self.currency == other.currency {
            Ok(self.currency)
        } else {
            Err(CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// This price `quantity` times: a line's total.
    pub fn times(self, quantity: u32) -> Self {
        Self::new(self.amount * i64::from(quantity), self.currency)
    }

    /// The amount as a decimal number in major units, with the currency's digits after the
    /// point: `25.00`, `-3.50`, `1200` (schema.org offers and feeds write prices so).
    pub fn decimal(&self) -> String {
        let sign = if self.amount < 0 { "-" } else { "" };
        let units = self.amount.unsigned_abs();
        match self.currency.decimals() {
            0 => format!("{sign}{units}"),
            digits => {
                let scale = 10u64.pow(digits);
                let width = digits as usize;
                format!("{sign}{}.{:0width$}", units / scale, units % scale)
            }
        }
    }
}

impl Money {
    /// Reads an amount the way [`Money::decimal`] writes it, in major units with at most the
    /// currency's digits after the point (`25`, `25.5`, `25.00`; `1200` for `jpy`), so a
    /// merchant's price column round-trips. No sign, no thousands separator, no symbol, at most
    /// twelve digits before the point.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, String> {
        let text = text.trim();
        let digits = currency.decimals() as usize;
        let refusal = || {
            if digits == 0 {
                format!(
                    "'{}' is not a whole amount in {currency} (such as 1200)",
                    text.chars().take(40).collect::<String>()
                )
            } else {
                format!(
                    "'{}' is not an amount in {currency} with at most {digits} digits after the point (such as 25.00)",
                    text.chars().take(40).collect::<String>()
                )
            }
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 12 || !all_digits(whole) || !all_digits(fraction) {
            return Err(refusal());
        }
        if fraction.len() > digits || (text.contains('.') && fraction.is_empty()) {
            return Err(refusal());
        }
        let scale = 10i64.pow(digits as u32);
        let whole: i64 = whole.parse().map_err(|_| refusal())?;
        let fraction: i64 = if fraction.is_empty() {
            0
        } else {
            let padded = format!("{fraction:0<digits$}");
            padded.parse().map_err(|_| refusal())?
        };
        Ok(Self::new(whole * scale + fraction, currency))
    }
}

/// As people read prices: `25.00 USD`, `-3.50 EUR`, `1200 JPY` (the feed and mail format).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency.as_str().to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_amount_reads_in_the_currencys_minor_units() {
        let usd = Currency::parse("usd").unwrap();
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(Money::parse_decimal("12.5", usd).unwrap().amount, 1250);
        assert_eq!(Money::parse_decimal(" 12.05 ", usd).unwrap().amount, 1205);
        assert_eq!(Money::parse_decimal("7", usd).unwrap().amount, 700);
        assert_eq!(Money::parse_decimal("1200", jpy).unwrap().amount, 1200);
        for bad in [
            "",
            "-1",
            "1.234",
            "1,00",
            "1.",
            ".5",
            "12.5.0",
            "1e3",
            "12.5 USD",
            "99999999999999",
        ] {
            assert!(Money::parse_decimal(bad, usd).is_err(), "{bad:?}");
        }
        assert!(Money::parse_decimal("1.5", jpy).is_err());
    }

    #[test]
    fn amounts_add_and_subtract_within_one_currency_only() {
        let usd = Currency::parse("usd").unwrap();
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(
            Money::new(500, usd).checked_sub(Money::new(750, usd)),
            Ok(Money::new(-250, usd))
        );
        assert_eq!(
            Money::new(500, usd).checked_add(Money::new(750, usd)),
            Ok(Money::new(1250, usd))
        );
        assert_eq!(
            Money::new(500, usd).checked_add(Money::new(1, eur)),
            Err(CurrencyMismatch(usd, eur))
        );
    }

    #[test]
    fn a_price_as_the_merchant_types_it_reads_back_as_decimal_wrote_it() {
        let usd = Currency::parse("usd").unwrap();
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(Money::parse_decimal("25", usd), Ok(Money::new(2_500, usd)));
        assert_eq!(Money::parse_decimal(" 25.5 ", usd), Ok(Money::new(2_550, usd)));
        assert_eq!(Money::parse_decimal("0.07", usd), Ok(Money::new(7, usd)));
        assert_eq!(Money::parse_decimal("1200", jpy), Ok(Money::new(1_200, jpy)));
        for amount in [0, 7, 2_550, 99_999_999] {
            let money = Money::new(amount, usd);
            assert_eq!(Money::parse_decimal(&money.decimal(), usd), Ok(money));
        }
        for bad in ["", "-1", "25.001", "2,50", "$25", "25.", ".5", "1e3", "12.5.0"] {
            assert!(Money::parse_decimal(bad, usd).is_err(), "{bad} was read");
        }
        assert!(Money::parse_decimal("12.5", jpy).is_err());
    }

    #[test]
    fn a_line_total_is_the_unit_price_times_the_quantity_in_its_currency() {
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(Money::new(1_250, eur).times(3), Money::new(3_750, eur));
        assert_eq!(Money::new(1_250, eur).times(0), Money::new(0, eur));
    }

    #[test]
    fn currency_codes_are_kept_in_lower_case() {
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "usd");
        assert_eq!(Currency::parse("eur").unwrap().to_string(), "eur");
    }

    #[test]
    fn currency_codes_that_are_not_three_letters_are_refused() {
        for bad in ["", "us", "usdd", "u$d", "12a"] {
            assert!(Currency::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn money_reads_as_an_amount_and_an_upper_case_code() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(Money::new(1999, usd).to_string(), "19.99 USD");
        assert_eq!(Money::new(5, usd).to_string(), "0.05 USD");
        assert_eq!(Money::new(-350, usd).to_string(), "-3.50 USD");
        assert_eq!(
            Money::new(1200, Currency::parse("JPY").unwrap()).to_string(),
            "1200 JPY"
        );
    }

    #[test]
    fn a_decimal_amount_has_the_currency_s_digits_after_the_point() {
        assert_eq!(Money::new(1500, Currency::parse("usd").unwrap()).decimal(), "15.00");
        assert_eq!(Money::new(1500, Currency::parse("jpy").unwrap()).decimal(), "1500");
        assert_eq!(Money::new(5124, Currency::parse("kwd").unwrap()).decimal(), "5.124");
    }

    #[test]
    fn money_reads_and_writes_the_contract_shape() {
        let money: Money = serde_json::from_str(r#"{"amount": 1999, "currency": "USD"}"#).unwrap();
        assert_eq!(money, Money::new(1999, Currency::parse("usd").unwrap()));
        assert_eq!(
            serde_json::to_value(money).unwrap(),
            serde_json::json!({"amount": 1999, "currency": "usd"})
        );
    }
}
