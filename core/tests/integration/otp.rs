//! The OTP engine: the shared RFC vectors in `tests/vectors/*.json`, the exact
//! DataInput bytes, input refusals, and property tests over the public API.

use latchkey_core::otp::{
    ChallengeKind, HashAlgorithm, Hotp, InputKind, OcraChallenge, OcraInputs, OcraPin, OcraSuite,
    OcraTime, OtpError, OtpKey, Totp,
};
use latchkey_core::secret::SecretBytes;
use proptest::prelude::*;
use serde_json::Value;

use crate::vectors;

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

#[test]
fn every_rfc6287_appendix_c_vector_reproduces() {
    let doc = vectors("ocra-rfc6287.json");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 70, "all of Appendix C");
    for case in cases {
        let suite: OcraSuite = text(&case["suite"]).parse().unwrap();
        let key = OtpKey::from_hex(text(&doc["keys"][text(&case["key"])])).unwrap();
        let challenge = match text(&case["mode"]) {
            "one-way" => OcraChallenge::OneWay(text(&case["challenge"])),
            "signature" => OcraChallenge::Signature(text(&case["challenge"])),
            "mutual-server" => OcraChallenge::MutualServer {
                client: text(&case["client"]),
                server: text(&case["server"]),
            },
            "mutual-client" => OcraChallenge::MutualClient {
                server: text(&case["server"]),
                client: text(&case["client"]),
            },
            other => panic!("unknown mode {other}"),
        };
        let inputs = OcraInputs {
            counter: case.get("counter").and_then(Value::as_u64),
            pin: case
                .get("pin")
                .and_then(Value::as_str)
                .map(|p| OcraPin::Pin(p.as_bytes())),
            session: None,
            time: case
                .get("time_steps")
                .and_then(Value::as_u64)
                .map(OcraTime::Steps),
        };
        let expected = text(&case["response"]);
        let response = suite.response(&key, &challenge, &inputs).unwrap();
        assert_eq!(response.as_str(), expected, "{case}");
        assert!(suite.verify(&key, &challenge, &inputs, expected).unwrap());
    }
}

#[test]
fn pin_hash_input_equals_hashing_the_pin() {
    // RFC 6287's PIN "1234" given as its SHA-1 hash.
    let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN08-PSHA1".parse().unwrap();
    let key = OtpKey::from_hex("3132333435363738393031323334353637383930313233343536373839303132")
        .unwrap();
    let hash = HashAlgorithm::Sha1.digest(b"1234");
    assert_eq!(
        latchkey_core::encoding::encode_hex(&hash),
        "7110eda4d09e062aa5e4a390b0a572ac0d2c0220"
    );
    let inputs = OcraInputs {
        pin: Some(OcraPin::Hash(&hash)),
        ..Default::default()
    };
    let response = suite
        .response(&key, &OcraChallenge::OneWay("00000000"), &inputs)
        .unwrap();
    assert_eq!(response.as_str(), "83238735");
}

#[test]
fn every_rfc4226_appendix_d_vector_reproduces() {
    let doc = vectors("hotp-rfc4226.json");
    let key = OtpKey::from_hex(text(&doc["key"])).unwrap();
    let hotp = Hotp::new(text(&doc["algorithm"]).parse().unwrap(), 6).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let counter = case["counter"].as_u64().unwrap();
        let code = text(&case["code"]);
        assert_eq!(hotp.generate(&key, counter).as_str(), code);
        // Found by a look-ahead window that starts at 0 and covers it.
        assert_eq!(hotp.verify(&key, code, 0, 9), Some(counter));
    }
}

#[test]
fn every_rfc6238_appendix_b_vector_reproduces() {
    let doc = vectors("totp-rfc6238.json");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for case in cases {
        let name = text(&case["algorithm"]);
        let key = OtpKey::from_hex(text(&doc["keys"][name])).unwrap();
        let totp = Totp::new(
            name.parse().unwrap(),
            doc["digits"].as_u64().unwrap() as u32,
            doc["period"].as_u64().unwrap(),
            doc["t0"].as_u64().unwrap(),
        )
        .unwrap();
        let time = case["time"].as_u64().unwrap();
        assert_eq!(
            totp.generate_at(&key, time).unwrap().as_str(),
            text(&case["code"]),
            "{case}"
        );
    }
}

