//! Addresses as a postal service reads them: the recipient, the street, the locality in the
//! order of the address's country (`San Francisco, CA 94105` in the United States,
//! `10115 Berlin` in Germany, town and postcode on lines of their own in Britain), and the
//! country's name in English. The orders follow the postal services' own rules as Google's
//! address data (libaddressinput) records them; every mail and the packing slip write an
//! address this way.

use crate::order::{Address, CountryCode};

/// How a country writes the line (or lines) of city, region and postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locality {
    /// `San Francisco, CA 94105` (United States).
    CityCommaRegionPostcode,
    /// `Toronto ON M5V 2T6`, `Sydney NSW 2000`, `Auckland 1010` (Canada, Australia, New Zealand).
    CityRegionPostcode,
    /// The town, the county and the postcode each on a line of its own (Britain, Ireland).
    CityRegionPostcodeLines,
    /// `00144 Roma RM`, `28001 Madrid Madrid` (Italy, Spain: the province after the city).
    PostcodeCityRegion,
    /// `10115 Berlin`, a region on a line of its own (most of Europe, and every country the
    /// table does not name).
    PostcodeCity,
}

fn locality_of(country: &str) -> Locality {
    match country {
        "US" | "PR" => Locality::CityCommaRegionPostcode,
        "CA" | "AU" | "NZ" => Locality::CityRegionPostcode,
        "GB" | "IE" | "IM" | "JE" | "GG" => Locality::CityRegionPostcodeLines,
        "IT" | "ES" => Locality::PostcodeCityRegion,
        _ => Locality::PostcodeCity,
    }
}

