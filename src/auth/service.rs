//! Accounts: signing in, sessions, login throttling, users, roles, organizations, secrets.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::entities::{login_throttle, organization, secret, session, user, user_role};
use super::model::{DisplayName, Email, Role, Slug, UserStatus};
use super::password::PasswordHasher;
use crate::audit::{self, AuditEvent};
use crate::error::{AppError, AppResult, Msg};
use crate::i18n::Lang;
use crate::notify::Mailer;

// ---------------------------------------------------------------------------------------------
// Secrets

/// Reads a named secret, creating it with `generate` when absent. Insert-if-absent, so instances
/// starting together end up with the same value.
pub async fn load_or_create_secret<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, DbErr> {
    let row = secret::ActiveModel {
        name: Set(name.to_string()),
        value: Set(generate()),
        created_at: Set(Utc::now()),
    };
    secret::Entity::insert(row)
        .on_conflict(
            OnConflict::column(secret::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    secret::Entity::find_by_id(name.to_string())
        .one(conn)
        .await?
        .map(|s| s.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("secret {name}")))
}

/// A fresh random token: 32 bytes, hex.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// SHA-256 of a token, hex; what is stored in place of the token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// The signed-in person

/// A signed-in user with their organization and current roles.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_is_platform: bool,
    pub email: String,
    pub display_name: String,
    pub language: Lang,
    pub roles: Vec<Role>,
    /// The version access tokens must carry (see `users.token_version`).
    pub token_version: i32,
}

impl Principal {
    /// Whether the user holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// One row of the principal query: the user, their organization, and one of their roles.
#[derive(Debug, sea_orm::FromQueryResult)]
struct PrincipalRow {
    id: i64,
    org_id: i64,
    email: String,
    display_name: String,
    language: String,
    status: String,
    token_version: i32,
    org_name: String,
    org_is_platform: bool,
    role: Option<String>,
}

/// Loads an active user with organization and roles; `None` when missing or not active.
///
/// One query (user joined to the organization, one row per role): it runs on every
/// authenticated request, so it is on the hot path of answer saves.
pub async fn load_principal<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
) -> Result<Option<Principal>, DbErr> {
    let mut rows = user::Entity::find()
        .select_only()
        .columns([
            user::Column::Id,
            user::Column::OrgId,
            user::Column::Email,
            user::Column::DisplayName,
            user::Column::Language,
            user::Column::Status,
            user::Column::TokenVersion,
        ])
        .column_as(organization::Column::Name, "org_name")
        .column_as(organization::Column::IsPlatform, "org_is_platform")
        .column_as(user_role::Column::Role, "role")
        .inner_join(organization::Entity)
        .left_join(user_role::Entity)
        .filter(user::Column::Id.eq(user_id))
        .into_model::<PrincipalRow>()
        .all(conn)
        .await?;
    let active = rows
        .first()
        .is_some_and(|r| UserStatus::from_stored(&r.status) == UserStatus::Active);
    if !active {
        return Ok(None);
    }
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| r.role.as_deref().and_then(Role::parse))
        .collect();
    roles.sort();
    roles.dedup();
    // Not empty: checked above.
    let first = rows.swap_remove(0);
    Ok(Some(Principal {
        id: first.id,
        org_id: first.org_id,
        org_name: first.org_name,
        org_is_platform: first.org_is_platform,
        email: first.email,
        display_name: first.display_name,
        language: Lang::from_tag(&first.language).unwrap_or_default(),
        roles,
        token_version: first.token_version,
    }))
}

/// The roles a user holds, sorted.
pub async fn roles_of<C: ConnectionTrait>(conn: &C, user_id: i64) -> Result<Vec<Role>, DbErr> {
    let mut roles: Vec<Role> = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .iter()
        .filter_map(|r| Role::parse(&r.role))
        .collect();
    roles.sort();
    Ok(roles)
}

// ---------------------------------------------------------------------------------------------
// Login throttling (counters in the database so they hold across instances)

