//! Invitations and password resets: single-use links sent by email.
//!
//! A token is 32 random bytes shown once in the link; only its SHA-256 is stored. Tokens expire
//! (invitations after the configured days, resets after an hour) and are spent on use.
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::entities::{account_token, login_throttle, organization, session, user};
use super::model::{DisplayName, Email, Password, Role, UserStatus};
use super::password::PasswordHasher;
use super::service::{self, load_principal, random_token, token_digest, Actor, NewUser, Principal};
use crate::audit::{self, AuditEvent};
use crate::error::{AppError, AppResult, FieldIssue, Msg};
use crate::i18n::Lang;
use crate::notify::{EmailContent, Mailer, Recipient};

/// The kind of an invitation token.
pub const INVITATION: &str = "invitation";
/// The kind of a password-reset token.
pub const PASSWORD_RESET: &str = "password_reset";
/// How long a password-reset link stays valid.
pub const RESET_VALID_MINUTES: i64 = 60;
/// At most this many reset emails per account per hour.
pub const RESETS_PER_HOUR: u64 = 3;

/// An invitation just issued.
#[derive(Debug, Clone)]
pub struct IssuedInvitation {
    pub token: account_token::Model,
    pub user: user::Model,
}

/// Issues an invitation token for an invited user and queues its email, in the caller's transaction.
pub async fn issue_invitation<C: ConnectionTrait>(
    conn: &C,
    mailer: &Mailer,
    invitee: &user::Model,
    inviter: Option<&Principal>,
    days: i64,
) -> AppResult<account_token::Model> {
    let org = organization::Entity::find_by_id(invitee.org_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    // A new invitation replaces any earlier one still open.
    spend_open_tokens(conn, invitee.id, INVITATION).await?;
    let raw = random_token();
    let now = Utc::now();
    let token = account_token::ActiveModel {
        id: NotSet,
        kind: Set(INVITATION.to_string()),
        token_hash: Set(token_digest(&raw)),
        user_id: Set(invitee.id),
        org_id: Set(invitee.org_id),
        created_by: Set(inviter.map(|p| p.id)),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(days)),
        used_at: Set(None),
    }
    .insert(conn)
    .await?;
    let recipient = Recipient {
        email: invitee.email.clone(),
        name: invitee.display_name.clone(),
        lang: Lang::from_tag(&invitee.language).unwrap_or_default(),
    };
    let content = EmailContent::Invitation {
        org_name: org.name,
        inviter_name: inviter.map(|p| p.display_name.clone()),
        link: mailer.link(&format!("/invitations/{raw}")),
        expires_at: token.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    mailer
        .enqueue(
            conn,
            Some(invitee.org_id),
            &format!("invitation:{}", token.id),
            &recipient,
            &content,
        )
        .await?;
    Ok(token)
}

async fn spend_open_tokens<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    kind: &str,
) -> AppResult<()> {
    account_token::Entity::update_many()
        .col_expr(
            account_token::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(account_token::Column::UserId.eq(user_id))
        .filter(account_token::Column::Kind.eq(kind))
        .filter(account_token::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Whom to invite.
pub struct Invitee {
    pub email: Email,
    pub display_name: DisplayName,
    pub language: Option<Lang>,
    pub roles: Vec<Role>,
}

/// Invites a person into the inviter's organization: creates the account (invited) or renews the
/// invitation of one still invited; an email used elsewhere is a conflict that names no one.
pub async fn invite(
    db: &DatabaseConnection,
    mailer: &Mailer,
    inviter: &Principal,
    actor: &Actor,
    invitee: Invitee,
    days: i64,
) -> AppResult<IssuedInvitation> {
    let txn = crate::db::begin_write(db).await?;
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(invitee.email.as_str()))
        .one(&txn)
        .await?;
    let user = match existing {
        Some(u) if u.org_id != actor.org_id => {
            return Err(AppError::Conflict(Msg::new("error.email_taken")))
        }
        Some(u) if UserStatus::from_stored(&u.status) == UserStatus::Invited => u,
        Some(_) => return Err(AppError::Conflict(Msg::new("error.already_member"))),
        None => {
            let org = organization::Entity::find_by_id(actor.org_id)
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound)?;
            let language = invitee
                .language
                .or_else(|| Lang::from_tag(&org.default_language))
                .unwrap_or_default();
            let new = NewUser {
                email: invitee.email,
                display_name: invitee.display_name,
                language,
                roles: invitee.roles.clone(),
                password_hash: None,
            };
            service::insert_user(&txn, actor.org_id, &new).await?
        }
    };
    let token = issue_invitation(&txn, mailer, &user, Some(inviter), days).await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "invitation.created",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            after: Some(json!({ "email": user.email, "roles": invitee.roles, "expires_at": token.expires_at })),
            ip: actor.ip.clone(),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(IssuedInvitation { token, user })
}

/// An invitation as listed to admins and HR.
#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub token: account_token::Model,
    pub user: user::Model,
}

