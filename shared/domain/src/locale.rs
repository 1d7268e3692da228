//! Money as customers read it: `$1,234.56` in the United States, `1.234,56 €` in Germany,
//! `1 234,56 €` in France. Every mail and page that shows an amount writes it here, for the
//! store's locale (`StoreLocale`).
//!
//! The patterns, separators and symbols follow CLDR 48 (the standard currency format of each
//! locale, `¤#,##0.00` and its kin, with CLDR's currency spacing), as ICU 78 formats them; the
//! test `tests/money_cldr.rs` holds this formatter to ICU's output for every locale and
//! currency of the tables in `locale/cldr.rs`. The digits after the separator are the currency's minor
//! units as Stripe counts them ([`Currency::decimals`]), so an amount is never rounded.

use crate::money::{Currency, Money};
use std::fmt;

mod cldr;

pub use cldr::KNOWN_CURRENCIES;
use cldr::{LOCALES, LocaleRules, NBSP, Placement};

/// A locale the shop writes money for, such as `en-US` or `de-DE`: a value that exists is one
/// of [`Locale::SUPPORTED`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Locale(&'static LocaleRules);

impl Locale {
    /// The tags of every supported locale, in the order the template lists them.
    pub const SUPPORTED: [&'static str; 21] = {
        let mut tags = [""; 21];
        let mut i = 0;
        while i < LOCALES.len() {
            tags[i] = LOCALES[i].tag;
            i += 1;
        }
        tags
    };

    /// American English, the template's default.
    pub const EN_US: Locale = Locale(&LOCALES[0]);

    /// One of the supported tags, in any case, with `-` or `_` (`en-US`, `en_us`).
    pub fn parse(tag: &str) -> Result<Self, String> {
        let wanted = tag.trim().replace('_', "-");
        LOCALES
            .iter()
            .find(|rules| rules.tag.eq_ignore_ascii_case(&wanted))
            .map(Locale)
            .ok_or_else(|| {
                format!(
                    "'{tag}' is not a locale the shop writes money for; one of {}",
                    Self::SUPPORTED.join(", ")
                )
            })
    }

    /// The BCP 47 tag (`en-US`).
    pub fn tag(self) -> &'static str {
        self.0.tag
    }

    /// How this locale writes `currency`'s sign: `$`, `US$`, `€`, `kr`, or the ISO code.
    pub fn symbol(self, currency: Currency) -> String {
        self.0
            .symbols
            .iter()
            .find(|(code, _)| *code == currency.as_str())
            .map(|(_, symbol)| (*symbol).to_owned())
            .unwrap_or_else(|| currency.as_str().to_ascii_uppercase())
    }

    /// `money` as a reader of this locale writes it: `$1,234.56`, `1.234,56 €`, `-£3.50`.
    pub fn format(self, money: Money) -> String {
        let rules = self.0;
        let number = self.number(money);
        let symbol = self.symbol(money.currency);
        let minus = if money.amount < 0 {
            rules.minus.to_string()
        } else {
            String::new()
        };
        match rules.placement {
            Placement::Before => {
                // CLDR currency spacing: a symbol ending in a letter (`CHF`, `USD`) keeps a
                // no-break space from the digits; one ending in a sign (`$`, `US$`) touches them.
                let spacing = if symbol.chars().last().is_some_and(|c| !is_currency_sign(c)) {
                    NBSP.to_string()
                } else {
                    String::new()
                };
                format!("{minus}{symbol}{spacing}{number}")
            }
            Placement::BeforeSpaced => format!("{minus}{symbol}{NBSP}{number}"),
            Placement::BeforeSpacedMinusInside => format!("{symbol}{NBSP}{minus}{number}"),
            Placement::After => format!("{minus}{number}{NBSP}{symbol}"),
        }
    }

    /// The amount's digits with this locale's separators, without sign or symbol: `1,234.56`.
    fn number(self, money: Money) -> String {
        let rules = self.0;
        let units = money.amount.unsigned_abs();
        let decimals = money.currency.decimals();
        let scale = 10u64.pow(decimals);
        let whole = (units / scale).to_string();
        let mut out = String::with_capacity(whole.len() + 8);
        // Group by threes from the right once the whole part has enough digits.
        let grouped = whole.len() >= 3 + rules.min_grouping;
        for (i, digit) in whole.chars().enumerate() {
            let from_right = whole.len() - i;
            if grouped && i > 0 && from_right.is_multiple_of(3) {
                out.push(rules.group);
            }
            out.push(digit);
        }
        if decimals > 0 {
            out.push(rules.decimal);
            out.push_str(&format!("{:0width$}", units % scale, width = decimals as usize));
        }
        out
    }
}

