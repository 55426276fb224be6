//! The stocks a new catalog starts with: the built-in Asterix-themed default, or a JSON file.
//!
//! A seed is only used when the store is empty (the first start); later starts keep what is
//! stored. The file is still parsed on every start so a bad file is reported at once.

use bazaar_nats::StockName;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One stock to create on first start.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedStock {
    /// Unique name.
    pub name: StockName,
    /// Price per share: finite and not negative.
    pub price: f64,
    /// Shares available at the start.
    pub quantity: u64,
}

/// Why a stocks file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read the stocks file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not a JSON array of `{"name", "price", "quantity"}` objects.
    #[error(
        "the stocks file {path} is not a JSON array of {{\"name\", \"price\", \"quantity\"}}: {source}"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// One entry breaks a rule.
    #[error("stock #{index} in the stocks file: {message}")]
    Invalid {
        /// Position in the array, from 1.
        index: usize,
        /// Which rule it broke.
        message: String,
    },
    /// The file lists no stocks at all.
    #[error("the stocks file lists no stocks")]
    Empty,
}

/// One entry as written in the file, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStock {
    name: String,
    price: f64,
    quantity: u64,
}

/// The built-in seed: ten stocks of a small Gaulish village, 100 shares each.
pub fn default_stocks() -> Vec<SeedStock> {
    const DEFAULT: [(&str, f64); 10] = [
        ("GameStart", 15.99),
        ("FishCo", 4.25),
        ("BoarCo", 22.50),
        ("MenhirCo", 48.00),
        ("PotionCo", 99.95),
        ("DruidWorks", 37.10),
        ("RomanRoads", 12.30),
        ("GaulWine", 8.75),
        ("BardSongs", 1.05),
        ("ShieldBearers", 27.40),
    ];
    DEFAULT
        .iter()
        .map(|&(name, price)| SeedStock {
            name: StockName::parse(name).expect("built-in stock names are valid"),
            price,
            quantity: 100,
        })
        .collect()
}

/// Reads and validates a stocks file.
///
/// # Errors
/// A [`SeedError`] saying why the file cannot be used.
pub fn load_stocks_file(path: &Path) -> Result<Vec<SeedStock>, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_stocks(&text).map_err(|e| match e {
        SeedError::Parse { source, .. } => SeedError::Parse {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    })
}

/// Parses and validates the text of a stocks file: a non-empty JSON array of
/// `{"name", "price", "quantity"}` with valid, unique names, finite non-negative prices and
/// whole-number quantities.
///
/// # Errors
/// A [`SeedError`] naming the first problem found.
pub fn parse_stocks(text: &str) -> Result<Vec<SeedStock>, SeedError> {
    let raw: Vec<RawStock> = serde_json::from_str(text).map_err(|source| SeedError::Parse {
        path: PathBuf::new(),
        source,
    })?;
    if raw.is_empty() {
        return Err(SeedError::Empty);
    }
    let mut seen = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let invalid = |message: String| SeedError::Invalid {
                index: i + 1,
                message,
            };
            let name = StockName::parse(raw.name).map_err(|e| invalid(e.0))?;
            if !raw.price.is_finite() || raw.price < 0.0 {
                return Err(invalid(format!(
                    "the price of {name} must be a finite number >= 0"
                )));
            }
            if !seen.insert(name.clone()) {
                return Err(invalid(format!("{name} is listed twice")));
            }
            Ok(SeedStock {
                name,
                price: raw.price,
                quantity: raw.quantity,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_holds_the_required_stocks_with_100_shares_each() {
        let stocks = default_stocks();
        assert!(stocks.len() >= 10);
        for required in ["GameStart", "FishCo", "BoarCo", "MenhirCo"] {
            assert!(
                stocks.iter().any(|s| s.name.as_str() == required),
                "{required}"
            );
        }
        assert!(stocks.iter().all(|s| s.quantity == 100));
        let game_start = stocks.iter().find(|s| s.name.as_str() == "GameStart");
        assert_eq!(game_start.map(|s| s.price), Some(15.99));
        let names: HashSet<_> = stocks.iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), stocks.len(), "names are unique");
    }

    #[test]
    fn a_valid_file_parses_in_order() {
        let stocks = parse_stocks(
            r#"[{"name":"Obelix","price":3.5,"quantity":7},{"name":"Dogmatix","price":0,"quantity":0}]"#,
        )
        .unwrap();
        assert_eq!(stocks.len(), 2);
        assert_eq!(stocks[0].name.as_str(), "Obelix");
        assert_eq!(stocks[0].price, 3.5);
        assert_eq!(stocks[0].quantity, 7);
        assert_eq!(stocks[1].price, 0.0);
    }

    #[test]
    fn a_file_that_is_not_an_array_is_refused() {
        let err = parse_stocks(r#"{"name":"Obelix"}"#).unwrap_err();
        assert!(matches!(err, SeedError::Parse { .. }), "{err}");
    }

    #[test]
    fn an_empty_array_is_refused() {
        assert!(matches!(parse_stocks("[]"), Err(SeedError::Empty)));
    }

    #[test]
    fn a_bad_name_is_refused_with_its_position() {
        let err = parse_stocks(
            r#"[{"name":"Ok","price":1,"quantity":1},{"name":"bad name","price":1,"quantity":1}]"#,
        )
        .unwrap_err();
        assert!(matches!(err, SeedError::Invalid { index: 2, .. }), "{err}");
        assert!(err.to_string().contains("stock #2"), "{err}");
    }

    #[test]
    fn a_negative_price_is_refused() {
        let err = parse_stocks(r#"[{"name":"Ok","price":-1,"quantity":1}]"#).unwrap_err();
        assert!(err.to_string().contains("price"), "{err}");
    }

    #[test]
    fn a_negative_or_fractional_quantity_is_refused() {
        assert!(parse_stocks(r#"[{"name":"Ok","price":1,"quantity":-1}]"#).is_err());
        assert!(parse_stocks(r#"[{"name":"Ok","price":1,"quantity":1.5}]"#).is_err());
    }

    #[test]
    fn missing_and_unknown_fields_are_refused() {
        assert!(parse_stocks(r#"[{"name":"Ok","price":1}]"#).is_err());
        assert!(parse_stocks(r#"[{"name":"Ok","price":1,"quantity":1,"colour":"red"}]"#).is_err());
    }

    #[test]
    fn a_name_listed_twice_is_refused() {
        let err = parse_stocks(
            r#"[{"name":"Ok","price":1,"quantity":1},{"name":"Ok","price":2,"quantity":1}]"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn an_unreadable_file_names_its_path() {
        let err = load_stocks_file(Path::new("/no/such/stocks.json")).unwrap_err();
        assert!(err.to_string().contains("/no/such/stocks.json"), "{err}");
    }
}