/// The DataInput for a numeric challenge, checked against the whole 128-byte field.
#[test]
fn numeric_challenge_fills_the_question_field_as_the_rfc_says() {
    let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap();
    let inputs = OcraInputs {
        time: Some(OcraTime::Steps(0x0102)),
        ..Default::default()
    };
    let message = suite
        .data_input(&OcraChallenge::OneWay("123456"), &inputs)
        .unwrap();

    let mut expected = b"OCRA-1:HOTP-SHA256-8:QN06-T1M".to_vec();
    expected.push(0x00);
    // 123456 = 0x1E240: five nibbles, so the odd one is padded with 0 → 1E 24 00,
    // then the field is zero-filled to 128 bytes.
    let mut question = [0u8; 128];
    question[..3].copy_from_slice(&[0x1e, 0x24, 0x00]);
    expected.extend_from_slice(&question);
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x01, 0x02]);
    assert_eq!(message, expected);
    assert_eq!(message.len(), 29 + 1 + 128 + 8);
}

#[test]
fn leading_zeros_of_a_numeric_challenge_carry_no_meaning() {
    let suite: OcraSuite = "OCRA-1:HOTP-SHA1-6:QN08".parse().unwrap();
    let none = OcraInputs::default();
    let field = |q: &str| {
        let message = suite.data_input(&OcraChallenge::OneWay(q), &none).unwrap();
        message[message.len() - 128..].to_vec()
    };
    assert_eq!(field("00001234"), field("1234"));
    // 1234 = 0x4D2 → 4D 20, the rest zero.
    let q = field("1234");
    assert_eq!(&q[..2], &[0x4d, 0x20]);
    assert!(q[2..].iter().all(|&b| b == 0));
    // 000001 = 0x1 → 10; 000016 = 0x10 → 10: the same field. This is why
    // Latchkey's challenges are drawn from 100000–999999 (docs/PROTOCOL.md).
    assert_eq!(field("000001")[0], 0x10);
    assert_eq!(field("000001"), field("000016"));
}

#[test]
fn session_information_is_left_padded_and_hex_challenges_right_padded() {
    let suite: OcraSuite = "OCRA-1:HOTP-SHA1-6:QH08-S008".parse().unwrap();
    let inputs = OcraInputs {
        session: Some(&[0xaa, 0xbb]),
        ..Default::default()
    };
    assert!(matches!(
        suite.data_input(&OcraChallenge::OneWay("ABC"), &inputs),
        Err(OtpError::ChallengeLength { len: 3, .. })
    ));
    let message = suite
        .data_input(&OcraChallenge::OneWay("abc12"), &inputs)
        .unwrap();
    assert_eq!(
        &message[message.len() - 8..],
        &[0, 0, 0, 0, 0, 0, 0xaa, 0xbb]
    );
    // An odd hex challenge is padded with a zero nibble on the right.
    let q_start = "OCRA-1:HOTP-SHA1-6:QH08-S008".len() + 1;
    assert_eq!(&message[q_start..q_start + 4], &[0xab, 0xc1, 0x20, 0x00]);
}

#[test]
fn truncation_zero_is_refused_with_the_reason() {
    let error = "OCRA-1:HOTP-SHA1-0:QN08".parse::<OcraSuite>().unwrap_err();
    assert_eq!(error, OtpError::UntruncatedResponse);
    assert!(error.to_string().contains("RFC 6287 leaves the encoding"));
}

