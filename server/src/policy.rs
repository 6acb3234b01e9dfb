//! The policy table: which accounts must keep two-factor authentication and which
//! matching modes their approvals may use, by jurisdiction.
//!
//! The table is data, not code paths (docs/DESIGN.md §1.7, §6): the built-in table is
//! `server/policy.json`, compiled in, and every decision goes through
//! [`PolicyTable::for_jurisdiction`]. The numbers of docs/DESIGN.md §5 are deployment
//! settings ([`crate::config::Limits`]), not per jurisdiction.
//!
//! Invariants, checked when a table is built: every policy allows the `code`
//! matching mode; a policy that makes 2FA mandatory (a *regulated* account) cites
//! its rule and never allows `tap`; a jurisdiction appears at most once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The built-in table (`server/policy.json`).
const BUILTIN_POLICY_JSON: &str = include_str!("../policy.json");

/// Why a jurisdiction code or a policy table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A jurisdiction that is not two ASCII letters (ISO 3166-1 alpha-2).
    #[error("a jurisdiction is an ISO 3166-1 alpha-2 code such as HK, IN or US")]
    BadJurisdiction,
    /// The table's JSON does not have the expected shape.
    #[error("the policy table is not valid JSON of the expected shape")]
    BadJson,
    /// A policy without the `code` matching mode.
    #[error("the policy for {0} does not allow the `code` matching mode")]
    CodeModeMissing(String),
    /// A policy that makes 2FA mandatory but allows `tap`.
    #[error("the policy for {0} makes 2FA mandatory but allows `tap`")]
    TapForRegulated(String),
    /// A policy that makes 2FA mandatory without citing its rule.
    #[error("the policy for {0} makes 2FA mandatory without a citation")]
    MissingCitation(String),
    /// A jurisdiction listed twice.
    #[error("the jurisdiction {0} is listed twice")]
    Duplicate(String),
}

/// A jurisdiction: an ISO 3166-1 alpha-2 code (`HK`, `IN`, `US`), stored upper-case.
///
/// Only the shape is checked (two ASCII letters), not ISO's list of assigned codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jurisdiction([u8; 2]);

impl Jurisdiction {
    /// The code, upper-case.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::str::FromStr for Jurisdiction {
    type Err = PolicyError;

    /// Two ASCII letters, in either case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(PolicyError::BadJurisdiction),
        }
    }
}

impl std::fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Jurisdiction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jurisdiction({})", self.as_str())
    }
}

/// How the user proves that the login they approve is the one on their screen:
/// the protocol's own [`latchkey_core::protocol::MatchingMode`] (one definition,
/// re-exported here for the policy's users), read from the table as `code` or `tap`.
pub use latchkey_core::protocol::MatchingMode;

/// Whether an account may turn two-factor authentication off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TwoFactorRule {
    /// 2FA cannot be turned off (a regulated account).
    Mandatory,
    /// 2FA may be turned off after a step-up (PIN proof), with a warning.
    Optional,
}

/// The policy that applies to an account, by its jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    two_factor_mandatory: bool,
    citation: Option<String>,
    modes: Vec<MatchingMode>,
}

impl Policy {
    /// Whether two-factor authentication is mandatory (the account is regulated).
    pub fn two_factor_mandatory(&self) -> bool {
        self.two_factor_mandatory
    }

    /// Whether the user may opt out of 2FA (after a step-up, with a warning).
    pub fn may_opt_out(&self) -> bool {
        !self.two_factor_mandatory
    }

    /// The rule that makes 2FA mandatory, to show to the user and put in logs.
    pub fn citation(&self) -> Option<&str> {
        self.citation.as_deref()
    }

    /// The matching modes allowed, `code` first.
    pub fn matching_modes(&self) -> &[MatchingMode] {
        &self.modes
    }

    /// Whether `mode` is allowed.
    pub fn allows(&self, mode: MatchingMode) -> bool {
        self.modes.contains(&mode)
    }
}

/// One row of the table's JSON form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowJson {
    #[serde(default)]
    jurisdiction: Option<String>,
    two_factor: TwoFactorRule,
    #[serde(default)]
    citation: Option<String>,
    matching_modes: Vec<MatchingMode>,
}

/// The table's JSON form (`server/policy.json`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableJson {
    v: u32,
    default: RowJson,
    jurisdictions: Vec<RowJson>,
}

/// Jurisdiction → [`Policy`], with a default for every jurisdiction not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTable {
    rules: BTreeMap<Jurisdiction, Policy>,
    default: Policy,
}

