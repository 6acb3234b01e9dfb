//! The `Authenticator` object itself against the real verifier: ported from
//! `core/src/device/authenticator/mod.rs` (issue 17).

use super::{PIN, TestPhone, server_k_user, world};
use latchkey_core::device::{AuthenticatorError, Unlock};
use latchkey_core::encoding::encode_hex;

#[test]
fn debug_of_unlock_and_authenticator_types_shows_no_secret() {
    let unlock = Unlock::pin(PIN);
    assert_eq!(format!("{unlock:?}"), "Unlock::Pin([redacted])");
    let error = AuthenticatorError::WrongResponse {
        attempts_left: Some(3),
        retry_after: None,
    };
    assert!(!format!("{error:?} {error}").contains(PIN));

    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let printed = format!(
        "{:?} {:?} {:?}",
        phone.authenticator,
        phone.authenticator.account(account).unwrap(),
        phone.authenticator.history().unwrap()
    );
    assert!(!printed.contains(PIN), "{printed}");
    let k_user = server_k_user(&world, &phone.enrollment_of(account));
    for secret in [
        encode_hex(k_user.expose_secret()),
        format!("{:?}", k_user.expose_secret()),
    ] {
        assert!(!printed.contains(&secret[..16]), "{printed}");
    }
}

#[test]
fn one_authenticator_serves_several_threads_at_once() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let authenticator = &phone.authenticator;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(move || {
                    authenticator.sync(account, None, true).unwrap();
                    authenticator
                        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
                        .unwrap()
                        .response
                })
            })
            .collect();
        let responses: Vec<String> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(responses.windows(2).all(|pair| pair[0] == pair[1]));
    });
    assert_eq!(phone.authenticator.history().unwrap().len(), 4);
}

#[test]
fn the_history_reports_tampering_as_a_typed_error() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    assert_eq!(phone.authenticator.history().unwrap().len(), 1);
    phone
        .authenticator
        .store_for_tests()
        .connection_for_tests()
        .execute_batch("UPDATE history_entry SET summary = 'nothing happened'")
        .unwrap();
    assert!(matches!(
        phone.authenticator.history(),
        Err(AuthenticatorError::HistoryTampered(_))
    ));
}
