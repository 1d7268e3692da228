//! Tax rates by destination, exclusive (added on top) or inclusive (VAT, already in prices).

use super::*;

/// How a tax rate applies to prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Added on top of prices (US sales tax).
    #[default]
    Exclusive,
    /// Already inside prices (VAT).
    Inclusive,
}

/// The tax of one country, with optional regional rates (US states, Canadian provinces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryTax {
    /// The country-wide rate.
    #[serde(default)]
    pub rate_bp: BasisPoints,
    /// Whether prices include it.
    #[serde(default)]
    pub mode: TaxMode,
    /// Rates of regions that differ, by region code.
    #[serde(default)]
    pub regions: BTreeMap<String, BasisPoints>,
}

/// The store's tax rates by ISO country code; a country not listed is not taxed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaxTable(pub BTreeMap<String, CountryTax>);

/// The rate that applies to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaxRate {
    /// Rate in basis points.
    pub rate_bp: BasisPoints,
    /// Whether prices include it.
    pub mode: TaxMode,
}

impl TaxTable {
    /// The rate for a country and, where it has its own, a region.
    pub fn rate_for(&self, country: &str, region: Option<&str>) -> TaxRate {
        let Some(tax) = self.0.get(country) else {
            return TaxRate::default();
        };
        let regional = region.and_then(|r| tax.regions.get(&r.to_ascii_uppercase()));
        TaxRate {
            rate_bp: regional.copied().unwrap_or(tax.rate_bp),
            mode: tax.mode,
        }
    }
}
