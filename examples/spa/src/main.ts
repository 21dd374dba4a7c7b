import {
  AuthClient,
  AuthError,
  ReauthenticationRequired,
  type ActivityEvent,
  type ActivityPage,
  type Factors,
  type MailedLinkPurpose,
  type MfaMethod,
  type Passkey,
  type SessionInfo,
  type SignInResult,
  type SignedIn,
  type TotpEnrolment,
} from "./auth";

// Build-time settings (Vite reads VITE_* from the environment or a .env file).
const auth = new AuthClient({ baseUrl: import.meta.env.VITE_AUTHFN_URL ?? "http://localhost:3000" });
/** `name` or `name=Label` entries, comma-separated: the providers set up in AUTHFN_FEDERATION_PROVIDERS. */
const providers = (import.meta.env.VITE_AUTHFN_PROVIDERS ?? "")
  .split(",")
  .map((entry: string) => entry.trim())
  .filter(Boolean)
  .map((entry: string) => {
    const [name, label] = entry.split("=", 2);
    return { name, label: label ?? name };
  });

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = el<HTMLParagraphElement>("status");
const message = el<HTMLParagraphElement>("message");
const notice = el<HTMLParagraphElement>("notice");

// The device page sends signed-out users here with ?return_to=…; go back there once signed in.
const returnTo = auth.safeReturnTo(new URLSearchParams(location.search).get("return_to"), location.href);

/** Who is signed in, as the server last said: the step-up prompt signs in as this address. */
let currentUser: SignedIn["user"] | null = null;

function show(signedIn: SignedIn | null): void {
  currentUser = signedIn?.user ?? null;
  el("passkey-entry").hidden = !auth.passkeysSupported();
  el("signed-out").hidden = signedIn !== null;
  el("signed-in").hidden = signedIn === null;
  if (signedIn) {
    status.textContent = "You are signed in.";
    el("email").textContent = signedIn.user.email;
    el("expires").textContent = new Date(signedIn.session.expiresAt * 1000).toLocaleString();
  } else {
    status.textContent = "You are signed out.";
  }
}

/** Shows what went wrong (`null` clears it); clears any notice. */
function say(text: string | null): void {
  message.hidden = text === null;
  message.textContent = text ?? "";
  if (text !== null) tell(null);
}

/** Shows what just happened, such as a mail sent (`null` clears it); clears any error. */
function tell(text: string | null): void {
  notice.hidden = text === null;
  notice.textContent = text ?? "";
  if (text !== null) say(null);
}

/** Messages that depend on the page the error came from. */
type Wording = Partial<Record<string, string>>;

function describe(error: unknown, wording: Wording = {}): string {
  if (!(error instanceof AuthError)) return "Something went wrong. Please try again.";
  const wait = error.retryAfterSecs;
  const specific = wording[error.code];
  if (specific !== undefined) return specific.replace("{wait}", duration(wait ?? 60));
  switch (error.code) {
    case "invalid_credentials":
      return "Wrong email or password.";
    case "account_locked":
      return `Too many failed sign-ins for this account. Try again in ${minutes(wait ?? 900)}.`;
    case "rate_limited":
      return `Too many attempts from your network. Wait ${wait ?? 60} seconds and try again.`;
    case "email_taken":
      return "There is already an account with this email. Sign in instead.";
    case "store_unavailable":
      return "The service is briefly unavailable. Nothing was changed; please try again.";
    case "mail_unavailable":
      return "The mail could not be sent just now. Nothing was changed; please try again in a minute.";
    case "invalid_token":
      return "This link has expired, was replaced by a newer mail, or was already used. Ask for a new mail.";
    case "invalid_code":
      return "That code is wrong or has expired. Check the newest mail, or ask for a new one.";
    case "reauthentication_required":
      return "This needs a sign-in within the last 5 minutes. Sign in again, then try again.";
    case "mfa_expired":
      return "This sign-in took too long or had too many wrong codes. Please sign in again.";
    case "passkey_cancelled":
      return "The passkey was not used: the request was cancelled or timed out.";
    case "passkey_unsupported":
      return "This browser cannot use passkeys.";
    case "passkey_exists":
      return "This device already has a passkey for your account.";
    case "passkey_rejected":
      return "That passkey was not accepted. Use a passkey you added to your account here.";
    case "challenge_expired":
      return "That took too long. Please try the passkey again.";
    case "not_found":
      return "This service does not offer that.";
    case "invalid_request":
      if (error.message.startsWith("code:")) return "The code is the six digits in the mail.";
      if (error.message.startsWith("new_email: ")) return `That address cannot be used: ${error.message.slice(11)}.`;
      return passwordRule(error.message) ?? error.message;
    case "idp_error":
      return "Signing in with the identity provider was cancelled or refused.";
    case "invalid_state":
      return "That sign-in took too long or was finished in another browser. Please start again.";
    case "email_not_verified":
      return "The identity provider has not verified your email address.";
    case "email_domain_not_allowed":
      return "Accounts with this email domain cannot sign in here.";
    case "account_exists":
      return "There is already an account with this email. Sign in with your password.";
    case "invalid_id_token":
    case "code_exchange_failed":
    case "idp_unavailable":
      return "The identity provider's answer could not be used. Please try again later.";
    default:
      return error.message;
  }
}

/** The API's "password: password must be at least 8 characters", said to a person; `null` if not about a password. */
function passwordRule(apiMessage: string): string | null {
  const match = /^(?:new_)?password: (?:password )?(.+)$/.exec(apiMessage);
  return match ? `That password cannot be used: it ${match[1]}.` : null;
}

/** A wait as a person reads it: seconds while short, else minutes. */
function duration(secs: number): string {
  if (secs < 120) return secs === 1 ? "1 second" : `${secs} seconds`;
  return minutes(secs);
}

function minutes(secs: number): string {
  const m = Math.max(1, Math.ceil(secs / 60));
  return m === 1 ? "1 minute" : `${m} minutes`;
}

async function refresh(): Promise<void> {
  try {
    show(await auth.currentSession());
  } catch (error) {
    say(describe(error));
  }
}