/// Failures of one account tolerated before it is slowed down (default).
pub const ACCOUNT_FAILURES_ALLOWED: i32 = 5;
/// Failures from one client address tolerated per window (default).
pub const ADDRESS_FAILURES_ALLOWED: i32 = 50;
/// The window over which failures are counted.
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;

/// How many failed sign-ins are tolerated (settings `TALENTCERT_LOGIN_ACCOUNT_FAILURES` and
/// `TALENTCERT_LOGIN_ADDRESS_FAILURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub account_failures: i32,
    pub address_failures: i32,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            account_failures: ACCOUNT_FAILURES_ALLOWED,
            address_failures: ADDRESS_FAILURES_ALLOWED,
        }
    }
}

fn account_key(email: &str) -> String {
    format!("account:{email}")
}

fn address_key(ip: &str) -> String {
    format!("address:{ip}")
}

/// Fails with 429 when any of the keys is blocked.
async fn check_throttle<C: ConnectionTrait>(
    conn: &C,
    keys: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let rows = login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.is_in(keys.iter().cloned()))
        .all(conn)
        .await?;
    let wait = rows
        .iter()
        .filter_map(|r| r.blocked_until)
        .filter(|until| *until > now)
        .map(|until| (until - now).num_seconds().max(1))
        .max();
    match wait {
        Some(retry_after_secs) => Err(AppError::TooManyRequests { retry_after_secs }),
        None => Ok(()),
    }
}

