/**
 * A typed client for authfn's browser endpoints. Copy this file into your SPA; it has no
 * dependencies.
 *
 * The session lives in an HttpOnly cookie that this code never sees: every call sends
 * `credentials: "include"` and the browser does the rest. For that to work the API must
 *  - list this page's origin in `AUTHFN_TRUSTED_ORIGINS` (CORS with credentials, CSRF), and
 *  - sit on the same site as this page (app.example.com + auth.example.com, or
 *    localhost:5173 + localhost:3000), or `SameSite=Lax` keeps the cookie away.
 * The server is the only source of truth: nothing here caches who is signed in.
 */

export interface User {
  id: string;
  email: string;
  /** Unix seconds. */
  createdAt: number;
}

export interface Session {
  id: string;
  /** Unix seconds: the session ends then at the latest. */
  expiresAt: number;
  /** Unix seconds: the session ends then unless it is used before. */
  idleExpiresAt: number;
  /**
   * Unix seconds: the last full sign-in (every factor the account has). Sensitive actions need
   * it within five minutes, else `reauthentication_required`. Absent from older APIs.
   */
  authenticatedAt?: number;
  /** Whether the account has a second factor (an authenticator app or a passkey). */
  mfa?: boolean;
}

export interface SignedIn {
  user: User;
  session: Session;
}

/** How a pending sign-in can prove its second factor. */
export type MfaMethod = "totp" | "recovery_code" | "passkey";

/**
 * Where a sign-in stands after its first factor (a password, a mailed code, a password reset):
 * signed in, or, for an account with a second factor, waiting for it. Then call
 * {@link AuthClient.verifyMfa} or {@link AuthClient.signInWithPasskey} before `expiresAt`; the
 * pending sign-in lives in an HttpOnly cookie this code never sees, as the session does.
 * The `signed_in` variant is a {@link SignedIn} as well, so code written for the old
 * `signIn` (which answered a `SignedIn`) keeps reading `.user` and `.session`.
 */
export type SignInResult =
  | ({ kind: "signed_in" } & SignedIn)
  | {
      kind: "mfa_required";
      /** What the account can answer with, in the order to offer them. */
      methods: MfaMethod[];
      /** Unix seconds: the pending sign-in ends then. */
      expiresAt: number;
    };

/** A second factor's proof typed by the user, for {@link AuthClient.verifyMfa}. */
export interface MfaProof {
  method: "totp" | "recovery_code";
  /** Six digits from the authenticator app, or one recovery code (`XXXX-XXXX-XXXX-XXXX`). */
  code: string;
}

/** A passkey registered on the account. */
export interface Passkey {
  id: string;
  name: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds, or `null` if never used to sign in. */
  lastUsedAt: number | null;
  /** Whether the passkey is synced (backed up) by its provider rather than bound to one device. */
  backedUp: boolean;
  transports: string[];
}

/** The account's second factors, as `GET /auth/mfa` tells them. */
export interface Factors {
  totp: {
    enabled: boolean;
    /** Unix seconds, when on. */
    createdAt: number | null;
    lastUsedAt: number | null;
  };
  passkeys: Passkey[];
  recoveryCodesRemaining: number;
  /** Whether signing in with a password needs a second factor. */
  mfaRequired: boolean;
  /** Unix seconds: the session's last full sign-in (see {@link Session.authenticatedAt}). */
  authenticatedAt: number;
}

/** An authenticator app enrolment waiting for its first code ({@link AuthClient.confirmTotp}). */
export interface TotpEnrolment {
  /** The secret in base32, for typing into an app that cannot scan. */
  secret: string;
  /** The `otpauth://` URI the QR code holds. */
  otpauthUri: string;
  /**
   * The QR code as an SVG document from the API. Show it as an image (see
   * {@link AuthClient.qrImageUrl}), never as HTML: an image cannot run script.
   */
  qrSvg: string;
  /** Unix seconds: confirm before then, or enrol again. */
  expiresAt: number;
}

/** A passkey just registered; `recoveryCodes` is set when it was the account's first factor. */
export interface PasskeyRegistered {
  passkey: Passkey;
  /** Shown once: the account's new recovery codes, or `null` if it had some already. */
  recoveryCodes: string[] | null;
}

/** One of the account's sessions (a browser or app signed in to it), as `GET /auth/sessions` lists them. */
export interface SessionInfo {
  /** The session's public id: safe to show, and what {@link AuthClient.revokeSession} takes. */
  id: string;
  /** Unix seconds: when it signed in. */
  createdAt: number;
  /** Unix seconds: when it was last used, to within a quarter of an hour or so. */
  lastSeenAt: number;
  /** The browser and system that signed in ("Chrome on macOS"), or `null` when unknown. */
  device: string | null;
  /** The network it signed in from, coarsened ("203.0.113.0/24"), or `null` when unknown. */
  network: string | null;
  /** Whether it is this browser's own session. */
  current: boolean;
}