// --- Pages: hash routes (`#/forgot-password`, `#/reset-password?token=…`), so a mailed link
// opens this app without the token ever reaching a server. Each page is a `data-view` section.

type View =
  | ""
  | "check-email"
  | "verify-email"
  | "forgot-password"
  | "reset-password"
  | "change-password"
  | "change-email"
  | "verify-email-change"
  | "delete-account"
  | "email-code"
  | "second-factor"
  | "security";
const views = new Set<string>([
  "check-email",
  "verify-email",
  "forgot-password",
  "reset-password",
  "change-password",
  "change-email",
  "verify-email-change",
  "delete-account",
  "email-code",
  "second-factor",
  "security",
]);

function currentView(): View {
  const path = location.hash.replace(/^#\/?/, "").split("?", 1)[0];
  return (views.has(path) ? path : "") as View;
}

/** What to show once the next page is up: navigating clears the last page's messages. */
let pending: { error?: string; note?: string } = {};

function go(view: View, after: { error?: string; note?: string } = {}): void {
  pending = after;
  const target = `#/${view}`;
  // Setting the same hash fires no `hashchange`.
  if (location.hash === target) void render();
  else location.hash = target;
}

/** The address the user last typed in a sign-up or reset form: the next page fills it in. */
let lastEmail = "";
/** A reset link's token, kept in memory only after it leaves the address bar, until it is used. */
let resetToken: string | null = null;
/** Verification tokens already sent, so a repeated render never spends one twice. */
const spentTokens = new Set<string>();
/** The new address an email change waits to have proven, while its code form is shown. */
let pendingNewEmail: string | null = null;
/** Whether code sign-in was asked for and the code form is up. */
let codeRequested = false;
/** Set once the API said it does not offer sign-in by mailed code (404): the entry hides. */
let codeSignInOff = false;

async function render(): Promise<void> {
  // A federated sign-in that waits for the second factor comes back as `#mfa_required`, which
  // methods the account has unsaid: every way is offered.
  if (auth.takeFederationMfa()) {
    secondStep = { methods: everyMethod };
    history.replaceState(history.state, "", "#/second-factor");
  }
  const view = currentView();
  say(null);
  tell(null);
  if (pending.error) say(pending.error);
  if (pending.note) tell(pending.note);
  pending = {};
  for (const section of document.querySelectorAll<HTMLElement>("[data-view]")) {
    const shown = section.dataset.view === view;
    const arrived = shown && section.hidden;
    section.hidden = !shown;
    // A screen reader hears that the page changed: focus moves into the new page (to its
    // heading, where it has a focusable one).
    if (arrived && view !== "") {
      const heading = section.querySelector<HTMLElement>("h2[tabindex='-1']");
      if (heading) {
        heading.focus();
      } else {
        section.tabIndex = -1;
        section.focus();
      }
    }
  }
  for (const input of document.querySelectorAll<HTMLInputElement>(`[data-view="${view}"] input[name=email]`)) {
    if (!input.value) input.value = lastEmail;
  }
  // Recovery codes are shown once: leaving the page drops them.
  if (view !== "security") showCodes(null);
  switch (view) {
    case "":
      await refresh();
      return;
    case "check-email":
      el("check-email-address").textContent = lastEmail || "your address";
      status.textContent = "Confirm your email address to finish signing up.";
      return;
    case "verify-email":
      await verifyFromLink();
      return;
    case "forgot-password":
      status.textContent = "Forgot your password?";
      return;
    case "reset-password": {
      resetToken = auth.takeMailedToken("reset-password") ?? resetToken;
      // With a link's token only the new password is asked for; otherwise the mailed code.
      el("reset-with-token").hidden = resetToken === null;
      el("reset-with-code").hidden = resetToken !== null;
      status.textContent = "Choose a new password.";
      return;
    }
    case "change-password":
      await requireSignIn("Sign in first to change your password.");
      return;
    case "change-email": {
      if (!(await requireSignIn("Sign in first to change your email address."))) return;
      el("change-email-request").hidden = pendingNewEmail !== null;
      el("change-email-code").hidden = pendingNewEmail === null;
      el("change-email-address").textContent = pendingNewEmail ?? "";
      return;
    }
    case "verify-email-change":
      await confirmEmailChangeFromLink();
      return;
    case "delete-account":
      await requireSignIn("Sign in first to delete your account.");
      return;
    case "email-code":
      showCodeForms();
      await signInWithCodeFromLink();
      return;
    case "second-factor":
      showSecondFactor();
      return;
    case "security":
      if (!(await requireSignIn("Sign in first to change how you sign in."))) return;
      await loadSecurity();
      return;
  }
}

/** The token of the mailed link this page was opened with, unless it was sent already: a
 * repeated render must not spend it twice. Marked as sent. */
function unspentMailedToken(purpose: MailedLinkPurpose): string | null {
  const token = auth.takeMailedToken(purpose);
  if (token === null || spentTokens.has(token)) return null;
  spentTokens.add(token);
  return token;
}

/** For pages only a signed-in user may use: the session, or `null` after going home to say `why`. */
async function requireSignIn(why: string): Promise<SignedIn | null> {
  const signedIn = await auth.currentSession().catch(() => null);
  if (!signedIn) {
    go("", { error: why });
    return null;
  }
  currentUser = signedIn.user;
  status.textContent = `Signed in as ${signedIn.user.email}.`;
  return signedIn;
}

/** `#/verify-email-change?token=…`: the token leaves the address bar first, then is sent once.
 * The link works signed out too (opened on another device). */
async function confirmEmailChangeFromLink(): Promise<void> {
  const progress = el("verify-email-change-progress");
  const token = unspentMailedToken("verify-email-change");
  if (token === null) {
    if (progress.textContent === "") progress.textContent = "Open the link from the mail sent to your new address.";
    return;
  }
  status.textContent = "Confirming your new email address…";
  progress.textContent = "Confirming your new email address…";
  try {
    const email = await auth.confirmEmailChange({ token });
    pendingNewEmail = null;
    progress.textContent = "";
    const signedIn = await auth.currentSession().catch(() => null);
    go("", { note: signedIn ? `Your email address is now ${email}.` : `Your email address is now ${email}. Sign in with it.` });
  } catch (error) {
    progress.textContent = "Your email address has not changed.";
    status.textContent = "Your new email address is not confirmed.";
    say(describe(error, emailChangeWording));
  }
}

/** What goes wrong when a new address is proven. */
const emailChangeWording: Wording = {
  invalid_token: "This link has expired, was replaced by a newer request, or was already used. Your address has not changed; ask for the change again.",
  email_taken: "That address has an account of its own by now, so your address has not changed.",
  unauthenticated: "Your session has ended. Open the link from the mail instead, or sign in and ask again.",
};

/** The code sign-in page: the request form, or the code form once a code was asked for; neither
 * when the API does not offer it. */
function showCodeForms(): void {
  el("email-code-entry").hidden = codeSignInOff;
  el("email-code-request").hidden = codeSignInOff || codeRequested;
  el("email-code-sign-in").hidden = codeSignInOff || !codeRequested;
  if (codeSignInOff) say("Signing in with a code by mail is not offered here. Sign in with your password.");
  else if (currentView() === "email-code") status.textContent = "Sign in without a password.";
}

/** `#/email-code?token=…`: the token leaves the address bar first, then is sent once. */
async function signInWithCodeFromLink(): Promise<void> {
  const token = unspentMailedToken("email-code");
  if (token === null) return;
  const progress = el("email-code-progress");
  progress.textContent = "Signing you in…";
  try {
    const result = await auth.signInWithCode({ token });
    progress.textContent = "";
    codeRequested = false;
    afterFirstFactor(result, "You are signed in with the link from your mail.");
  } catch (error) {
    progress.textContent = "";
    say(describe(error, codeWording));
  }
}

/** What goes wrong when signing in by mail. */
const codeWording: Wording = {
  invalid_token: "This sign-in link has expired, was replaced by a newer mail, or was already used. Ask for a new code.",
  rate_limited: "Too many mails were asked for. Try again in {wait}.",
};

/** Asks for a sign-in code for `email`; the API's 404 means it does not offer them here. */
async function requestCode(email: string): Promise<void> {
  try {
    await auth.requestSignInCode(email);
  } catch (error) {
    if (error instanceof AuthError && error.code === "not_found") {
      codeSignInOff = true;
      showCodeForms();
      return;
    }
    throw error;
  }
  lastEmail = email;
  codeRequested = true;
  showCodeForms();
  const input = el<HTMLFormElement>("email-code-sign-in").querySelector("input[name=email]") as HTMLInputElement;
  input.value = email;
  tell("If the address has an account, a mail with a link and a code is on its way. Only the newest code works.");
}

/** `#/verify-email?token=…`: the token leaves the address bar first, then is sent once. */
async function verifyFromLink(): Promise<void> {
  const progress = el("verify-email-progress");
  const token = unspentMailedToken("verify-email");
  if (token === null) {
    if (progress.textContent === "") progress.textContent = "Open the link from the mail, or enter its code.";
    return;
  }
  status.textContent = "Confirming your email address…";
  progress.textContent = "Confirming your email address…";
  try {
    const signedIn = await auth.verifyEmail({ token });
    progress.textContent = "";
    afterSignIn(signedIn, "Your email address is confirmed. Welcome!");
  } catch (error) {
    progress.textContent = "This address could not be confirmed with that link.";
    status.textContent = "Your email address is not confirmed yet.";
    say(describe(error, {
      invalid_token: "This link has expired, was replaced by a newer mail, or was already used. Sign in if you confirmed already, or send a new mail.",
    }));
  }
}

/** Shows the signed-in home page, with `note` if given, or follows `?return_to=`. */
function afterSignIn(signedIn: SignedIn, note?: string): void {
  if (returnTo) {
    location.assign(returnTo);
    return;
  }
  if (currentView() !== "") {
    go("", { note });
    return;
  }
  say(null);
  tell(note ?? null);
  show(signedIn);
}

/** A first factor's outcome: signed in (see {@link afterSignIn}), or on to the second step. */
function afterFirstFactor(result: SignInResult, note?: string): void {
  if (result.kind === "signed_in") {
    afterSignIn(result, note);
    return;
  }
  secondStep = { methods: result.methods, note };
  go("second-factor");
}

// --- The second step of a sign-in (a password, a mailed code or a reset was the first): a code
// from the authenticator app, a recovery code, or a passkey. One panel, shown on its own page
// after a sign-in, or inside the step-up prompt.

/** What the pending sign-in offers, and what to say once it is done. Lost on reload: then
 * every way is offered, and the API refuses what the account does not have. */
let secondStep: { methods: MfaMethod[]; note?: string } | null = null;
const everyMethod: MfaMethod[] = ["totp", "passkey", "recovery_code"];
/** Where the panel reports: the page's message line, or the step-up prompt's. */
let factorSay: (text: string | null) => void = say;
/** What to do once the second factor is proven: set by whoever shows the panel. */
let factorDone: (signedIn: SignedIn) => void = () => {};

/** The ways the panel offers now. */
let offeredMethods: MfaMethod[] = everyMethod;

/** Shows the panel for `methods`, starting with the first one that is typed or tapped. */
function setUpFactorPanel(methods: MfaMethod[]): void {
  const offered = methods.length > 0 ? methods : everyMethod;
  const mode: MfaMethod = offered.includes("totp") ? "totp" : offered.includes("passkey") ? "passkey" : "recovery_code";
  showFactorMode(mode, offered);
  const ways = offered.map((m) => ({ totp: "a code from your authenticator app", passkey: "a passkey", recovery_code: "a recovery code" })[m]);
  const listed = ways.length > 1 ? `${ways.slice(0, -1).join(", ")} or ${ways[ways.length - 1]}` : ways[0];
  el("second-factor-intro").textContent = `That was the first step. Your account asks for a second one: ${listed}.`;
}

/** Shows `mode`'s form (none for a passkey: its button is the way), and buttons for the
 * other ways offered. */
function showFactorMode(mode: MfaMethod, offered: MfaMethod[] = offeredMethods): void {
  offeredMethods = offered;
  el("mfa-totp").hidden = mode !== "totp";
  el("mfa-recovery").hidden = mode !== "recovery_code";
  el("mfa-use-totp").hidden = mode === "totp" || !offered.includes("totp");
  el("mfa-use-recovery").hidden = mode === "recovery_code" || !offered.includes("recovery_code");
  el("mfa-use-passkey").hidden = !offered.includes("passkey") || !auth.passkeysSupported();
}

function showSecondFactor(): void {
  // The panel lives on this page unless the step-up prompt borrowed it.
  el("second-factor-heading").after(el("second-factor-panel"));
  factorSay = say;
  factorDone = (signedIn) => {
    const note = secondStep?.note;
    secondStep = null;
    afterSignIn(signedIn, note);
  };
  setUpFactorPanel(secondStep?.methods ?? everyMethod);
  status.textContent = "One more step to sign in.";
}

/** What goes wrong in the second step. */
const factorWording: Wording = {
  invalid_code: "That code is not right. Use the newest code your app shows, or a recovery code.",
  passkey_cancelled: "The passkey was not used. Try again, or use another way.",
};

/** The pending sign-in ended (5 minutes, 5 wrong codes): back to the first step. */
function factorFailed(error: unknown, wording: Wording): void {
  if (error instanceof AuthError && error.code === "mfa_expired") {
    if (factorSay === say) {
      secondStep = null;
      go("", { error: describe(error) });
    } else {
      // In the step-up prompt: back to its password.
      stepUpFirstStep();
      stepUpSay(describe(error));
    }
    return;
  }
  factorSay(describe(error, wording));
}

for (const [id, method] of [["mfa-totp", "totp"], ["mfa-recovery", "recovery_code"]] as const) {
  const form = el<HTMLFormElement>(id);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    const code = String(new FormData(form).get("code") ?? "");
    button.disabled = true;
    auth.verifyMfa({ method, code }).then(
      (signedIn) => {
        form.reset();
        factorDone(signedIn);
      },
      (error) => factorFailed(error, method === "totp" ? factorWording : {
        ...factorWording,
        invalid_code: "That recovery code is not right, or was used already.",
      }),
    ).finally(() => {
      button.disabled = false;
    });
  });
}

