//! The phone routes of `docs/PROTOCOL.md` §7: the one table of paths that the
//! phone's transport posts to and the server's router serves. Every route is a
//! `POST` of a phone-signed envelope.

/// The prefix every phone route shares.
pub const PREFIX: &str = "/v1/phone";
/// `POST /v1/phone/activate`: `activation-request` → receipt, or 202 outcome.
pub const ACTIVATE: &str = "/v1/phone/activate";
/// `POST /v1/phone/sync`: `sync-request` → `sync-answer`.
pub const SYNC: &str = "/v1/phone/sync";
/// `POST /v1/phone/request`: `fetch-request` → `login-request`.
pub const REQUEST: &str = "/v1/phone/request";
/// `POST /v1/phone/approve`: `approval` → `{"outcome": "approved"}`.
pub const APPROVE: &str = "/v1/phone/approve";
/// `POST /v1/phone/deny`: `denial` → `{"outcome": "denied"}`.
pub const DENY: &str = "/v1/phone/deny";
/// `POST /v1/phone/proof`: `pin-proof` → `{"outcome": …}`.
pub const PROOF: &str = "/v1/phone/proof";
/// `POST /v1/phone/rekey`: `rekey-request` → `rekey-ticket`.
pub const REKEY: &str = "/v1/phone/rekey";
/// `POST /v1/phone/pin`: `pin-change` → `{"outcome": "pin_changed"}`.
pub const PIN: &str = "/v1/phone/pin";
/// `POST /v1/phone/remove`: `removal` → `notice` (Revoked).
pub const REMOVE: &str = "/v1/phone/remove";

/// Every phone route.
pub const ALL: [&str; 9] = [
    ACTIVATE, SYNC, REQUEST, APPROVE, DENY, PROOF, REKEY, PIN, REMOVE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phone_route_is_under_the_prefix_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for path in ALL {
            let rest = path.strip_prefix(PREFIX).unwrap();
            assert!(rest.starts_with('/') && rest.len() > 1, "{path}");
            assert!(seen.insert(path), "{path} twice");
        }
    }
}
