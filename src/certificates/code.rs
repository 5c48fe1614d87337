//! Verification codes: 12 random Crockford base32 characters and a check character, shown as
//! `XXXX-XXXX-XXXX-C`. Typing is forgiving: case, spaces, dashes, and the letters Crockford
//! maps to digits (O→0, I and L→1) are all accepted; the check character catches any single
//! mistyped character and any swap of two neighbours.
use rand::Rng;

/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of randomness (60 bits).
pub const RANDOM_LEN: usize = 12;
/// Characters of a code without separators.
pub const CODE_LEN: usize = RANDOM_LEN + 1;

fn value_of(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The Luhn mod 32 check value of the data characters.
fn check_value(values: &[u32]) -> u32 {
    let mut factor = 2;
    let mut sum = 0;
    for v in values.iter().rev() {
        let addend = factor * v;
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / 32 + addend % 32;
    }
    (32 - sum % 32) % 32
}

fn symbol(v: u32) -> char {
    char::from(ALPHABET[(v % 32) as usize])
}

/// A fresh code (without separators).
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let values: Vec<u32> = (0..RANDOM_LEN).map(|_| rng.gen_range(0..32)).collect();
    let mut code: String = values.iter().map(|v| symbol(*v)).collect();
    code.push(symbol(check_value(&values)));
    code
}

/// The canonical form of a typed code, or `None` when it is not a well-formed code (wrong
/// length, a character outside the alphabet, or a failed check).
pub fn normalize(input: &str) -> Option<String> {
    let mut values = Vec::with_capacity(CODE_LEN);
    for c in input.chars() {
        if c == '-' || c == ' ' || c == '\u{2010}' || c == '\u{2013}' {
            continue;
        }
        values.push(value_of(c)?);
    }
    if values.len() != CODE_LEN {
        return None;
    }
    let (data, check) = values.split_at(RANDOM_LEN);
    (check_value(data) == check[0]).then(|| values.iter().map(|v| symbol(*v)).collect())
}

/// A code as people read it: `XXXX-XXXX-XXXX-C`.
pub fn display(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_codes_check_and_read_back() {
        for _ in 0..200 {
            let code = generate();
            assert_eq!(code.len(), CODE_LEN);
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
            assert_eq!(normalize(&display(&code).to_lowercase()).unwrap(), code);
        }
    }

    #[test]
    fn one_wrong_character_or_a_swap_is_caught() {
        let code = generate();
        let chars: Vec<char> = code.chars().collect();
        for i in 0..CODE_LEN {
            for &a in ALPHABET {
                let c = char::from(a);
                if c == chars[i] {
                    continue;
                }
                let mut typo = chars.clone();
                typo[i] = c;
                assert!(normalize(&typo.iter().collect::<String>()).is_none());
            }
        }
        for i in 0..CODE_LEN - 1 {
            // Luhn mod N misses one swap: the first and last symbols of the alphabet.
            let pair = [chars[i], chars[i + 1]];
            if chars[i] == chars[i + 1] || pair == ['0', 'Z'] || pair == ['Z', '0'] {
                continue;
            }
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            assert!(
                normalize(&swapped.iter().collect::<String>()).is_none(),
                "{code} swap at {i}"
            );
        }
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let code = "0000000000010";
        let check = normalize(code);
        // Whatever the check says, O and I read as 0 and 1.
        assert_eq!(normalize("OOOOOOOOOOOIO"), check);
        assert_eq!(normalize("12"), None);
        assert_eq!(normalize("ÄBCDEFGHJKMNP"), None);
    }
}