el("mfa-use-totp").addEventListener("click", () => {
  showFactorMode("totp");
  (el("mfa-totp").querySelector("input") as HTMLInputElement).focus();
});
el("mfa-use-recovery").addEventListener("click", () => {
  showFactorMode("recovery_code");
  (el("mfa-recovery").querySelector("input") as HTMLInputElement).focus();
});
const mfaPasskey = el<HTMLButtonElement>("mfa-use-passkey");
mfaPasskey.addEventListener("click", () => {
  mfaPasskey.disabled = true;
  auth.signInWithPasskey().then(
    (signedIn) => factorDone(signedIn),
    (error) => factorFailed(error, factorWording),
  ).finally(() => {
    mfaPasskey.disabled = false;
  });
});

// --- Step-up: an action the API refuses with `reauthentication_required` (no full sign-in in
// the last five minutes; or, for an account without a second factor, no current password) asks
// to sign in again, in a modal prompt over the page, then runs again, with the password typed
// there for an account that confirms with it. Cancelling it reports the refusal as the
// action's own error.

const stepUpDialog = el<HTMLDialogElement>("step-up");
const stepUpMessage = el<HTMLParagraphElement>("step-up-message");
/** The open prompt's caller: given the password typed (none after a passkey). */
let stepUpOutcome: { resolve: (password: string | undefined) => void; reject: () => void } | null = null;
/** The password typed in the prompt, until the prompt ends. */
let stepUpPassword: string | undefined;

