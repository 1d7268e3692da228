//! Configuration, read once when a function starts and refused loudly when incomplete.
//!
//! Values come from an [`Env`]: the process environment in Lambda, or the variables the
//! local gateway resolves from template.yaml for each function it hosts.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shop_domain::Currency;
use std::collections::HashMap;

/// A set of environment variables.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

/// A setting that is missing or cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Env {
    /// This process's environment.
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    /// A given set of variables.
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self(vars)
    }

    /// One variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Reads a typed settings struct whose fields are the variables in lower case
    /// (`SHOP_TABLE` fills `shop_table`).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        envy::from_iter(self.0.clone()).map_err(|error| ConfigError(error.to_string()))
    }
}

/// The merchant's store settings, set as template parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreSettings {
    /// The store's name, shown in mails and pages.
    pub store_name: String,
    /// The one currency the store sells in.
    pub store_currency: Currency,
    /// ISO 3166-1 alpha-2 codes of the countries the store ships to.
    pub ship_to_countries: Vec<String>,
}

/// Where the shop keeps its state.
#[derive(Debug, Clone, Deserialize)]
pub struct TableSettings {
    /// The single DynamoDB table's name.
    pub shop_table: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_settings_are_read_from_the_environment() {
        let env = Env::from_map(HashMap::from([
            ("STORE_NAME".to_owned(), "Demo".to_owned()),
            ("STORE_CURRENCY".to_owned(), "USD".to_owned()),
            ("SHIP_TO_COUNTRIES".to_owned(), "US,CA".to_owned()),
        ]));
        let settings: StoreSettings = env.parse().unwrap();
        assert_eq!(settings.store_currency.as_str(), "usd");
        assert_eq!(settings.ship_to_countries, ["US", "CA"]);
    }

    #[test]
    fn a_missing_setting_fails_at_start() {
        let error = Env::default().parse::<TableSettings>().unwrap_err();
        assert!(error.to_string().contains("shop_table"), "{error}");
    }
}