/** The security events a user sees in their own activity (the names the API logs). */
export type ActivityEventType =
  | "sign_up"
  | "email.verified"
  | "sign_in.succeeded"
  | "sign_in.second_factor_required"
  | "sign_in.failed"
  | "sign_in.locked"
  | "mfa.passed"
  | "mfa.failed"
  | "session.ended"
  | "password.changed"
  | "password.reset"
  | "email.changed"
  | "identity.linked"
  | "device_code.approved"
  | "device_code.denied"
  | "tokens.issued"
  | "refresh.reuse_detected"
  | "token.revoked"
  | "passkey.sign_count_regressed"
  | "mfa.totp_enabled"
  | "mfa.totp_disabled"
  | "passkey.added"
  | "passkey.removed"
  | "mfa.recovery_codes_regenerated";

/** How the user proved who they were, on sign-in and second-factor events. */
export type ActivityMethod =
  | "password"
  | "email_code"
  | "password_reset"
  | "email_verification"
  | "federated"
  | "passkey"
  | "totp"
  | "recovery_code"
  | "device_code"
  | "refresh_token";

/** One entry of the account's activity ({@link AuthClient.activity}). */
export interface ActivityEvent {
  id: string;
  /** Unix seconds. */
  time: number;
  /** What happened; a newer API may send a type this client does not know yet. */
  event: ActivityEventType | (string & {});
  outcome: "success" | "failure";
  /** The session it is about, if any. */
  sessionId: string | null;
  method: ActivityMethod | (string & {}) | null;
  /** Why: an error code (`invalid_credentials`), or how a session ended (`sign_out`,
   * `sign_out_all`, `revoked`, `expired`). */
  reason: string | null;
  /** The identity provider, for federated sign-ins and links. */
  provider: string | null;
  /** The app (OAuth client), for device approvals and tokens. */
  clientId: string | null;
  /** The browser and system it came from ("Firefox on Linux"), or `null`. */
  device: string | null;
  /** The network it came from, coarsened, or `null`. */
  network: string | null;
  /** Whether it is about this browser's own session. */
  currentSession: boolean;
}

/** A page of activity, newest first; `nextCursor` fetches the older entries after it. */
export interface ActivityPage {
  events: ActivityEvent[];
  /** Pass to {@link AuthClient.activity} for the next page; `null` when there is none. */
  nextCursor: string | null;
}

/**
 * What sign-up did. With address proof on (the API's default), every address gets the same
 * answer, `verification_sent`, whether or not it has an account: the mail says which. The
 * user becomes signed in only by proving the address ({@link AuthClient.verifyEmail}). With
 * `AUTHFN_EMAIL_VERIFICATION=off` the account is made at once and signed in.
 */
export type SignUpOutcome =
  | { status: "verification_sent" }
  | { status: "signed_in"; signedIn: SignedIn };

/** The mailed proof of an address: the link's token, or the 6-digit code with the address. */
export type EmailProof = { token: string } | { email: string; code: string };

/** A password reset: the mailed link's token, or the address with its 6-digit code. */
export type PasswordReset = { token: string; password: string } | { email: string; code: string; password: string };

/** Proof of a new address for the signed-in account: the mailed link's token, or (in the browser
 * that asked for the change, signed in) the 6-digit code. */
export type EmailChangeProof = { token: string } | { code: string };

/** A sign-in without a password: the mailed link's token, or the address with its 6-digit code. */
export type SignInCode = { token: string } | { email: string; code: string };

/**
 * Which page a mailed link opens: `#/verify-email?token=…` (sign-up), `#/reset-password?token=…`,
 * `#/verify-email-change?token=…` (a new address) or `#/email-code?token=…` (sign-in by mail).
 */
export type MailedLinkPurpose = "verify-email" | "reset-password" | "verify-email-change" | "email-code";

/** The error codes a browser can meet, plus two of the client's own for transport trouble. */
export type AuthErrorCode =
  | "invalid_credentials"
  | "account_locked"
  | "rate_limited"
  | "email_taken"
  | "invalid_request"
  // Mailed links and codes (address proof, password reset):
  | "invalid_token"
  | "invalid_code"
  | "mail_unavailable"
  | "unauthenticated"
  | "csrf_rejected"
  | "store_unavailable"
  // Sensitive actions (the password, the address, deleting the account, adding or removing a
  // factor) without a full sign-in in the last five minutes: sign in again, then retry. Thrown
  // as a ReauthenticationRequired (HTTP 401; it was 403 before second factors).
  | "reauthentication_required"
  // Second factors: the pending sign-in ended (5 minutes, or 5 wrong codes), TOTP already on,
  // the enrolment lapsed (10 minutes), recovery codes without a factor:
  | "mfa_expired"
  | "totp_enabled"
  | "enrolment_expired"
  | "no_factor"
  // Passkeys at the API: not a WebAuthn response (400), a check failed (401), the ceremony's
  // challenge used or expired (400), the passkey registered already (409; also the client's
  // own when the authenticator says so):
  | "invalid_credential"
  | "passkey_rejected"
  | "challenge_expired"
  | "passkey_exists"
  // Passkeys in this browser (the client's own, status 0): none, cancelled or timed out, or
  // the browser refused:
  | "passkey_unsupported"
  | "passkey_cancelled"
  | "passkey_failed"
  // Sign-in by mailed code while the API has it off (AUTHFN_EMAIL_CODE_SIGN_IN); a passkey or
  // a session (revokeSession) that is not, or no longer, the account's:
  | "not_found"
  // Federated sign-in, reported back through `?authfn_error=` (see takeFederationError):
  | "idp_error"
  | "invalid_state"
  | "email_not_verified"
  | "email_domain_not_allowed"
  | "account_exists"
  | "invalid_id_token"
  | "code_exchange_failed"
  | "idp_unavailable"
  | "network_error"
  | "unexpected_response";

