//! Connecting to the database (SQLite embedded, PostgreSQL in production) and applying migrations.
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionTrait,
};

use crate::config::{DatabaseSettings, Settings};

/// Opens the configured database. The SQLite file and its directory are created when missing.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    match &settings.database {
        DatabaseSettings::Sqlite { path } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            }
            let options = SqliteConnectOptions::new().filename(path);
            connect_sqlite(options).await
        }
        DatabaseSettings::Url(url) if url.starts_with("sqlite:") => {
            let options = SqliteConnectOptions::from_str(url).context("invalid SQLite URL")?;
            connect_sqlite(options).await
        }
        DatabaseSettings::Url(url) => {
            use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
            use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
            let options = PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a PostgreSQL URL")?
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(20)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                // No ping before every use: it doubled the round trips of an answer save (1,970
                // writes/s with it, 2,219 without, measured). Only a connection idle for a while
                // (which a restart, a failover or a firewall may have cut) is pinged first; a
                // busy connection that was cut fails its next query, which answers 503 and
                // leaves the pool.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PING_WHEN_IDLE_FOR {
                            conn.ping().await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await
                .context("cannot connect to the database at DATABASE_URL")?;
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
    }
}

/// A pooled PostgreSQL connection idle longer than this is pinged before it is lent.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// How long a SQLite connection waits for another writer before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the lock file beside a SQLite database (`<database>.lock`): every process that opens the
/// database holds it shared for as long as it runs, and `talentcert restore` takes it
/// exclusively, so a restore never swaps the file under a running service (nor does a service
/// start during one).
pub fn open_sqlite_lock(db: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = db.as_os_str().to_os_string();
    name.push(".lock");
    let lock = std::path::PathBuf::from(name);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .with_context(|| format!("cannot open {}", lock.display()))
}

/// Takes the database's lock file shared for the rest of the process.
fn hold_sqlite_lock(db: &std::path::Path) -> anyhow::Result<()> {
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    if db.as_os_str().is_empty() || db.to_string_lossy().contains(":memory:") {
        return Ok(());
    }
    let file = open_sqlite_lock(db)?;
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("the database at {} is being restored", db.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock the lock file of {}", db.display()))
        }
    }
    if let Ok(mut held) = HELD.lock() {
        held.push(file);
    }
    Ok(())
}

async fn connect_sqlite(options: SqliteConnectOptions) -> anyhow::Result<DatabaseConnection> {
    hold_sqlite_lock(options.get_filename())?;
    // WAL lets readers proceed while one writer commits; the busy timeout makes a second writer
    // wait for the lock instead of failing; foreign keys are off in SQLite unless asked for.
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // A ping before every use is a round trip to the connection's worker thread, for a file
        // that cannot go away under the process.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("cannot open the SQLite database")?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// A fixed key for PostgreSQL's advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 7_272_700;

/// Applies every pending migration, one instance at a time: instances starting together against
/// one database wait for each other instead of creating the same tables twice.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await
            .context("cannot take the migration lock")?;
            Migrator::up(&txn, None)
                .await
                .context("database migration failed")?;
            txn.commit().await?;
        }
        _ => {
            // SQLite: DDL is transactional, and begin_write makes the others wait.
            db.execute_unprepared(&format!(
                "CREATE TABLE IF NOT EXISTS {SQLITE_WRITE_LOCK} (id INTEGER PRIMARY KEY)"
            ))
            .await?;
            let txn = begin_write(db)
                .await
                .context("cannot take the migration lock")?;
            Migrator::up(&txn, None)
                .await
                .context("database migration failed")?;
            txn.commit().await?;
        }
    }
    Ok(())
}

/// A table whose only use is to be written to, so that a transaction takes SQLite's write lock.
const SQLITE_WRITE_LOCK: &str = "talentcert_write_lock";

/// Begins a transaction that will write.
///
/// On SQLite a plain `BEGIN` is deferred: a transaction that reads first and then writes fails at
/// once with "database is locked" when another connection committed a write in between (the busy
/// timeout cannot help, its snapshot is stale). Writing first (a no-op delete) takes the write
/// lock at the start, waiting on the busy timeout, as `BEGIN IMMEDIATE` would. PostgreSQL needs
/// nothing of the kind.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared(&format!("DELETE FROM {SQLITE_WRITE_LOCK} WHERE id = -1"))
            .await?;
    }
    Ok(txn)
}
