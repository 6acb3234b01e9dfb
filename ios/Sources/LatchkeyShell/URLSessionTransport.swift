import Foundation
import LatchkeyFFI

/// The library's `Transport` on `URLSession`: one blocking request, its answer.
///
/// Every HTTP answer, 4xx and 5xx included, is returned as a `TransportResponse`; only a
/// request that got no answer throws a `TransportError`: `.Offline` (no network, host not
/// found, connection refused or lost), `.Timeout`, `.Tls` (certificate or handshake), or
/// `.Other`. Redirects are refused (the 3xx answer itself is returned; the library treats it
/// as an unexpected answer), certificate validation stays the system's, and at most
/// `maxBodyBytes` (+1, so the library sees that it was too long) of a body are kept.
///
/// The library calls `send(request:)` on its own thread and waits: the call blocks on a
/// semaphore until the session's delegate queue delivers the answer, and gives up after the
/// request timeout plus a margin. Never call the `Authenticator` on the main thread; this
/// transport refuses to block it (`.Other("called on the main thread")`).
public final class URLSessionTransport: Transport {
    private let session: URLSession
    private let requestTimeout: TimeInterval
    private let maxBodyBytes: Int

    /// A transport over its own ephemeral session (no cookies, no cache, no credential
    /// storage): `requestTimeout` bounds each request as a whole, the idle time between
    /// packets too.
    public convenience init(requestTimeout: TimeInterval = 20, maxBodyBytes: Int = 256 * 1024) {
        let configuration = URLSessionConfiguration.ephemeral
        self.init(configuration: configuration, requestTimeout: requestTimeout, maxBodyBytes: maxBodyBytes)
    }

    /// A transport over a session made from `configuration` (tests hand in one with their
    /// `URLProtocol`). Cookies, caching and credential storage are turned off whatever the
    /// configuration says.
    public init(configuration: URLSessionConfiguration, requestTimeout: TimeInterval = 20, maxBodyBytes: Int = 256 * 1024) {
        let configuration = configuration.copy() as! URLSessionConfiguration
        configuration.timeoutIntervalForRequest = requestTimeout
        configuration.timeoutIntervalForResource = requestTimeout
        configuration.waitsForConnectivity = false
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCredentialStorage = nil
        let queue = OperationQueue()
        queue.name = "dev.latchkey.transport"
        queue.maxConcurrentOperationCount = 1
        self.session = URLSession(configuration: configuration, delegate: RefuseRedirects(), delegateQueue: queue)
        self.requestTimeout = requestTimeout
        self.maxBodyBytes = maxBodyBytes
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(request: TransportRequest) throws -> TransportResponse {
        if Thread.isMainThread {
            throw TransportError.Other(reason: "called on the main thread")
        }
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(),
              scheme == "https" || scheme == "http"
        else {
            throw TransportError.Other(reason: "the URL is not valid")
        }
        var urlRequest = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: requestTimeout)
        urlRequest.httpMethod = Self.methodName(request.method)
        urlRequest.httpShouldHandleCookies = false
        if let contentType = request.contentType {
            urlRequest.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        if !request.body.isEmpty {
            urlRequest.httpBody = request.body
        }

        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: urlRequest) { data, response, error in
            outcome.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        // The session times the request out itself; the margin only guards against a
        // completion handler that never runs.
        if done.wait(timeout: .now() + requestTimeout + 5) == .timedOut {
            task.cancel()
            throw TransportError.Timeout
        }
        return try answer(outcome)
    }

    private func answer(_ outcome: Outcome) throws -> TransportResponse {
        let (data, response, error) = outcome.get()
        if let error {
            throw Self.transportError(error)
        }
        guard let http = response as? HTTPURLResponse, (0...Int(UInt16.max)).contains(http.statusCode) else {
            throw TransportError.Other(reason: "not an HTTP answer")
        }
        var body = data ?? Data()
        if body.count > maxBodyBytes + 1 {
            body = body.prefix(maxBodyBytes + 1)
        }
        return TransportResponse(status: UInt16(http.statusCode), body: body)
    }

    /// What a failed request is to the library.
    static func transportError(_ error: Error) -> TransportError {
        guard let urlError = error as? URLError else {
            return .Other(reason: String(describing: type(of: error)))
        }
        switch urlError.code {
        case .notConnectedToInternet, .networkConnectionLost, .cannotConnectToHost, .cannotFindHost,
             .dnsLookupFailed, .internationalRoamingOff, .dataNotAllowed, .callIsActive:
            return .Offline
        case .timedOut:
            return .Timeout
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected,
             .clientCertificateRequired, .appTransportSecurityRequiresSecureConnection:
            return .Tls
        default:
            return .Other(reason: "URLError \(urlError.code.rawValue)")
        }
    }

    private static func methodName(_ method: HttpMethod) -> String {
        switch method {
        case .get: return "GET"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        }
    }
}

/// The session delegate: answers every redirect with "do not follow", so the task completes
/// with the 3xx response itself.
private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest
    ) async -> URLRequest? {
        nil
    }
}

/// One request's result, written on the session's queue and read by the waiting thread.
private final class Outcome: @unchecked Sendable {
    // @unchecked: `lock` guards all three fields.
    private let lock = NSLock()
    private var data: Data?
    private var response: URLResponse?
    private var error: Error?

    func set(data: Data?, response: URLResponse?, error: Error?) {
        lock.lock()
        defer { lock.unlock() }
        self.data = data
        self.response = response
        self.error = error
    }

    func get() -> (Data?, URLResponse?, Error?) {
        lock.lock()
        defer { lock.unlock() }
        return (data, response, error)
    }
}
