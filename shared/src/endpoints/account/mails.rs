//! What each account mail says: plain text and the same as simple HTML, signed with the
//! product's name. A mail that proves something carries a link to the app, with the token in
//! the link's fragment (so it reaches neither a server log nor a `Referer`), and the code to
//! type on another device. Notices carry no secret.

use url::Url;

use crate::clock::UnixTime;
use crate::config::Config;
use crate::email::Email;
use crate::error::ApiError;
use crate::html::escape;
use crate::mail::Mail;
use crate::mailed::{MailCode, MailToken};
use crate::store::SessionRecord;

/// The app's page a link opens (the path in the link's fragment).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Page {
    VerifyEmail,
    ResetPassword,
    VerifyEmailChange,
    EmailCode,
}

impl Page {
    fn path(self) -> &'static str {
        match self {
            Page::VerifyEmail => "/verify-email",
            Page::ResetPassword => "/reset-password",
            Page::VerifyEmailChange => "/verify-email-change",
            Page::EmailCode => "/email-code",
        }
    }
}

/// `app_url` with `#/<page>?token=<token>`: the app reads the fragment and posts the token.
pub(crate) fn link(app_url: &Url, page: Page, token: &MailToken) -> String {
    let mut url = app_url.clone();
    url.set_fragment(Some(&format!("{}?token={}", page.path(), token.encoded())));
    url.into()
}

/// The mail that proves a new address: a link and a code, good for 24 hours.
pub(crate) fn verify_email(
    config: &Config,
    to: &Email,
    token: &MailToken,
    code: &MailCode,
) -> Result<Mail, ApiError> {
    let product = &config.product_name;
    Ok(Letter {
        subject: format!("Verify your email address for {product}"),
        lines: vec![format!("Someone, hopefully you, signed up for {product} with this address. To finish, open this link within 24 hours:")],
        link: Some(link(app_url(config)?, Page::VerifyEmail, token)),
        code: Some(code),
        after: vec!["If it was not you, ignore this mail: no account is made until the address is proven.".into()],
    }
    .to(config, to))
}

