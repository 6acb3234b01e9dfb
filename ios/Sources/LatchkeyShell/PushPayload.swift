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
/// beside the `aps` dictionary (PROTOCOL.md §6.2). Other keys are ignored; the two
/// Latchkey keys are read strictly, and must be strings.
public enum PushPayload: Equatable, Sendable {
    /// A login request is waiting: fetch it with the handle and show it once it checks out.
    case loginRequest(RequestHandle)

    /// The notification has no `latchkey` key: it belongs to someone else; pass it on.
    case notLatchkey

    /// The notification says it is Latchkey's but cannot be used; show nothing, log why.
    case malformed(Problem)

    /// Why a notification that names Latchkey cannot be used.
    public enum Problem: Equatable, Sendable {
        /// `latchkey` is not the string `"1"`: a payload version this app does not know.
        case unsupportedVersion
        /// There is no `request` key.
        case missingRequest
        /// `request` is not a string of 32 lowercase hex characters.
        case invalidRequest
    }

    /// The key that marks a notification as Latchkey's; its value is the payload version.
    public static let versionKey = "latchkey"
    /// The key holding the request handle.
    public static let requestKey = "request"
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
            self = .malformed(.missingRequest)
            return
        }
        guard let text = request as? String, let handle = RequestHandle(hex: text) else {
            self = .malformed(.invalidRequest)
            return
        }
        self = .loginRequest(handle)
    }
}