function stepUpSay(text: string | null): void {
  stepUpMessage.hidden = text === null;
  stepUpMessage.textContent = text ?? "";
}

/** Signs in again through the prompt; resolves once signed in (with the password, if one
 * was typed), rejects when cancelled. */
function stepUp(): Promise<string | undefined> {
  // One prompt at a time: a second action that needs it meanwhile fails as refused.
  if (stepUpOutcome) return Promise.reject(new Error("a step-up prompt is open"));
  stepUpFirstStep();
  stepUpSay(null);
  stepUpDialog.showModal();
  el("step-up-heading").focus();
  stepUpPassword = undefined;
  return new Promise<string | undefined>((resolve, reject) => {
    stepUpOutcome = { resolve, reject };
  });
}

/** The prompt's first step: the password (or a passkey); the second-factor panel back home. */
function stepUpFirstStep(): void {
  el("step-up-password").hidden = false;
  el("step-up-alternatives").hidden = !auth.passkeysSupported();
  el("second-factor-heading").after(el("second-factor-panel"));
  factorSay = say;
}

function endStepUp(ok: boolean): void {
  const outcome = stepUpOutcome;
  stepUpOutcome = null;
  el<HTMLFormElement>("step-up-password").reset();
  stepUpFirstStep();
  if (stepUpDialog.open) stepUpDialog.close();
  const password = stepUpPassword;
  stepUpPassword = undefined;
  if (ok) outcome?.resolve(password);
  else outcome?.reject();
}

function steppedUp(): void {
  // The new session replaced the old one: the page's idea of it follows.
  tell("You signed in again.");
  endStepUp(true);
}

/** Runs `action`; if the API wants a recent sign-in first, asks for it and runs it once more,
 * given the password typed in the prompt (an account without a second factor confirms with it). */
async function withStepUp<T>(action: (password?: string) => Promise<T>): Promise<T> {
  let password: string | undefined;
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ReauthenticationRequired)) throw error;
    try {
      password = await stepUp();
    } catch {
      throw error;
    }
  }
  return action(password);
}

