//! The envelope as it arrives over HTTP: any text as `{"body","sig"}` JSON, then the
//! unverified reads the server makes before it knows the key (purpose, header, the
//! activation request and PIN change that carry their own key). Nothing may panic.
#![no_main]

use latchkey_core::protocol::envelope::{
    peek_device_header, peek_device_unverified, peek_server_issued_at,
};
use latchkey_core::protocol::{
    ActivationRequest, Approval, Denial, FetchRequest, PinChange, PinProof, RekeyRequest, Removal,
    Signed, SyncRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(signed) = Signed::from_json(text) else {
        return;
    };
    let _ = signed.claimed_purpose();
    let _ = peek_server_issued_at(&signed);
    let _ = peek_device_header::<SyncRequest>(&signed);
    let _ = peek_device_unverified::<ActivationRequest>(&signed);
    let _ = peek_device_unverified::<SyncRequest>(&signed);
    let _ = peek_device_unverified::<FetchRequest>(&signed);
    let _ = peek_device_unverified::<Approval>(&signed);
    let _ = peek_device_unverified::<Denial>(&signed);
    let _ = peek_device_unverified::<PinProof>(&signed);
    let _ = peek_device_unverified::<PinChange>(&signed);
    let _ = peek_device_unverified::<RekeyRequest>(&signed);
    let _ = peek_device_unverified::<Removal>(&signed);
    let _ = Signed::from_json(&signed.to_json());
});
