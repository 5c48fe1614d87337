//! Domain types of accounts, built only by parsing.
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::ValidateEmail;

use crate::error::{AppError, FieldIssue, Msg};
use crate::i18n::Lang;

/// A role within an organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Learner,
    Hr,
    Trainer,
    Admin,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 4] = [Role::Learner, Role::Hr, Role::Trainer, Role::Admin];

    /// The role's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Hr => "hr",
            Role::Trainer => "trainer",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or submitted role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a list of submitted roles: at least one, each known; duplicates removed.
pub fn parse_roles(field: &str, roles: &[String]) -> Result<Vec<Role>, FieldIssue> {
    let mut parsed = Vec::new();
    for name in roles {
        match Role::parse(name) {
            Some(role) => parsed.push(role),
            None => {
                return Err(FieldIssue::new(
                    field,
                    Msg::new("validation.unknown_role").arg("role", name),
                ))
            }
        }
    }
    parsed.sort();
    parsed.dedup();
    if parsed.is_empty() {
        return Err(FieldIssue::new(
            field,
            Msg::new("validation.roles_required"),
        ));
    }
    Ok(parsed)
}

/// A normalised (trimmed, lowercase) valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldIssue> {
        let normalised = raw.trim().to_lowercase();
        if normalised.len() > 254 || !normalised.validate_email() {
            return Err(FieldIssue::new(field, Msg::new("validation.email")));
        }
        Ok(Email(normalised))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the length rules (8 to 128 characters, not only spaces).
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 8;

impl Password {
    /// Parses a new password; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Password, FieldIssue> {
        let count = raw.chars().count();
        if count < MIN_PASSWORD_CHARS || raw.trim().is_empty() {
            return Err(FieldIssue::new(
                field,
                Msg::new("validation.password_too_short").arg("min", MIN_PASSWORD_CHARS),
            ));
        }
        if count > 128 {
            return Err(FieldIssue::new(
                field,
                Msg::new("validation.length")
                    .arg("min", MIN_PASSWORD_CHARS)
                    .arg("max", 128),
            ));
        }
        Ok(Password(raw.to_string()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A person's display name: 1 to 100 characters, no control characters.
#[derive(Debug, Clone)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<DisplayName, FieldIssue> {
        let trimmed = raw.trim();
        let count = trimmed.chars().count();
        if count == 0 || count > 100 {
            return Err(FieldIssue::new(
                field,
                Msg::new("validation.length").arg("min", 1).arg("max", 100),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldIssue::new(
                field,
                Msg::new("validation.control_characters"),
            ));
        }
        // Names appear on certificates: refuse what the shipped fonts cannot draw, now rather
        // than as boxes on a PDF later.
        if let Ok(missing) = crate::certificates::pdf::missing_glyphs(trimmed) {
            if !missing.is_empty() {
                let chars: String = missing.iter().take(5).collect();
                return Err(FieldIssue::new(
                    field,
                    Msg::new("validation.name_script").arg("characters", chars),
                ));
            }
        }
        Ok(DisplayName(trimmed.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a preferred language tag.
pub fn parse_language(field: &str, raw: &str) -> Result<Lang, FieldIssue> {
    Lang::from_tag(raw).ok_or_else(|| FieldIssue::new(field, Msg::new("validation.language")))
}

/// The lifecycle of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Can sign in.
    Active,
    /// Created, waiting for the person to set a password through an invitation.
    Invited,
    /// Cannot sign in; data kept.
    Deactivated,
}

impl UserStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Invited => "invited",
            UserStatus::Deactivated => "deactivated",
        }
    }

    /// Parses a stored name; unknown values read as deactivated, the safe side.
    pub fn from_stored(s: &str) -> UserStatus {
        match s {
            "active" => UserStatus::Active,
            "invited" => UserStatus::Invited,
            _ => UserStatus::Deactivated,
        }
    }
}

/// An organization slug: 2 to 64 of lowercase letters, digits and inner hyphens.
#[derive(Debug, Clone)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Slug, FieldIssue> {
        let s = raw.trim();
        let ok = (2..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(FieldIssue::new(field, Msg::new("validation.slug")));
        }
        Ok(Slug(s.to_string()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects field problems and turns them into one validation error.
#[derive(Default)]
pub struct Issues(Vec<FieldIssue>);

impl Issues {
    /// Keeps the value, or records its problem.
    pub fn take<T>(&mut self, result: Result<T, FieldIssue>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(issue) => {
                self.0.push(issue);
                None
            }
        }
    }

    /// Fails with every recorded problem, if any.
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        let e = Email::parse("email", "  Learner@Demo.Test ").map_err(|i| i.field);
        assert_eq!(e.map(|e| e.0), Ok("learner@demo.test".to_string()));
        assert!(Email::parse("email", "not-an-email").is_err());
        assert!(Email::parse("email", "").is_err());
    }

    #[test]
    fn roles_parse_and_dedupe() {
        let roles = parse_roles("roles", &["admin".into(), "learner".into(), "admin".into()]);
        assert_eq!(roles.ok(), Some(vec![Role::Learner, Role::Admin]));
        assert!(parse_roles("roles", &[]).is_err());
        assert!(parse_roles("roles", &["root".into()]).is_err());
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("slug", "demo-retail").is_ok());
        assert!(Slug::parse("slug", "Demo").is_err());
        assert!(Slug::parse("slug", "-x").is_err());
        assert!(Slug::parse("slug", "a").is_err());
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("password", "short").is_err());
        assert!(Password::parse("password", "        ").is_err());
        assert!(Password::parse("password", "long enough").is_ok());
    }
}