const stepUpForm = el<HTMLFormElement>("step-up-password");
stepUpForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const button = stepUpForm.querySelector("button[type=submit]") as HTMLButtonElement;
  const password = String(new FormData(stepUpForm).get("password") ?? "");
  const email = currentUser?.email;
  if (!email) {
    endStepUp(false);
    return;
  }
  button.disabled = true;
  auth.signIn(email, password).then(
    (result) => {
      stepUpForm.reset();
      stepUpPassword = password;
      if (result.kind === "signed_in") {
        steppedUp();
        return;
      }
      // The second step, inside the prompt.
      stepUpSay(null);
      stepUpForm.hidden = true;
      el("step-up-alternatives").hidden = true;
      const panel = el("second-factor-panel");
      el("step-up-factor").append(panel);
      factorSay = stepUpSay;
      factorDone = () => steppedUp();
      setUpFactorPanel(result.methods);
      const first = panel.querySelector<HTMLElement>("form:not([hidden]) input, button:not([hidden])");
      first?.focus();
    },
    (error) => stepUpSay(describe(error, { invalid_credentials: "That password is not right." })),
  ).finally(() => {
    button.disabled = false;
  });
});

const stepUpPasskey = el<HTMLButtonElement>("step-up-passkey");
stepUpPasskey.addEventListener("click", () => {
  stepUpPasskey.disabled = true;
  auth.signInWithPasskey().then(
    (signedIn) => {
      if (currentUser && signedIn.user.id !== currentUser.id) {
        // Another account's passkey: that account is signed in now, not this one.
        endStepUp(false);
        go("", { error: `You signed in as ${signedIn.user.email}, another account.` });
        return;
      }
      steppedUp();
    },
    (error) => stepUpSay(describe(error)),
  ).finally(() => {
    stepUpPasskey.disabled = false;
  });
});
el("step-up-cancel").addEventListener("click", () => endStepUp(false));
// Escape closes the dialog: the same as Cancel.
stepUpDialog.addEventListener("close", () => {
  if (stepUpOutcome) endStepUp(false);
});

// --- The security page: the authenticator app, recovery codes, passkeys, where the account is
// signed in, and its recent activity.

/** An enrolment shown and waiting for its first code; kept across a re-render of the page. */
let enrolment: TotpEnrolment | null = null;
/** Recovery codes shown once: kept only until "I saved them" or leaving the page. */
let shownCodes: string[] | null = null;

const when = (secs: number) => new Date(secs * 1000).toLocaleDateString();

/** Loads every part of the security page; each says for itself when it cannot be shown. */
async function loadSecurity(): Promise<void> {
  await Promise.all([loadFactors(), loadSessions(), loadActivity()]);
}

async function loadFactors(): Promise<void> {
  let factors: Factors;
  try {
    factors = await auth.factors();
  } catch (error) {
    say(describe(error));
    return;
  }
  el("security-summary").textContent = factors.mfaRequired
    ? "Two-step sign-in is on: after your password, you confirm with your app, a passkey or a recovery code."
    : "Two-step sign-in is off: your password alone signs you in. Set up an authenticator app or add a passkey to turn it on.";
  const totp = factors.totp;
  el("totp-state").textContent = totp.enabled
    ? `On since ${when(totp.createdAt ?? 0)}.${totp.lastUsedAt ? ` Last used ${when(totp.lastUsedAt)}.` : ""}`
    : "Off.";
  el("totp-enroll").hidden = totp.enabled || enrolment !== null;
  el("totp-disable").hidden = !totp.enabled;
  showEnrolment(totp.enabled ? null : enrolment);

  const hasFactor = totp.enabled || factors.passkeys.length > 0;
  el("recovery-state").textContent = hasFactor
    ? `${factors.recoveryCodesRemaining} of 10 recovery codes left.`
    : "You get recovery codes with your first authenticator app or passkey.";
  el("recovery-regenerate").hidden = !hasFactor;
  showCodes(shownCodes);

  el("passkeys-empty").hidden = factors.passkeys.length > 0;
  el("passkey-list").replaceChildren(...factors.passkeys.map(passkeyItem));
  el("passkey-add").hidden = !auth.passkeysSupported();
}

function showEnrolment(shown: TotpEnrolment | null): void {
  enrolment = shown;
  const form = el<HTMLFormElement>("totp-confirm");
  form.hidden = shown === null;
  const qr = el<HTMLImageElement>("totp-qr");
  if (shown === null) {
    qr.removeAttribute("src");
    el("totp-secret").textContent = "";
    form.reset();
    return;
  }
  // The API's SVG as an image, never as markup: nothing in it can run.
  qr.src = auth.qrImageUrl(shown);
  // Groups of four, as apps show keys; the spaces do not matter to them.
  el("totp-secret").textContent = shown.secret.replace(/(.{4})(?=.)/g, "$1 ");
}

function showCodes(codes: string[] | null): void {
  shownCodes = codes;
  el("recovery-codes").hidden = codes === null;
  el("recovery-code-list").replaceChildren(...(codes ?? []).map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  }));
}

/** Shows new recovery codes, with focus on their heading. */
function revealCodes(codes: string[]): void {
  showCodes(codes);
  el("recovery-codes-heading").focus();
}

