import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// A running `latchkey serve --dev` named by the environment, and a client for its
/// integrator API and development outbox — the relying party's side of every journey.
///
///     latchkey serve --dev --listen 127.0.0.1:8443 --data /tmp/lk
///     LATCHKEY_TEST_SERVER=http://127.0.0.1:8443 \
///     LATCHKEY_TEST_TOKEN=$(cat /tmp/lk/integrator-token) swift test
///
/// (In Xcode: the test plan's environment variables; the Simulator reaches the Mac's
/// 127.0.0.1.) Without both variables the live tests are skipped. The profile comes from
/// the server's `/v1/profile` — fine for a test; an app compiles its profile in.
///
/// Every call blocks (it uses `URLSessionTransport`): call it off the main thread.
final class LiveServer: Sendable {
    let baseURL: String
    let profileJSON: String
    private let token: String
    private let http = URLSessionTransport()

    struct User: Sendable {
        let username: String
        let phone: String
    }

    struct Session: Sendable {
        let id: String
        let challenge: String
        let push: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The server the environment names, or a skip.
    static func fromEnvironment() throws -> LiveServer {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["LATCHKEY_TEST_SERVER"], !url.isEmpty,
              let token = environment["LATCHKEY_TEST_TOKEN"], !token.isEmpty
        else {
            throw XCTSkip("set LATCHKEY_TEST_SERVER and LATCHKEY_TEST_TOKEN to run against a latchkey serve --dev")
        }
        return try LiveServer(baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url, token: token)
    }

    private init(baseURL: String, token: String) throws {
        self.baseURL = baseURL
        self.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        let profile = try http.send(request: TransportRequest(method: .get, url: baseURL + "/v1/profile", body: Data(), contentType: nil))
        guard profile.status == 200 else {
            throw Failure(description: "GET /v1/profile answered \(profile.status)")
        }
        self.profileJSON = String(decoding: profile.body, as: UTF8.self)
    }

    /// Creates a user with a phone number of its own.
    func createUser(_ prefix: String) throws -> User {
        let n = UInt32.random(in: 0..<10_000_000)
        let user = User(username: "\(prefix)\(UUID().uuidString.prefix(8).lowercased())", phone: String(format: "+1555%07u", n))
        _ = try post("/v1/integrator/users", [
            "username": user.username, "phone": user.phone, "email": "\(user.username)@example.com", "jurisdiction": "US",
        ], expect: 201)
        return user
    }

    /// Starts an activation (or, with `replace`, a move to a new phone): the signed ticket.
    func startActivation(_ user: User, replace: String? = nil) throws -> String {
        var body: [String: Any] = ["username": user.username]
        if let replace {
            body["replace"] = replace
        }
        let answer = try post("/v1/integrator/activations", body, expect: 201)
        guard let ticket = answer["ticket"] else {
            throw Failure(description: "no ticket in \(answer)")
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: ticket), as: UTF8.self)
    }

    /// The newest 13-digit activation code sent by SMS to `user`.
    func activationCode(_ user: User) throws -> String {
        let codes = try outbox()
            .filter { $0["channel"] as? String == "sms" && $0["recipient"] as? String == user.phone }
            .compactMap { ($0["body"] as? [String: Any])?["text"] as? String }
            .flatMap { text in text.split(whereSeparator: { c in !c.isASCII || !c.isNumber }).filter { $0.count == 13 } }
        guard let code = codes.last else {
            throw Failure(description: "no activation code was sent to \(user.phone)")
        }
        return String(code)
    }

    /// Opens a login session, as the integrator does after its password check.
    func openSession(_ user: User, app: String = "Client Portal") throws -> Session {
        let answer = try post("/v1/integrator/sessions", [
            "username": user.username, "app": app, "client": "Safari on macOS", "origin": "203.0.113.7",
        ], expect: 201)
        guard let id = answer["session_id"] as? String, let challenge = answer["challenge"] as? String,
              let push = answer["push"] as? String
        else {
            throw Failure(description: "unexpected session \(answer)")
        }
        return Session(id: id, challenge: challenge, push: push)
    }

    /// A session's status: `pending`, `approved`, `denied`, `fraud`, `failed`…
    func status(_ session: Session) throws -> String {
        let answer = try call(.get, "/v1/integrator/sessions/\(session.id)", nil, expect: 200)
        return answer["status"] as? String ?? "?"
    }

    /// Submits the 8-digit response typed into the login screen; returns the HTTP status.
    func submitTypedResponse(_ session: Session, _ response: String) throws -> UInt16 {
        try send(.post, "/v1/integrator/sessions/\(session.id)/response", ["response": response]).status
    }