impl PolicyTable {
    /// The built-in table: Hong Kong and India make 2FA mandatory and allow only
    /// `code`; everywhere else 2FA is optional and both modes are allowed.
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::from_json(BUILTIN_POLICY_JSON)
    }

    /// Parses and checks a table in the JSON form of `server/policy.json`.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let table: TableJson = serde_json::from_str(text).map_err(|_| PolicyError::BadJson)?;
        if table.v != 1 || table.default.jurisdiction.is_some() {
            return Err(PolicyError::BadJson);
        }
        let default = Self::policy_from_row("the default", table.default)?;
        let mut rules = BTreeMap::new();
        for row in table.jurisdictions {
            let jurisdiction: Jurisdiction = row
                .jurisdiction
                .as_deref()
                .ok_or(PolicyError::BadJson)?
                .parse()?;
            let policy = Self::policy_from_row(jurisdiction.as_str(), row)?;
            if rules.insert(jurisdiction, policy).is_some() {
                return Err(PolicyError::Duplicate(jurisdiction.to_string()));
            }
        }
        Ok(Self { rules, default })
    }

    fn policy_from_row(name: &str, row: RowJson) -> Result<Policy, PolicyError> {
        let mut modes = row.matching_modes;
        modes.sort();
        modes.dedup();
        if !modes.contains(&MatchingMode::Code) {
            return Err(PolicyError::CodeModeMissing(name.to_owned()));
        }
        let citation = row.citation.filter(|c| !c.trim().is_empty());
        let two_factor_mandatory = row.two_factor == TwoFactorRule::Mandatory;
        if two_factor_mandatory {
            if modes.contains(&MatchingMode::Tap) {
                return Err(PolicyError::TapForRegulated(name.to_owned()));
            }
            if citation.is_none() {
                return Err(PolicyError::MissingCitation(name.to_owned()));
            }
        }
        Ok(Policy {
            two_factor_mandatory,
            citation,
            modes,
        })
    }

    /// The policy for an account in `jurisdiction`.
    pub fn for_jurisdiction(&self, jurisdiction: &Jurisdiction) -> &Policy {
        self.rules.get(jurisdiction).unwrap_or(&self.default)
    }

    /// The jurisdictions with a rule of their own.
    pub fn listed(&self) -> impl Iterator<Item = (&Jurisdiction, &Policy)> {
        self.rules.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(code: &str) -> Jurisdiction {
        code.parse().unwrap()
    }

    #[test]
    fn hong_kong_and_india_make_two_factor_mandatory_with_their_citations() {
        let table = PolicyTable::builtin().unwrap();
        let hk = table.for_jurisdiction(&j("HK"));
        assert!(hk.two_factor_mandatory() && !hk.may_opt_out());
        assert_eq!(
            hk.citation(),
            Some(
                "SFC Guidelines for Reducing and Mitigating Hacking Risks Associated with \
                 Internet Trading, 27 Oct 2017, art. 1.1"
            )
        );
        let india = table.for_jurisdiction(&j("in"));
        assert!(india.two_factor_mandatory());
        assert_eq!(
            india.citation(),
            Some("NSE circular of 25 Mar 2014, reg. 3b")
        );
    }

    #[test]
    fn regulated_accounts_match_by_code_and_never_by_tap() {
        let table = PolicyTable::builtin().unwrap();
        for code in ["HK", "IN"] {
            let policy = table.for_jurisdiction(&j(code));
            assert!(policy.allows(MatchingMode::Code), "{code}");
            assert!(!policy.allows(MatchingMode::Tap), "{code}");
            assert_eq!(policy.matching_modes(), [MatchingMode::Code]);
        }
    }

    #[test]
    fn other_jurisdictions_get_optional_two_factor_and_both_modes() {
        let table = PolicyTable::builtin().unwrap();
        for code in ["US", "GB", "SG", "ZZ"] {
            let policy = table.for_jurisdiction(&j(code));
            assert!(
                !policy.two_factor_mandatory() && policy.may_opt_out(),
                "{code}"
            );
            assert_eq!(policy.citation(), None);
            assert_eq!(
                policy.matching_modes(),
                [MatchingMode::Code, MatchingMode::Tap]
            );
        }
        assert_eq!(
            table.listed().map(|(j, _)| j.as_str()).collect::<Vec<_>>(),
            ["HK", "IN"]
        );
    }

    #[test]
    fn jurisdictions_are_two_letters_stored_upper_case() {
        assert_eq!(j("hk").to_string(), "HK");
        assert_eq!(format!("{:?}", j("In")), "Jurisdiction(IN)");
        for bad in ["", "H", "HKG", "H1", "香港", "H "] {
            assert_eq!(
                bad.parse::<Jurisdiction>(),
                Err(PolicyError::BadJurisdiction),
                "{bad}"
            );
        }
    }

    fn table_with(row: &str) -> Result<PolicyTable, PolicyError> {
        PolicyTable::from_json(&format!(
            r#"{{"v":1,"default":{{"two_factor":"optional","matching_modes":["code"]}},
                "jurisdictions":[{row}]}}"#
        ))
    }

    #[test]
    fn a_table_that_breaks_the_invariants_is_refused() {
        assert_eq!(
            table_with(
                r#"{"jurisdiction":"HK","two_factor":"mandatory","citation":"x","matching_modes":["code","tap"]}"#
            ),
            Err(PolicyError::TapForRegulated("HK".into()))
        );
        assert_eq!(
            table_with(
                r#"{"jurisdiction":"HK","two_factor":"mandatory","matching_modes":["code"]}"#
            ),
            Err(PolicyError::MissingCitation("HK".into()))
        );
        assert_eq!(
            table_with(r#"{"jurisdiction":"US","two_factor":"optional","matching_modes":["tap"]}"#),
            Err(PolicyError::CodeModeMissing("US".into()))
        );
        let row = r#"{"jurisdiction":"US","two_factor":"optional","matching_modes":["code"]}"#;
        assert_eq!(
            table_with(&format!("{row},{row}")),
            Err(PolicyError::Duplicate("US".into()))
        );
        assert_eq!(
            table_with(
                r#"{"jurisdiction":"US","two_factor":"sometimes","matching_modes":["code"]}"#
            ),
            Err(PolicyError::BadJson)
        );
        for mode in ["\"Code\"", "\"push\"", "1", "\"\""] {
            let rows = format!(
                "{{\"jurisdiction\":\"US\",\"two_factor\":\"optional\",\"matching_modes\":[\"code\",{mode}]}}"
            );
            assert_eq!(table_with(&rows), Err(PolicyError::BadJson), "{mode}");
        }
        assert!(table_with(row).is_ok());
    }
}
