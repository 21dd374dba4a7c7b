// Evaluated before the Worker's module (tests/soak/wasm-memory-probe.js imports it first):
// keeps each wasm instance's exported memory, so the probe can read its size. wasm-bindgen's
// glue instantiates with `new WebAssembly.Instance(module, imports)`.
globalThis.__soakWasmMemories = [];
const Instance = WebAssembly.Instance;
WebAssembly.Instance = function (module, imports) {
    const instance = new Instance(module, imports);
    if (instance.exports.memory instanceof WebAssembly.Memory) {
        globalThis.__soakWasmMemories.push(instance.exports.memory);
    }
    return instance;
};
WebAssembly.Instance.prototype = Instance.prototype;