export class AuthError extends Error {
  constructor(
    /** One of {@link AuthErrorCode}, or a code this client does not know yet. */
    readonly code: AuthErrorCode | (string & {}),
    message: string,
    /** The HTTP status, or 0 when no answer arrived. */
    readonly status: number,
    /**
     * From `Retry-After`, for `rate_limited`, `account_locked`, `store_unavailable` and
     * `mail_unavailable`.
     */
    readonly retryAfterSecs: number | null,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

/**
 * The action needs a full sign-in within the last five minutes (HTTP 401
 * `reauthentication_required`): sign in again (password and second factor, or a passkey),
 * then retry it. The session itself is still valid.
 */
export class ReauthenticationRequired extends AuthError {
  constructor(message: string, status: number) {
    super("reauthentication_required", message, status, null);
    this.name = "ReauthenticationRequired";
  }
}

/** What other tabs of this app hear when the session changes here. */
export type SessionChange = "signed-in" | "signed-out";

export interface AuthClientOptions {
  /** Where authfn answers, e.g. `https://auth.example.com` (no trailing slash needed). */
  baseUrl: string;
}

/** The API's JSON as this client reads it; auth.openapi-check.ts checks it against openapi.yaml. */
export interface SessionBody {
  user: { id: string; email: string; created_at: number };
  session: { id: string; expires_at: number; idle_expires_at: number };
  authenticated_at?: number;
  mfa?: boolean;
}

/** A 200 that ends a first factor: a session, or `{"mfa_required": true, …}`. */
export interface FirstFactorBody {
  mfa_required?: boolean;
  methods?: string[];
  expires_at?: number;
}

export interface PasskeyBody {
  id: string;
  name: string;
  created_at: number;
  last_used_at?: number | null;
  backed_up?: boolean;
  transports?: string[];
}

export interface FactorsBody {
  totp: { enabled: boolean; created_at?: number | null; last_used_at?: number | null };
  passkeys: PasskeyBody[];
  recovery_codes_remaining: number;
  mfa_required: boolean;
  authenticated_at: number;
}

export interface SessionsBody {
  sessions: {
    id: string;
    created_at: number;
    last_seen_at: number;
    device?: string | null;
    network?: string | null;
    current: boolean;
  }[];
}

export interface ActivityBody {
  events: {
    id: string;
    time: number;
    event: string;
    outcome: "success" | "failure";
    session_id?: string;
    method?: string;
    reason?: string;
    provider?: string;
    client_id?: string;
    device?: string;
    network?: string;
    current_session?: boolean;
  }[];
  next_cursor?: string | null;
}

export interface EnrolmentBody {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
  expires_at: number;
}

const passkeyFrom = (p: PasskeyBody): Passkey => ({
  id: p.id,
  name: p.name,
  createdAt: p.created_at,
  lastUsedAt: p.last_used_at ?? null,
  backedUp: p.backed_up ?? false,
  transports: p.transports ?? [],
});

const METHODS: readonly string[] = ["totp", "recovery_code", "passkey"] satisfies MfaMethod[];

export interface ErrorBody {
  error: string;
  message: string;
}

const CHANNEL = "authfn-session";

export class AuthClient {
  readonly baseUrl: string;
  private readonly channel: BroadcastChannel | null;

  constructor(options: AuthClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
  }

  /** Who is signed in, or `null`. Asks the server every time. */
  async currentSession(): Promise<SignedIn | null> {
    const res = await this.send("GET", "/auth/session");
    if (res.status === 401) return null;
    const body = await this.expect<SessionBody>(res, 200);
    const session: Session = {
      id: body.session.id,
      expiresAt: body.session.expires_at,
      idleExpiresAt: body.session.idle_expires_at,
    };
    if (body.authenticated_at !== undefined) session.authenticatedAt = body.authenticated_at;
    if (body.mfa !== undefined) session.mfa = body.mfa;
    return {
      user: { id: body.user.id, email: body.user.email, createdAt: body.user.created_at },
      session,
    };
  }

  /**
   * Asks for an account. The API mails the address (a link and a code to prove it, or, if it
   * already has an account, a notice) and answers the same either way; see {@link SignUpOutcome}.
   */
  async signUp(email: string, password: string): Promise<SignUpOutcome> {
    const res = await this.send("POST", "/auth/sign-up", { email, password });
    if (res.status === 201) {
      // AUTHFN_EMAIL_VERIFICATION=off: the account exists and this browser has its session.
      await res.body?.cancel();
      return { status: "signed_in", signedIn: await this.afterSignIn() };
    }
    await this.expect(res, 202);
    return { status: "verification_sent" };
  }

  /**
   * Proves the address with the mailed link's token (see {@link takeMailedToken}) or code, which
   * makes the account and signs this browser in. A used, replaced or expired token fails with
   * `invalid_token`; a wrong or expired code with `invalid_code` (a few wrong tries void it).
   */
  async verifyEmail(proof: EmailProof): Promise<SignedIn> {
    await this.expect(await this.send("POST", "/auth/verify-email", proof), 200);
    return this.afterSignIn();
  }

  /** Mails a new link and code for a sign-up not yet proven. Answers alike for every address. */
  async resendVerification(email: string): Promise<void> {
    await this.expect(await this.send("POST", "/auth/verify-email/resend", { email }), 202);
  }

  /** Mails a reset link and code, if the address has an account. Answers alike for every address. */
  async forgotPassword(email: string): Promise<void> {
    await this.expect(await this.send("POST", "/auth/password/forgot", { email }), 202);
  }

  /**
   * Sets a new password with the mailed token or code. Every session of the account, on every
   * device, ends; this browser gets a new one, or, for an account with a second factor, a
   * pending sign-in (a mailed code is one factor).
   */
  async resetPassword(reset: PasswordReset): Promise<SignInResult> {
    return this.afterFirstFactor(await this.send("POST", "/auth/password/reset", reset));
  }

  /**
   * Changes the signed-in user's password. Every other session of the account ends; this
   * browser's is replaced by a new one. A wrong `current` fails with `invalid_credentials`.
   */
  async changePassword(current: string, next: string): Promise<SignedIn> {
    const body = { current_password: current, new_password: next };
    await this.expect(await this.send("POST", "/auth/password/change", body), 200);
    return this.afterSignIn();
  }

  /**
   * Asks to move the signed-in account to `newEmail`. The API mails the new address a link and
   * a code (see {@link confirmEmailChange}) and tells the current address; nothing changes until
   * the new address is proven. It answers the same whether or not `newEmail` has an account (that
   * address then gets a notice instead). `password` is required when the account has one; without
   * it, `reauthentication_required`.
   */
  async changeEmail(newEmail: string, password?: string): Promise<void> {
    const body = password === undefined ? { new_email: newEmail } : { new_email: newEmail, password };
    await this.expect(await this.send("POST", "/auth/email/change", body), 202);
  }

  /**
   * Proves the new address with the mailed link's token (works signed out, on any device) or the
   * code (needs this account's session), and answers with the account's address, now the new
   * one. Fails with `invalid_token` / `invalid_code`, or `email_taken` if the address got an
   * account since the mail left. Sessions stay as they are.
   */
  async confirmEmailChange(proof: EmailChangeProof): Promise<string> {
    const body = await this.expect<{ email: string }>(await this.send("POST", "/auth/email/verify", proof), 200);
    return body.email;
  }

  /**
   * Deletes the signed-in account, for good: its sessions on every device end, and the address
   * is free to sign up again. `password` is required when the account has one; an account that
   * only signs in with an identity provider sends none and must have signed in within five
   * minutes, else `reauthentication_required`.
   */
  async deleteAccount(password?: string): Promise<void> {
    const body = password === undefined ? {} : { password };
    await this.expect(await this.send("POST", "/auth/account/delete", body), 200);
    this.announce("signed-out");
  }

  /**
   * Mails a sign-in link and code to the account with this address, if any. Answers alike for
   * every address. Fails with `not_found` when the API does not offer sign-in by mail.
   */
  async requestSignInCode(email: string): Promise<void> {
    await this.expect(await this.send("POST", "/auth/email-code/request", { email }), 202);
  }

  /**
   * Signs in with the mailed link's token or the address and its code, without a password. For
   * an account with a second factor it is one factor: see {@link SignInResult}.
   */
  async signInWithCode(proof: SignInCode): Promise<SignInResult> {
    return this.afterFirstFactor(await this.send("POST", "/auth/email-code/sign-in", proof));
  }

  /**
   * The token of a mailed link this page was opened with (`#/<purpose>?token=…`), or `null`. It is removed from the address bar at once, so it
   * stays out of the history, bookmarks and screenshots; keep it in memory until it is used.
   */
  takeMailedToken(purpose: MailedLinkPurpose): string | null {
    const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?", 2);
    if (path !== purpose) return null;
    const params = new URLSearchParams(query);
    const token = params.get("token");
    if (token === null) return null;
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", `#/${purpose}${rest ? `?${rest}` : ""}`);
    return token || null;
  }

  /**
   * Signs in with a password: ends the session this browser had, if any, and starts a new one;
   * or, for an account with a second factor, answers `mfa_required` and keeps the session this
   * browser had until the second factor is proven ({@link verifyMfa}, {@link signInWithPasskey}).
   */
  async signIn(email: string, password: string): Promise<SignInResult> {
    return this.afterFirstFactor(await this.send("POST", "/auth/sign-in", { email, password }));
  }

  /**
   * Completes a pending sign-in with a code from the authenticator app or a recovery code (each
   * recovery code works once). A wrong code fails with `invalid_code`; five of them, or five
   * minutes, end the pending sign-in: `mfa_expired`, sign in again.
   */
  async verifyMfa(proof: MfaProof): Promise<SignedIn> {
    const body = { method: proof.method, code: proof.code.trim() };
    await this.expect(await this.send("POST", "/auth/mfa/verify", body), 200);
    return this.afterSignIn();
  }

  /**
   * Signs in with a passkey, no password: the browser asks which passkey of this site to use
   * (discoverable credentials) and checks the user (biometrics or PIN). While a password
   * sign-in waits for its second factor, the same call proves it with one of that account's
   * passkeys. A passkey with user verification is two factors by itself.
   */
  async signInWithPasskey(): Promise<SignedIn> {
    const begin = await this.expect<{ publicKey: PublicKeyCredentialRequestOptionsJSON }>(
      await this.send("POST", "/auth/passkeys/sign-in/begin", {}),
      200,
    );
    const credential = await this.webAuthn("get", () =>
      navigator.credentials.get({ publicKey: requestOptionsFromJSON(begin.publicKey) }),
    );
    const finish = { credential: credentialToJSON(credential) };
    await this.expect(await this.send("POST", "/auth/passkeys/sign-in/finish", finish), 200);
    return this.afterSignIn();
  }

  /** The signed-in account's second factors. */
  async factors(): Promise<Factors> {
    const body = await this.expect<FactorsBody>(await this.send("GET", "/auth/mfa"), 200);
    return {
      totp: {
        enabled: body.totp.enabled,
        createdAt: body.totp.created_at ?? null,
        lastUsedAt: body.totp.last_used_at ?? null,
      },
      passkeys: body.passkeys.map(passkeyFrom),
      recoveryCodesRemaining: body.recovery_codes_remaining,
      mfaRequired: body.mfa_required,
      authenticatedAt: body.authenticated_at,
    };
  }

  /**
   * Starts setting up an authenticator app: a new secret to scan or type, which works once
   * {@link confirmTotp} proved the app has it (within 10 minutes). Needs a recent sign-in
   * ({@link ReauthenticationRequired}); an account with no factor yet may send its password.
   */
  async enrollTotp(currentPassword?: string): Promise<TotpEnrolment> {
    const body = await this.expect<EnrolmentBody>(
      await this.send("POST", "/auth/mfa/totp/enroll", withPassword({}, currentPassword)),
      200,
    );
    return { secret: body.secret, otpauthUri: body.otpauth_uri, qrSvg: body.qr_svg, expiresAt: body.expires_at };
  }

  /**
   * Turns the authenticator app on with its current code, and answers the account's 10 new
   * recovery codes: show them once, they are not shown again. Fails with `invalid_code`,
   * `enrolment_expired` (enrol again) or `totp_enabled`.
   */
  async confirmTotp(code: string): Promise<string[]> {
    const body = await this.expect<{ recovery_codes: string[] }>(
      await this.send("POST", "/auth/mfa/totp/confirm", { code: code.trim() }),
      200,
    );
    return body.recovery_codes;
  }

  /** Turns the authenticator app off. Needs a recent sign-in. */
  async disableTotp(currentPassword?: string): Promise<void> {
    await this.expect(await this.send("POST", "/auth/mfa/totp/disable", withPassword({}, currentPassword)), 200);
  }

  /** Replaces the recovery codes with 10 new ones (the old ones stop working). Needs a recent sign-in. */
  async regenerateRecoveryCodes(currentPassword?: string): Promise<string[]> {
    const body = await this.expect<{ recovery_codes: string[] }>(
      await this.send("POST", "/auth/mfa/recovery-codes/regenerate", withPassword({}, currentPassword)),
      200,
    );
    return body.recovery_codes;
  }

  /**
   * Registers a passkey on the signed-in account: the browser makes one (biometrics or PIN)
   * and the API keeps its public key. Needs a recent sign-in. The first factor of an account
   * comes with its recovery codes.
   */
  async registerPasskey(name?: string, currentPassword?: string): Promise<PasskeyRegistered> {
    const begin = await this.expect<{ publicKey: PublicKeyCredentialCreationOptionsJSON }>(
      await this.send("POST", "/auth/passkeys/register/begin", withPassword({}, currentPassword)),
      200,
    );
    const credential = await this.webAuthn("create", () =>
      navigator.credentials.create({ publicKey: creationOptionsFromJSON(begin.publicKey) }),
    );
    const finish: Record<string, unknown> = { credential: credentialToJSON(credential) };
    if (name?.trim()) finish.name = name.trim();
    const body = await this.expect<{ passkey: PasskeyBody; recovery_codes?: string[] }>(
      await this.send("POST", "/auth/passkeys/register/finish", finish),
      201,
    );
    return { passkey: passkeyFrom(body.passkey), recoveryCodes: body.recovery_codes ?? null };
  }

  /** Renames a passkey of the signed-in account. */
  async renamePasskey(id: string, name: string): Promise<Passkey> {
    const body = await this.expect<{ passkey: PasskeyBody }>(
      await this.send("POST", "/auth/passkeys/rename", { id, name }),
      200,
    );
    return passkeyFrom(body.passkey);
  }

  /** Removes a passkey from the signed-in account. Needs a recent sign-in. */
  async deletePasskey(id: string): Promise<void> {
    await this.expect(await this.send("POST", "/auth/passkeys/delete", { id }), 200);
  }

  /**
   * A URL that shows an enrolment's QR code as an image (`<img src>`): the SVG is the API's,
   * but as an image no script in it can run, whatever it held.
   */
  qrImageUrl(enrolment: TotpEnrolment): string {
    const bytes = new TextEncoder().encode(enrolment.qrSvg);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return `data:image/svg+xml;base64,${btoa(binary)}`;
  }

  /**
   * Whether this page was opened by a federated sign-in that now waits for the second factor
   * (`#mfa_required`). The fragment is removed from the address bar.
   */
  takeFederationMfa(): boolean {
    if (location.hash !== "#mfa_required") return false;
    history.replaceState(history.state, "", location.pathname + location.search);
    return true;
  }

  /** Whether this browser can make and use passkeys. */
  passkeysSupported(): boolean {
    return typeof PublicKeyCredential === "function" && typeof navigator.credentials?.create === "function";
  }

  async signOut(): Promise<void> {
    await this.expect(await this.send("POST", "/auth/sign-out"), 204);
    this.announce("signed-out");
  }

  /** Ends every session of this user, on every device. */
  async signOutEverywhere(): Promise<void> {
    await this.expect(await this.send("POST", "/auth/sign-out/all"), 204);
    this.announce("signed-out");
  }

  /** The account's sessions (every browser and app signed in to it), newest first, with this
   * browser's marked `current`. */
  async listSessions(): Promise<SessionInfo[]> {
    const body = await this.expect<SessionsBody>(await this.send("GET", "/auth/sessions"), 200);
    return body.sessions.map((s) => ({
      id: s.id,
      createdAt: s.created_at,
      lastSeenAt: s.last_seen_at,
      device: s.device ?? null,
      network: s.network ?? null,
      current: s.current,
    }));
  }

  /**
   * Signs one of the account's sessions out, on whatever device holds it: its cookie or token
   * stops working at once. Pass a listed {@link SessionInfo} (or its id); when it is this
   * browser's own, this browser is signed out too and other tabs hear of it. An id that is not
   * one of the account's live sessions (ended meanwhile, or never its) fails with `not_found`.
   */
  async revokeSession(session: Pick<SessionInfo, "id" | "current"> | string): Promise<void> {
    const id = typeof session === "string" ? session : session.id;
    await this.expect(await this.send("POST", `/auth/sessions/${encodeURIComponent(id)}/revoke`), 204);
    if (typeof session !== "string" && session.current) this.announce("signed-out");
  }

  /**
   * The account's security activity of the last 90 days, newest first: sign-ins, failed ones,
   * sessions ended, factors and passwords changed. `limit` is 1 to 100 (default 20); pass a
   * page's `nextCursor` as `cursor` for the page after it. A cursor that is not one the API
   * gave fails with `invalid_request`.
   */
  async activity(options: { limit?: number; cursor?: string | null } = {}): Promise<ActivityPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor) query.set("cursor", options.cursor);
    const qs = query.toString();
    const path = qs ? `/auth/activity?${qs}` : "/auth/activity";
    const body = await this.expect<ActivityBody>(await this.send("GET", path), 200);
    return {
      events: body.events.map((e) => ({
        id: e.id,
        time: e.time,
        event: e.event,
        outcome: e.outcome,
        sessionId: e.session_id ?? null,
        method: e.method ?? null,
        reason: e.reason ?? null,
        provider: e.provider ?? null,
        clientId: e.client_id ?? null,
        device: e.device ?? null,
        network: e.network ?? null,
        currentSession: e.current_session === true,
      })),
      nextCursor: body.next_cursor ?? null,
    };
  }