    /// The data of every push sent to `pushToken`, oldest first, as APNs would deliver it.
    func pushes(to pushToken: String) throws -> [[String: String]] {
        try outbox()
            .filter { $0["channel"] as? String == "push" && $0["recipient"] as? String == pushToken }
            .compactMap { message -> [String: String]? in
                guard let payload = (message["body"] as? [String: Any])?["payload"] as? String,
                      let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
                else {
                    return nil
                }
                return object.compactMapValues { "\($0)" }
            }
    }

    /// The handle of the newest login request pushed to `pushToken`.
    func lastHandle(_ pushToken: String) throws -> String {
        guard let hex = try pushes(to: pushToken).last(where: { $0["request"] != nil })?["request"] else {
            throw Failure(description: "no login push to \(pushToken)")
        }
        return hex
    }

    private func outbox() throws -> [[String: Any]] {
        var messages: [[String: Any]] = []
        var after: Int64 = 0
        while true {
            let page = try call(.get, "/v1/dev/outbox?after=\(after)", nil, expect: 200)["messages"] as? [[String: Any]] ?? []
            guard let last = page.last, let id = (last["id"] as? NSNumber)?.int64Value else {
                return messages
            }
            messages += page
            after = id
        }
    }

    private func post(_ path: String, _ body: [String: Any], expect status: UInt16) throws -> [String: Any] {
        try call(.post, path, body, expect: status)
    }

    private func call(_ method: HttpMethod, _ path: String, _ body: [String: Any]?, expect status: UInt16) throws -> [String: Any] {
        let response = try send(method, path, body)
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        guard response.status == status else {
            throw Failure(description: "\(path): expected HTTP \(status), got \(response.status): \(json)")
        }
        return json
    }

    private func send(_ method: HttpMethod, _ path: String, _ body: [String: Any]?) throws -> TransportResponse {
        // The integrator API takes a bearer token; the transport the library uses sends no
        // headers of its own, so the test client builds this request itself.
        var request = URLRequest(url: URL(string: baseURL + path)!, timeoutInterval: 20)
        request.httpMethod = method == .post ? "POST" : "GET"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let done = DispatchSemaphore(value: 0)
        let result = Collected<(Data?, URLResponse?, Error?)>()
        URLSession.shared.dataTask(with: request) { data, response, error in
            result.append((data, response, error))
            done.signal()
        }.resume()
        done.wait()
        guard let answer = result.values.first else {
            throw Failure(description: "no answer")
        }
        let (data, response, error) = answer
        if let error {
            throw error
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return TransportResponse(status: UInt16(status), body: data ?? Data())
    }
}

/// The PIN every test phone uses.
let testPin = "402917"

/// A phone as an iOS app assembles it: the real library, the test keystore (the Secure
/// Enclave is tested on its own), the URLSession transport behind a switch that can take it
/// offline, and an APNs-like push token.
final class Phone: @unchecked Sendable {
    // @unchecked: every stored property is immutable and thread-safe itself.
    let name: String
    let directory: URL
    let keystore = SoftwareTestKeystore()
    let network = SwitchableTransport(URLSessionTransport())
    let pushToken = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    let authenticator: Authenticator

    init(_ name: String, keystore wrapper: ((PlatformKeystore) -> PlatformKeystore)? = nil) throws {
        self.name = name
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("latchkey-phone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authenticator = try Authenticator.open(
            databasePath: directory.appendingPathComponent("device.db").path,
            keystore: wrapper?(keystore) ?? keystore,
            transport: network,
            config: AuthenticatorConfig(platform: .ios, appVersion: "1.0.0")
        )
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Activates this phone for `user` with the SMS code the server sent.
    func activate(_ server: LiveServer, _ user: LiveServer.User, replace: String? = nil) throws -> ActivationOutcome {
        let ticket = try server.startActivation(user, replace: replace)
        return try authenticator.activate(
            serverProfile: server.profileJSON,
            ticketJson: ticket,
            activationCode: try server.activationCode(user),
            pin: Data(testPin.utf8),
            pinConfirmation: Data(testPin.utf8),
            deviceName: name,
            pushToken: pushToken
        )
    }

    /// The app model over this phone's authenticator (a generic app: profiles come in links).
    func appModel() throws -> AppModel {
        try AppModel(authenticator: authenticator, options: AppOptions(builtinProfile: nil, deviceName: name))
    }

    /// Activates this phone for a new user and returns both.
    func activated(_ server: LiveServer, _ prefix: String) throws -> (LiveServer.User, AccountSummary) {
        let user = try server.createUser(prefix)
        guard case let .active(account) = try activate(server, user) else {
            throw LiveServer.Failure(description: "the activation did not complete")
        }
        return (user, account)
    }
}

/// Runs `body` off the main thread, as an app runs the library.
func offMain<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached(priority: .userInitiated) { try body() }.value
}
