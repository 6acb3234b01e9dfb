//! Every journey of DESIGN §1 end to end — the real phone core against the real
//! server over HTTP on loopback — one test per journey, and the attacks.

// Test helpers may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app;
mod attacks;
mod phone;
mod push_registration;

use latchkey_journeys::journeys::{self, PIN};
use latchkey_journeys::{Phone, Transcript, World};

fn world() -> World {
    World::start().unwrap()
}

fn with_phone(world: &World, username: &str) -> Phone {
    journeys::activation(
        world,
        &Transcript::quiet(),
        username,
        "US",
        &format!("{username}'s phone"),
    )
    .unwrap()
}

#[test]
fn activation_by_sms_code_makes_the_phone_the_accounts_authenticator() {
    let world = world();
    let phone = with_phone(&world, "anna");
    // Secrets at rest: the PIN is nowhere in the phone's files.
    assert!(!phone.files_contain(PIN.as_bytes()));
}

#[test]
fn a_push_login_is_approved_with_the_typed_code_and_pin() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::push_login_with_pin(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn a_push_login_is_approved_with_the_fingerprint_until_a_new_one_invalidates_it() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::push_login_with_biometric(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn this_wasnt_me_denies_reports_pauses_pushes_and_forces_a_reset() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::deny_and_report(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn an_offline_phone_logs_in_by_challenge_and_response() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::offline_challenge_response(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn a_move_approved_on_the_old_phone_wipes_the_old_one() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::move_approved_on_old_phone(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn a_lost_phone_move_is_held_cancellable_and_completes_after_the_hold() {
    let world = world();
    let phone = with_phone(&world, "bob");
    journeys::lost_phone_replacement(&world, &Transcript::quiet(), &phone, "bob").unwrap();
}

#[test]
fn wrong_pins_delay_then_require_a_reset_then_disable_the_phone() {
    let world = world();
    let phone = with_phone(&world, "carol");
    journeys::wrong_pins(&world, &Transcript::quiet(), &phone, "carol").unwrap();
}

#[test]
fn an_sms_account_logs_in_by_sms_new_code_and_voice_callback() {
    let world = world();
    journeys::sms_and_voice_login(&world, &Transcript::quiet(), "sam").unwrap();
}

#[test]
fn a_phone_number_change_needs_the_phones_pin_proof_and_spends_it() {
    let world = world();
    journeys::phone_number_change(&world, &Transcript::quiet()).unwrap();
}

#[test]
fn hong_kong_and_india_cannot_opt_out_and_others_can_after_a_step_up() {
    let world = world();
    journeys::opt_outs(&world, &Transcript::quiet()).unwrap();
}

#[test]
fn notification_diagnosis_finds_the_causes_and_clears_after_re_registering() {
    let world = world();
    let phone = with_phone(&world, "anna");
    journeys::notification_diagnosis(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn the_demo_plays_every_journey_on_one_server() {
    let world = world();
    let transcript = Transcript::quiet();
    let outcomes = journeys::all(&world, &transcript);
    let failed: Vec<_> = outcomes.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{failed:?}\n{}",
        transcript.lines().join("\n")
    );
    assert!(outcomes.len() >= 11, "{outcomes:?}");
}