  /**
   * Where to send the browser (a full navigation, not `fetch`) to sign in at an OpenID
   * provider. `returnTo` must be on the API's `AUTHFN_RETURN_TO` list.
   */
  federationUrl(provider: string, returnTo: string): string {
    const url = new URL(`${this.baseUrl}/auth/federation/${encodeURIComponent(provider)}/begin`);
    url.searchParams.set("return_to", returnTo);
    return url.toString();
  }

  /**
   * Why a federated sign-in that came back to this page failed, or `null`. authfn sends the
   * browser back with `?authfn_error=<code>`; this removes it from the address bar, so a
   * reload or a bookmark does not show the message again.
   */
  takeFederationError(): AuthError | null {
    const url = new URL(location.href);
    const code = url.searchParams.get("authfn_error");
    if (code === null) return null;
    url.searchParams.delete("authfn_error");
    history.replaceState(history.state, "", url);
    return new AuthError(code, "Signing in with the identity provider did not complete.", 0, null);
  }

  /** The page where a signed-in user approves a CLI or TV that showed them a code. */
  deviceApprovalUrl(userCode?: string): string {
    const url = new URL(`${this.baseUrl}/oidc/device`);
    if (userCode) url.searchParams.set("user_code", userCode);
    return url.toString();
  }

  /**
   * A `return_to` this app may follow after sign-in: only back to itself or to the API (the
   * device page sends users here with one). Anything else would make the SPA an open redirect.
   */
  safeReturnTo(candidate: string | null, here: string): string | null {
    if (!candidate) return null;
    try {
      const url = new URL(candidate, here);
      const allowed = [new URL(here).origin, new URL(this.baseUrl).origin];
      return allowed.includes(url.origin) ? url.toString() : null;
    } catch {
      return null;
    }
  }

