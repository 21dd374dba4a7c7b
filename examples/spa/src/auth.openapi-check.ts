/**
 * auth.ts against openapi.yaml, at compile time. `npm run build` (and `typecheck`) first
 * generates src/openapi.d.ts from the repository's openapi.yaml with openapi-typescript; tsc
 * then fails here when an answer the document describes is not what auth.ts reads, when a body
 * auth.ts sends is not one the document accepts, or when auth.ts names an error code the API
 * does not have. Nothing imports this file and nothing in it runs.
 */
import type { components, paths } from "./openapi";
import type {
  ActivityBody,
  AuthErrorCode,
  EmailChangeProof,
  EmailProof,
  EnrolmentBody,
  ErrorBody,
  FactorsBody,
  FirstFactorBody,
  MfaProof,
  PasskeyBody,
  PasswordReset,
  SessionBody,
  SessionsBody,
  SignInCode,
} from "./auth";

type Schemas = components["schemas"];
type Method = "get" | "post";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON body the operation reads. */
type Sends<P extends keyof paths, M extends Method = "post"> =
  Operation<P, M> extends { requestBody?: { content: { "application/json": infer Body } } } ? Body : never;

/** The JSON the operation answers with `status`. */
type Answers<P extends keyof paths, Status extends number, M extends Method = "post"> =
  Operation<P, M> extends { responses: { [S in Status]: { content: { "application/json": infer Body } } } }
    ? Body
    : never;

/** Compiles only when `A` is assignable to `B`, and is not `never` (which would be vacuously). */
type Fits<A extends B, B> = [A] extends [never] ? false : true;
type Holds<T extends true> = T;

/** The client's own codes, for trouble before any answer: not the API's. */
type ClientOwnCode = "passkey_unsupported" | "passkey_cancelled" | "passkey_failed" | "network_error" | "unexpected_response";

/** Each entry fails to compile when auth.ts and the document disagree about it. */
export type AuthTsMatchesOpenApi = [
  // What the API answers, auth.ts reads.
  Holds<Fits<Answers<"/auth/session", 200, "get">, SessionBody>>,
  Holds<Fits<Answers<"/auth/sign-in", 200>, FirstFactorBody>>,
  Holds<Fits<Answers<"/auth/password/reset", 200>, FirstFactorBody>>,
  Holds<Fits<Answers<"/auth/email-code/sign-in", 200>, FirstFactorBody>>,
  Holds<Fits<Answers<"/auth/mfa", 200, "get">, FactorsBody>>,
  Holds<Fits<Schemas["Passkey"], PasskeyBody>>,
  Holds<Fits<Answers<"/auth/mfa/totp/enroll", 200>, EnrolmentBody>>,
  Holds<Fits<Answers<"/auth/mfa/totp/confirm", 200>, { recovery_codes: string[] }>>,
  Holds<Fits<Answers<"/auth/mfa/recovery-codes/regenerate", 200>, { recovery_codes: string[] }>>,
  Holds<Fits<Answers<"/auth/passkeys/register/finish", 201>, { passkey: PasskeyBody; recovery_codes?: string[] }>>,
  Holds<Fits<Answers<"/auth/passkeys/rename", 200>, { passkey: PasskeyBody }>>,
  Holds<Fits<Answers<"/auth/email/verify", 200>, { email: string }>>,
  Holds<Fits<Answers<"/auth/sessions", 200, "get">, SessionsBody>>,
  Holds<Fits<Answers<"/auth/activity", 200, "get">, ActivityBody>>,
  Holds<Fits<Schemas["Error"], ErrorBody>>,
  // What auth.ts sends, the API reads.
  Holds<Fits<{ email: string; password: string }, Sends<"/auth/sign-up">>>,
  Holds<Fits<{ email: string; password: string }, Sends<"/auth/sign-in">>>,
  Holds<Fits<EmailProof, Sends<"/auth/verify-email">>>,
  Holds<Fits<{ email: string }, Sends<"/auth/verify-email/resend">>>,
  Holds<Fits<{ email: string }, Sends<"/auth/password/forgot">>>,
  Holds<Fits<PasswordReset, Sends<"/auth/password/reset">>>,
  Holds<Fits<{ current_password: string; new_password: string }, Sends<"/auth/password/change">>>,
  Holds<Fits<{ new_email: string; password?: string }, Sends<"/auth/email/change">>>,
  Holds<Fits<EmailChangeProof, Sends<"/auth/email/verify">>>,
  Holds<Fits<{ password?: string }, Sends<"/auth/account/delete">>>,
  Holds<Fits<{ email: string }, Sends<"/auth/email-code/request">>>,
  Holds<Fits<SignInCode, Sends<"/auth/email-code/sign-in">>>,
  Holds<Fits<MfaProof, Sends<"/auth/mfa/verify">>>,
  Holds<Fits<{ code: string }, Sends<"/auth/mfa/totp/confirm">>>,
  Holds<Fits<{ current_password?: string }, Sends<"/auth/mfa/totp/enroll">>>,
  Holds<Fits<{ current_password?: string }, Sends<"/auth/passkeys/register/begin">>>,
  Holds<Fits<{ id: string; name: string }, Sends<"/auth/passkeys/rename">>>,
  Holds<Fits<{ id: string }, Sends<"/auth/passkeys/delete">>>,
  // The codes auth.ts switches on are the API's.
  Holds<Fits<Exclude<AuthErrorCode, ClientOwnCode>, Schemas["ErrorCode"]>>,
];