/// The invitations of an organization, newest first.
pub async fn list_invitations<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    limit: u64,
    offset: u64,
) -> AppResult<(Vec<InvitationRow>, u64)> {
    use sea_orm::QuerySelect;
    let query = account_token::Entity::find()
        .filter(account_token::Column::OrgId.eq(org_id))
        .filter(account_token::Column::Kind.eq(INVITATION));
    let total = query.clone().count(conn).await?;
    let tokens = query
        .order_by_desc(account_token::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await?;
    let ids: Vec<i64> = tokens.iter().map(|t| t.user_id).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    let rows = tokens
        .into_iter()
        .filter_map(|token| {
            let user = users.iter().find(|u| u.id == token.user_id)?.clone();
            Some(InvitationRow { token, user })
        })
        .collect();
    Ok((rows, total))
}

/// Revokes an open invitation of the actor's organization.
pub async fn revoke_invitation(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let token = account_token::Entity::find_by_id(id)
        .filter(account_token::Column::OrgId.eq(actor.org_id))
        .filter(account_token::Column::Kind.eq(INVITATION))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if token.used_at.is_some() {
        return Err(AppError::Conflict(Msg::new("error.invitation_closed")));
    }
    let mut active = token.into_active_model();
    active.used_at = Set(Some(Utc::now()));
    active.expires_at = Set(Utc::now());
    let token = active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "invitation.revoked",
            target_type: "user",
            target_id: Some(token.user_id.to_string()),
            ip: actor.ip.clone(),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn token_issue(key: &'static str) -> AppError {
    AppError::Validation(vec![FieldIssue::new("token", Msg::new(key))])
}

/// Finds the open token of a kind, or says why it cannot be used.
pub async fn open_token<C: ConnectionTrait>(
    conn: &C,
    raw: &str,
    kind: &str,
) -> AppResult<(account_token::Model, user::Model)> {
    let well_formed = raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(token_issue("validation.token_invalid"));
    }
    let token = account_token::Entity::find()
        .filter(account_token::Column::TokenHash.eq(token_digest(raw)))
        .filter(account_token::Column::Kind.eq(kind))
        .one(conn)
        .await?
        .ok_or_else(|| token_issue("validation.token_invalid"))?;
    if token.used_at.is_some() {
        return Err(token_issue("validation.token_used"));
    }
    if token.expires_at <= Utc::now() {
        return Err(token_issue("validation.token_expired"));
    }
    let user = user::Entity::find_by_id(token.user_id)
        .filter(user::Column::OrgId.eq(token.org_id))
        .one(conn)
        .await?
        .ok_or_else(|| token_issue("validation.token_invalid"))?;
    let expected = if kind == INVITATION {
        UserStatus::Invited
    } else {
        UserStatus::Active
    };
    if UserStatus::from_stored(&user.status) != expected {
        return Err(token_issue("validation.token_invalid"));
    }
    Ok((token, user))
}

/// Accepts an invitation: sets the password, activates the account, spends the token.
pub async fn accept_invitation(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    raw: &str,
    password: &Password,
    ip: Option<String>,
) -> AppResult<Principal> {
    // Hash before the transaction: it is slow and needs no lock.
    let hash = hasher.hash(password.expose()).await?;
    let txn = crate::db::begin_write(db).await?;
    let (token, user) = open_token(&txn, raw, INVITATION).await?;
    let now = Utc::now();
    let mut active = user.into_active_model();
    active.password_hash = Set(Some(hash));
    active.status = Set(UserStatus::Active.as_str().to_string());
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    spend_open_tokens(&txn, user.id, INVITATION).await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(user.org_id),
            actor_user_id: Some(user.id),
            action: "invitation.accepted",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            after: Some(json!({ "invitation": token.id })),
            ip,
            ..Default::default()
        },
    )
    .await?;
    let principal = load_principal(&txn, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(principal)
}