function passkeyItem(passkey: Passkey): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.passkeyId = passkey.id;
  const name = document.createElement("strong");
  name.textContent = passkey.name;
  const details = document.createElement("span");
  details.textContent = ` — added ${when(passkey.createdAt)}${passkey.lastUsedAt ? `, last used ${when(passkey.lastUsedAt)}` : ", not used yet"}${passkey.backedUp ? ", synced" : ""}. `;

  const rename = document.createElement("button");
  rename.type = "button";
  rename.textContent = "Rename";
  rename.setAttribute("aria-label", `Rename passkey ${passkey.name}`);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove passkey ${passkey.name}`);

  const form = document.createElement("form");
  form.hidden = true;
  const label = document.createElement("label");
  label.textContent = `New name for ${passkey.name}`;
  const input = document.createElement("input");
  input.name = "name";
  input.required = true;
  input.maxLength = 64;
  input.value = passkey.name;
  label.append(input);
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(label, save, cancel);

  rename.addEventListener("click", () => {
    form.hidden = false;
    input.focus();
    input.select();
  });
  cancel.addEventListener("click", () => {
    form.hidden = true;
    rename.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, async () => {
      const renamed = await auth.renamePasskey(passkey.id, input.value.trim());
      await loadSecurity();
      tell(`Passkey renamed to “${renamed.name}”.`);
    }, securityWording);
  });
  remove.addEventListener("click", () =>
    void busy(remove, async () => {
      await withStepUp(() => auth.deletePasskey(passkey.id));
      await loadSecurity();
      tell(`Passkey “${passkey.name}” removed.`);
      el("passkeys-heading").setAttribute("tabindex", "-1");
      el("passkeys-heading").focus();
    }, securityWording),
  );
  item.append(name, details, rename, remove, form);
  return item;
}

/** A moment as a person reads it: the date and the time of day. */
const whenExactly = (secs: number) => new Date(secs * 1000).toLocaleString();

async function loadSessions(): Promise<void> {
  const state = el("sessions-state");
  let sessions: SessionInfo[];
  try {
    sessions = await auth.listSessions();
  } catch (error) {
    state.textContent = `Your sessions cannot be shown just now. ${describe(error, securityWording)}`;
    el("session-list").replaceChildren();
    return;
  }
  state.textContent = sessions.length === 1 ? "Only this browser is signed in." : `Signed in in ${sessions.length} places.`;
  el("session-list").replaceChildren(...sessions.map(sessionItem));
}

function sessionItem(session: SessionInfo): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.sessionId = session.id;
  const device = session.device ?? "Unknown browser";
  const name = document.createElement("strong");
  name.textContent = device;
  const parts = [
    session.network ? `network ${session.network}` : null,
    `signed in ${whenExactly(session.createdAt)}`,
    `last seen ${whenExactly(session.lastSeenAt)}`,
  ].filter((part) => part !== null);
  const details = document.createElement("span");
  details.textContent = ` — ${parts.join(", ")}. `;
  const end = document.createElement("button");
  end.type = "button";
  end.textContent = "Sign out this session";
  end.setAttribute("aria-label", session.current
    ? "Sign out this session, on this device"
    : `Sign out the session on ${device}, signed in ${whenExactly(session.createdAt)}`);
  end.addEventListener("click", () =>
    void busy(end, async () => {
      try {
        await auth.revokeSession(session);
      } catch (error) {
        // Ended meanwhile (it signed out, expired, or another device ended it): show what is left.
        if (error instanceof AuthError && error.code === "not_found") await loadSessions();
        throw error;
      }
      if (session.current) {
        pendingNewEmail = null;
        showEnrolment(null);
        showCodes(null);
        go("", { note: "You signed this device out." });
        return;
      }
      await Promise.all([loadSessions(), loadActivity()]);
      tell(`Signed out the session on ${device}: it has to sign in again to get back in.`);
      el("sessions-heading").focus();
    }, sessionWording),
  );
  item.append(name);
  if (session.current) {
    const marker = document.createElement("em");
    marker.textContent = " (this device)";
    item.append(marker);
  }
  item.append(details, end);
  return item;
}

/** What a session's sign-out can meet. */
const sessionWording: Wording = {
  not_found: "That session had ended already.",
  unauthenticated: "Your session has ended. Sign in again.",
};

/** How many activity entries a page shows. */
const ACTIVITY_PAGE = 5;
/** Where the next page of activity starts, while there is one. */
let activityCursor: string | null = null;

/** The first page of the account's activity, or (`older`) the page after those shown. */
async function loadActivity(older = false): Promise<void> {
  const state = el("activity-state");
  const list = el("activity-list");
  const more = el<HTMLButtonElement>("activity-more");
  let page: ActivityPage;
  try {
    page = await auth.activity({ limit: ACTIVITY_PAGE, cursor: older ? activityCursor : null });
  } catch (error) {
    state.textContent = `Your activity cannot be shown just now. ${describe(error, securityWording)}`;
    if (!older) list.replaceChildren();
    more.hidden = true;
    return;
  }
  const items = page.events.map(activityItem);
  if (older) list.append(...items);
  else list.replaceChildren(...items);
  activityCursor = page.nextCursor;
  more.hidden = activityCursor === null;
  state.textContent = list.childElementCount === 0 ? "Nothing yet." : "The last 90 days, newest first.";
  if (older && items.length > 0) {
    // Keyboard and screen-reader users land on the first entry that was added.
    items[0].tabIndex = -1;
    items[0].focus();
  }
}

/** What each kind of entry says; a kind this page does not know yet shows its name. */
const activityLabels: Partial<Record<string, string>> = {
  "sign_up": "Account created",
  "email.verified": "Email address confirmed",
  "sign_in.succeeded": "Signed in",
  "sign_in.second_factor_required": "First sign-in step passed; the second step was asked for",
  "sign_in.failed": "Failed sign-in",
  "sign_in.locked": "Sign-in refused: too many failed attempts",
  "mfa.passed": "Second sign-in step passed",
  "mfa.failed": "Wrong second-step code",
  "password.changed": "Password changed",
  "password.reset": "Password reset",
  "email.changed": "Email address changed",
  "identity.linked": "Identity provider linked",
  "device_code.approved": "A device was approved",
  "device_code.denied": "A device was refused",
  "tokens.issued": "An app was signed in",
  "refresh.reuse_detected": "A copied app token was used: that app was signed out",
  "token.revoked": "An app signed out",
  "passkey.sign_count_regressed": "A passkey may have been copied",
  "mfa.totp_enabled": "Authenticator app turned on",
  "mfa.totp_disabled": "Authenticator app turned off",
  "passkey.added": "Passkey added",
  "passkey.removed": "Passkey removed",
  "mfa.recovery_codes_regenerated": "New recovery codes made",
};

/** How a session ended (`session.ended`'s reason). */
const sessionEndings: Partial<Record<string, string>> = {
  sign_out: "Signed out",
  sign_out_all: "Signed out everywhere",
  revoked: "A session was signed out from this page",
  expired: "A session expired",
};

/** How the user proved who they were, as the end of "Signed in with …". */
function methodPhrase(event: ActivityEvent): string | null {
  switch (event.method) {
    case "password": return "your password";
    case "email_code": return "a code by mail";
    case "password_reset": return "a password reset";
    case "email_verification": return "your address confirmation";
    case "federated": return event.provider ?? "an identity provider";
    case "passkey": return "a passkey";
    case "totp": return "your authenticator app";
    case "recovery_code": return "a recovery code";
    case "device_code": return "a device code";
    case "refresh_token": return "an app's saved sign-in";
    default: return null;
  }
}

function activityLabel(event: ActivityEvent): string {
  const label = event.event === "session.ended"
    ? sessionEndings[event.reason ?? ""] ?? "A session ended"
    : activityLabels[event.event] ?? event.event;
  const how = ["sign_up", "sign_in.succeeded", "sign_in.failed", "mfa.passed", "mfa.failed"].includes(event.event)
    ? methodPhrase(event)
    : null;
  return how ? `${label} with ${how}` : label;
}

function activityItem(event: ActivityEvent): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.event = event.event;
  item.dataset.time = String(event.time);
  if (event.outcome === "failure") item.className = "failure";
  const label = document.createElement("strong");
  label.textContent = activityLabel(event);
  const parts = [
    whenExactly(event.time),
    event.device,
    event.network ? `network ${event.network}` : null,
    event.clientId ? `app ${event.clientId}` : null,
    event.currentSession ? "this device" : null,
  ].filter((part) => part !== null);
  const details = document.createElement("span");
  details.textContent = ` — ${parts.join(", ")}`;
  item.append(label, details);
  return item;
}

const activityMore = el<HTMLButtonElement>("activity-more");
activityMore.addEventListener("click", () => void busy(activityMore, () => loadActivity(true), securityWording));

/** What goes wrong on the security page. */
const securityWording: Wording = {
  reauthentication_required: "Not changed: this needs a sign-in within the last 5 minutes.",
  invalid_code: "That code is not right. Type the code the app shows now.",
  enrolment_expired: "The setup took more than 10 minutes. Start again: scan the new QR code.",
  totp_enabled: "The authenticator app is on already.",
  no_factor: "Recovery codes come with an authenticator app or a passkey: set one up first.",
  not_found: "That passkey is not on your account any more.",
  unauthenticated: "Your session has ended. Sign in again.",
};

const enroll = el<HTMLButtonElement>("totp-enroll");
enroll.addEventListener("click", () =>
  void busy(enroll, async () => {
    showEnrolment(await withStepUp((password) => auth.enrollTotp(password)));
    enroll.hidden = true;
    el("totp-confirm-heading").focus();
  }, securityWording),
);

onForm("totp-confirm", async (field) => {
  const codes = await auth.confirmTotp(field("code"));
  showEnrolment(null);
  await loadSecurity();
  tell("The authenticator app is on: signing in now asks for its code after your password.");
  revealCodes(codes);
}, securityWording);

el("totp-confirm-cancel").addEventListener("click", () => {
  showEnrolment(null);
  enroll.hidden = false;
  enroll.focus();
});

const disable = el<HTMLButtonElement>("totp-disable");
disable.addEventListener("click", () =>
  void busy(disable, async () => {
    await withStepUp((password) => auth.disableTotp(password));
    await loadSecurity();
    tell("The authenticator app is off.");
    enroll.focus();
  }, securityWording),
);

const regenerate = el<HTMLButtonElement>("recovery-regenerate");
regenerate.addEventListener("click", () =>
  void busy(regenerate, async () => {
    const codes = await withStepUp((password) => auth.regenerateRecoveryCodes(password));
    await loadSecurity();
    tell("New recovery codes: the old ones no longer work.");
    revealCodes(codes);
  }, securityWording),
);

el("recovery-download").addEventListener("click", () => {
  if (!shownCodes) return;
  const text = `Recovery codes for ${currentUser?.email ?? "your account"} at ${location.host}\n` +
    "Each signs you in once, as the second step, if you lose your authenticator app and passkeys.\n\n" +
    `${shownCodes.join("\n")}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = "recovery-codes.txt";
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
});

