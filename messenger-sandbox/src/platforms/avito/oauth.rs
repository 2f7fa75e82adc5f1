//! OAuth 2 (avito.md §1): `POST /token` (`application/x-www-form-urlencoded`) with the
//! `client_credentials`, `authorization_code` and `refresh_token` grants, and the consent page
//! `GET /oauth?response_type=code&client_id=…&scope=…&state=…` of the authorization-code flow.
//!
//! | grant | takes | answers |
//! |---|---|---|
//! | `client_credentials` | `client_id`, `client_secret` | `access_token`, `expires_in` (86 400), `token_type` |
//! | `authorization_code` | and `code` (10 minutes, used once, of this client) | and `refresh_token`, `scope` |
//! | `refresh_token` | and `refresh_token` (a year; **rotated**: the one given is refused from then on) | a new access **and** refresh token |
//!
//! Access tokens expire on the sandbox clock ([`TOKEN_LIFETIME`]). Refusals are in the OAuth 2
//! shape: `invalid_client` (401) for an unknown client or a wrong secret, `invalid_grant` (400)
//! for a code or refresh token that is unknown, used, rotated away, expired or another
//! client's, `unsupported_grant_type` and `invalid_request` (400). Nothing here logs a token,
//! a code or a secret.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messenger_core::Platform;
use serde_json::{Value, json};

use super::envelope::{fault_response, first, oauth_error, query};
use super::{St, Store, TOKEN_LIFETIME, root, shop, store};
use crate::server::{self, ConnHandle, json_response};
use crate::state::{State, random_alnum};

/// How long an authorization code is accepted.
const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How long a refresh token lives (avito.md §1: a year).
const REFRESH_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// The scopes a consent grants when the app asks for none.
const DEFAULT_SCOPES: &[&str] = &["messenger:read", "messenger:write"];

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// An access token: whose, until when, with which scopes (`None`: every scope, as a
/// client-credentials token of the business's own account has).
#[derive(Clone)]
pub(super) struct Access {
    pub account: String,
    pub expires_ms: i64,
    pub scopes: Option<Vec<String>>,
}

/// A refresh token.
pub(super) struct Refresh {
    account: String,
    client_id: String,
    scopes: Vec<String>,
    expires_ms: i64,
}

/// An authorization code the consent page gave.
pub(super) struct Code {
    account: String,
    client_id: String,
    scopes: Vec<String>,
    expires_ms: i64,
}

/// A new access token for `account`; its `expires_in` in seconds.
fn issue_access(
    store: &mut Store,
    account: &str,
    scopes: Option<Vec<String>>,
    now_ms: i64,
) -> (String, u64) {
    let token = random_alnum(40);
    store.access.insert(
        token.clone(),
        Access {
            account: account.to_string(),
            expires_ms: now_ms + ms(TOKEN_LIFETIME),
            scopes,
        },
    );
    (token, TOKEN_LIFETIME.as_secs())
}

/// A new refresh token.
fn issue_refresh(
    store: &mut Store,
    account: &str,
    client_id: &str,
    scopes: &[String],
    now_ms: i64,
) -> String {
    let token = random_alnum(48);
    store.refresh.insert(
        token.clone(),
        Refresh {
            account: account.to_string(),
            client_id: client_id.to_string(),
            scopes: scopes.to_vec(),
            expires_ms: now_ms + ms(REFRESH_LIFETIME),
        },
    );
    token
}

/// The answer of the authorization-code and refresh grants.
fn user_tokens(
    state: &mut State,
    account: &str,
    client_id: &str,
    scopes: &[String],
    now_ms: i64,
) -> Value {
    let store = store(state);
    let (access, expires_in) = issue_access(store, account, Some(scopes.to_vec()), now_ms);
    let refresh = issue_refresh(store, account, client_id, scopes, now_ms);
    json!({
        "access_token": access,
        "expires_in": expires_in,
        "token_type": "Bearer",
        "refresh_token": refresh,
        "scope": scopes.join(","),
    })
}

