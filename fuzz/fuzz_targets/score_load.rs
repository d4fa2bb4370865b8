//! The Score loader and the YAML layer on arbitrary input: no panic; a
//! failure names the file and explains itself; what loads round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium_score::{load_str, yaml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = yaml::Limits::default();
    // The fast path and the line-tracking parser agree.
    assert_eq!(
        yaml::parse_value(&text, limits),
        yaml::parse_with_limits(&text, limits).map(|d| d.value)
    );
    match load_str("fuzz.yaml", &text, None) {
        Ok(w) => {
            let json = serde_json::to_string(&w.to_json()).expect("serialize");
            let again = load_str("again.json", &json, None).expect("the serialized workload loads");
            assert_eq!(again, w);
        }
        Err(report) => {
            assert!(!report.diagnostics.is_empty());
            for d in &report.diagnostics {
                assert_eq!(d.file, "fuzz.yaml");
                assert!(!d.message.trim().is_empty());
            }
        }
    }
});
