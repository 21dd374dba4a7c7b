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

/** The error codes a browser can meet, plus two of the client's own for transport trouble. */
export type AuthErrorCode =
  | "invalid_credentials"
  | "account_locked"
  | "rate_limited"
  | "email_taken"
  | "invalid_request"
  | "unauthenticated"
  | "csrf_rejected"
  | "store_unavailable"
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
    /** From `Retry-After`, for `rate_limited`, `account_locked` and `store_unavailable`. */
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

  async signUp(email: string, password: string): Promise<SignedIn> {
    await this.expect(await this.send("POST", "/auth/sign-up", { email, password }), 201);
    return this.afterSignIn();
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