  /** Calls `listener` when another tab of this app signs in or out. Returns an unsubscribe. */
  onOtherTabChange(listener: (change: SessionChange) => void): () => void {
    const channel = this.channel;
    if (!channel) return () => {};
    const handler = (event: MessageEvent<unknown>) => {
      if (event.data === "signed-in" || event.data === "signed-out") listener(event.data);
    };
    channel.addEventListener("message", handler);
    return () => channel.removeEventListener("message", handler);
  }

  /** Reads a first factor's 200: the session (then who is signed in), or `mfa_required`. */
  private async afterFirstFactor(res: Response): Promise<SignInResult> {
    const body = await this.expect<FirstFactorBody>(res, 200);
    if (body.mfa_required === true) {
      return {
        kind: "mfa_required",
        methods: (body.methods ?? []).filter((m): m is MfaMethod => METHODS.includes(m)),
        expiresAt: body.expires_at ?? 0,
      };
    }
    return { kind: "signed_in", ...(await this.afterSignIn()) };
  }

  /** Runs a WebAuthn ceremony, with the browser's refusals as {@link AuthError}s. */
  private async webAuthn(kind: "create" | "get", ceremony: () => Promise<Credential | null>): Promise<PublicKeyCredential> {
    if (!this.passkeysSupported()) {
      throw new AuthError("passkey_unsupported", "This browser cannot use passkeys.", 0, null);
    }
    let credential: Credential | null;
    try {
      credential = await ceremony();
    } catch (error) {
      const name = error instanceof DOMException ? error.name : "";
      if (name === "NotAllowedError" || name === "AbortError") {
        throw new AuthError("passkey_cancelled", "The passkey request was cancelled or timed out.", 0, null);
      }
      if (kind === "create" && name === "InvalidStateError") {
        throw new AuthError("passkey_exists", "This authenticator already holds a passkey for this account.", 0, null);
      }
      throw new AuthError("passkey_failed", `The browser refused the passkey request (${name || "unknown error"}).`, 0, null);
    }
    if (!(credential instanceof PublicKeyCredential)) {
      throw new AuthError("passkey_failed", "The browser gave no passkey.", 0, null);
    }
    return credential;
  }

