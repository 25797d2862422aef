//! The payload the built-in writers write: deterministic, nested JSON of a chosen size.
//!
//! Pure code. `payload(size_bytes, generation)` is a function of its arguments only, so the
//! harness can recompute the old and new versions without running anything. Two generations
//! differ from the first line on (`"generation": G` leads the document) and in every record
//! (names, tags and values all depend on the generation), so a file mixing an old prefix with a
//! new suffix, or torn anywhere, never equals either version.
//!
//! Shape: `{"generation":G,"records":[{"id":..,"generation":G,"name":"..","tags":[..],
//! "nested":{"checksum":..,"values":[..],"child":{"label":"..","enabled":..,"depth":..}}},...],
//! "padding":"..."}`. Records are added while they fit, then `padding` brings the document to
//! exactly `size_bytes`. Below the size of the smallest such document (no records, empty padding)
//! the smallest document is returned.

use std::fmt::Write as _;

use crate::rng::SplitMix64;

const WORDS: [&str; 16] = [
    "amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
    "juniper", "krypton", "lagoon", "meadow", "nebula", "onyx", "prairie",
];

/// The payload of `generation`, `size_bytes` long (see the module docs for sizes below the
/// smallest document).
pub fn payload(size_bytes: usize, generation: u64) -> Vec<u8> {
    let mut doc = format!("{{\"generation\":{generation},\"records\":[");
    let mut rng = generator(generation);
    let tail_min = TAIL_OPEN.len() + TAIL_CLOSE.len();
    let mut record = String::new();
    for id in 0u64.. {
        record.clear();
        if id > 0 {
            record.push(',');
        }
        write_record(&mut record, id, generation, &mut rng);
        if doc.len() + record.len() + tail_min > size_bytes {
            break;
        }
        doc.push_str(&record);
    }
    doc.push_str(TAIL_OPEN);
    let padding = size_bytes.saturating_sub(doc.len() + TAIL_CLOSE.len());
    for _ in 0..padding {
        doc.push(char::from(b'a' + (rng.next_u64() % 26) as u8));
    }
    doc.push_str(TAIL_CLOSE);
    doc.into_bytes()
}

const TAIL_OPEN: &str = "],\"padding\":\"";
const TAIL_CLOSE: &str = "\"}";

fn write_record(out: &mut String, id: u64, generation: u64, rng: &mut SplitMix64) {
    let word = |rng: &mut SplitMix64| WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
    let name = word(rng);
    let _ = write!(
        out,
        "{{\"id\":{id},\"generation\":{generation},\"name\":\"{name}-{generation}-{id}\","
    );
    let tags = [word(rng), word(rng), word(rng)];
    let _ = write!(
        out,
        "\"tags\":[\"{}\",\"{}\",\"{}\"],",
        tags[0], tags[1], tags[2]
    );
    let checksum = rng.next_u64();
    let values = [
        rng.next_u64() % 100_000,
        rng.next_u64() % 1_000,
        rng.next_u64() % 10_000_000,
        rng.next_u64() % 10,
    ];
    let _ = write!(
        out,
        "\"nested\":{{\"checksum\":{checksum},\"values\":[{},{},{},{}],",
        values[0], values[1], values[2], values[3]
    );
    let (label, enabled, depth) = (word(rng), rng.next_u64() % 2 == 0, rng.next_u64() % 8);
    let _ = write!(
        out,
        "\"child\":{{\"label\":\"{label}-{}\",\"enabled\":{enabled},\"depth\":{depth}}}}}}}",
        word(rng)
    );
}

/// The generator of `generation`'s payload: seeded from the generation, so each differs.
fn generator(generation: u64) -> SplitMix64 {
    SplitMix64::new(generation.wrapping_mul(0xa076_1d64_78bd_642f) ^ 0xe703_7ed1_a0b4_28db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("payload must be valid JSON")
    }

    #[test]
    fn is_valid_nested_json_with_records() {
        let doc = parse(&payload(64 * 1024, 2));
        assert_eq!(doc["generation"], 2);
        let records = doc["records"].as_array().expect("records array");
        assert!(
            records.len() > 100,
            "only {} records in 64 KiB",
            records.len()
        );
        assert_eq!(records[3]["id"], 3);
        assert!(records[3]["nested"]["child"]["label"].is_string());
    }

    #[test]
    fn has_exactly_the_requested_size() {
        for size in [64, 200, 1000, 4096, 4097, 65_536, 1 << 20] {
            let bytes = payload(size, 7);
            assert_eq!(bytes.len(), size, "size {size}");
            parse(&bytes);
        }
    }

    #[test]
    fn tiny_sizes_give_the_smallest_document() {
        let smallest = payload(0, 1);
        assert_eq!(
            smallest,
            b"{\"generation\":1,\"records\":[],\"padding\":\"\"}"
        );
        assert_eq!(payload(5, 1), smallest);
        parse(&smallest);
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(payload(10_000, 3), payload(10_000, 3));
    }

    #[test]
    fn generations_differ_at_the_start_and_in_every_kilobyte() {
        let (old, new) = (payload(64 * 1024, 1), payload(64 * 1024, 2));
        let first_diff = old.iter().zip(&new).position(|(a, b)| a != b);
        assert!(
            first_diff.is_some_and(|at| at < 20),
            "first difference at {first_diff:?}"
        );
        for (chunk, (a, b)) in old.chunks(1024).zip(new.chunks(1024)).enumerate() {
            assert_ne!(a, b, "KiB {chunk} is the same in both generations");
        }
    }
}