/// Counts one failure against `key`; past `allowed`, blocks it for a doubling delay.
async fn record_failure<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    allowed: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    // On PostgreSQL two failures at once would both read the same count and one increment would
    // be lost: the key's counter is locked for the transaction first. (SQLite's write
    // transaction already runs one at a time.)
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [key.into()],
        ))
        .await?;
    }
    let existing = login_throttle::Entity::find_by_id(key.to_string())
        .one(conn)
        .await?;
    let window = Duration::minutes(THROTTLE_WINDOW_MINUTES);
    let (failures, window_started_at) = match &existing {
        Some(row)
            if row.window_started_at + window > now
                || row.blocked_until.is_some_and(|b| b > now) =>
        {
            (row.failures.saturating_add(1), row.window_started_at)
        }
        _ => (1, now),
    };
    let blocked_until = (failures >= allowed).then(|| {
        // 30 s after the last allowed failure, doubling each time, at most the window itself.
        let exponent = u32::try_from(failures - allowed).unwrap_or(0).min(10);
        let seconds = (30_i64 << exponent).min(window.num_seconds());
        now + Duration::seconds(seconds)
    });
    let row = login_throttle::ActiveModel {
        key: Set(key.to_string()),
        failures: Set(failures),
        window_started_at: Set(window_started_at),
        blocked_until: Set(blocked_until),
    };
    login_throttle::Entity::insert(row)
        .on_conflict(
            OnConflict::column(login_throttle::Column::Key)
                .update_columns([
                    login_throttle::Column::Failures,
                    login_throttle::Column::WindowStartedAt,
                    login_throttle::Column::BlockedUntil,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signing in

/// Checks an email and password. Wrong email and wrong password fail alike (same error, same
/// work); repeated failures of one account or one address answer 429 until their delay passes.
pub async fn authenticate(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    email: &str,
    password: &str,
    ip: Option<&str>,
    limits: ThrottleLimits,
) -> AppResult<Principal> {
    let now = Utc::now();
    let email = email.trim().to_lowercase();
    // No account has control characters in its address (they are refused when one is saved),
    // and PostgreSQL refuses a NUL in text: such a sign-in fails before the database.
    if email.chars().any(char::is_control) {
        return Err(AppError::InvalidCredentials);
    }
    let mut keys = vec![account_key(&email)];
    if let Some(ip) = ip {
        keys.push(address_key(ip));
    }
    check_throttle(db, &keys, now).await?;

    let account = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    let active = account
        .as_ref()
        .filter(|u| UserStatus::from_stored(&u.status) == UserStatus::Active);
    let stored_hash = active.and_then(|u| u.password_hash.as_deref());
    let verified = hasher.verify(password, stored_hash).await?;

    let txn = crate::db::begin_write(db).await?;
    let outcome = match (verified, active) {
        (true, Some(user)) => {
            login_throttle::Entity::delete_by_id(account_key(&email))
                .exec(&txn)
                .await?;
            audit::record(
                &txn,
                AuditEvent {
                    org_id: Some(user.org_id),
                    actor_user_id: Some(user.id),
                    action: "auth.login",
                    target_type: "user",
                    target_id: Some(user.id.to_string()),
                    ip: ip.map(str::to_string),
                    ..Default::default()
                },
            )
            .await?;
            load_principal(&txn, user.id)
                .await?
                .ok_or(AppError::InvalidCredentials)
        }
        _ => {
            record_failure(&txn, &account_key(&email), limits.account_failures, now).await?;
            if let Some(ip) = ip {
                record_failure(&txn, &address_key(ip), limits.address_failures, now).await?;
            }
            audit::record(
                &txn,
                AuditEvent {
                    org_id: account.as_ref().map(|u| u.org_id),
                    actor_user_id: None,
                    action: "auth.login_failed",
                    target_type: "user",
                    target_id: account.as_ref().map(|u| u.id.to_string()),
                    ip: ip.map(str::to_string),
                    ..Default::default()
                },
            )
            .await?;
            Err(AppError::InvalidCredentials)
        }
    };
    txn.commit().await?;
    outcome
}

// ---------------------------------------------------------------------------------------------
// Browser sessions

/// A newly created browser session: the cookie token (shown once) and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// Starts a browser session for a user.
pub async fn create_session<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    idle_minutes: i64,
) -> Result<NewSession, DbErr> {
    let token = random_token();
    let csrf_token = random_token();
    let now = Utc::now();
    let row = session::ActiveModel {
        id: Set(token_digest(&token)),
        user_id: Set(user_id),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + Duration::minutes(idle_minutes)),
    };
    session::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(NewSession { token, csrf_token })
}

/// How often a session in use has its expiry pushed back (fewer writes than once per request).
const RENEW_AFTER_SECONDS: i64 = 60;

/// Finds the live session of a cookie token, renewing its idle expiry while it is in use.
pub async fn find_session<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    idle_minutes: i64,
) -> Result<Option<session::Model>, DbErr> {
    let now = Utc::now();
    let Some(found) = session::Entity::find_by_id(token_digest(token))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if found.expires_at <= now {
        session::Entity::delete_by_id(found.id).exec(conn).await?;
        return Ok(None);
    }
    if (now - found.last_seen_at).num_seconds() >= RENEW_AFTER_SECONDS {
        let mut active = found.clone().into_active_model();
        active.last_seen_at = Set(now);
        active.expires_at = Set(now + Duration::minutes(idle_minutes));
        return active.update(conn).await.map(Some);
    }
    Ok(Some(found))
}

/// Ends a session.
pub async fn end_session(
    db: &DatabaseConnection,
    session_id: &str,
    user_id: i64,
    org_id: i64,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let ended = session::Entity::delete_by_id(session_id.to_string())
        .exec(&txn)
        .await?;
    if ended.rows_affected == 1 {
        audit::record(
            &txn,
            AuditEvent {
                org_id: Some(org_id),
                actor_user_id: Some(user_id),
                action: "auth.logout",
                target_type: "user",
                target_id: Some(user_id.to_string()),
                ..Default::default()
            },
        )
        .await?;
    }
    txn.commit().await
}

// ---------------------------------------------------------------------------------------------
// Users

/// Who is acting, for audit entries and rules about oneself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub org_id: i64,
    pub ip: Option<String>,
}

/// A user as the admin API shows it.
#[derive(Debug, Clone)]
pub struct UserWithRoles {
    pub user: user::Model,
    pub roles: Vec<Role>,
}

/// What to create.
pub struct NewUser {
    pub email: Email,
    pub display_name: DisplayName,
    pub language: Lang,
    pub roles: Vec<Role>,
    /// A password hash; none leaves the account invited until the person sets one.
    pub password_hash: Option<String>,
}

