/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Where authfn answers; default http://localhost:3000 (the dev server). */
  readonly VITE_AUTHFN_URL?: string;
  /** Federation providers to offer: `name` or `name=Label`, comma-separated. */
  readonly VITE_AUTHFN_PROVIDERS?: string;
}
