//! The one parser of byte sizes on the command line: `2048`, `64KiB`, `64K`, `1MiB`, `1G`.
//!
//! Units are binary (K = 1024) and case-insensitive; `B`, `KB`, `MB`, `GB` are read as their
//! binary counterparts, as `dd` and most users mean them. Zero is refused: nothing has size 0.

const KIB: u64 = 1 << 10;

/// Parses a size such as `64KiB` into bytes, or says what is wrong with it.
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let not_a_size = || format!("`{text}` is not a size: write bytes, e.g. 2048, 64KiB or 1MiB");
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => KIB,
        "m" | "mib" | "mb" => KIB << 10,
        "g" | "gib" | "gb" => KIB << 20,
        _ => return Err(not_a_size()),
    };
    let number: u64 = digits.parse().map_err(|_| not_a_size())?;
    number
        .checked_mul(multiplier)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("`{text}` is not a usable size: give 1 byte to 16 EiB"))
}

/// `1 KiB`, `64 KiB`, `1 MiB`, `1500 B`: exact binary units for labels.
pub fn format_size(bytes: u64) -> String {
    let mib = KIB << 10;
    if bytes >= mib && bytes % mib == 0 {
        format!("{} MiB", bytes / mib)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn units_are_binary_and_case_insensitive() {
        assert_eq!(parse_size_bytes("4096"), Ok(4096));
        assert_eq!(parse_size_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_size_bytes("64k"), Ok(64 * 1024));
        assert_eq!(parse_size_bytes("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size_bytes("2 GB"), Ok(2 << 30));
    }

    #[test]
    fn zero_junk_and_overflow_are_refused_with_the_text() {
        for bad in ["0", "", "12 parsecs", "-1", "1.5K", "99999999999999999999G"] {
            let error = parse_size_bytes(bad).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }

    proptest! {
        #[test]
        fn formatted_sizes_parse_back(bytes in 1u64..(1 << 40)) {
            let text = format_size(bytes).replace(' ', "");
            prop_assert_eq!(parse_size_bytes(&text), Ok(bytes));
        }
    }
}
