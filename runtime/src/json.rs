//! JSON for the values that need care: `f64` fields that may hold NaN or an infinity (a
//! validation accuracy is NaN for a network without class labels), which JSON has no literal
//! for, so they are written as the strings `"NaN"`, `"inf"` and `"-inf"`.

/// `#[serde(with = "crate::json::float")]`: finite values as numbers, the others as strings.
pub mod float {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes `value` as a number, or as `"NaN"`, `"inf"` or `"-inf"`.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        match *value {
            v if v.is_finite() => serializer.serialize_f64(v),
            v if v.is_nan() => serializer.serialize_str("NaN"),
            v if v > 0.0 => serializer.serialize_str("inf"),
            _ => serializer.serialize_str("-inf"),
        }
    }

    /// Reads what [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Word(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(v) => Ok(v),
            Written::Word(word) => match word.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(D::Error::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", found {word:?}"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug)]
    struct Value(#[serde(with = "super::float")] f64);

    #[test]
    fn every_float_round_trips_through_json() {
        for v in [0.0, -1.5e-300, 3.25, f64::MAX, f64::INFINITY, f64::NEG_INFINITY] {
            let text = serde_json::to_string(&Value(v)).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap().0, v, "{text}");
        }
        let nan = serde_json::to_string(&Value(f64::NAN)).unwrap();
        assert_eq!(nan, "\"NaN\"");
        assert!(serde_json::from_str::<Value>(&nan).unwrap().0.is_nan());
        let error = serde_json::from_str::<Value>("\"many\"").unwrap_err().to_string();
        assert!(error.contains("\"many\""), "{error}");
    }

    /// Reading a float back gives the same bits (a resumed run's history must be the saved
    /// one): 100,000 doubles spread over every exponent.
    #[test]
    fn floats_read_back_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let v = f64::from_bits(state);
            if v.is_finite() {
                let text = serde_json::to_string(&Value(v)).unwrap();
                assert_eq!(
                    serde_json::from_str::<Value>(&text).unwrap().0.to_bits(),
                    v.to_bits(),
                    "{text}"
                );
            }
        }
    }
}