/// Which users to list.
#[derive(Debug, Default)]
pub struct UserFilter {
    pub q: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub limit: u64,
    pub offset: u64,
}

/// Lists the users of an organization.
pub async fn list_users<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    filter: &UserFilter,
) -> Result<(Vec<UserWithRoles>, u64), DbErr> {
    let mut query = user::Entity::find().filter(user::Column::OrgId.eq(org_id));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!(
            "%{}%",
            q.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        );
        query = query.filter(
            Condition::any()
                .add(user::Column::Email.like(pattern.as_str()))
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(
                        sea_orm::sea_query::Expr::col(user::Column::DisplayName),
                    ))
                    .like(pattern.as_str()),
                ),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(user::Column::Status.eq(status.as_str()));
    }
    if let Some(role) = filter.role {
        query = query.filter(
            user::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(user_role::Column::UserId)
                    .from(user_role::Entity)
                    .and_where(user_role::Column::Role.eq(role.as_str()))
                    .to_owned(),
            ),
        );
    }
    let total = query.clone().count(conn).await?;
    let users = query
        .order_by_asc(user::Column::Id)
        .limit(filter.limit)
        .offset(filter.offset)
        .all(conn)
        .await?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let role_rows = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(ids))
        .all(conn)
        .await?;
    let items = users
        .into_iter()
        .map(|user| {
            let mut roles: Vec<Role> = role_rows
                .iter()
                .filter(|r| r.user_id == user.id)
                .filter_map(|r| Role::parse(&r.role))
                .collect();
            roles.sort();
            UserWithRoles { user, roles }
        })
        .collect();
    Ok((items, total))
}

/// One user of an organization; another organization's user is not found.
pub async fn get_user<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    user_id: i64,
) -> AppResult<UserWithRoles> {
    let user = user::Entity::find_by_id(user_id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let roles = roles_of(conn, user.id).await?;
    Ok(UserWithRoles { user, roles })
}

fn user_snapshot(user: &user::Model, roles: &[Role]) -> serde_json::Value {
    json!({
        "email": user.email,
        "display_name": user.display_name,
        "language": user.language,
        "status": user.status,
        "roles": roles,
    })
}

/// Inserts a user and their roles (within the caller's transaction).
pub async fn insert_user<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    new: &NewUser,
) -> AppResult<user::Model> {
    let taken = user::Entity::find()
        .filter(user::Column::Email.eq(new.email.as_str()))
        .count(conn)
        .await?;
    if taken > 0 {
        return Err(AppError::Conflict(Msg::new("error.email_taken")));
    }
    let now = Utc::now();
    let status = if new.password_hash.is_some() {
        UserStatus::Active
    } else {
        UserStatus::Invited
    };
    let row = user::ActiveModel {
        id: NotSet,
        org_id: Set(org_id),
        email: Set(new.email.as_str().to_string()),
        display_name: Set(new.display_name.as_str().to_string()),
        language: Set(new.language.tag().to_string()),
        password_hash: Set(new.password_hash.clone()),
        status: Set(status.as_str().to_string()),
        employee_id: Set(None),
        department: Set(None),
        manager_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        token_version: Set(0),
        position_id: Set(None),
        from_roster: Set(false),
    };
    let user = row.insert(conn).await?;
    replace_roles(conn, user.id, &new.roles).await?;
    Ok(user)
}

async fn replace_roles<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    roles: &[Role],
) -> Result<(), DbErr> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    if roles.is_empty() {
        return Ok(());
    }
    let rows = roles.iter().map(|role| user_role::ActiveModel {
        user_id: Set(user_id),
        role: Set(role.as_str().to_string()),
    });
    user_role::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// How new accounts without a password are invited.
pub struct Inviting<'a> {
    pub mailer: &'a Mailer,
    pub inviter: Option<&'a Principal>,
    pub days: i64,
}

