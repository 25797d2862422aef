//! A JSON validator (RFC 8259 grammar) that never recurses.
//!
//! The oracle only needs "is this one complete JSON value?". A recursive parser either rejects
//! deep documents (serde_json stops at 128 levels) or can overflow the stack on hostile input
//! (a torn file, a fuzzer). This one keeps an explicit stack of open containers, so depth costs
//! one byte of heap per level and any input is safe.

use std::fmt;

/// Where and why a document is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not JSON at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

/// What [`Parser::value`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A whole value was parsed.
    Complete,
    /// A non-empty container was opened; its first element comes next.
    Opened,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Array,
    Object,
}

/// Checks that `bytes` is exactly one JSON value, with optional surrounding whitespace.
pub fn validate(bytes: &[u8]) -> Result<(), JsonError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(JsonError {
            offset: e.valid_up_to(),
            expected: "UTF-8 text",
        });
    }
    let mut parser = Parser {
        bytes,
        pos: 0,
        stack: Vec::new(),
    };
    parser.document()
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Container>,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<(), JsonError> {
        loop {
            match self.value()? {
                Step::Opened => continue,
                Step::Complete if self.after_value()? => continue,
                Step::Complete => break,
            }
        }
        self.skip_whitespace();
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("end of input after the top-level value"),
        }
    }

    /// Parses one scalar or empty container, or opens a non-empty container whose first element
    /// the caller's loop parses next (never recursing).
    fn value(&mut self) -> Result<Step, JsonError> {
        self.skip_whitespace();
        let complete = |result: Result<(), JsonError>| result.map(|()| Step::Complete);
        match self.peek() {
            Some(b'{') => self.open(Container::Object, b'}'),
            Some(b'[') => self.open(Container::Array, b']'),
            Some(b'"') => complete(self.string()),
            Some(b't') => complete(self.literal(b"true")),
            Some(b'f') => complete(self.literal(b"false")),
            Some(b'n') => complete(self.literal(b"null")),
            Some(b'-' | b'0'..=b'9') => complete(self.number()),
            Some(_) | None => self.fail("a value"),
        }
    }

    fn open(&mut self, container: Container, close: u8) -> Result<Step, JsonError> {
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(Step::Complete);
        }
        self.stack.push(container);
        if container == Container::Object {
            self.key_and_colon()?;
        }
        Ok(Step::Opened)
    }

    /// After a complete value: closes finished containers. Returns true when another element
    /// follows (a value must be parsed next), false when the top-level value is complete.
    fn after_value(&mut self) -> Result<bool, JsonError> {
        while let Some(&container) = self.stack.last() {
            self.skip_whitespace();
            let close = match container {
                Container::Array => b']',
                Container::Object => b'}',
            };
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if container == Container::Object {
                        self.key_and_colon()?;
                    }
                    return Ok(true);
                }
                Some(byte) if byte == close => {
                    self.pos += 1;
                    self.stack.pop();
                }
                Some(_) | None => return self.fail("`,` or the end of the container"),
            }
        }
        Ok(false)
    }

    fn key_and_colon(&mut self) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return self.fail("a string key");
        }
        self.string()?;
        self.skip_whitespace();
        self.expect(b':', "`:` after the key")
    }

    fn string(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                Some(0x00..=0x1f) | None => return self.fail("the rest of a string"),
                Some(_) => self.pos += 1,
            }
        }
    }

    fn escape(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                for _ in 0..4 {
                    if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                        return self.fail("four hex digits after `\\u`");
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            Some(_) | None => self.fail("an escape character"),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("`true`, `false` or `null`")
        }
    }

    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            Some(_) | None => return self.fail("a digit"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.one_or_more_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.one_or_more_digits()?;
        }
        Ok(())
    }

    fn one_or_more_digits(&mut self) -> Result<(), JsonError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return self.fail("a digit");
        }
        self.digits();
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(expected)
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn fail<T>(&self, expected: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            offset: self.pos,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde_json as the reference, except that it skips strings without checking UTF-8, while
    /// RFC 8259 section 8.1 requires UTF-8 text.
    fn serde_accepts(bytes: &[u8]) -> bool {
        std::str::from_utf8(bytes).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    }

    #[test]
    fn accepts_json_values() {
        for text in [
            "0",
            "-0.5e+3",
            "\"a\\u00e9\\n\"",
            "true",
            " null ",
            "[]",
            "{}",
            "[1,[2,{\"a\":[]}],3]",
            "{\"a\":{\"b\":{}},\"c\":[true,false]}",
            "\"é\"",
        ] {
            assert_eq!(validate(text.as_bytes()), Ok(()), "{text}");
        }
    }

    #[test]
    fn rejects_broken_values_at_the_right_offset() {
        let cases = [
            ("", 0),
            ("[1,2", 4),
            ("{\"a\":1,}", 7),
            ("01", 1),
            ("1.", 2),
            ("[1 2]", 3),
            ("{\"a\" 1}", 5),
            ("\"abc", 4),
            ("tru", 0),
            ("{} {}", 3),
            ("\"\\x\"", 2),
            ("{1:2}", 1),
        ];
        for (text, offset) in cases {
            let err = validate(text.as_bytes()).expect_err(text);
            assert_eq!(err.offset, offset, "{text}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_fine() {
        let depth = 100_000;
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(validate(deep.as_bytes()), Ok(()));
        assert!(validate(&deep.as_bytes()[..deep.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_arbitrary_text(text in "[\\[\\]{}\",:0-9a-z.eE+\\- \\\\]{0,24}") {
            prop_assert_eq!(validate(text.as_bytes()).is_ok(), serde_accepts(text.as_bytes()), "{:?}", text);
        }

        #[test]
        fn agrees_with_serde_json_on_cut_and_spliced_json(
            value in any::<Vec<(String, Option<f64>, bool)>>(),
            cut in any::<prop::sample::Index>(),
            splice in any::<u8>(),
        ) {
            let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
            prop_assert_eq!(validate(&bytes).is_ok(), serde_accepts(&bytes));
            let at = cut.index(bytes.len());
            bytes[at] = splice;
            prop_assert_eq!(validate(&bytes).is_ok(), serde_accepts(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
            prop_assert_eq!(validate(&bytes[..at]).is_ok(), serde_accepts(&bytes[..at]));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = validate(&bytes);
        }
    }
}
