// The authfn Worker, unchanged, plus one route for the soak test: GET /__soak/wasm-memory
// answers the size in bytes of the isolate's wasm linear memory, where all of authfn's Rust
// heap lives. workerd's process RSS cannot say whether authfn leaks: under `wrangler dev` it
// also holds V8's heap, Miniflare's KV and D1 and their caches, and it grows with every
// request whatever the Worker does. Linear memory only grows, never shrinks, so a flat size
// under load means the Rust side does not leak.
//
// Served instead of worker/build/index.js by bench/soak.sh (WRANGLER_DEV_MAIN,
// tests/support/workers.sh); never deployed.
import "./wasm-memory-hook.js";
import Authfn from "../../worker/build/index.js";

export default {
    async fetch(request, env, ctx) {
        if (new URL(request.url).pathname === "/__soak/wasm-memory") {
            const sizes = globalThis.__soakWasmMemories.map((memory) => memory.buffer.byteLength);
            return Response.json({ bytes: Math.max(0, ...sizes), instances: sizes.length });
        }
        return new Authfn(ctx, env).fetch(request);
    },
    async scheduled(controller, env, ctx) {
        return new Authfn(ctx, env).scheduled(controller);
    },
};