/// Creates a user in the actor's organization, audited; without a password the person is
/// invited by email in the same transaction.
pub async fn create_user(
    db: &DatabaseConnection,
    actor: &Actor,
    new: NewUser,
    inviting: Inviting<'_>,
) -> AppResult<UserWithRoles> {
    let txn = crate::db::begin_write(db).await?;
    let user = insert_user(&txn, actor.org_id, &new).await?;
    if user.password_hash.is_none() {
        super::onboarding::issue_invitation(
            &txn,
            inviting.mailer,
            &user,
            inviting.inviter,
            inviting.days,
        )
        .await?;
    }
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "user.created",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            after: Some(user_snapshot(&user, &new.roles)),
            ip: actor.ip.clone(),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(UserWithRoles {
        user,
        roles: new.roles,
    })
}

/// Fails when a change would leave the organization without an active admin.
async fn ensure_another_admin<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    except_user: i64,
) -> AppResult<()> {
    let others = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.ne(except_user))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .filter(
            user::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(user_role::Column::UserId)
                    .from(user_role::Entity)
                    .and_where(user_role::Column::Role.eq(Role::Admin.as_str()))
                    .to_owned(),
            ),
        )
        .count(conn)
        .await?;
    if others == 0 {
        return Err(AppError::Conflict(Msg::new("error.last_admin")));
    }
    Ok(())
}

/// Replaces a user's roles, audited with before and after.
pub async fn set_roles(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: i64,
    roles: Vec<Role>,
) -> AppResult<UserWithRoles> {
    let txn = crate::db::begin_write(db).await?;
    let current = get_user(&txn, actor.org_id, user_id).await?;
    if current.roles.contains(&Role::Admin) && !roles.contains(&Role::Admin) {
        ensure_another_admin(&txn, actor.org_id, user_id).await?;
    }
    replace_roles(&txn, user_id, &roles).await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "user.roles_changed",
            target_type: "user",
            target_id: Some(user_id.to_string()),
            before: Some(json!({ "roles": current.roles })),
            after: Some(json!({ "roles": roles })),
            ip: actor.ip.clone(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(UserWithRoles {
        user: current.user,
        roles,
    })
}

/// Changes to a user's profile or status.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub display_name: Option<DisplayName>,
    pub language: Option<Lang>,
    pub status: Option<UserStatus>,
}

