//! The one check for text a user reads on the phone and decides on: the login
//! context (application, client, origin), device names and notice texts
//! (`docs/PROTOCOL.md` §4, "Texts shown to the user").
//!
//! A login request that reads "Client Portal — London" can be made to *render* as
//! something else with Unicode format characters: a right-to-left override
//! (U+202E) reverses what follows, isolates and embeddings reorder it, zero-width
//! characters hide or split words. Such text is refused, never "cleaned": the
//! server refuses it where it enters (the login API opening a session, an
//! activation naming its device) and the phone refuses it in every signed message
//! it shows, so neither a malicious nor an old server can make the phone show
//! disguised text.
//!
//! Invariant: [`check_display_text`] is a pure function of its input, shared by
//! the server and the phone; a refused text is reported as
//! [`ProtocolError::UnsafeText`] naming the field, never as a panic.

use super::ProtocolError;

/// Whether `c` may not appear in text shown to the user: controls (general
/// category Cc, tabs and newlines included), format characters (category Cf:
/// bidi embeddings, overrides, isolates and marks, zero-width spaces and joiners,
/// the byte-order mark, invisible operators, interlinear annotation, tags…), the
/// line and paragraph separators (Zl, Zp), and the invisible fillers that render
/// as nothing (combining grapheme joiner, Hangul fillers).
pub fn is_disguising(c: char) -> bool {
    c.is_control() || is_format(c) || is_invisible_filler(c)
}

/// General category Cf (format) as of Unicode 15.1, plus U+2028 and U+2029
/// (categories Zl and Zp), which break lines like a control.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Characters of other categories that render as nothing and are used to pad or
/// hide text.
fn is_invisible_filler(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// Checks a text the phone shows to its user: at most `max_bytes` bytes of
/// UTF-8, and no character [`is_disguising`]. `field` names it in the error.
pub fn check_display_text(
    text: &str,
    max_bytes: usize,
    field: &'static str,
) -> Result<(), ProtocolError> {
    if text.len() > max_bytes || text.chars().any(is_disguising) {
        return Err(ProtocolError::UnsafeText(field));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_places_and_scripts_pass() {
        for text in [
            "Client Portal",
            "Firefox 128 on Linux",
            "203.0.113.7 (Zürich)",
            "Anna's Pixel 9",
            "تطبيق العميل",
            "東京, 日本",
            "Ана — телефон",
            "👍🏽 phone",
            "",
        ] {
            assert_eq!(check_display_text(text, 256, "origin"), Ok(()), "{text}");
        }
    }

    #[test]
    fn bidi_overrides_isolates_marks_and_zero_width_characters_are_refused() {
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2028}',
            '\u{2029}',
            '\u{E0041}',
            '\u{3164}',
            '\n',
            '\t',
            '\u{0}',
            '\u{7F}',
            '\u{85}',
        ] {
            let text = format!("Client Portal {c}nodnoL");
            assert_eq!(
                check_display_text(&text, 256, "origin"),
                Err(ProtocolError::UnsafeText("origin")),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn a_text_longer_than_its_cap_is_refused() {
        let text = "é".repeat(129);
        assert_eq!(text.len(), 258);
        assert_eq!(
            check_display_text(&text, 256, "device name"),
            Err(ProtocolError::UnsafeText("device name"))
        );
        assert_eq!(check_display_text(&text[..256], 256, "device name"), Ok(()));
    }
}
