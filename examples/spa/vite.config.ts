import { defineConfig } from "vite";

// The API's trusted origins name this exact origin, so the port must not drift.
export default defineConfig({
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
});