  private async afterSignIn(): Promise<SignedIn> {
    this.announce("signed-in");
    const signedIn = await this.currentSession();
    if (!signedIn) {
      // The cookie did not come back: the API is on another site, or its cookie is `Secure`
      // while this page is plain HTTP on a host other than localhost.
      throw new AuthError("unexpected_response", "Signed in, but the browser did not keep the session cookie.", 200, null);
    }
    return signedIn;
  }

  private announce(change: SessionChange): void {
    this.channel?.postMessage(change);
  }

  private async send(method: "GET" | "POST", path: string, json?: unknown): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, {
        method,
        credentials: "include",
        headers: json === undefined ? {} : { "content-type": "application/json" },
        body: json === undefined ? undefined : JSON.stringify(json),
        cache: "no-store",
      });
    } catch {
      throw new AuthError("network_error", "Cannot reach the sign-in service.", 0, null);
    }
  }

  private async expect<T>(res: Response, status: number): Promise<T> {
    if (res.status === status) {
      return (status === 204 ? undefined : await res.json()) as T;
    }
    const retry = Number.parseInt(res.headers.get("retry-after") ?? "", 10);
    let body: Partial<ErrorBody> = {};
    try {
      body = (await res.json()) as Partial<ErrorBody>;
    } catch {
      // Not authfn's JSON (a proxy's error page, say): fall through to a generic error.
    }
    if (body.error === "reauthentication_required") {
      throw new ReauthenticationRequired(body.message ?? "Sign in again to do this.", res.status);
    }
    throw new AuthError(
      body.error ?? "unexpected_response",
      body.message ?? `Unexpected answer (HTTP ${res.status}).`,
      res.status,
      Number.isFinite(retry) ? retry : null,
    );
  }
}