el("recovery-saved").addEventListener("click", () => {
  showCodes(null);
  tell("Keep your recovery codes safe. You can make new ones here at any time.");
  el("security-heading").focus();
});

onForm("passkey-add", async (field) => {
  const name = field("name");
  const registered = await withStepUp((password) => auth.registerPasskey(name || undefined, password));
  await loadSecurity();
  tell(`Passkey “${registered.passkey.name}” added. You can sign in with it, without a password.`);
  if (registered.recoveryCodes) revealCodes(registered.recoveryCodes);
}, securityWording);

const passkeySignIn = el<HTMLButtonElement>("passkey-sign-in");
passkeySignIn.addEventListener("click", () =>
  void busy(passkeySignIn, async () => {
    afterSignIn(await auth.signInWithPasskey(), "You are signed in with your passkey.");
  }, { passkey_cancelled: "Signing in with a passkey was cancelled or timed out." }),
);

/** Runs a form's or button's action with the control disabled, so a double click sends once. */
async function busy(control: HTMLButtonElement, action: () => Promise<void>, wording: Wording = {}): Promise<void> {
  control.disabled = true;
  try {
    await action();
  } catch (error) {
    say(describe(error, wording));
  } finally {
    control.disabled = false;
  }
}

/** Runs `action` with the form's fields when it is submitted, and empties the form once it
 * succeeded: no password or code lingers in a hidden page. */
function onForm(id: string, action: (field: (name: string) => string) => Promise<void>, wording: Wording = {}): void {
  const form = el<HTMLFormElement>(id);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    void busy(button, async () => {
      await action((name) => String(data.get(name) ?? ""));
      form.reset();
    }, wording);
  });
}

/** Mail has two budgets, the network's (a minute) and the address's (an hour); the answer
 * does not say which ran out. */
const mailWording: Wording = {
  rate_limited: "Too many mails were asked for. Try again in {wait}.",
};

onForm("sign-in", async (field) => afterFirstFactor(await auth.signIn(field("email"), field("password"))));
onForm("sign-up", async (field) => {
  const email = field("email");
  const outcome = await auth.signUp(email, field("password"));
  if (outcome.status === "signed_in") {
    afterSignIn(outcome.signedIn);
    return;
  }
  lastEmail = email;
  go("check-email", { note: "We sent you a mail. Open its link, or enter its code below." });
}, mailWording);

