import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The URLSession transport against a `URLProtocol` stub (no network): every status is an
/// answer, redirects are refused, failures become the typed `TransportError`s, and it will
/// not block the main thread.
final class URLSessionTransportTests: XCTestCase {
    private func transport(maxBodyBytes: Int = 256 * 1024) -> URLSessionTransport {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.protocolClasses = [StubProtocol.self]
        return URLSessionTransport(configuration: configuration, requestTimeout: 5, maxBodyBytes: maxBodyBytes)
    }

    /// Sends off the main thread, as the library does.
    private func send(_ transport: URLSessionTransport, _ request: TransportRequest) async throws -> TransportResponse {
        try await Task.detached { try transport.send(request: request) }.value
    }

    private func get(_ path: String) -> TransportRequest {
        TransportRequest(method: .get, url: "https://stub.test" + path, body: Data(), contentType: nil)
    }

    func testEveryStatusIsAnAnswer() async throws {
        let transport = transport()
        for status: UInt16 in [200, 400, 404, 409, 429, 500, 503] {
            let response = try await send(transport, get("/status/\(status)"))
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.body, Data("status \(status)".utf8))
        }
    }

    func testTheMethodContentTypeAndBodyAreSent() async throws {
        let request = TransportRequest(
            method: .post,
            url: "https://stub.test/echo",
            body: Data(#"{"v":1}"#.utf8),
            contentType: "application/json"
        )

        let response = try await send(transport(), request)

        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"POST application/json {"v":1}"#)
    }

    func testARedirectIsReturnedNotFollowed() async throws {
        let response = try await send(transport(), get("/redirect"))

        XCTAssertEqual(response.status, 302)
    }

    func testFailuresWithoutAnAnswerAreTyped() async throws {
        let cases: [(URLError.Code, TransportError)] = [
            (.notConnectedToInternet, .Offline),
            (.cannotConnectToHost, .Offline),
            (.cannotFindHost, .Offline),
            (.timedOut, .Timeout),
            (.serverCertificateUntrusted, .Tls),
            (.secureConnectionFailed, .Tls),
            (.badServerResponse, .Other(reason: "URLError \(URLError.Code.badServerResponse.rawValue)")),
        ]
        let transport = transport()
        for (code, expected) in cases {
            do {
                _ = try await send(transport, get("/fail/\(code.rawValue)"))
                XCTFail("\(code) answered")
            } catch let error as TransportError {
                XCTAssertEqual(error, expected, "\(code)")
            }
        }
    }

    func testALongBodyIsCutJustPastTheLimit() async throws {
        let response = try await send(transport(maxBodyBytes: 1000), get("/big"))

        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body.count, 1001)
    }

    func testAnInvalidURLIsRefusedWithoutARequest() async throws {
        let request = TransportRequest(method: .get, url: "ftp://stub.test/x", body: Data(), contentType: nil)
        do {
            _ = try await send(transport(), request)
            XCTFail("answered")
        } catch let error as TransportError {
            XCTAssertEqual(error, .Other(reason: "the URL is not valid"))
        }
    }

    func testTheMainThreadIsNeverBlocked() {
        XCTAssertTrue(Thread.isMainThread)
        XCTAssertThrowsError(try transport().send(request: get("/status/200"))) { error in
            XCTAssertEqual(error as? TransportError, .Other(reason: "called on the main thread"))
        }
    }
}

/// Answers `https://stub.test/…` by its path: `/status/N`, `/redirect` (302 to
/// `/status/200`), `/fail/<URLError code>`, `/echo` (method, content type and body), `/big`
/// (300 KiB). Stateless, so it needs no shared configuration.
final class StubProtocol: URLProtocol {
    override class func canInit(with request: URLRequest) -> Bool {
        request.url?.host == "stub.test"
    }

    override class func canonicalRequest(for request: URLRequest) -> URLRequest {
        request
    }

    override func startLoading() {
        guard let url = request.url, url.pathComponents.count >= 2 else {
            return fail(.badURL)
        }
        let parts = url.pathComponents
        switch parts[1] {
        case "status" where parts.count == 3:
            let status = Int(parts[2]) ?? 500
            respond(status, Data("status \(status)".utf8))
        case "redirect":
            let target = URL(string: "https://stub.test/status/200")!
            let response = HTTPURLResponse(
                url: url,
                statusCode: 302,
                httpVersion: "HTTP/1.1",
                headerFields: ["Location": target.absoluteString]
            )!
            client?.urlProtocol(self, wasRedirectedTo: URLRequest(url: target), redirectResponse: response)
            // The session refused to follow: finish with the redirect itself.
            client?.urlProtocol(self, didReceive: response, cacheStoragePolicy: .notAllowed)
            client?.urlProtocolDidFinishLoading(self)
        case "fail" where parts.count == 3:
            fail(URLError.Code(rawValue: Int(parts[2]) ?? URLError.unknown.rawValue))
        case "echo":
            let method = request.httpMethod ?? "?"
            let type = request.value(forHTTPHeaderField: "Content-Type") ?? "-"
            var echo = Data("\(method) \(type) ".utf8)
            echo.append(body(of: request))
            respond(200, echo)
        case "big":
            respond(200, Data(repeating: 0x61, count: 300 * 1024))
        default:
            respond(404, Data())
        }
    }

    override func stopLoading() {}

    private func respond(_ status: Int, _ body: Data) {
        let response = HTTPURLResponse(url: request.url!, statusCode: status, httpVersion: "HTTP/1.1", headerFields: nil)!
        client?.urlProtocol(self, didReceive: response, cacheStoragePolicy: .notAllowed)
        client?.urlProtocol(self, didLoad: body)
        client?.urlProtocolDidFinishLoading(self)
    }

    private func fail(_ code: URLError.Code) {
        client?.urlProtocol(self, didFailWithError: URLError(code))
    }

    /// A request's body reaches a `URLProtocol` as a stream.
    private func body(of request: URLRequest) -> Data {
        if let body = request.httpBody {
            return body
        }
        guard let stream = request.httpBodyStream else {
            return Data()
        }
        stream.open()
        defer { stream.close() }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while stream.hasBytesAvailable {
            let read = stream.read(&buffer, maxLength: buffer.count)
            if read <= 0 {
                break
            }
            data.append(buffer, count: read)
        }
        return data
    }
}
