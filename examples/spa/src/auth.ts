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
}

export interface SignedIn {
  user: User;
  session: Session;
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
  // Deleting the account or changing its address without the password (or, for an account
  // without one, a sign-in in the last five minutes):
  | "reauthentication_required"
  // Sign-in by mailed code while the API has it off (AUTHFN_EMAIL_CODE_SIGN_IN):
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

/** What other tabs of this app hear when the session changes here. */
export type SessionChange = "signed-in" | "signed-out";

export interface AuthClientOptions {
  /** Where authfn answers, e.g. `https://auth.example.com` (no trailing slash needed). */
  baseUrl: string;
}

interface SessionBody {
  user: { id: string; email: string; created_at: number };
  session: { id: string; expires_at: number; idle_expires_at: number };
}

interface ErrorBody {
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
    return {
      user: { id: body.user.id, email: body.user.email, createdAt: body.user.created_at },
      session: {
        id: body.session.id,
        expiresAt: body.session.expires_at,
        idleExpiresAt: body.session.idle_expires_at,
      },
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
   * device, ends; this browser gets a new one.
   */
  async resetPassword(reset: PasswordReset): Promise<SignedIn> {
    await this.expect(await this.send("POST", "/auth/password/reset", reset), 200);
    return this.afterSignIn();
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

  /** Signs in with the mailed link's token or the address and its code, without a password. */
  async signInWithCode(proof: SignInCode): Promise<SignedIn> {
    await this.expect(await this.send("POST", "/auth/email-code/sign-in", proof), 200);
    return this.afterSignIn();
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

  /** Ends the session this browser had, if any, and starts a new one. */
  async signIn(email: string, password: string): Promise<SignedIn> {
    await this.expect(await this.send("POST", "/auth/sign-in", { email, password }), 200);
    return this.afterSignIn();
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
    throw new AuthError(
      body.error ?? "unexpected_response",
      body.message ?? `Unexpected answer (HTTP ${res.status}).`,
      res.status,
      Number.isFinite(retry) ? retry : null,
    );
  }
}