/// The answer to a sign-up for an address that has an account: no secret, only advice.
pub(crate) fn account_exists(config: &Config, to: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("Your {product} account"),
        lines: vec![format!(
            "Someone tried to create a {product} account with this address, which already has one. If it was you, sign in, or reset your password if you forgot it."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, ignore this mail: nothing has changed.".into()],
    }
    .to(config, to)
}

/// The answer to a resend for an address with neither an account nor a sign-up waiting.
pub(crate) fn nothing_pending(config: &Config, to: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("No {product} sign-up is waiting for this address"),
        lines: vec![format!(
            "Someone asked for a new {product} verification mail for this address, but no sign-up is waiting for it. To create an account, sign up again."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, ignore this mail.".into()],
    }
    .to(config, to)
}

/// The mail that resets a password: a link and a code, good for 15 minutes.
pub(crate) fn reset_password(
    config: &Config,
    to: &Email,
    token: &MailToken,
    code: &MailCode,
) -> Result<Mail, ApiError> {
    let product = &config.product_name;
    Ok(Letter {
        subject: format!("Reset your {product} password"),
        lines: vec![format!("Someone, hopefully you, asked to reset the password of your {product} account. Open this link within 15 minutes to choose a new one:")],
        link: Some(link(app_url(config)?, Page::ResetPassword, token)),
        code: Some(code),
        after: vec!["If it was not you, ignore this mail: your password stays as it is.".into()],
    }
    .to(config, to))
}

/// The answer to a reset for an address without an account (sent so that both cases take
/// the same time).
pub(crate) fn no_account(config: &Config, to: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("No {product} account for this address"),
        lines: vec![format!(
            "Someone asked to reset the password of a {product} account with this address, but there is no account with it. If it was you, perhaps you signed up with another address."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, ignore this mail.".into()],
    }
    .to(config, to)
}

/// The mail that proves a new address for an account: a link and a code, good for 15 minutes.
pub(crate) fn verify_email_change(
    config: &Config,
    to: &Email,
    token: &MailToken,
    code: &MailCode,
) -> Result<Mail, ApiError> {
    let product = &config.product_name;
    Ok(Letter {
        subject: format!("Confirm your new {product} address"),
        lines: vec![format!("Someone, hopefully you, asked to move a {product} account to this address. To confirm, open this link within 15 minutes:")],
        link: Some(link(app_url(config)?, Page::VerifyEmailChange, token)),
        code: Some(code),
        after: vec!["If it was not you, ignore this mail: no account moves here unless this address is confirmed.".into()],
    }
    .to(config, to))
}

/// The notice to an account's current address that a move to `new` was asked for, sent
/// whether or not `new` can take it.
pub(crate) fn email_change_requested(config: &Config, to: &Email, new: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("Your {product} address may change"),
        lines: vec![format!(
            "Someone signed in to your {product} account asked to change its address to {}. The change happens only once that address is confirmed.",
            new.as_str()
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, change your password now, or reset it.".into()],
    }
    .to(config, to)
}

/// The answer to an address change onto an address that has an account: no secret. The
/// signed-in person who asked is told nothing different.
pub(crate) fn email_change_onto_account(config: &Config, to: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("Your {product} account"),
        lines: vec![format!(
            "Someone asked to move another {product} account to this address, which already has an account. Nothing has changed."
        )],
        link: None,
        code: None,
        after: vec!["If it was you, sign in to the account this address already has.".into()],
    }
    .to(config, to)
}

/// The notice that a passkey was added to the account: a stolen session and password cannot
/// add a way in unseen.
pub(crate) fn passkey_added(config: &Config, to: &Email, name: &str) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("A passkey was added to your {product} account"),
        lines: vec![format!(
            "A passkey named \"{name}\" was added to your {product} account. It can now sign in to the account on its own."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, sign in, delete that passkey and change your password now.".into()],
    }
    .to(config, to)
}

/// The notice that a passkey was removed from the account.
pub(crate) fn passkey_removed(config: &Config, to: &Email, name: &str) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("A passkey was removed from your {product} account"),
        lines: vec![format!(
            "The passkey named \"{name}\" was removed from your {product} account and no longer signs in to it."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, sign in and change your password now.".into()],
    }
    .to(config, to)
}

/// The mail that signs in without a password: a link and a code, good for 15 minutes.
pub(crate) fn sign_in_code(
    config: &Config,
    to: &Email,
    token: &MailToken,
    code: &MailCode,
) -> Result<Mail, ApiError> {
    let product = &config.product_name;
    Ok(Letter {
        subject: format!("Your {product} sign-in code"),
        lines: vec![format!("Someone, hopefully you, asked to sign in to your {product} account by mail. Open this link within 15 minutes to sign in:")],
        link: Some(link(app_url(config)?, Page::EmailCode, token)),
        code: Some(code),
        after: vec!["If it was not you, ignore this mail: nobody signs in without it.".into()],
    }
    .to(config, to))
}

/// The answer to a sign-in code for an address without an account (sent so that both cases
/// take the same time).
pub(crate) fn no_account_to_sign_in(config: &Config, to: &Email) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("No {product} account for this address"),
        lines: vec![format!(
            "Someone asked for a code to sign in to a {product} account with this address, but there is no account with it. If it was you, perhaps you signed up with another address."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, ignore this mail.".into()],
    }
    .to(config, to)
}

fn app_url(config: &Config) -> Result<&Url, ApiError> {
    config.app_url.as_ref().ok_or_else(|| {
        ApiError::Internal("AUTHFN_APP_URL is unset: mailed links have nowhere to point".into())
    })
}

/// The notice that a second factor was turned on or off (`what`: "An authenticator app was
/// turned on"): someone with a stolen session and password shows up in the owner's mailbox.
pub(crate) fn second_factor_changed(config: &Config, to: &Email, what: &str) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("Your {product} sign-in settings changed"),
        lines: vec![format!("{what} for your {product} account.")],
        link: None,
        code: None,
        after: vec![
            "If it was not you, sign in, change your password and check your second factors now."
                .into(),
        ],
    }
    .to(config, to)
}

/// The notice that a recovery code signed in, with how many are left.
pub(crate) fn recovery_code_used(config: &Config, to: &Email, left: usize) -> Mail {
    let product = &config.product_name;
    Letter {
        subject: format!("A recovery code was used for your {product} account"),
        lines: vec![format!(
            "Someone signed in to your {product} account with one of its recovery codes. {left} unused codes are left."
        )],
        link: None,
        code: None,
        after: vec!["If it was not you, sign in, change your password and make new recovery codes now.".into()],
    }
    .to(config, to)
}

/// The notice of a sign-in from a device that has not signed in to the account before (see
/// `endpoints::new_device`): the browser and network, coarse as the session keeps them, and
/// the time. No link: a notice that invites a click is what phishing looks like.
pub(crate) fn new_device_sign_in(config: &Config, to: &Email, session: &SessionRecord) -> Mail {
    let product = &config.product_name;
    let device = session.device.as_deref().unwrap_or("an unknown browser");
    let network = session.network.as_deref().unwrap_or("an unknown network");
    Letter {
        subject: format!("New sign-in to your {product} account"),
        lines: vec![
            format!("Your {product} account was signed in to from a device that had not signed in to it before."),
            format!("Device: {device}"),
            format!("Network: {network}"),
            format!("Time: {}", utc(session.created_at)),
        ],
        link: None,
        code: None,
        after: vec!["If it was you, there is nothing to do. If it was not, sign in, end that session (or sign out everywhere) and change your password now.".into()],
    }
    .to(config, to)
}

/// `2027-01-15 08:00 UTC`: a time every reader can place, whatever their zone.
fn utc(t: UnixTime) -> String {
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, from 1970-01-01).
    let days = t.0.div_euclid(86_400);
    let secs = t.0.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// One mail's content, before it becomes text and HTML.
struct Letter<'a> {
    subject: String,
    lines: Vec<String>,
    link: Option<String>,
    code: Option<&'a MailCode>,
    after: Vec<String>,
}

