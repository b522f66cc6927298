//! Any text as `FASTGATE_ALLOWED_TYPES`, checked against any name and first bytes: parsing and
//! checking never panic, and a parsed rule list prints to one that parses to the same rules.
#![no_main]

use fastgate::upload::rules::AllowedTypes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &[u8])| {
    let (rules, name, head) = input;
    if let Ok(types) = rules.parse::<AllowedTypes>() {
        let _ = types.check(name, head);
        let _ = types.check_name(name);
        let printed = types.accept_attribute();
        if !printed.is_empty() {
            let again: AllowedTypes = printed.parse().expect("printed rules parse");
            assert_eq!(again.accept_attribute(), printed);
        }
    }
});