#[test]
fn malformed_suites_are_refused_with_what_is_wrong() {
    let refused = [
        ("", "three parts"),
        ("OCRA-2:HOTP-SHA1-6:QN08", "version"),
        ("ocra-1:HOTP-SHA1-6:QN08", "version"),
        ("OCRA-1:TOTP-SHA1-6:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1-06:QN08", "truncation"),
        ("OCRA-1:HOTP-SHA1-6:QX08", "format"),
        ("OCRA-1:HOTP-SHA1-6:QN8", "two digits"),
        ("OCRA-1:HOTP-SHA1-6:QN65", "outside 04–64"),
        ("OCRA-1:HOTP-SHA1-6:QN03", "outside 04–64"),
        ("OCRA-1:HOTP-SHA1-6:C", "challenge"),
        ("OCRA-1:HOTP-SHA1-6:QN08-C", "C must come first"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", "P must come once"),
        ("OCRA-1:HOTP-SHA1-6:QN08-S000", "session length"),
        ("OCRA-1:HOTP-SHA1-6:QN08-S64", "session length"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T60M", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T0S", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T01M", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1D", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-PIN", "PIN part"),
        ("OCRA-1:HOTP-SHA1-6:QN08-X", "unknown data input part"),
        ("OCRA-1:HOTP-SHA1-6:QN08:extra", "three parts"),
    ];
    for (suite, words) in refused {
        match suite.parse::<OcraSuite>() {
            Err(OtpError::MalformedSuite(reason)) => {
                assert!(reason.contains(words), "{suite}: {reason}");
            }
            other => panic!("{suite}: {other:?}"),
        }
    }
    assert_eq!(
        "OCRA-1:HOTP-MD5-6:QN08".parse::<OcraSuite>(),
        Err(OtpError::UnknownHash("MD5".into()))
    );
    assert_eq!(
        "OCRA-1:HOTP-SHA1-6:QN08-PSHA384".parse::<OcraSuite>(),
        Err(OtpError::UnknownHash("SHA384".into()))
    );
    assert!(matches!(
        "OCRA-1:HOTP-SHA1-11:QN08".parse::<OcraSuite>(),
        Err(OtpError::DigitsOutOfRange { digits: 11, .. })
    ));
    assert!(matches!(
        "OCRA-1:HOTP-SHA1-3:QN08".parse::<OcraSuite>(),
        Err(OtpError::DigitsOutOfRange { digits: 3, .. })
    ));
}

#[test]
fn challenges_outside_the_suite_are_refused() {
    let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap();
    let key = OtpKey::from_hex("00112233445566778899").unwrap();
    let at = OcraInputs {
        time: Some(OcraTime::UnixSeconds(1_700_000_000)),
        ..Default::default()
    };
    let respond = |q: &str| suite.response(&key, &OcraChallenge::OneWay(q), &at);
    assert_eq!(
        respond("1234567"),
        Err(OtpError::ChallengeLength {
            len: 7,
            min: 4,
            max: 6
        })
    );
    assert_eq!(
        respond("123"),
        Err(OtpError::ChallengeLength {
            len: 3,
            min: 4,
            max: 6
        })
    );
    assert_eq!(
        respond("12a456"),
        Err(OtpError::ChallengeCharacter {
            position: 2,
            found: 'a',
            expected: "an ASCII digit"
        })
    );
    // Arabic-Indic and full-width digits are digits to Unicode, not to OCRA.
    assert!(matches!(
        respond("12٣456"),
        Err(OtpError::ChallengeCharacter { position: 2, .. })
    ));
    assert!(matches!(
        respond("１23456"),
        Err(OtpError::ChallengeCharacter { position: 0, .. })
    ));
    assert!(respond("123456").is_ok());

    let alpha: OcraSuite = "OCRA-1:HOTP-SHA256-8:QA08".parse().unwrap();
    assert!(matches!(
        alpha.response(
            &key,
            &OcraChallenge::OneWay("AB CD"),
            &OcraInputs::default()
        ),
        Err(OtpError::ChallengeCharacter {
            position: 2,
            found: ' ',
            ..
        })
    ));
    assert!(matches!(
        alpha.response(
            &key,
            &OcraChallenge::MutualServer {
                client: "CLI22220",
                server: "SRV111100"
            },
            &OcraInputs::default()
        ),
        Err(OtpError::ChallengeLength { len: 9, max: 8, .. })
    ));
}

#[test]
fn inputs_must_match_the_suite_exactly() {
    let key = OtpKey::from_hex("00112233445566778899").unwrap();
    let q = OcraChallenge::OneWay("12345678");
    let full: OcraSuite = "OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1-S016-T30S".parse().unwrap();
    let all = OcraInputs {
        counter: Some(1),
        pin: Some(OcraPin::Pin(b"1234")),
        session: Some(b"session"),
        time: Some(OcraTime::UnixSeconds(90)),
    };
    assert!(full.response(&key, &q, &all).is_ok());
    for (without, kind) in [
        (
            OcraInputs {
                counter: None,
                ..all
            },
            InputKind::Counter,
        ),
        (OcraInputs { pin: None, ..all }, InputKind::Pin),
        (
            OcraInputs {
                session: None,
                ..all
            },
            InputKind::Session,
        ),
        (OcraInputs { time: None, ..all }, InputKind::Timestamp),
    ] {
        assert_eq!(
            full.response(&key, &q, &without),
            Err(OtpError::MissingInput(kind))
        );
    }
    let bare: OcraSuite = "OCRA-1:HOTP-SHA1-6:QN08".parse().unwrap();
    let none = OcraInputs::default();
    for (with, kind) in [
        (
            OcraInputs {
                counter: Some(0),
                ..none
            },
            InputKind::Counter,
        ),
        (
            OcraInputs {
                pin: Some(OcraPin::Pin(b"1")),
                ..none
            },
            InputKind::Pin,
        ),
        (
            OcraInputs {
                session: Some(b"s"),
                ..none
            },
            InputKind::Session,
        ),
        (
            OcraInputs {
                time: Some(OcraTime::Steps(1)),
                ..none
            },
            InputKind::Timestamp,
        ),
    ] {
        assert_eq!(
            bare.response(&key, &q, &with),
            Err(OtpError::UnexpectedInput(kind))
        );
    }
    assert_eq!(
        full.response(
            &key,
            &q,
            &OcraInputs {
                session: Some(&[0u8; 17]),
                ..all
            }
        ),
        Err(OtpError::SessionTooLong { len: 17, max: 16 })
    );
    assert_eq!(
        full.response(
            &key,
            &q,
            &OcraInputs {
                pin: Some(OcraPin::Hash(&[0u8; 32])),
                ..all
            }
        ),
        Err(OtpError::PinHashLength {
            len: 32,
            expected: 20,
            algorithm: HashAlgorithm::Sha1
        })
    );
    assert_eq!(
        full.response(&key, &OcraChallenge::Signature("12345678"), &all),
        Err(OtpError::SessionInSignature)
    );
}

#[test]
fn time_window_reports_the_offset_that_matched() {
    let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap();
    let key = OtpKey::from_hex("00112233445566778899").unwrap();
    let q = OcraChallenge::OneWay("654321");
    let at = |steps| OcraInputs {
        time: Some(OcraTime::Steps(steps)),
        ..Default::default()
    };
    let phone = suite.response(&key, &q, &at(1000)).unwrap();
    for (server_steps, expected) in [
        (1000, Some(0)),
        (1002, Some(-2)),
        (998, Some(2)),
        (1003, None),
        (997, None),
    ] {
        assert_eq!(
            suite
                .verify_time_window(&key, &q, &at(server_steps), phone.as_str(), 2, 2)
                .unwrap(),
            expected,
            "server at {server_steps}"
        );
    }
    // A wrong response matches nowhere in the window.
    let wrong = if phone.as_str() == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    assert_eq!(
        suite
            .verify_time_window(&key, &q, &at(1000), wrong, 2, 2)
            .unwrap(),
        None
    );
    // Unix seconds are divided by the step.
    let late_in_step = OcraInputs {
        time: Some(OcraTime::UnixSeconds(60_000 + 59)),
        ..Default::default()
    };
    assert_eq!(suite.response(&key, &q, &late_in_step).unwrap(), phone);
}

fn suite_strategy() -> impl Strategy<Value = String> {
    let hash = || prop_oneof![Just("SHA1"), Just("SHA256"), Just("SHA512")];
    (
        hash(),
        4u32..=10,
        any::<bool>(),
        prop_oneof![Just('A'), Just('N'), Just('H')],
        4u32..=64,
        proptest::option::of(hash()),
        proptest::option::of(1u32..=512),
        proptest::option::of(prop_oneof![
            (1u32..=59).prop_map(|n| format!("{n}S")),
            (1u32..=59).prop_map(|n| format!("{n}M")),
            (1u32..=48).prop_map(|n| format!("{n}H")),
        ]),
    )
        .prop_map(|(hash, digits, c, kind, len, pin, session, time)| {
            let mut s = format!("OCRA-1:HOTP-{hash}-{digits}:");
            if c {
                s.push_str("C-");
            }
            s.push_str(&format!("Q{kind}{len:02}"));
            if let Some(p) = pin {
                s.push_str(&format!("-P{p}"));
            }
            if let Some(n) = session {
                s.push_str(&format!("-S{n:03}"));
            }
            if let Some(t) = time {
                s.push_str(&format!("-T{t}"));
            }
            s
        })
}

fn challenge_for(suite: &OcraSuite, seed: u64) -> String {
    let alphabet: &[u8] = match suite.challenge().kind() {
        ChallengeKind::Numeric => b"0123456789",
        ChallengeKind::Hex => b"0123456789abcdefABCDEF",
        _ => b"ABCXYZabcxyz0189",
    };
    (0..suite.challenge().max_len() as usize)
        .map(|i| alphabet[((seed >> (i % 64)) as usize + i) % alphabet.len()] as char)
        .collect()
}

proptest! {
    #[test]
    fn a_valid_suite_prints_back_to_its_string(text in suite_strategy()) {
        let suite: OcraSuite = text.parse().unwrap();
        prop_assert_eq!(suite.to_string(), text);
    }

    /// Anything that parses at all prints back to exactly what was parsed.
    #[test]
    fn any_string_that_parses_is_canonical(
        text in "OCRA-1:HOTP-SHA[0-9]{1,3}-[0-9]{1,2}:(C-)?Q[ANHX][0-9]{1,3}(-PSHA[0-9]{1,3})?(-S[0-9]{1,4})?(-T[0-9]{1,3}[SMHX])?"
    ) {
        if let Ok(suite) = text.parse::<OcraSuite>() {
            prop_assert_eq!(suite.to_string(), text);
        }
    }

    #[test]
    fn responses_always_have_the_suites_digits(
        text in suite_strategy(),
        key in proptest::collection::vec(any::<u8>(), 1..80),
        seed in any::<u64>(),
    ) {
        let suite: OcraSuite = text.parse().unwrap();
        let key = OtpKey::new(SecretBytes::new(key)).unwrap();
        let challenge = challenge_for(&suite, seed);
        let session = vec![7u8; suite.session_len().unwrap_or(0) as usize];
        let inputs = OcraInputs {
            counter: suite.uses_counter().then_some(seed),
            pin: suite.pin_hash().map(|_| OcraPin::Pin(b"123456")),
            session: suite.session_len().map(|_| session.as_slice()),
            time: suite.time_step().map(|_| OcraTime::UnixSeconds(seed)),
        };
        let response = suite.response(&key, &OcraChallenge::OneWay(&challenge), &inputs).unwrap();
        prop_assert_eq!(response.as_str().len(), suite.digits() as usize);
        prop_assert!(response.as_str().bytes().all(|b| b.is_ascii_digit()));
        prop_assert!(suite.verify(&key, &OcraChallenge::OneWay(&challenge), &inputs, response.as_str()).unwrap());
    }

    #[test]
    fn no_string_panics_the_suite_parser(text in "\\PC*") {
        let _ = text.parse::<OcraSuite>();
    }

    #[test]
    fn no_suite_like_string_panics_the_suite_parser(
        text in "OCRA-1:HOTP-[A-Z0-9]{0,7}-[0-9]{0,3}:[-A-Z0-9]{0,30}"
    ) {
        let _ = text.parse::<OcraSuite>();
    }

    #[test]
    fn no_challenge_counter_session_pin_or_time_panics(
        text in suite_strategy(),
        challenge in "\\PC{0,140}",
        other in "\\PC{0,140}",
        counter in proptest::option::of(any::<u64>()),
        session in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..600)),
        pin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..70)),
        time in proptest::option::of(any::<u64>()),
        as_hash in any::<bool>(),
    ) {
        let suite: OcraSuite = text.parse().unwrap();
        let key = OtpKey::from_hex("0011").unwrap();
        let inputs = OcraInputs {
            counter,
            pin: pin.as_deref().map(|p| if as_hash { OcraPin::Hash(p) } else { OcraPin::Pin(p) }),
            session: session.as_deref(),
            time: time.map(OcraTime::UnixSeconds),
        };
        for q in [
            OcraChallenge::OneWay(&challenge),
            OcraChallenge::Signature(&challenge),
            OcraChallenge::MutualServer { client: &challenge, server: &other },
            OcraChallenge::MutualClient { server: &other, client: &challenge },
        ] {
            if let Ok(response) = suite.response(&key, &q, &inputs) {
                prop_assert_eq!(response.as_str().len(), suite.digits() as usize);
            }
            let _ = suite.verify_time_window(&key, &q, &inputs, &other, 3, 3);
        }
    }

    #[test]
    fn no_string_panics_the_key_parser(text in "\\PC*") {
        let _ = OtpKey::from_hex(&text);
    }

    #[test]
    fn hotp_and_totp_codes_have_their_digits(
        key in proptest::collection::vec(any::<u8>(), 1..80),
        counter in any::<u64>(),
        digits in 6u32..=8,
        period in 1u64..1000,
        t0 in any::<u64>(),
    ) {
        let key = OtpKey::new(SecretBytes::new(key)).unwrap();
        let hotp = Hotp::new(HashAlgorithm::Sha1, digits).unwrap();
        prop_assert_eq!(hotp.generate(&key, counter).as_str().len(), digits as usize);
        let totp = Totp::new(HashAlgorithm::Sha512, digits, period, t0).unwrap();
        match totp.generate_at(&key, counter) {
            Ok(code) => prop_assert_eq!(code.as_str().len(), digits as usize),
            Err(e) => prop_assert_eq!(e, OtpError::TimeBeforeEpoch { time: counter, t0 }),
        }
    }
}