impl Letter<'_> {
    fn to(self, config: &Config, to: &Email) -> Mail {
        let signature = format!("— {}", config.product_name);
        let mut text = self.lines.join("\n\n");
        let mut html = self
            .lines
            .iter()
            .map(|l| format!("<p>{}</p>", escape(l)))
            .collect::<String>();
        if let Some(link) = &self.link {
            text.push_str(&format!("\n\n{link}"));
            html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape(link)));
        }
        if let Some(code) = self.code {
            text.push_str(&format!("\n\nOr enter this code: {}", code.display()));
            html.push_str(&format!(
                "<p>Or enter this code: <strong>{}</strong></p>",
                escape(code.display())
            ));
        }
        for line in &self.after {
            text.push_str(&format!("\n\n{line}"));
            html.push_str(&format!("<p>{}</p>", escape(line)));
        }
        text.push_str(&format!("\n\n{signature}\n"));
        html.push_str(&format!("<p>{}</p>", escape(&signature)));
        let html = format!("<!doctype html><html><body>{html}</body></html>");
        Mail {
            to: to.clone(),
            subject: self.subject,
            text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(product: &str) -> Config {
        let key = crate::crypto::b64url(&[7u8; 32]);
        let settings = [
            ("AUTHFN_SESSION_KEYS", key.as_str()),
            ("AUTHFN_APP_URL", "https://app.example.com/start?x=1#old"),
            ("AUTHFN_PRODUCT_NAME", product),
        ];
        Config::from_lookup(|k| {
            settings
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn a_link_carries_the_token_in_its_fragment_only() {
        let token = MailToken::generate().unwrap();
        let url = Url::parse(&link(
            config("x").app_url.as_ref().unwrap(),
            Page::ResetPassword,
            &token,
        ))
        .unwrap();
        assert_eq!((url.path(), url.query()), ("/start", Some("x=1")));
        assert_eq!(
            url.fragment(),
            Some(format!("/reset-password?token={}", token.encoded()).as_str())
        );
    }

    #[test]
    fn the_mail_shows_link_and_code_in_text_and_html_and_escapes_what_it_interpolates() {
        let (token, code) = (
            MailToken::generate().unwrap(),
            MailCode::normalise("012345").unwrap(),
        );
        let to = Email::parse("ada@example.com").unwrap();
        let mail = verify_email(&config("<b>Acme</b> & Co"), &to, &token, &code).unwrap();
        assert!(mail.subject.contains("<b>Acme</b> & Co"));
        for body in [&mail.text, &mail.html] {
            assert!(
                body.contains(&token.encoded()) && body.contains("012345"),
                "{body}"
            );
        }
        assert!(
            mail.html.contains("&lt;b&gt;Acme&lt;/b&gt; &amp; Co")
                && !mail.html.contains("<b>Acme"),
            "{}",
            mail.html
        );
        assert!(
            mail.html.contains("x=1&amp;") || mail.html.contains("?x=1#"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(utc(UnixTime(0)), "1970-01-01 00:00 UTC");
        assert_eq!(utc(UnixTime(951_782_400)), "2000-02-29 00:00 UTC");
        assert_eq!(utc(UnixTime(1_800_000_000)), "2027-01-15 08:00 UTC");
        assert_eq!(utc(UnixTime(4_102_444_799)), "2099-12-31 23:59 UTC");
    }

    #[test]
    fn notices_carry_no_secret_and_need_no_app_url() {
        let mut c = config("Acme");
        c.app_url = None;
        let to = Email::parse("ada@example.com").unwrap();
        let notices = [
            account_exists(&c, &to),
            no_account(&c, &to),
            nothing_pending(&c, &to),
            email_change_requested(&c, &to, &to),
            email_change_onto_account(&c, &to),
            no_account_to_sign_in(&c, &to),
        ];
        for mail in notices {
            assert!(
                !mail.text.contains("http") && !mail.text.contains("code:"),
                "{}",
                mail.text
            );
            assert!(mail.text.contains("Acme"));
        }
        let code = MailCode::normalise("111111").unwrap();
        assert!(reset_password(&c, &to, &MailToken::generate().unwrap(), &code).is_err());
    }
}