/// Updates a user, audited; deactivation ends their sessions.
pub async fn update_user(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: i64,
    changes: UserChanges,
) -> AppResult<UserWithRoles> {
    let txn = crate::db::begin_write(db).await?;
    let current = get_user(&txn, actor.org_id, user_id).await?;
    let before = user_snapshot(&current.user, &current.roles);
    let mut active = current.user.clone().into_active_model();
    if let Some(name) = &changes.display_name {
        active.display_name = Set(name.as_str().to_string());
    }
    if let Some(lang) = changes.language {
        active.language = Set(lang.tag().to_string());
    }
    if let Some(status) = changes.status {
        let was = UserStatus::from_stored(&current.user.status);
        match status {
            UserStatus::Deactivated if was != UserStatus::Deactivated => {
                if user_id == actor.user_id {
                    return Err(AppError::Conflict(Msg::new("error.cannot_deactivate_self")));
                }
                if current.roles.contains(&Role::Admin) {
                    ensure_another_admin(&txn, actor.org_id, user_id).await?;
                }
                session::Entity::delete_many()
                    .filter(session::Column::UserId.eq(user_id))
                    .exec(&txn)
                    .await?;
                active.status = Set(status.as_str().to_string());
            }
            UserStatus::Active if was == UserStatus::Deactivated => {
                // A person who never set a password goes back to waiting for their invitation.
                let back_to = if current.user.password_hash.is_some() {
                    UserStatus::Active
                } else {
                    UserStatus::Invited
                };
                active.status = Set(back_to.as_str().to_string());
            }
            UserStatus::Invited => {
                return Err(AppError::field("status", "validation.status"));
            }
            _ => {}
        }
    }
    active.updated_at = Set(Utc::now());
    let user = active.update(&txn).await?;
    let after = user_snapshot(&user, &current.roles);
    if after != before {
        let action = match (changes.status, UserStatus::from_stored(&user.status)) {
            (Some(_), UserStatus::Deactivated) if current.user.status != user.status => {
                "user.deactivated"
            }
            (Some(_), _) if current.user.status != user.status => "user.reactivated",
            _ => "user.updated",
        };
        audit::record(
            &txn,
            AuditEvent {
                org_id: Some(actor.org_id),
                actor_user_id: Some(actor.user_id),
                action,
                target_type: "user",
                target_id: Some(user_id.to_string()),
                before: Some(before),
                after: Some(after),
                ip: actor.ip.clone(),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(UserWithRoles {
        user,
        roles: current.roles,
    })
}

/// Updates the signed-in user's own display name and language.
pub async fn update_profile(
    db: &DatabaseConnection,
    user_id: i64,
    name: Option<DisplayName>,
    language: Option<Lang>,
) -> AppResult<()> {
    let Some(found) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Err(AppError::NotFound);
    };
    let mut active = found.into_active_model();
    if let Some(name) = name {
        active.display_name = Set(name.as_str().to_string());
    }
    if let Some(lang) = language {
        active.language = Set(lang.tag().to_string());
    }
    active.updated_at = Set(Utc::now());
    active.update(db).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Organizations

/// The slug of the platform organization.
pub const PLATFORM_SLUG: &str = "platform";

/// What to create: an organization and its first admin.
pub struct NewOrganization {
    pub name: DisplayName,
    pub slug: Slug,
    pub admin: NewUser,
}

/// Creates an organization with its first admin, audited in both organizations; an admin without
/// a password is invited by email in the same transaction.
pub async fn create_organization(
    db: &DatabaseConnection,
    actor: Option<&Actor>,
    new: NewOrganization,
    inviting: Inviting<'_>,
) -> AppResult<(organization::Model, user::Model)> {
    let txn = crate::db::begin_write(db).await?;
    let created = insert_organization(&txn, actor, &new).await?;
    if created.1.password_hash.is_none() {
        super::onboarding::issue_invitation(
            &txn,
            inviting.mailer,
            &created.1,
            inviting.inviter,
            inviting.days,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(created)
}

/// Inserts an organization with its first admin (within the caller's transaction), audited.
pub async fn insert_organization<C: ConnectionTrait>(
    conn: &C,
    actor: Option<&Actor>,
    new: &NewOrganization,
) -> AppResult<(organization::Model, user::Model)> {
    let exists = organization::Entity::find()
        .filter(organization::Column::Slug.eq(new.slug.as_str()))
        .count(conn)
        .await?;
    if exists > 0 {
        return Err(AppError::Conflict(Msg::new("error.slug_taken")));
    }
    let org = organization::ActiveModel {
        id: NotSet,
        name: Set(new.name.as_str().to_string()),
        slug: Set(new.slug.as_str().to_string()),
        is_platform: Set(false),
        created_at: Set(Utc::now()),
        default_language: Set(new.admin.language.tag().to_string()),
        level_rule: Set("latest".into()),
        exam_outranks_ratings: Set(true),
        mastery_count: Set(2),
    }
    .insert(conn)
    .await?;
    let admin = insert_user(conn, org.id, &new.admin).await?;
    let after = json!({ "name": org.name, "slug": org.slug, "admin_email": admin.email });
    for org_id in [actor.map(|a| a.org_id), Some(org.id)] {
        audit::record(
            conn,
            AuditEvent {
                org_id,
                actor_user_id: actor.map(|a| a.user_id),
                action: "organization.created",
                target_type: "organization",
                target_id: Some(org.id.to_string()),
                after: Some(after.clone()),
                ip: actor.and_then(|a| a.ip.clone()),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok((org, admin))
}

/// Every organization, the platform first.
pub async fn list_organizations<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<organization::Model>, DbErr> {
    organization::Entity::find()
        .order_by_desc(organization::Column::IsPlatform)
        .order_by_asc(organization::Column::Id)
        .all(conn)
        .await
}

/// Finds an organization by slug.
pub async fn organization_by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .one(conn)
        .await
}
