import { AuthClient, AuthError, type SignedIn } from "./auth";

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

// The device page sends signed-out users here with ?return_to=…; go back there once signed in.
const returnTo = auth.safeReturnTo(new URLSearchParams(location.search).get("return_to"), location.href);

function show(signedIn: SignedIn | null): void {
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

function say(text: string | null): void {
  message.hidden = text === null;
  message.textContent = text ?? "";
}

function describe(error: unknown): string {
  if (!(error instanceof AuthError)) return "Something went wrong. Please try again.";
  const wait = error.retryAfterSecs;
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

function afterSignIn(signedIn: SignedIn): void {
  say(null);
  if (returnTo) {
    location.assign(returnTo);
    return;
  }
  show(signedIn);
}

/** Runs a form's or button's action with the control disabled, so a double click sends once. */
async function busy(control: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  control.disabled = true;
  try {
    await action();
  } catch (error) {
    say(describe(error));
  } finally {
    control.disabled = false;
  }
}

function onSubmit(id: string, action: (email: string, password: string) => Promise<SignedIn>): void {
  const form = el<HTMLFormElement>(id);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector("button") as HTMLButtonElement;
    void busy(button, async () => afterSignIn(await action(String(data.get("email")), String(data.get("password")))));
  });
}

onSubmit("sign-in", (email, password) => auth.signIn(email, password));
onSubmit("sign-up", (email, password) => auth.signUp(email, password));

for (const [id, action] of [
  ["sign-out", () => auth.signOut()],
  ["sign-out-all", () => auth.signOutEverywhere()],
] as const) {
  const button = el<HTMLButtonElement>(id);
  button.addEventListener("click", () =>
    void busy(button, async () => {
      await action();
      say(null);
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
auth.onOtherTabChange(() => void refresh());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") void refresh();
});

const federationError = auth.takeFederationError();
if (federationError) say(describe(federationError));

void refresh().then(async () => {
  if (returnTo && !el("signed-in").hidden) location.assign(returnTo);
});