onForm("verify-code", async (field) => {
  afterSignIn(await auth.verifyEmail({ email: field("email"), code: field("code") }), "Your email address is confirmed. Welcome!");
});

const resend = el<HTMLButtonElement>("resend-verification");
resend.addEventListener("click", () => {
  const input = el<HTMLFormElement>("verify-code").querySelector("input[name=email]") as HTMLInputElement;
  if (!input.reportValidity()) return;
  void busy(resend, async () => {
    await auth.resendVerification(input.value);
    tell("If that sign-up is still waiting, a new mail is on its way. Only the newest link and code work.");
  }, mailWording);
});

onForm("forgot", async (field) => {
  lastEmail = field("email");
  await auth.forgotPassword(lastEmail);
  go("reset-password", {
    note: "If the address has an account, a mail with a link and a code is on its way. Open the link, or enter the code here.",
  });
}, mailWording);

onForm("reset-with-token", async (field) => {
  const token = resetToken;
  if (token === null) return;
  let signedIn: SignInResult;
  try {
    signedIn = await auth.resetPassword({ token, password: field("password") });
  } catch (error) {
    if (error instanceof AuthError && error.code === "invalid_token") {
      // A dead link stays dead: offer the code form (a newer mail's code) instead.
      resetToken = null;
      el("reset-with-token").hidden = true;
      el("reset-with-code").hidden = false;
    }
    throw error;
  }
  resetToken = null;
  afterFirstFactor(signedIn, "Your password is changed, and every other device is signed out.");
}, {
  invalid_token: "This reset link has expired, was replaced by a newer mail, or was already used. Ask for a new one.",
});

onForm("reset-with-code", async (field) => {
  const reset = { email: field("email"), code: field("code"), password: field("password") };
  afterFirstFactor(await auth.resetPassword(reset), "Your password is changed, and every other device is signed out.");
});

onForm("change", async (field) => {
  const signedIn = await withStepUp(() => auth.changePassword(field("current"), field("next")));
  afterSignIn(signedIn, "Your password is changed, and every other device is signed out.");
}, {
  invalid_credentials: "Your current password is not right.",
  unauthenticated: "Your session has ended. Sign in again to change your password.",
});

onForm("change-email-request", async (field) => {
  const newEmail = field("new_email");
  const password = field("password");
  // No password: an account that only signs in with an identity provider, signed in just now.
  await withStepUp((again) => auth.changeEmail(newEmail, again ?? (password === "" ? undefined : password)));
  pendingNewEmail = newEmail;
  el("change-email-request").hidden = true;
  el("change-email-code").hidden = false;
  el("change-email-address").textContent = newEmail;
  tell("Check the new address: a mail with a link and a code is on its way. Your current address was told too.");
}, {
  ...mailWording,
  invalid_credentials: "Your password is not right. Your address has not changed.",
  reauthentication_required: "Enter your password to change your address. If you sign in only with an identity provider, sign in again first.",
  unauthenticated: "Your session has ended. Sign in again to change your address.",
});

onForm("change-email-code", async (field) => {
  const email = await auth.confirmEmailChange({ code: field("code") });
  pendingNewEmail = null;
  go("", { note: `Your email address is now ${email}.` });
}, emailChangeWording);

el("change-email-restart").addEventListener("click", () => {
  pendingNewEmail = null;
  go("change-email");
});

onForm("delete-account-form", async (field) => {
  const password = field("password");
  await withStepUp((again) => auth.deleteAccount(again ?? (password === "" ? undefined : password)));
  pendingNewEmail = null;
  go("", { note: "Your account is deleted. You are signed out everywhere." });
}, {
  invalid_credentials: "Your password is not right. Your account was not deleted.",
  reauthentication_required: "Enter your password to delete your account. If you sign in only with an identity provider, sign in again, then delete it within 5 minutes.",
  unauthenticated: "Your session has ended. Sign in again to delete your account.",
});

onForm("email-code-request", async (field) => requestCode(field("email")), codeWording);

onForm("email-code-sign-in", async (field) => {
  const result = await auth.signInWithCode({ email: field("email"), code: field("code") });
  codeRequested = false;
  afterFirstFactor(result, "You are signed in with the code from your mail.");
}, codeWording);

const codeAgain = el<HTMLButtonElement>("email-code-again");
codeAgain.addEventListener("click", () => {
  const input = el<HTMLFormElement>("email-code-sign-in").querySelector("input[name=email]") as HTMLInputElement;
  if (!input.reportValidity()) return;
  void busy(codeAgain, () => requestCode(input.value), codeWording);
});

for (const [id, action] of [
  ["sign-out", () => auth.signOut()],
  ["sign-out-all", () => auth.signOutEverywhere()],
] as const) {
  const button = el<HTMLButtonElement>(id);
  button.addEventListener("click", () =>
    void busy(button, async () => {
      await action();
      // A change of address asked for by this user, an enrolment or codes shown to them, are
      // not the next user's business.
      pendingNewEmail = null;
      showEnrolment(null);
      showCodes(null);
      say(null);
      tell(null);
      show(null);
    }),
  );
}

const list = el<HTMLDivElement>("providers");
list.hidden = providers.length === 0;
for (const { name, label } of providers) {
  const link = document.createElement("a");
  link.textContent = `Sign in with ${label}`;
  // A full navigation: the provider's pages, then authfn's callback, then back here.
  link.href = auth.federationUrl(name, `${location.origin}/`);
  list.append(link);
}

el<HTMLAnchorElement>("device-link").href = auth.deviceApprovalUrl();

// Another tab signed in or out, or this tab comes back into view: ask the server again.
auth.onOtherTabChange(() => {
  if (currentView() === "") void refresh();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && currentView() === "") void refresh();
});
window.addEventListener("hashchange", () => void render());

const federationError = auth.takeFederationError();
if (federationError) pending = { error: describe(federationError) };


void render().then(async () => {
  if (returnTo && !el("signed-in").hidden) location.assign(returnTo);
});
