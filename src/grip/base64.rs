//! Lenient base64, as Pushpin decodes `*-bin` fields: characters outside the
//! standard alphabet (padding, whitespace, `-`, `_`) are skipped, leftover
//! bits are dropped, and decoding never fails.

/// Decodes leniently; never fails.
pub fn decode_lenient(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient() {
        assert_eq!(decode_lenient("aGk="), b"hi");
        assert_eq!(decode_lenient("a G\nk"), b"hi");
        assert_eq!(decode_lenient("AAEC/w=="), vec![0, 1, 2, 255]);
        assert_eq!(decode_lenient("!!!"), b"");
        // padding in the middle is skipped, not an end marker (Qt does this too)
        assert_eq!(decode_lenient("aGk=aGk="), b"hi\x1a\x1a");
    }
}