/** `body` with `current_password` when one was given (an account without a factor may confirm
 * a sensitive action with it instead of a recent sign-in). */
function withPassword(body: Record<string, unknown>, currentPassword: string | undefined): Record<string, unknown> {
  return currentPassword ? { ...body, current_password: currentPassword } : body;
}

// --- WebAuthn JSON <-> navigator.credentials. The API speaks WebAuthn Level 3's JSON forms
// (binary fields in base64url). Browsers that have PublicKeyCredential.parse*OptionsFromJSON
// and PublicKeyCredential#toJSON do the conversion themselves; for the others, the same by
// hand, field by field as the specification lists them.

/** base64url without padding, as WebAuthn's JSON uses. */
export function toBase64Url(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of a base64url string (padded or not; standard base64 too). */
export function fromBase64Url(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

type Native = typeof PublicKeyCredential & {
  parseCreationOptionsFromJSON?: (json: PublicKeyCredentialCreationOptionsJSON) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (json: PublicKeyCredentialRequestOptionsJSON) => PublicKeyCredentialRequestOptions;
};

const descriptorFromJSON = (d: PublicKeyCredentialDescriptorJSON): PublicKeyCredentialDescriptor => ({
  ...d,
  type: "public-key",
  id: fromBase64Url(d.id),
  transports: d.transports as AuthenticatorTransport[] | undefined,
});

/** The creation options for `navigator.credentials.create` from the API's JSON. */
export function creationOptionsFromJSON(json: PublicKeyCredentialCreationOptionsJSON): PublicKeyCredentialCreationOptions {
  const native = PublicKeyCredential as Native;
  if (typeof native.parseCreationOptionsFromJSON === "function") return native.parseCreationOptionsFromJSON(json);
  const options: PublicKeyCredentialCreationOptions = {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
  };
  if (json.excludeCredentials) options.excludeCredentials = json.excludeCredentials.map(descriptorFromJSON);
  return options;
}

/** The request options for `navigator.credentials.get` from the API's JSON. */
export function requestOptionsFromJSON(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions {
  const native = PublicKeyCredential as Native;
  if (typeof native.parseRequestOptionsFromJSON === "function") return native.parseRequestOptionsFromJSON(json);
  const options: PublicKeyCredentialRequestOptions = {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: fromBase64Url(json.challenge),
  };
  if (json.allowCredentials) options.allowCredentials = json.allowCredentials.map(descriptorFromJSON);
  return options;
}

/**
 * A credential the browser made or used, as the API reads it: `RegistrationResponseJSON` or
 * `AuthenticationResponseJSON`.
 */
export function credentialToJSON(credential: PublicKeyCredential): Record<string, unknown> {
  if (typeof (credential as { toJSON?: unknown }).toJSON === "function") {
    return credential.toJSON() as Record<string, unknown>;
  }
  const r = credential.response;
  let response: Record<string, unknown>;
  if (r instanceof AuthenticatorAttestationResponse) {
    response = {
      clientDataJSON: toBase64Url(r.clientDataJSON),
      attestationObject: toBase64Url(r.attestationObject),
      transports: typeof r.getTransports === "function" ? r.getTransports() : [],
    };
    if (typeof r.getAuthenticatorData === "function") response.authenticatorData = toBase64Url(r.getAuthenticatorData());
    const publicKey = typeof r.getPublicKey === "function" ? r.getPublicKey() : null;
    if (publicKey) response.publicKey = toBase64Url(publicKey);
    if (typeof r.getPublicKeyAlgorithm === "function") response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
  } else {
    const a = r as AuthenticatorAssertionResponse;
    response = {
      clientDataJSON: toBase64Url(a.clientDataJSON),
      authenticatorData: toBase64Url(a.authenticatorData),
      signature: toBase64Url(a.signature),
      userHandle: a.userHandle ? toBase64Url(a.userHandle) : null,
    };
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}