/// Unicode's currency signs (category `Sc`), which CLDR lets touch the digits.
fn is_currency_sign(c: char) -> bool {
    matches!(c, '$' | '\u{a2}'..='\u{a5}' | '\u{20a0}'..='\u{20c0}' | '\u{fe69}' | '\u{ff04}' | '\u{ffe0}' | '\u{ffe1}' | '\u{ffe5}' | '\u{ffe6}')
}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locale({})", self.0.tag)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.tag)
    }
}

impl std::hash::Hash for Locale {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.tag.hash(state);
    }
}

impl Default for Locale {
    fn default() -> Self {
        Self::EN_US
    }
}

impl TryFrom<String> for Locale {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Locale> for String {
    fn from(value: Locale) -> Self {
        value.tag().to_owned()
    }
}

impl serde::Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.tag())
    }
}

impl<'de> serde::Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tag = String::deserialize(deserializer)?;
        Self::parse(&tag).map_err(serde::de::Error::custom)
    }
}

impl Money {
    /// This amount as a reader of `locale` writes it: `$57.55` (en-US), `57,55 €` (de-DE),
    /// `€ -3,50` (nl-NL). `Display` stays the feeds' `57.55 USD`.
    pub fn display(&self, locale: Locale) -> String {
        locale.format(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::cldr::MINUS;
    use super::*;
    use proptest::prelude::*;

    fn money(amount: i64, currency: &str) -> Money {
        Money::new(amount, Currency::parse(currency).unwrap())
    }

    fn show(tag: &str, amount: i64, currency: &str) -> String {
        money(amount, currency).display(Locale::parse(tag).unwrap())
    }

    #[test]
    fn american_english_writes_dollars_with_the_sign_in_front_and_commas_between_thousands() {
        assert_eq!(show("en-US", 5755, "usd"), "$57.55");
        assert_eq!(show("en-US", 123_456, "usd"), "$1,234.56");
        assert_eq!(show("en-US", 12_345_678_900, "usd"), "$123,456,789.00");
        assert_eq!(show("en-US", 5, "usd"), "$0.05");
        assert_eq!(show("en-US", 0, "usd"), "$0.00");
        assert_eq!(show("en-US", 1_250, "eur"), "€12.50");
    }

    #[test]
    fn a_refund_or_a_discount_reads_with_a_minus_where_the_locale_puts_it() {
        assert_eq!(show("en-US", -350, "usd"), "-$3.50");
        assert_eq!(show("de-DE", -350, "eur"), "-3,50\u{a0}€");
        assert_eq!(show("nl-NL", -123_456, "eur"), "€\u{a0}-1.234,56");
        assert_eq!(show("de-AT", -350, "eur"), "-€\u{a0}3,50");
        assert_eq!(show("sv-SE", -350, "sek"), "\u{2212}3,50\u{a0}kr");
    }

    #[test]
    fn european_locales_write_the_comma_the_separator_and_the_symbol_as_cldr_does() {
        assert_eq!(show("de-DE", 123_456, "eur"), "1.234,56\u{a0}€");
        assert_eq!(show("de-DE", 1_250, "eur"), "12,50\u{a0}€");
        assert_eq!(show("fr-FR", 123_456, "eur"), "1\u{202f}234,56\u{a0}€");
        assert_eq!(show("fr-CA", 123_456, "cad"), "1\u{a0}234,56\u{a0}$");
        assert_eq!(show("nl-NL", 123_456, "eur"), "€\u{a0}1.234,56");
        assert_eq!(show("da-DK", 123_456, "dkk"), "1.234,56\u{a0}kr.");
        assert_eq!(show("pl-PL", 123_456, "pln"), "1234,56\u{a0}zł");
        assert_eq!(show("pl-PL", 1_234_567, "pln"), "12\u{a0}345,67\u{a0}zł");
        assert_eq!(show("es-ES", 123_456, "eur"), "1234,56\u{a0}€");
        assert_eq!(show("es-ES", 1_234_567, "eur"), "12.345,67\u{a0}€");
    }

    #[test]
    fn english_outside_the_united_states_tells_its_dollars_apart() {
        assert_eq!(show("en-GB", 123_456, "gbp"), "£1,234.56");
        assert_eq!(show("en-GB", 5755, "usd"), "US$57.55");
        assert_eq!(show("en-CA", 5755, "cad"), "$57.55");
        assert_eq!(show("en-CA", 5755, "usd"), "US$57.55");
        assert_eq!(show("en-IE", 1_250, "eur"), "€12.50");
        assert_eq!(show("en-AU", 5755, "aud"), "$57.55");
        assert_eq!(show("en-AU", 5755, "usd"), "USD\u{a0}57.55");
    }

    #[test]
    fn a_symbol_that_ends_in_a_letter_keeps_a_space_from_the_digits() {
        assert_eq!(show("en-US", 1_250, "chf"), "CHF\u{a0}12.50");
        assert_eq!(show("en-US", -1_250, "chf"), "-CHF\u{a0}12.50");
        assert_eq!(
            show("en-US", 1_250, "xyz"),
            "XYZ\u{a0}12.50",
            "an unknown currency is its code"
        );
    }

    #[test]
    fn a_zero_decimal_currency_has_no_fraction() {
        assert_eq!(show("en-US", 1_235, "jpy"), "¥1,235");
        assert_eq!(show("ja-JP", 1_235, "jpy"), "￥1,235");
        assert_eq!(show("de-DE", 1_235, "jpy"), "1.235\u{a0}¥");
        assert_eq!(show("en-US", 5_124, "kwd"), "KWD\u{a0}5.124", "three decimals");
    }

    #[test]
    fn locales_parse_in_any_case_and_unknown_ones_are_named_with_the_choice() {
        assert_eq!(Locale::parse("en_us").unwrap(), Locale::EN_US);
        assert_eq!(Locale::parse("DE-de").unwrap().tag(), "de-DE");
        let error = Locale::parse("xx-YY").unwrap_err();
        assert!(error.contains("xx-YY") && error.contains("en-GB"), "{error}");
        assert!(Locale::parse("en").is_err());
        assert_eq!(Locale::SUPPORTED.len(), LOCALES.len());
        assert_eq!(Locale::SUPPORTED[0], "en-US");
    }

    /// The amount a formatted string shows, read back from its digits and its minus sign.
    fn read_back(text: &str) -> i128 {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let units: i128 = digits.parse().unwrap();
        if text.contains('-') || text.contains(MINUS) {
            -units
        } else {
            units
        }
    }

    proptest! {
        #[test]
        fn the_digits_written_always_read_back_as_the_amount(
            amount in any::<i64>(),
            locale in 0..LOCALES.len(),
            currency in prop::sample::select(&[
                "usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "sek", "dkk", "nok", "pln", "jpy", "kwd", "xyz",
            ][..]),
        ) {
            let money = money(amount, currency);
            let text = money.display(Locale(&LOCALES[locale]));
            prop_assert_eq!(read_back(&text), i128::from(amount), "{}", text);
            // Exactly the currency's digits follow the one decimal separator.
            let decimals = money.currency.decimals() as usize;
            if decimals > 0 {
                let decimal = LOCALES[locale].decimal;
                prop_assert_eq!(text.matches(decimal).count(), 1, "{}", text);
                let after: String = text
                    .rsplit(decimal)
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                prop_assert_eq!(after.len(), decimals, "{}", text);
            }
        }
    }
}