/// Starts a password reset for an address. Says nothing about whether the address exists: the
/// caller answers the same either way. At most [`RESETS_PER_HOUR`] emails per account per hour.
pub async fn request_password_reset(
    db: &DatabaseConnection,
    mailer: &Mailer,
    email: &str,
    ip: Option<String>,
) -> AppResult<()> {
    let email = email.trim().to_lowercase();
    let txn = crate::db::begin_write(db).await?;
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    let recent = account_token::Entity::find()
        .filter(account_token::Column::UserId.eq(user.id))
        .filter(account_token::Column::Kind.eq(PASSWORD_RESET))
        .filter(account_token::Column::CreatedAt.gt(Utc::now() - Duration::hours(1)))
        .count(&txn)
        .await?;
    if recent >= RESETS_PER_HOUR {
        tracing::info!(
            user_id = user.id,
            "password reset not sent: hourly limit reached"
        );
        return Ok(());
    }
    let raw = random_token();
    let now = Utc::now();
    let token = account_token::ActiveModel {
        id: NotSet,
        kind: Set(PASSWORD_RESET.to_string()),
        token_hash: Set(token_digest(&raw)),
        user_id: Set(user.id),
        org_id: Set(user.org_id),
        created_by: Set(None),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(RESET_VALID_MINUTES)),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let recipient = Recipient {
        email: user.email.clone(),
        name: user.display_name.clone(),
        lang: Lang::from_tag(&user.language).unwrap_or_default(),
    };
    let content = EmailContent::PasswordReset {
        link: mailer.link(&format!("/password-reset/{raw}")),
        valid_minutes: RESET_VALID_MINUTES,
    };
    mailer
        .enqueue(
            &txn,
            Some(user.org_id),
            &format!("password-reset:{}", token.id),
            &recipient,
            &content,
        )
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(user.org_id),
            action: "auth.password_reset_requested",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            ip,
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sets a new password from a reset link: spends the token, ends every older session and token,
/// and clears the account's login throttle.
pub async fn confirm_password_reset(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    raw: &str,
    password: &Password,
    ip: Option<String>,
) -> AppResult<()> {
    let hash = hasher.hash(password.expose()).await?;
    let txn = crate::db::begin_write(db).await?;
    let (_, user) = open_token(&txn, raw, PASSWORD_RESET).await?;
    let now = Utc::now();
    let email = user.email.clone();
    let version = user.token_version.saturating_add(1);
    let mut active = user.into_active_model();
    active.password_hash = Set(Some(hash));
    active.token_version = Set(version);
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    spend_open_tokens(&txn, user.id, PASSWORD_RESET).await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user.id))
        .exec(&txn)
        .await?;
    login_throttle::Entity::delete_by_id(format!("account:{email}"))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(user.org_id),
            actor_user_id: Some(user.id),
            action: "auth.password_reset",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            ip,
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
