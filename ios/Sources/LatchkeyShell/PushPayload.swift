/// The handle a Latchkey push carries: the text form of one approval request's id,
/// exactly 32 lowercase hex characters (16 bytes). Any other spelling is refused.
///
/// A handle is only a pointer: the app fetches the signed login request it names and
/// checks it fully before showing anything, so a forged push can waste a fetch but cannot
/// put words on the screen.
public struct RequestHandle: Hashable, Sendable, CustomStringConvertible {
    /// The number of hex characters in a handle (16 bytes).
    public static let length = 32

    /// The handle as it travels: 32 lowercase hex characters.
    public let hex: String

    /// The handle spelled by `hex`, or `nil` unless it is 32 lowercase hex characters.
    public init?(hex: String) {
        guard hex.utf8.count == Self.length, hex.utf8.allSatisfy(Self.isLowercaseHexDigit) else {
            return nil
        }
        self.hex = hex
    }

    public var description: String { hex }

    private static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

/// What a remote notification turned out to be, read from its `userInfo`.
///
/// A Latchkey login push carries only `{"latchkey": "1", "request": "<request id hex>"}`
/// beside the `aps` dictionary (PROTOCOL.md §6.2); a notice push (the server has a signed
/// notice for this phone) carries `{"latchkey": "1", "notice": "<kind>"}` and only asks
/// the app to sync. Other keys are ignored; the Latchkey keys are read strictly, and must
/// be strings. (The same rules as the Kotlin shell's `PushPayload`.)
public enum PushPayload: Equatable, Sendable {
    /// A login request is waiting: fetch it with the handle and show it once it checks out.
    case loginRequest(RequestHandle)

    /// The server has a notice for this phone: sync the accounts to fetch it (signed). The
    /// kind (`revoked`, `replacement_pending`…) is informational; nothing is done on its word.
    case notice(String)

    /// The notification has no `latchkey` key: it belongs to someone else; pass it on.
    case notLatchkey

    /// The notification says it is Latchkey's but cannot be used; show nothing, log why.
    case malformed(Problem)

    /// Why a notification that names Latchkey cannot be used.
    public enum Problem: Equatable, Sendable {
        /// `latchkey` is not the string `"1"`: a payload version this app does not know.
        case unsupportedVersion
        /// There is neither a `request` nor a `notice` key.
        case missingRequest
        /// `request` is not a string of 32 lowercase hex characters.
        case invalidRequest
        /// `notice` is not a string of 1 to 64 lowercase letters and `_`.
        case invalidNotice
    }

    /// The key that marks a notification as Latchkey's; its value is the payload version.
    public static let versionKey = "latchkey"
    /// The key holding the request handle.
    public static let requestKey = "request"
    /// The key of a notice push, naming the notice's kind.
    public static let noticeKey = "notice"
    /// The only payload version this shell reads.
    public static let version = "1"

    /// Reads a notification's `userInfo` (`UNNotificationContent.userInfo`, or the
    /// dictionary `application(_:didReceiveRemoteNotification:)` receives).
    public init(userInfo: [AnyHashable: Any]) {
        guard let marker = userInfo[Self.versionKey] else {
            self = .notLatchkey
            return
        }
        guard let version = marker as? String, version == Self.version else {
            self = .malformed(.unsupportedVersion)
            return
        }
        guard let request = userInfo[Self.requestKey] else {
            self = Self.notice(userInfo[Self.noticeKey])
            return
        }
        guard let text = request as? String, let handle = RequestHandle(hex: text) else {
            self = .malformed(.invalidRequest)
            return
        }
        self = .loginRequest(handle)
    }

    private static func notice(_ value: Any?) -> PushPayload {
        guard let value else {
            return .malformed(.missingRequest)
        }
        guard let kind = value as? String, (1...64).contains(kind.utf8.count),
              kind.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_") })
        else {
            return .malformed(.invalidNotice)
        }
        return .notice(kind)
    }
}
