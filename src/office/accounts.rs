//! The console's accounts: who may log in, with which role, and the login itself (password check,
//! throttling, session). The command line (`baocao user …`) and the console's admin page call
//! these; every change to an account is an audit event naming who made it.
//!
//! Passwords are kept only as Argon2id hashes (PHC strings); session tokens only as their
//! SHA-256, so a copy of the database logs nobody in.

use super::Result;
use crate::audit;
use crate::domain::Role;
use crate::store::{Account, Session, Store};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How long a session lasts after logging in.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// Failed logins counted over this window…
pub const THROTTLE_WINDOW: i64 = 15 * 60;
/// …after which an account is refused until the window has passed…
pub const FAILURES_PER_ACCOUNT: i64 = 5;
/// …and so is an address (several accounts tried from one place).
pub const FAILURES_PER_ADDRESS: i64 = 20;
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Random bytes from the operating system, as hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("the operating system's random source");
    hex::encode(b)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).expect("the operating system's random source");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("Argon2id with default parameters").to_string()
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Why an account action was refused (its words for the command line; the console says each
/// in Vietnamese).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("`{0}` is not an account name: use 1–64 letters, digits and . _ - @ (no spaces or diacritics)")]
    BadName(String),
    #[error("the password is too short: at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("account `{0}` already exists")]
    Exists(String),
    #[error("no account `{0}`")]
    NoSuchAccount(String),
    #[error("the current password is not right (too many tries: wait 15 minutes)")]
    Throttled,
    #[error("the current password is not right")]
    WrongPassword,
}

/// An account name: what a person types at the login page; short, no spaces or markup.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadName(name.to_string()).into())
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::TooShort.into());
    }
    Ok(())
}

async fn hashed(password: &str) -> String {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&p)).await.expect("hashing does not panic")
}

pub async fn add_account(store: &Store, name: &str, role: Role, password: &str, by: &str) -> Result<()> {
    check_name(name)?;
    check_password(password)?;
    let hash = hashed(password).await;
    let mut tx = store.begin().await?;
    if !tx.add_account(name, role, &hash).await? {
        return Err(AccountError::Exists(name.to_string()).into());
    }
    tx.audit(audit::Kind::AccountAdded, by, &format!("account:{name}"), &json!({"role": role})).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_password(store: &Store, name: &str, password: &str, by: &str) -> Result<()> {
    check_password(password)?;
    let hash = hashed(password).await;
    let mut tx = store.begin().await?;
    if !tx.set_account_hash(name, &hash).await? {
        return Err(AccountError::NoSuchAccount(name.to_string()).into());
    }
    tx.audit(audit::Kind::AccountPassword, by, &format!("account:{name}"), &json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// A person changes their own password: the current one must be right (a session left open on
/// a shared computer is not enough), then the new one is set and every session of the account ends.
pub async fn change_own_password(store: &Store, name: &str, current: &str, new: &str) -> Result<()> {
    check_password(new)?;
    let Some(a) = store.account(name).await? else {
        return Err(AccountError::NoSuchAccount(name.to_string()).into());
    };
    // Guessing the current password here counts like guessing it at the login page.
    let key = format!("account:{name}");
    let now = chrono::Utc::now().timestamp();
    if store.login_failures(&key, now - THROTTLE_WINDOW).await? >= FAILURES_PER_ACCOUNT {
        return Err(AccountError::Throttled.into());
    }
    let (p, h) = (current.to_string(), a.hash.clone());
    if !tokio::task::spawn_blocking(move || verify(&p, &h)).await.unwrap_or(false) {
        store.record_login_failure(&[key], now).await?;
        return Err(AccountError::WrongPassword.into());
    }
    set_password(store, name, new, name).await
}

pub async fn set_disabled(store: &Store, name: &str, disabled: bool, by: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if !tx.set_account_disabled(name, disabled).await? {
        return Err(AccountError::NoSuchAccount(name.to_string()).into());
    }
    tx.audit(if disabled { audit::Kind::AccountDisabled } else { audit::Kind::AccountEnabled }, by, &format!("account:{name}"), &json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// What a login attempt came to.
pub enum Login {
    /// The session token for the cookie, and the session.
    In { token: String, session: Session },
    /// Wrong name or password (which one is not said).
    Refused,
    /// Too many failures lately for this account or address: try again after this many minutes.
    Throttled { minutes: i64 },
}

/// Checks a password and opens a session. Failures are counted per account and per address; an
/// account or address over its limit is refused before its password is even checked.
pub async fn login(store: &Store, name: &str, password: &str, address: &str, now: i64) -> Result<Login> {
    let keys = [format!("account:{name}"), format!("address:{address}")];
    let since = now - THROTTLE_WINDOW;
    if store.login_failures(&keys[0], since).await? >= FAILURES_PER_ACCOUNT || store.login_failures(&keys[1], since).await? >= FAILURES_PER_ADDRESS {
        return Ok(Login::Throttled { minutes: THROTTLE_WINDOW / 60 });
    }
    let account: Option<Account> = store.account(name).await?;
    // A missing account costs the same time as a wrong password, so names cannot be probed.
    let hash = account.as_ref().map(|a| a.hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let p = password.to_string();
    let good = tokio::task::spawn_blocking(move || verify(&p, &hash)).await.unwrap_or(false);
    let Some(account) = account.filter(|a| good && !a.disabled) else {
        store.record_login_failure(&keys, now).await?;
        return Ok(Login::Refused);
    };
    store.clear_login_failures(&keys[0]).await?;
    let token = random_hex(32);
    let csrf = random_hex(32);
    let expires_at = now + SESSION_SECONDS;
    store.create_session(&token_hash(&token), &account.name, &csrf, expires_at).await?;
    Ok(Login::In { token, session: Session { account, csrf, expires_at } })
}

static DUMMY_HASH: once_cell::sync::Lazy<String> = once_cell::sync::Lazy::new(|| hash_password("not a password anyone has"));

pub async fn logout(store: &Store, token: &str) -> Result<()> {
    store.end_session(&token_hash(token)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("mật khẩu đủ dài");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("mật khẩu đủ dài", &h));
        assert!(!verify("mat khau du dai", &h));
        assert!(!verify("mật khẩu đủ dài", "not a hash"));
    }

    #[test]
    fn account_names_with_spaces_or_markup_are_refused() {
        assert!(check_name("lan.nguyen").is_ok());
        assert!(check_name("lan nguyen").is_err());
        assert!(check_name("<script>").is_err());
        assert!(check_name("").is_err());
    }
}