/// `POST /token`.
pub(super) async fn token(axum::extract::State(shared): St, req: Request) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return oauth_error(400, "invalid_request", "the request body is too large");
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(client_id) = field("client_id") else {
        return oauth_error(400, "invalid_request", "client_id is required");
    };
    let account = shared
        .lock()
        .account_by_token(&client_id, Platform::Avito)
        .map(str::to_string);
    let Some(account) = account else {
        return oauth_error(401, "invalid_client", "unknown client");
    };
    let work = async {
        let secret = field("client_secret").unwrap_or_default();
        let now = shared.now_ms();
        let mut state = shared.lock();
        let expected = state
            .account(&account)
            .ok()
            .and_then(shop)
            .map(|s| s.client_secret.clone())
            .unwrap_or_default();
        if expected.is_empty() || secret != expected {
            return oauth_error(401, "invalid_client", "invalid client credentials");
        }
        let grant = field("grant_type").unwrap_or_default();
        let answer = match grant.as_str() {
            "client_credentials" => {
                let (access, expires_in) = issue_access(store(&mut state), &account, None, now);
                json!({ "access_token": access, "expires_in": expires_in, "token_type": "Bearer" })
            }
            "authorization_code" => {
                let Some(given) = field("code") else {
                    return oauth_error(400, "invalid_request", "code is required");
                };
                let Some(code) = store(&mut state).codes.remove(&given) else {
                    return oauth_error(400, "invalid_grant", "the code is unknown or used");
                };
                if code.client_id != client_id || now >= code.expires_ms {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "the code expired or is not this client's",
                    );
                }
                user_tokens(&mut state, &code.account, &client_id, &code.scopes, now)
            }
            "refresh_token" => {
                let Some(given) = field("refresh_token") else {
                    return oauth_error(400, "invalid_request", "refresh_token is required");
                };
                // Rotation: the token given is spent whatever happens next.
                let Some(refresh) = store(&mut state).refresh.remove(&given) else {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "the refresh token is unknown, revoked or rotated",
                    );
                };
                if refresh.client_id != client_id || now >= refresh.expires_ms {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "the refresh token expired or is not this client's",
                    );
                }
                user_tokens(
                    &mut state,
                    &refresh.account,
                    &client_id,
                    &refresh.scopes,
                    now,
                )
            }
            "" => return oauth_error(400, "invalid_request", "grant_type is required"),
            _ => return oauth_error(400, "unsupported_grant_type", "unsupported grant_type"),
        };
        drop(state);
        tracing::debug!(account = %account, grant = %grant, "sandbox avito: token issued");
        json_response(StatusCode::OK, &answer)
    };
    server::with_faults(&shared, &account, "token", conn, fault_response, work).await
}

/// `GET /oauth?response_type=code&client_id=…&scope=…&state=…[&redirect_uri=…][&login=…][&decision=deny]`:
/// the user "allows access" at once and the browser is redirected with `code` and `state` (or
/// `error=access_denied`); see the [module docs](super).
pub(super) async fn consent(axum::extract::State(shared): St, req: Request) -> Response {
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let q = query(req.uri());
    if first(&q, "response_type") != Some("code") {
        return oauth_error(
            400,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    let Some(client_id) = first(&q, "client_id").map(str::to_string) else {
        return oauth_error(400, "invalid_request", "client_id is required");
    };
    let client_account = shared
        .lock()
        .account_by_token(&client_id, Platform::Avito)
        .map(str::to_string);
    let Some(client_account) = client_account else {
        return oauth_error(400, "invalid_client", "unknown client");
    };
    let redirect = first(&q, "redirect_uri")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/oauth/callback", root(&shared)));
    let Some(mut location) = url::Url::parse(&redirect)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
    else {
        return oauth_error(400, "invalid_request", "redirect_uri is not an http(s) URL");
    };
    let scopes: Vec<String> = match first(&q, "scope") {
        Some(s) => s
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => DEFAULT_SCOPES.iter().map(|s| (*s).to_string()).collect(),
    };
    let login = first(&q, "login").map(str::to_string);
    let deny = first(&q, "decision") == Some("deny");
    let state_param = first(&q, "state").map(str::to_string);
    let work = async {
        let now = shared.now_ms();
        let mut state = shared.lock();
        // The user who allows access: the client's own account, or the one who logs in.
        let user = match &login {
            None => client_account.clone(),
            Some(login) => {
                let found = state.accounts.values().find(|a| {
                    a.platform() == Platform::Avito
                        && shop(a).is_some_and(|s| s.user_id.to_string() == *login)
                });
                match found {
                    Some(a) => a.id.clone(),
                    None => return oauth_error(400, "invalid_request", "no such Avito user"),
                }
            }
        };
        {
            let mut pairs = location.query_pairs_mut();
            if deny {
                pairs.append_pair("error", "access_denied");
            } else {
                let code = random_alnum(32);
                store(&mut state).codes.insert(
                    code.clone(),
                    Code {
                        account: user.clone(),
                        client_id: client_id.clone(),
                        scopes: scopes.clone(),
                        expires_ms: now + ms(CODE_LIFETIME),
                    },
                );
                pairs.append_pair("code", &code);
            }
            if let Some(s) = &state_param {
                pairs.append_pair("state", s);
            }
        }
        drop(state);
        tracing::debug!(account = %user, denied = deny, "sandbox avito: consent answered");
        let mut response = StatusCode::FOUND.into_response();
        if let Ok(value) = HeaderValue::from_str(location.as_str()) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    };
    server::with_faults(
        &shared,
        &client_account,
        "oauth",
        conn,
        fault_response,
        work,
    )
    .await
}

/// `GET /oauth/callback?code=…&state=…`: the page the browser lands on when the app gave no
/// `redirect_uri`: it answers what it was given, as JSON (`{"code", "state"}` or
/// `{"error", "state"}`). Its address is what a user pastes into the app.
pub(super) async fn callback(_shared: St, req: Request) -> Response {
    let q = query(req.uri());
    let mut body = serde_json::Map::new();
    for name in ["code", "error", "state"] {
        if let Some(v) = first(&q, name) {
            body.insert(name.to_string(), json!(v));
        }
    }
    json_response(StatusCode::OK, &Value::Object(body))
}
