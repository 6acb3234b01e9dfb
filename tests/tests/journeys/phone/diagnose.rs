//! Notification troubleshooting (DESIGN §1.6) against the real verifier: ported
//! from `core/src/device/authenticator/diagnose.rs` (issue 17).

use super::{TestPhone, queue_notice, require_password_reset, revoked_notice, world};
use latchkey_core::device::{Finding, FindingKind};
use latchkey_server::store::StoreExt;
use std::sync::atomic::Ordering;

fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
    findings.iter().map(|f| f.kind.clone()).collect()
}

#[test]
fn a_healthy_phone_has_no_findings_and_is_registered_again() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let findings = phone
        .authenticator
        .diagnose(account, true, Some("push-token-9".to_owned()))
        .unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    let enrollment = phone.enrollment_of(account);
    let record = world
        .server()
        .state()
        .store
        .in_transaction(|tx| tx.enrollment(&enrollment))
        .unwrap()
        .unwrap();
    assert_eq!(record.push_token.as_deref(), Some("push-token-9"));
}

#[test]
fn each_reason_comes_with_the_step_to_take() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    // The server's clock runs 5 minutes ahead of the phone's.
    world.advance(300);
    require_password_reset(&world, "alice", true);
    let findings = phone.authenticator.diagnose(account, false, None).unwrap();
    assert_eq!(
        kinds(&findings),
        [
            FindingKind::NotificationsDisabled,
            FindingKind::NoPushToken,
            FindingKind::PasswordResetRequired,
            FindingKind::ClockOff {
                offset_seconds: 300
            },
        ]
    );
    assert!(
        findings
            .iter()
            .all(|f| !f.text.is_empty() && !f.step.is_empty())
    );
    assert!(findings[3].text.contains("300 seconds behind"));

    phone.offline.store(true, Ordering::SeqCst);
    let findings = phone
        .authenticator
        .diagnose(account, true, Some("t".to_owned()))
        .unwrap();
    assert_eq!(
        kinds(&findings),
        [
            FindingKind::Offline,
            FindingKind::ClockOff {
                offset_seconds: 300
            }
        ]
    );
    assert!(findings[0].step.contains("challenge/response"));
}

#[test]
fn a_replaced_phone_is_told_so() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    let notice = revoked_notice(&world, enrollment, epoch, Some("Anna's iPhone 16"));
    queue_notice(&world, enrollment, notice);
    let findings = phone
        .authenticator
        .diagnose(account, true, Some("t".to_owned()))
        .unwrap();
    assert!(matches!(
        &kinds(&findings)[..],
        [FindingKind::Replaced { by, .. }] if by == "Anna's iPhone 16"
    ));
    assert!(findings[0].text.contains("Anna's iPhone 16"));
}
