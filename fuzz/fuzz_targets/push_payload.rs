//! The push payload as the phone receives it: any text as the JSON form, and the
//! same bytes split into a data map (FCM data, APNs user info). Nothing may panic,
//! and nothing is accepted unless it is Latchkey's exact shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Some(phone) = latchkey_fuzz::phone() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let _ = phone.handle_push_json(&text);
    let mut map = HashMap::new();
    for pair in text.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(key.to_owned(), value.to_owned());
    }
    if let Ok(alert) = phone.handle_push(&map) {
        // Accepted only with the exact marker and a well-formed handle.
        assert_eq!(map.get("latchkey").map(String::as_str), Some("1"));
        assert_eq!(alert.request.to_string(), map["request"]);
    }
});