/// English names of the countries a shop most often ships to (CLDR's English short names);
/// other codes are written as the code.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BE", "Belgium"),
    ("BG", "Bulgaria"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("EE", "Estonia"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GG", "Guernsey"),
    ("GR", "Greece"),
    ("HK", "Hong Kong"),
    ("HR", "Croatia"),
    ("HU", "Hungary"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IM", "Isle of Man"),
    ("IN", "India"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("JE", "Jersey"),
    ("JP", "Japan"),
    ("KR", "South Korea"),
    ("LI", "Liechtenstein"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("MC", "Monaco"),
    ("MT", "Malta"),
    ("MX", "Mexico"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NZ", "New Zealand"),
    ("PL", "Poland"),
    ("PR", "Puerto Rico"),
    ("PT", "Portugal"),
    ("RO", "Romania"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("SI", "Slovenia"),
    ("SK", "Slovakia"),
    ("US", "United States"),
    ("ZA", "South Africa"),
];

/// The country's name in English (`Germany`), or its code where the table has none.
pub fn country_name(country: &CountryCode) -> &str {
    COUNTRY_NAMES
        .binary_search_by(|(code, _)| code.cmp(&country.as_str()))
        .map(|i| COUNTRY_NAMES[i].1)
        .unwrap_or_else(|_| country.as_str())
}

impl Address {
    /// The address as the lines a postal service of its country expects: the recipient, the
    /// street lines, the locality in the country's order, then the country's name in English.
    pub fn postal_lines(&self) -> Vec<String> {
        let field = |value: &str| value.split_whitespace().collect::<Vec<_>>().join(" ");
        let optional = |value: &Option<String>| value.as_deref().map(field).filter(|v| !v.is_empty());
        let (city, postcode, region) = (field(&self.city), field(&self.postal_code), optional(&self.region));
        let joined = |parts: &[Option<&str>]| parts.iter().flatten().copied().collect::<Vec<_>>().join(" ");
        let mut lines = vec![field(&self.name), field(&self.line1)];
        lines.extend(optional(&self.line2));
        match locality_of(self.country.as_str()) {
            Locality::CityCommaRegionPostcode => {
                let rest = joined(&[region.as_deref(), Some(&postcode)]);
                lines.push(format!("{city}, {rest}"));
            }
            Locality::CityRegionPostcode => lines.push(joined(&[Some(&city), region.as_deref(), Some(&postcode)])),
            Locality::CityRegionPostcodeLines => {
                lines.push(city);
                lines.extend(region);
                lines.push(postcode);
            }
            Locality::PostcodeCityRegion => lines.push(joined(&[Some(&postcode), Some(&city), region.as_deref()])),
            Locality::PostcodeCity => {
                lines.push(joined(&[Some(&postcode), Some(&city)]));
                lines.extend(region);
            }
        }
        lines.push(country_name(&self.country).to_owned());
        lines.retain(|line| !line.is_empty());
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(country: &str, city: &str, region: Option<&str>, postal_code: &str) -> Address {
        Address {
            name: "Ada Lovelace".into(),
            line1: "1 Analytical Way".into(),
            line2: None,
            city: city.into(),
            region: region.map(str::to_owned),
            postal_code: postal_code.into(),
            country: CountryCode::parse(country).unwrap(),
        }
    }

    fn locality(lines: &[String]) -> Vec<&str> {
        lines[2..].iter().map(String::as_str).collect()
    }

    #[test]
    fn an_american_address_reads_city_comma_state_and_zip() {
        let lines = address("US", "San Francisco", Some("CA"), "94105").postal_lines();
        assert_eq!(
            lines,
            [
                "Ada Lovelace",
                "1 Analytical Way",
                "San Francisco, CA 94105",
                "United States"
            ]
        );
    }

    #[test]
    fn canada_and_australia_write_city_province_and_postcode_on_one_line_without_a_comma() {
        let canada = address("CA", "Toronto", Some("ON"), "M5V 2T6").postal_lines();
        assert_eq!(locality(&canada), ["Toronto ON M5V 2T6", "Canada"]);
        let australia = address("AU", "Sydney", Some("NSW"), "2000").postal_lines();
        assert_eq!(locality(&australia), ["Sydney NSW 2000", "Australia"]);
    }

    #[test]
    fn britain_and_ireland_put_town_and_postcode_on_lines_of_their_own() {
        let britain = address("GB", "London", None, "N1 9GU").postal_lines();
        assert_eq!(locality(&britain), ["London", "N1 9GU", "United Kingdom"]);
        let ireland = address("IE", "Dublin", Some("Co. Dublin"), "D02 X285").postal_lines();
        assert_eq!(locality(&ireland), ["Dublin", "Co. Dublin", "D02 X285", "Ireland"]);
    }

    #[test]
    fn most_of_europe_writes_the_postcode_before_the_city() {
        for (country, city, postcode, name) in [
            ("DE", "Berlin", "10115", "Germany"),
            ("FR", "Paris", "75001", "France"),
            ("NL", "Amsterdam", "1012 AB", "Netherlands"),
        ] {
            let lines = address(country, city, None, postcode).postal_lines();
            assert_eq!(locality(&lines), [format!("{postcode} {city}").as_str(), name]);
        }
        let italy = address("IT", "Roma", Some("RM"), "00144").postal_lines();
        assert_eq!(locality(&italy), ["00144 Roma RM", "Italy"]);
    }

    #[test]
    fn a_country_the_table_does_not_name_is_written_by_its_code_in_the_european_order() {
        let lines = address("ZZ", "Somewhere", Some("North"), "1234").postal_lines();
        assert_eq!(locality(&lines), ["1234 Somewhere", "North", "ZZ"]);
    }

    #[test]
    fn the_second_street_line_is_kept_and_stray_spaces_are_not() {
        let mut flat = address("US", " New  York ", Some("NY"), "10001");
        flat.line2 = Some("Apt 4B".into());
        flat.name = "  Ada   Lovelace ".into();
        assert_eq!(
            flat.postal_lines(),
            [
                "Ada Lovelace",
                "1 Analytical Way",
                "Apt 4B",
                "New York, NY 10001",
                "United States"
            ]
        );
        flat.line2 = Some("   ".into());
        assert_eq!(flat.postal_lines().len(), 4, "an empty second line is left out");
    }

    #[test]
    fn the_country_names_are_sorted_for_the_lookup() {
        assert!(COUNTRY_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for code in ["US", "CA", "GB", "DE", "FR", "NL"] {
            let code = CountryCode::parse(code).unwrap();
            assert_ne!(country_name(&code), code.as_str(), "{code} has a name");
        }
    }
}
