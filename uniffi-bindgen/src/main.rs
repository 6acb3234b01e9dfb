//! The workspace's own `uniffi-bindgen`, pinned to the same uniffi as the phone
//! library (`latchkey-ffi`), so the generated Kotlin and Swift always match the
//! library's scaffolding. `scripts/gen-bindings` builds and runs it in library
//! mode: `uniffi-bindgen generate <liblatchkey_ffi.so> --language kotlin|swift
//! --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
